// Classic libpcap reader: little- and big-endian files, microsecond (a1b2c3d4) and
// nanosecond (a1b23c4d) timestamps, any link type. A file is read from a file
// descriptor in chunks and its records are yielded one by one, so a multi-gigabyte
// capture never sits in memory. pcapng is not supported (its magic is recognized and
// refused with a hint). Errors name the file and the byte offset.
import { open, type FileHandle } from 'node:fs/promises';

export const PCAP_MAGIC_USEC = 0xa1b2c3d4;
export const PCAP_MAGIC_NSEC = 0xa1b23c4d;
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34; // Alexey Kuznetzov's patched libpcap
const PCAPNG_MAGIC = 0x0a0d0d0a; // Section Header Block type
export const GLOBAL_HEADER_SIZE = 24;
export const RECORD_HEADER_SIZE = 16;
/** Largest record accepted when the snaplen is smaller (libpcap's maximum snapshot length). */
export const MAX_RECORD_DEFAULT = 262144;

export class PcapError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'PcapError';
  }
}

export interface PcapHeader {
  /** Link type (low 16 bits of the header's LinkType field): 1 Ethernet, 101 raw IP, … */
  linktype: number;
  snaplen: number;
  /** Timestamps' fractional part is in nanoseconds (magic a1b23c4d), else microseconds. */
  nanosecond: boolean;
  /** Byte order of the file. */
  littleEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  /** The raw LinkType field (upper bits may carry FCS information). */
  linktypeField: number;
}

export interface PcapRecord {
  /** Seconds since the epoch. */
  tsSec: number;
  /** Fraction of the second: microseconds, or nanoseconds if the header says so. */
  tsFrac: number;
  /** Original length on the wire (may exceed data.length when the capture was cut short). */
  origLen: number;
  /** The captured bytes. */
  data: Uint8Array;
  /** Byte offset of the record's header in the file. */
  offset: number;
}

export interface PcapReaderOptions {
  /** Bytes read per read() call (default 1 MiB). Small values exercise the chunk boundaries. */
  chunkSize?: number;
  /**
   * Yield records whose `data` is a view into the reader's buffer, valid only until
   * the next record is requested. Default: every record gets its own copy.
   */
  views?: boolean;
}

/** Decodes and checks the 24-byte global header. `name` is used in errors. */
export function parseGlobalHeader(b: Uint8Array, name: string): PcapHeader {
  if (b.length >= 4) {
    const be = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    const le = ((b[3] << 24) | (b[2] << 16) | (b[1] << 8) | b[0]) >>> 0;
    if (be === PCAPNG_MAGIC) {
      throw new PcapError(
        `${name}: this is a pcapng file; xbr reads classic pcap only (convert it with \`editcap -F pcap ${name} out.pcap\` or \`tcpdump -r ${name} -w out.pcap\`)`,
        name,
        0,
      );
    }
    if (be === PCAP_MAGIC_MODIFIED || le === PCAP_MAGIC_MODIFIED) {
      throw new PcapError(`${name}: modified (Kuznetzov) pcap format is not supported; convert it with \`editcap -F pcap\``, name, 0);
    }
    const ok = [PCAP_MAGIC_USEC, PCAP_MAGIC_NSEC];
    if (!ok.includes(be) && !ok.includes(le)) {
      const got = Array.from(b.subarray(0, 4), (x) => x.toString(16).padStart(2, '0')).join(' ');
      throw new PcapError(`${name}: not a pcap file (bytes ${got} at byte offset 0 are not a pcap magic number)`, name, 0);
    }
  }
  if (b.length < GLOBAL_HEADER_SIZE) {
    throw new PcapError(
      `${name}: truncated pcap global header at byte offset 0: ${b.length} of ${GLOBAL_HEADER_SIZE} bytes`,
      name,
      0,
    );
  }
  const dv = new DataView(b.buffer, b.byteOffset, GLOBAL_HEADER_SIZE);
  const littleEndian = dv.getUint32(0, true) === PCAP_MAGIC_USEC || dv.getUint32(0, true) === PCAP_MAGIC_NSEC;
  const magic = dv.getUint32(0, littleEndian);
  const linktypeField = dv.getUint32(20, littleEndian);
  const h: PcapHeader = {
    linktype: linktypeField & 0xffff,
    snaplen: dv.getUint32(16, littleEndian),
    nanosecond: magic === PCAP_MAGIC_NSEC,
    littleEndian,
    versionMajor: dv.getUint16(4, littleEndian),
    versionMinor: dv.getUint16(6, littleEndian),
    linktypeField,
  };
  if (h.versionMajor !== 2) {
    throw new PcapError(`${name}: pcap version ${h.versionMajor}.${h.versionMinor} at byte offset 4 is not 2.x`, name, 4);
  }
  return h;
}

/** The largest captured length a record may claim before the file is taken as corrupt. */
export function maxRecordLength(h: PcapHeader): number {
  return Math.max(h.snaplen, MAX_RECORD_DEFAULT);
}

function decodeRecordHeader(
  b: Uint8Array,
  at: number,
  h: PcapHeader,
  name: string,
  fileOffset: number,
): { tsSec: number; tsFrac: number; inclLen: number; origLen: number } {
  const dv = new DataView(b.buffer, b.byteOffset + at, RECORD_HEADER_SIZE);
  const le = h.littleEndian;
  const r = { tsSec: dv.getUint32(0, le), tsFrac: dv.getUint32(4, le), inclLen: dv.getUint32(8, le), origLen: dv.getUint32(12, le) };
  const max = maxRecordLength(h);
  if (r.inclLen > max) {
    throw new PcapError(
      `${name}: record at byte offset ${fileOffset} claims ${r.inclLen} captured bytes, more than the ${max} this file allows (corrupt file?)`,
      name,
      fileOffset,
    );
  }
  return r;
}

/** Parses a whole pcap file held in memory (small files, tests). */
export function parsePcap(bytes: Uint8Array, name = '<buffer>'): { header: PcapHeader; records: PcapRecord[] } {
  const header = parseGlobalHeader(bytes, name);
  const records: PcapRecord[] = [];
  let pos = GLOBAL_HEADER_SIZE;
  while (pos < bytes.length) {
    const left = bytes.length - pos;
    if (left < RECORD_HEADER_SIZE) {
      throw new PcapError(`${name}: truncated record header at byte offset ${pos}: ${left} of ${RECORD_HEADER_SIZE} bytes`, name, pos);
    }
    const r = decodeRecordHeader(bytes, pos, header, name, pos);
    if (left - RECORD_HEADER_SIZE < r.inclLen) {
      throw new PcapError(
        `${name}: truncated record at byte offset ${pos}: its header says ${r.inclLen} captured bytes, only ${left - RECORD_HEADER_SIZE} remain`,
        name,
        pos,
      );
    }
    const start = pos + RECORD_HEADER_SIZE;
    records.push({ tsSec: r.tsSec, tsFrac: r.tsFrac, origLen: r.origLen, data: bytes.slice(start, start + r.inclLen), offset: pos });
    pos = start + r.inclLen;
  }
  return { header, records };
}

/**
 * A streaming reader:
 *
 *   const reader = await PcapReader.open('in.pcap');
 *   try { for await (const rec of reader) use(rec); } finally { await reader.close(); }
 */
export class PcapReader implements AsyncIterable<PcapRecord> {
  private buf: Uint8Array;
  /** Unconsumed bytes are buf[start, end); buf[0] is at file offset `base`. */
  private start = 0;
  private end = 0;
  private base = 0;
  private eof = false;
  private closed = false;
  private readonly views: boolean;
  /** Bytes read from the file so far. */
  bytesRead = 0;
  /** Records yielded so far. */
  records = 0;

  private constructor(
    private readonly fh: FileHandle,
    readonly name: string,
    readonly size: number,
    readonly header: PcapHeader,
    buf: Uint8Array,
    filled: number,
    opts: PcapReaderOptions,
  ) {
    this.buf = buf;
    this.end = filled;
    this.bytesRead = filled;
    this.views = opts.views ?? false;
    this.start = GLOBAL_HEADER_SIZE;
    this.base = 0;
  }

  /** Opens a file and reads its global header. Throws PcapError (or the fs error, e.g. ENOENT). */
  static async open(path: string, opts: PcapReaderOptions = {}): Promise<PcapReader> {
    const chunk = Math.max(opts.chunkSize ?? 1 << 20, 1);
    const fh = await open(path, 'r');
    try {
      const st = await fh.stat();
      if (st.isDirectory()) throw new PcapError(`${path}: is a directory, not a pcap file`, path, 0);
      const buf = new Uint8Array(Math.max(chunk, GLOBAL_HEADER_SIZE));
      // Read until the global header is complete (or EOF).
      let filled = 0;
      while (filled < GLOBAL_HEADER_SIZE) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const header = parseGlobalHeader(buf.subarray(0, filled), path);
      return new PcapReader(fh, path, st.size, header, buf, filled, opts);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Ensures `n` unconsumed bytes are buffered; false at end of file with fewer. */
  private async fill(n: number): Promise<boolean> {
    while (this.end - this.start < n) {
      if (this.eof) return false;
      if (this.buf.length - this.start < n) {
        // Move the unconsumed tail to the front, growing the buffer if a record needs it.
        const have = this.end - this.start;
        if (this.buf.length < n) {
          const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
          bigger.set(this.buf.subarray(this.start, this.end));
          this.buf = bigger;
        } else {
          this.buf.copyWithin(0, this.start, this.end);
        }
        this.base += this.start;
        this.start = 0;
        this.end = have;
      }
      const want = this.buf.length - this.end;
      const { bytesRead } = await this.fh.read(this.buf, this.end, want, this.base + this.end);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
      this.bytesRead += bytesRead;
    }
    return true;
  }

  /** The next record, or null at the end of the file. Throws PcapError on a truncated or corrupt record. */
  async next(): Promise<PcapRecord | null> {
    if (this.closed) throw new Error(`${this.name}: reader is closed`);
    const offset = this.base + this.start;
    if (!(await this.fill(RECORD_HEADER_SIZE))) {
      const left = this.end - this.start;
      if (left === 0) return null;
      throw new PcapError(
        `${this.name}: truncated record header at byte offset ${offset}: ${left} of ${RECORD_HEADER_SIZE} bytes`,
        this.name,
        offset,
      );
    }
    const r = decodeRecordHeader(this.buf, this.start, this.header, this.name, offset);
    if (!(await this.fill(RECORD_HEADER_SIZE + r.inclLen))) {
      throw new PcapError(
        `${this.name}: truncated record at byte offset ${offset}: its header says ${r.inclLen} captured bytes, only ${this.end - this.start - RECORD_HEADER_SIZE} remain`,
        this.name,
        offset,
      );
    }
    // fill() may have moved the buffer: recompute positions from `start`.
    const from = this.start + RECORD_HEADER_SIZE;
    const to = from + r.inclLen;
    const data = this.views ? this.buf.subarray(from, to) : this.buf.slice(from, to);
    this.start = to;
    this.records++;
    return { tsSec: r.tsSec, tsFrac: r.tsFrac, origLen: r.origLen, data, offset };
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<PcapRecord> {
    for (;;) {
      const r = await this.next();
      if (r === null) return;
      yield r;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Streams the records of a pcap file (closes it when done or abandoned). */
export async function* readPcap(path: string, opts: PcapReaderOptions = {}): AsyncGenerator<PcapRecord, void, undefined> {
  const reader = await PcapReader.open(path, opts);
  try {
    yield* reader;
  } finally {
    await reader.close();
  }
}

/** A record's timestamp in milliseconds since the epoch (fractions truncated). */
export function timestampMs(rec: Pick<PcapRecord, 'tsSec' | 'tsFrac'>, nanosecond: boolean): number {
  return rec.tsSec * 1000 + Math.floor(rec.tsFrac / (nanosecond ? 1e6 : 1e3));
}
