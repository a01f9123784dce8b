import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PcapError, PcapReader, parseGlobalHeader, parsePcap, readPcap, timestampMs } from '../../src/pcap/reader.js';
import { PcapWriter, encodePcap, writerOptionsFrom } from '../../src/pcap/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-pcap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pkt(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

async function readAll(path: string, chunkSize?: number) {
  const reader = await PcapReader.open(path, { chunkSize });
  const recs = [];
  try {
    for await (const r of reader) recs.push(r);
  } finally {
    await reader.close();
  }
  return { header: reader.header, recs };
}

describe('pcap global header', () => {
  it('knows all four classic magics, byte by byte', () => {
    const hdr = (magic: number[], le: boolean) => {
      const b = new Uint8Array(24);
      b.set(magic);
      const dv = new DataView(b.buffer);
      dv.setUint16(4, 2, le);
      dv.setUint16(6, 4, le);
      dv.setUint32(16, 65535, le);
      dv.setUint32(20, 101, le);
      return b;
    };
    expect(parseGlobalHeader(hdr([0xd4, 0xc3, 0xb2, 0xa1], true), 'x')).toMatchObject({ littleEndian: true, nanosecond: false, linktype: 101, snaplen: 65535 });
    expect(parseGlobalHeader(hdr([0xa1, 0xb2, 0xc3, 0xd4], false), 'x')).toMatchObject({ littleEndian: false, nanosecond: false, linktype: 101 });
    expect(parseGlobalHeader(hdr([0x4d, 0x3c, 0xb2, 0xa1], true), 'x')).toMatchObject({ littleEndian: true, nanosecond: true, linktype: 101 });
    expect(parseGlobalHeader(hdr([0xa1, 0xb2, 0x3c, 0x4d], false), 'x')).toMatchObject({ littleEndian: false, nanosecond: true, linktype: 101 });
  });

  it('writes the libpcap header bytes exactly', () => {
    const b = encodePcap({ linktype: 1, snaplen: 65535 }, []);
    expect(Buffer.from(b).toString('hex')).toBe('d4c3b2a1' + '0200' + '0400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
    const be = encodePcap({ linktype: 101, snaplen: 65535, bigEndian: true, nanosecond: true }, []);
    expect(Buffer.from(be).toString('hex')).toBe('a1b23c4d' + '0002' + '0004' + '00000000' + '00000000' + '0000ffff' + '00000065');
  });

  it('refuses pcapng with a clear message', async () => {
    const f = join(dir, 'x.pcapng');
    // A pcapng Section Header Block start: block type 0a0d0d0a, length, byte-order magic 1a2b3c4d.
    writeFileSync(f, Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'));
    await expect(PcapReader.open(f)).rejects.toThrow(/pcapng.*classic pcap only/);
    await expect(PcapReader.open(f)).rejects.toThrow(f);
  });

  it('refuses a file that is not pcap, naming the file and offset', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'hello world, this is not a capture file\n');
    const err = await PcapReader.open(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PcapError);
    expect((err as PcapError).message).toContain(`${f}: not a pcap file`);
    expect((err as PcapError).message).toContain('byte offset 0');
    expect((err as PcapError).offset).toBe(0);
  });

  it('refuses an empty or header-truncated file', async () => {
    const f = join(dir, 'empty.pcap');
    writeFileSync(f, '');
    await expect(PcapReader.open(f)).rejects.toThrow(/truncated pcap global header at byte offset 0: 0 of 24/);
    writeFileSync(f, encodePcap({ linktype: 1 }, []).subarray(0, 10));
    await expect(PcapReader.open(f)).rejects.toThrow(/10 of 24 bytes/);
  });
});

describe('pcap round trip', () => {
  const records = Array.from({ length: 50 }, (_, i) => ({
    data: pkt(20 + ((i * 37) % 1500), i),
    tsSec: 1_700_000_000 + i,
    tsFrac: (i * 12345) % 1_000_000,
    origLen: 20 + ((i * 37) % 1500) + (i % 3 === 0 ? 100 : 0),
  }));

  for (const [label, opts] of [
    ['little-endian µs', { linktype: 1 }],
    ['big-endian µs', { linktype: 1, bigEndian: true }],
    ['little-endian ns', { linktype: 101, nanosecond: true }],
    ['big-endian ns', { linktype: 101, nanosecond: true, bigEndian: true }],
  ] as const) {
    it(`${label}: writer → streaming reader (small chunks) → same records`, async () => {
      const f = join(dir, `rt-${label.replace(/\W+/g, '-')}.pcap`);
      const w = PcapWriter.create(f, { ...opts, bufferSize: 4096 });
      for (const r of records) w.write(r.data, r.tsSec, opts.nanosecond ? r.tsFrac * 1000 + 7 : r.tsFrac, r.origLen);
      w.close();
      for (const chunk of [1, 7, 100, 1 << 20]) {
        const { header, recs } = await readAll(f, chunk);
        expect(header.linktype).toBe(opts.linktype);
        expect(header.nanosecond).toBe(!!opts.nanosecond);
        expect(header.littleEndian).toBe(!('bigEndian' in opts));
        expect(recs.length).toBe(records.length);
        let off = 24;
        recs.forEach((r, i) => {
          expect(r.data).toEqual(records[i].data);
          expect(r.tsSec).toBe(records[i].tsSec);
          expect(r.tsFrac).toBe(opts.nanosecond ? records[i].tsFrac * 1000 + 7 : records[i].tsFrac);
          expect(r.origLen).toBe(records[i].origLen);
          expect(r.offset).toBe(off);
          off += 16 + r.data.length;
        });
      }
      // The in-memory parser agrees, and re-encoding with the same header gives the same bytes.
      const bytes = new Uint8Array(readFileSync(f));
      const parsed = parsePcap(bytes, f);
      expect(parsed.records.length).toBe(records.length);
      const again = encodePcap({ ...writerOptionsFrom(parsed.header), snaplen: 262144 }, parsed.records);
      expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    });
  }

  it('reads a big-endian file written by hand (not by our writer)', () => {
    // Header: big-endian, µs, v2.4, snaplen 65535, raw IP; one record: ts 0x5f5e1000.000001, 4 of 60 bytes.
    const hex = 'a1b2c3d4000200040000000000000000' + '0000ffff00000065' + '5f5e1000' + '00000001' + '00000004' + '0000003c' + 'deadbeef';
    const { header, records } = parsePcap(Buffer.from(hex, 'hex'));
    expect(header).toMatchObject({ littleEndian: false, linktype: 101, snaplen: 65535 });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tsSec: 0x5f5e1000, tsFrac: 1, origLen: 60, offset: 24 });
    expect(Buffer.from(records[0].data).toString('hex')).toBe('deadbeef');
  });

  it('timestampMs honours the resolution', () => {
    expect(timestampMs({ tsSec: 10, tsFrac: 123_456 }, false)).toBe(10_123);
    expect(timestampMs({ tsSec: 10, tsFrac: 123_456_789 }, true)).toBe(10_123);
  });

  it('writer refuses a timestamp fraction out of range for its resolution', () => {
    expect(() => encodePcap({ linktype: 1 }, [{ data: pkt(4, 1), tsFrac: 1_000_000 }])).toThrow(/out of range/);
    expect(() => encodePcap({ linktype: 1, nanosecond: true }, [{ data: pkt(4, 1), tsFrac: 999_999_999 }])).not.toThrow();
  });
});

describe('pcap errors inside the file', () => {
  const good = encodePcap({ linktype: 101 }, [
    { data: pkt(60, 1), tsSec: 1 },
    { data: pkt(80, 2), tsSec: 2 },
  ]);

  it('a record cut short names the file and the offset of the record', async () => {
    const f = join(dir, 'cut.pcap');
    writeFileSync(f, good.subarray(0, good.length - 5));
    for (const chunk of [3, 64, 1 << 20]) {
      const reader = await PcapReader.open(f, { chunkSize: chunk });
      const first = await reader.next();
      expect(first?.data.length).toBe(60);
      // Second record starts at 24 + 16 + 60 = 100.
      const err = await reader.next().catch((e: unknown) => e);
      await reader.close();
      expect(err).toBeInstanceOf(PcapError);
      expect((err as PcapError).offset).toBe(100);
      expect((err as Error).message).toBe(`${f}: truncated record at byte offset 100: its header says 80 captured bytes, only 75 remain`);
    }
    expect(() => parsePcap(good.subarray(0, good.length - 5), 'mem')).toThrow('mem: truncated record at byte offset 100');
  });

  it('a record header cut short names the offset', async () => {
    const f = join(dir, 'cuthdr.pcap');
    writeFileSync(f, good.subarray(0, 100 + 9));
    const recs: unknown[] = [];
    const err = await (async () => {
      for await (const r of readPcap(f, { chunkSize: 16 })) recs.push(r);
    })().catch((e: unknown) => e);
    expect(recs).toHaveLength(1);
    expect((err as Error).message).toBe(`${f}: truncated record header at byte offset 100: 9 of 16 bytes`);
  });

  it('an absurd captured length is reported as corruption, not allocated', async () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(100 + 8, 0x7fffffff, true);
    const f = join(dir, 'huge.pcap');
    writeFileSync(f, bad);
    await expect(
      (async () => {
        for await (const _ of readPcap(f)) void _;
      })(),
    ).rejects.toThrow(`${f}: record at byte offset 100 claims 2147483647 captured bytes`);
  });

  it('a record larger than the chunk size is still read (the buffer grows)', async () => {
    const big = pkt(200_000, 9);
    const f = join(dir, 'bigrec.pcap');
    writeFileSync(f, encodePcap({ linktype: 1, snaplen: 262144 }, [{ data: pkt(10, 1) }, { data: big }, { data: pkt(10, 2) }]));
    const { recs } = await readAll(f, 1000);
    expect(recs.map((r) => r.data.length)).toEqual([10, 200_000, 10]);
    expect(recs[1].data).toEqual(big);
  });
});

describe('streaming a large file', () => {
  it('reads a >100 MB pcap in chunks without holding it in memory', async () => {
    const f = join(dir, 'large.pcap');
    // Write it in 1 MiB pieces: 100 MiB of 1500-byte packets plus a tail.
    const fd = openSync(f, 'w');
    const per = 1500;
    const recSize = 16 + per;
    const perChunk = Math.floor((1 << 20) / recSize);
    const chunk = new Uint8Array(perChunk * recSize);
    const dv = new DataView(chunk.buffer);
    writeSync(fd, encodePcap({ linktype: 101 }, []));
    let n = 0;
    const target = 105 * 1024 * 1024;
    let written = 24;
    while (written < target) {
      for (let i = 0; i < perChunk; i++) {
        const at = i * recSize;
        dv.setUint32(at, n, true); // ts seconds = packet number
        dv.setUint32(at + 4, 0, true);
        dv.setUint32(at + 8, per, true);
        dv.setUint32(at + 12, per, true);
        dv.setUint32(at + 16, n, false); // the packet starts with its number
        n++;
      }
      writeSync(fd, chunk);
      written += chunk.length;
    }
    closeSync(fd);
    expect(statSync(f).size).toBeGreaterThan(100 * 1024 * 1024);

    const reader = await PcapReader.open(f, { chunkSize: 1 << 20, views: true });
    const heapBefore = process.memoryUsage().arrayBuffers;
    let count = 0;
    let ordered = true;
    let peakBuffers = 0;
    for await (const r of reader) {
      if (r.tsSec !== count || new DataView(r.data.buffer, r.data.byteOffset).getUint32(0, false) !== count) ordered = false;
      count++;
      if ((count & 0xfff) === 0) peakBuffers = Math.max(peakBuffers, process.memoryUsage().arrayBuffers - heapBefore);
    }
    await reader.close();
    expect(ordered).toBe(true);
    expect(count).toBe(n);
    expect(reader.bytesRead).toBe(statSync(f).size);
    // The reader's buffer is 1 MiB; nothing near the file's size was allocated.
    expect(peakBuffers).toBeLessThan(32 * 1024 * 1024);
    rmSync(f);
  });
});
