// Classic libpcap writer: records are buffered and written to the file in large
// chunks. The link type, timestamp resolution (micro- or nanoseconds) and byte order
// are chosen by the caller, e.g. copied from the input file's header.
import { closeSync, openSync, writeSync } from 'node:fs';
import { GLOBAL_HEADER_SIZE, PCAP_MAGIC_NSEC, PCAP_MAGIC_USEC, RECORD_HEADER_SIZE, type PcapHeader } from './reader.js';

export interface PcapWriterOptions {
  linktype: number;
  /** Snapshot length written in the header (default 262144). Records are never cut to it. */
  snaplen?: number;
  /** Nanosecond timestamps (magic a1b23c4d). Default: microseconds. */
  nanosecond?: boolean;
  /** Write a big-endian file. Default: little-endian. */
  bigEndian?: boolean;
  /** Bytes buffered before a write to the file (default 1 MiB). */
  bufferSize?: number;
}

/** Options that reproduce an input file's header (link type, resolution, byte order, snaplen ≥ 262144). */
export function writerOptionsFrom(h: PcapHeader): PcapWriterOptions {
  return { linktype: h.linktypeField, nanosecond: h.nanosecond, bigEndian: !h.littleEndian, snaplen: Math.max(h.snaplen, 262144) };
}

export function encodeGlobalHeader(o: PcapWriterOptions): Uint8Array {
  const b = new Uint8Array(GLOBAL_HEADER_SIZE);
  const dv = new DataView(b.buffer);
  const le = !o.bigEndian;
  dv.setUint32(0, o.nanosecond ? PCAP_MAGIC_NSEC : PCAP_MAGIC_USEC, le);
  dv.setUint16(4, 2, le);
  dv.setUint16(6, 4, le);
  dv.setInt32(8, 0, le); // thiszone
  dv.setUint32(12, 0, le); // sigfigs
  dv.setUint32(16, o.snaplen ?? 262144, le);
  dv.setUint32(20, o.linktype >>> 0, le);
  return b;
}

export interface RecordInput {
  data: Uint8Array;
  tsSec?: number;
  tsFrac?: number;
  /** Original length (default: data.length). */
  origLen?: number;
}

function checkTimestamp(tsSec: number, tsFrac: number, nanosecond: boolean): void {
  if (!Number.isInteger(tsSec) || tsSec < 0 || tsSec > 0xffffffff) throw new RangeError(`pcap timestamp seconds ${tsSec} out of range`);
  const max = nanosecond ? 1e9 : 1e6;
  if (!Number.isInteger(tsFrac) || tsFrac < 0 || tsFrac >= max) {
    throw new RangeError(`pcap timestamp fraction ${tsFrac} out of range (0..${max - 1} ${nanosecond ? 'ns' : 'µs'})`);
  }
}

/** Encodes a whole pcap file in memory (small files, tests, examples). */
export function encodePcap(o: PcapWriterOptions, records: RecordInput[]): Uint8Array {
  let n = GLOBAL_HEADER_SIZE;
  for (const r of records) n += RECORD_HEADER_SIZE + r.data.length;
  const out = new Uint8Array(n);
  out.set(encodeGlobalHeader(o));
  const dv = new DataView(out.buffer);
  const le = !o.bigEndian;
  let pos = GLOBAL_HEADER_SIZE;
  for (const r of records) {
    const tsSec = r.tsSec ?? 0;
    const tsFrac = r.tsFrac ?? 0;
    checkTimestamp(tsSec, tsFrac, !!o.nanosecond);
    dv.setUint32(pos, tsSec, le);
    dv.setUint32(pos + 4, tsFrac, le);
    dv.setUint32(pos + 8, r.data.length, le);
    dv.setUint32(pos + 12, r.origLen ?? r.data.length, le);
    out.set(r.data, pos + RECORD_HEADER_SIZE);
    pos += RECORD_HEADER_SIZE + r.data.length;
  }
  return out;
}

/**
 * A buffered file writer:
 *
 *   const w = PcapWriter.create('out.pcap', { linktype: 101 });
 *   w.write(bytes, tsSec, tsUsec);
 *   w.close();
 */
export class PcapWriter {
  private fd: number | null;
  private buf: Uint8Array;
  private dv: DataView;
  private used = 0;
  private readonly le: boolean;
  private readonly nanosecond: boolean;
  /** Records written so far. */
  records = 0;
  /** Bytes written (or buffered) so far, header included. */
  bytes = 0;

  private constructor(
    fd: number,
    readonly path: string,
    readonly options: PcapWriterOptions,
  ) {
    this.fd = fd;
    this.buf = new Uint8Array(Math.max(options.bufferSize ?? 1 << 20, 4096));
    this.dv = new DataView(this.buf.buffer);
    this.le = !options.bigEndian;
    this.nanosecond = !!options.nanosecond;
    const h = encodeGlobalHeader(options);
    this.buf.set(h);
    this.used = h.length;
    this.bytes = h.length;
  }

  /** Creates (or truncates) `path` and buffers its global header. Throws the fs error if it cannot be opened. */
  static create(path: string, options: PcapWriterOptions): PcapWriter {
    return new PcapWriter(openSync(path, 'w'), path, options);
  }

  /** Appends a record. `tsFrac` is in the file's resolution (µs or ns). */
  write(data: Uint8Array, tsSec = 0, tsFrac = 0, origLen = data.length): void {
    if (this.fd === null) throw new Error(`${this.path}: writer is closed`);
    checkTimestamp(tsSec, tsFrac, this.nanosecond);
    const need = RECORD_HEADER_SIZE + data.length;
    if (this.used + need > this.buf.length) this.flush();
    if (need > this.buf.length) {
      this.buf = new Uint8Array(need);
      this.dv = new DataView(this.buf.buffer);
    }
    const p = this.used;
    this.dv.setUint32(p, tsSec, this.le);
    this.dv.setUint32(p + 4, tsFrac, this.le);
    this.dv.setUint32(p + 8, data.length, this.le);
    this.dv.setUint32(p + 12, origLen, this.le);
    this.buf.set(data, p + RECORD_HEADER_SIZE);
    this.used += need;
    this.bytes += need;
    this.records++;
  }

  /** Writes the buffered records to the file. */
  flush(): void {
    if (this.fd === null) return;
    let off = 0;
    while (off < this.used) off += writeSync(this.fd, this.buf, off, this.used - off);
    this.used = 0;
  }

  /** Flushes and closes the file. */
  close(): void {
    if (this.fd === null) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
