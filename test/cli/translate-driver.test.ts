// `xbr translate` with a stand-in engine: the driver's own behaviour (order,
// timestamps, batching, counters, stats, progress, errors), independent of the core.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { formatCounters, translateAction, type TranslateDeps, type TranslateEngine } from '../../src/cli/translate.js';
import type { CommandIO } from '../../src/cli/io.js';
import { parsePcap } from '../../src/pcap/reader.js';
import { encodePcap, type PcapWriterOptions } from '../../src/pcap/writer.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-translate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = join(dir, 'xbr.yaml');
writeFileSync(
  CONFIG,
  ['mode: map-t', 'dmr: 2001:db8:ffff::/64', 'rules:', '  - ipv6-prefix: 2001:db8::/40', '    ipv4-prefix: 192.0.2.0/24', '    ea-len: 16', '    psid-offset: 6', ''].join('\n'),
);

/**
 * Packets are opaque to this engine; byte 0 says what to do: 0 drop, 1 send it back,
 * 2 send it back twice (the copy with byte 1 set to 0xee).
 */
class FakeEngine implements TranslateEngine {
  batches: { size: number; nowMs: number }[] = [];
  blob?: Uint8Array;
  linktype?: number;
  bindings: { ipv4: number; psid: number; prefixLen: number }[] = [];
  seen = 0;
  private c = { rx_packets: 0, tx_packets: 0, drop_fake: 0, never_counted: 0 };
  constructor(
    readonly batch = 4,
    private readonly withIndex = false,
  ) {}
  loadRules(blob: Uint8Array) {
    this.blob = blob;
  }
  putBinding(b: { ipv4: number; psid: number; prefixLen: number }) {
    this.bindings.push({ ipv4: b.ipv4, psid: b.psid, prefixLen: b.prefixLen });
  }
  setLinkType(l: 1 | 101) {
    this.linktype = l;
  }
  processBatch(packets: Uint8Array[], nowMs: number) {
    if (packets.length > this.batch) throw new Error('batch too large');
    this.batches.push({ size: packets.length, nowMs });
    const out: { data: Uint8Array; port: 0 | 1; index?: number }[] = [];
    packets.forEach((p, i) => {
      this.c.rx_packets++;
      const idx = this.withIndex ? { index: i } : {};
      if (p[0] === 0) this.c.drop_fake++;
      if (p[0] >= 1) out.push({ data: p.slice(), port: 1, ...idx });
      if (p[0] === 2) {
        const q = p.slice();
        q[1] = 0xee;
        out.push({ data: q, port: 0, ...idx });
      }
    });
    this.c.tx_packets += out.length;
    return out;
  }
  counters() {
    return { ...this.c };
  }
}

function capture(): CommandIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

function input(name: string, recs: { op: number; id: number; tsSec: number; tsFrac: number }[], opts: PcapWriterOptions = { linktype: 101 }) {
  const f = join(dir, name);
  writeFileSync(f, encodePcap(opts, recs.map((r) => ({ data: Uint8Array.of(r.op, 0, r.id >> 8, r.id & 0xff, 0x45, 0x00), tsSec: r.tsSec, tsFrac: r.tsFrac }))));
  return f;
}

async function run(inFile: string, engine: FakeEngine, extra: { stats?: string; out?: string; config?: string } = {}, deps: TranslateDeps = {}) {
  const io = capture();
  const out = extra.out ?? join(dir, `out-${Math.random().toString(36).slice(2)}.pcap`);
  const code = await translateAction({ config: extra.config ?? CONFIG, in: inFile, out, stats: extra.stats }, io, { createEngine: async () => engine, ...deps });
  return { code, io, out };
}

describe('xbr translate (driver)', () => {
  it('writes every output packet in order with its input packet\'s timestamp, link type and file format', async () => {
    const recs = [
      { op: 1, id: 1, tsSec: 100, tsFrac: 1 },
      { op: 0, id: 2, tsSec: 100, tsFrac: 2 },
      { op: 2, id: 3, tsSec: 101, tsFrac: 999_999_999 },
      { op: 1, id: 4, tsSec: 102, tsFrac: 0 },
    ];
    const f = input('order.pcap', recs, { linktype: 1, nanosecond: true, bigEndian: true });
    const engine = new FakeEngine();
    const stats = join(dir, 'stats.json');
    const { code, io, out } = await run(f, engine, { stats });
    expect(code).toBe(0);
    expect(io.errLines).toEqual([]);
    expect(engine.linktype).toBe(1);
    expect(engine.blob?.length).toBeGreaterThan(0);
    const { header, records } = parsePcap(readFileSync(out));
    expect(header).toMatchObject({ linktype: 1, nanosecond: true, littleEndian: false });
    expect(records.map((r) => [r.data[0], r.data[1], r.data[3], r.tsSec, r.tsFrac])).toEqual([
      [1, 0, 1, 100, 1],
      [2, 0, 3, 101, 999_999_999],
      [2, 0xee, 3, 101, 999_999_999],
      [1, 0, 4, 102, 0],
    ]);
    // The table: non-zero counters only, sorted, aligned; the summary line first.
    expect(io.outLines).toEqual([`${f}: 4 packets read, 4 written to ${out}`, 'drop_fake   1', 'rx_packets  4', 'tx_packets  4']);
    // --stats: every counter, zero ones included.
    expect(JSON.parse(readFileSync(stats, 'utf8'))).toEqual({ drop_fake: 1, never_counted: 0, rx_packets: 4, tx_packets: 4 });
  });

  it('batches packets that share a timestamp; the core runs at the capture\'s clock', async () => {
    const recs = [
      ...Array.from({ length: 6 }, (_, i) => ({ op: 1, id: i, tsSec: 50, tsFrac: 250_000 })),
      { op: 1, id: 6, tsSec: 51, tsFrac: 0 },
      { op: 1, id: 7, tsSec: 52, tsFrac: 7 },
    ];
    const engine = new FakeEngine(4);
    const { code, out } = await run(input('batch.pcap', recs), engine);
    expect(code).toBe(0);
    expect(engine.batches).toEqual([
      { size: 4, nowMs: 50_250 },
      { size: 2, nowMs: 50_250 },
      { size: 1, nowMs: 51_000 },
      { size: 1, nowMs: 52_000 },
    ]);
    expect(parsePcap(readFileSync(out)).records.map((r) => r.data[3])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('uses full batches once the engine reports which input each output came from', async () => {
    const recs = Array.from({ length: 10 }, (_, i) => ({ op: i % 3, id: i, tsSec: 10 + i, tsFrac: i }));
    const engine = new FakeEngine(4, true);
    const { code, out } = await run(input('indexed.pcap', recs), engine);
    expect(code).toBe(0);
    // Cut by timestamp until an output shows indexes (packet 0 is dropped: nothing
    // learnt; packet 1 is sent back with its index), then by size only.
    expect(engine.batches.map((b) => b.size)).toEqual([1, 1, 4, 4]);
    const got = parsePcap(readFileSync(out)).records;
    const want = recs.flatMap((r) => (r.op === 0 ? [] : r.op === 1 ? [r] : [r, r]));
    expect(got.map((r) => [r.data[3], r.tsSec, r.tsFrac])).toEqual(want.map((r) => [r.id, r.tsSec, r.tsFrac]));
  });

  it('an empty capture writes an empty pcap and exits 0', async () => {
    const engine = new FakeEngine();
    const { code, io, out } = await run(input('empty.pcap', []), engine);
    expect(code).toBe(0);
    expect(parsePcap(readFileSync(out)).records).toEqual([]);
    expect(io.outLines[0]).toMatch(/0 packets read, 0 written/);
    expect(engine.batches).toEqual([]);
  });

  it('loads the YAML bindings and the bindings-file, and sizes the table for them', async () => {
    const cfg = join(dir, 'with-bindings.yaml');
    writeFileSync(join(dir, 'subs.csv'), 'ipv4,psid-len,psid,ipv6\n198.51.100.8,6,1,2001:db8:100:1::/64\n198.51.100.8,6,2,2001:db8:100:2::/64\n');
    writeFileSync(
      cfg,
      readFileSync(CONFIG, 'utf8') +
        ['bindings:', '  - ipv4: 198.51.100.7', '    psid-len: 6', '    psid: 12', '    ipv6: 2001:db8:100:77::/64', 'bindings-file: subs.csv', 'binding-capacity: 2', ''].join('\n'),
    );
    const engine = new FakeEngine();
    let engineOpts: unknown;
    const io = capture();
    const code = await translateAction({ config: cfg, in: input('b.pcap', [{ op: 1, id: 1, tsSec: 1, tsFrac: 0 }]), out: join(dir, 'b-out.pcap') }, io, {
      createEngine: async (o) => {
        engineOpts = o;
        return engine;
      },
    });
    expect(io.errLines).toEqual([]);
    expect(code).toBe(0);
    expect(engine.bindings).toEqual([
      { ipv4: 0xc6336407, psid: 12, prefixLen: 64 },
      { ipv4: 0xc6336408, psid: 1, prefixLen: 64 },
      { ipv4: 0xc6336408, psid: 2, prefixLen: 64 },
    ]);
    expect(engineOpts).toMatchObject({ bindingCapacity: 3 });
    // A bad line in the bindings file: one line naming file and line, exit 2.
    writeFileSync(join(dir, 'subs.csv'), 'ipv4,psid-len,psid,ipv6\n198.51.100.8,6,1,2001:db8:100:1::/64\n198.51.100.999,6,2,2001:db8:100:2::/64\n');
    const io2 = capture();
    expect(await translateAction({ config: cfg, in: join(dir, 'b.pcap'), out: join(dir, 'b-out.pcap') }, io2, { createEngine: async () => new FakeEngine() })).toBe(2);
    expect(io2.errLines).toHaveLength(1);
    expect(io2.errLines[0]).toMatch(new RegExp(`^${join(dir, 'subs.csv')}:3: `));
  });

  it('warns about packets longer than a frame of the core', async () => {
    const f = join(dir, 'jumbo.pcap');
    const big = new Uint8Array(5000);
    big[0] = 1;
    writeFileSync(f, encodePcap({ linktype: 101 }, [{ data: big }]));
    const { code, io } = await run(f, new FakeEngine());
    expect(code).toBe(0);
    expect(io.errLines).toEqual([`${f}: warning: 1 packet was longer than the core's 3840-byte frames and cut to fit`]);
  });

  it('warns about packets captured shorter than on the wire', async () => {
    const f = join(dir, 'snap.pcap');
    writeFileSync(f, encodePcap({ linktype: 101, snaplen: 6 }, [{ data: Uint8Array.of(1, 0, 0, 1, 0x45, 0), origLen: 1500 }]));
    const { code, io } = await run(f, new FakeEngine());
    expect(code).toBe(0);
    expect(io.errLines).toEqual([`${f}: warning: 1 packet was captured shorter than on the wire (snaplen 6); the core saw it cut short`]);
  });
});

describe('xbr translate refuses unusable input, config and output (exit 2, one line)', () => {
  const good = () => input('good.pcap', [{ op: 1, id: 1, tsSec: 1, tsFrac: 0 }]);

  it('missing input', async () => {
    const f = join(dir, 'nope.pcap');
    const { code, io } = await run(f, new FakeEngine());
    expect(code).toBe(2);
    expect(io.errLines).toEqual([`${f}: cannot open (ENOENT: no such file or directory)`]);
  });

  it('not a pcap, pcapng, unsupported link type', async () => {
    const txt = join(dir, 'text.pcap');
    writeFileSync(txt, 'GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    let r = await run(txt, new FakeEngine());
    expect(r.code).toBe(2);
    expect(r.io.errLines).toHaveLength(1);
    expect(r.io.errLines[0]).toMatch(new RegExp(`^${txt}: not a pcap file .*byte offset 0`));

    const ng = join(dir, 'cap.pcapng');
    writeFileSync(ng, Buffer.from('0a0d0d0a1c0000004d3c2b1a01000000ffffffffffffffff1c000000', 'hex'));
    r = await run(ng, new FakeEngine());
    expect(r.code).toBe(2);
    expect(r.io.errLines[0]).toMatch(/pcapng file; xbr reads classic pcap only/);

    const sll = join(dir, 'sll.pcap');
    writeFileSync(sll, encodePcap({ linktype: 113 }, []));
    r = await run(sll, new FakeEngine());
    expect(r.code).toBe(2);
    expect(r.io.errLines).toEqual([`${sll}: link type 113 is not supported; xbr translates link types 1 (Ethernet) and 101 (raw IP)`]);
  });

  it('a truncated capture: what came before is written, then the error with the offset, exit 2', async () => {
    const full = encodePcap({ linktype: 101 }, [
      { data: Uint8Array.of(1, 0, 0, 1), tsSec: 1 },
      { data: Uint8Array.of(1, 0, 0, 2), tsSec: 2 },
      { data: Uint8Array.of(1, 0, 0, 3, 9, 9, 9, 9), tsSec: 3 },
    ]);
    const f = join(dir, 'cut.pcap');
    writeFileSync(f, full.subarray(0, full.length - 3));
    const { code, io, out } = await run(f, new FakeEngine());
    expect(code).toBe(2);
    expect(parsePcap(readFileSync(out)).records.map((r) => r.data[3])).toEqual([1, 2]);
    expect(io.errLines).toEqual([`${f}: truncated record at byte offset 64: its header says 8 captured bytes, only 5 remain`]);
    expect(io.outLines[0]).toMatch(/2 packets read, 2 written/);
  });

  it('missing or invalid config: one line naming the file', async () => {
    const missing = join(dir, 'missing.yaml');
    let r = await run(good(), new FakeEngine(), { config: missing });
    expect(r.code).toBe(2);
    expect(r.io.errLines).toHaveLength(1);
    expect(r.io.errLines[0]).toContain(missing);
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'mode: map-x\nrules: 7\nbogus: 1\n');
    r = await run(good(), new FakeEngine(), { config: bad });
    expect(r.code).toBe(2);
    expect(r.io.errLines).toHaveLength(1);
    expect(r.io.errLines[0]).toMatch(new RegExp(`^${bad}:\\d+:\\d+: .*\\(and \\d+ more problems?; see xbr check --config ${bad}\\)$`));
  });

  it('a rule blob the core refuses', async () => {
    const engine = new FakeEngine();
    engine.loadRules = () => {
      throw new Error('rule blob refused: bad-magic');
    };
    const r = await run(good(), engine);
    expect(r.code).toBe(2);
    expect(r.io.errLines).toEqual([`${CONFIG}: the core refused the compiled rules (rule blob refused: bad-magic)`]);
  });

  it('an output that would overwrite the input, or cannot be created', async () => {
    const g = good();
    let r = await run(g, new FakeEngine(), { out: g });
    expect(r.code).toBe(2);
    expect(r.io.errLines).toEqual([`${g}: the output would overwrite the input`]);
    expect(parsePcap(readFileSync(g)).records).toHaveLength(1); // untouched
    const noDir = join(dir, 'no', 'such', 'dir', 'out.pcap');
    r = await run(g, new FakeEngine(), { out: noDir });
    expect(r.code).toBe(2);
    expect(r.io.errLines).toEqual([`${noDir}: cannot create (ENOENT: no such file or directory)`]);
  });
});

describe('xbr translate progress', () => {
  const recs = Array.from({ length: 50 }, (_, i) => ({ op: 1, id: i, tsSec: i, tsFrac: 0 }));

  it('not a terminal: periodic progress lines on stderr', async () => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
    const { code, io } = await run(input('prog.pcap', recs), new FakeEngine(), {}, { progressStream: stream, progressThreshold: 0, progressIntervalMs: 0, chunkSize: 64 });
    expect(code).toBe(0);
    expect(io.errLines.length).toBeGreaterThan(5);
    expect(io.errLines.at(-1)).toMatch(/prog\.pcap: 100% \(1\.\d KiB of 1\.\d KiB\), 50 packets, \d+ s$/);
  });

  it('small inputs print no progress', async () => {
    const { io } = await run(input('small.pcap', recs), new FakeEngine(), {}, { progressIntervalMs: 0 });
    expect(io.errLines).toEqual([]);
  });

  it('a terminal: a cli-progress bar on the stream, cleared at the end', async () => {
    const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
    stream.isTTY = true;
    stream.columns = 120;
    let drawn = '';
    stream.on('data', (d: Buffer) => (drawn += d.toString()));
    const { code, io } = await run(input('bar.pcap', recs), new FakeEngine(), {}, { progressStream: stream, progressThreshold: 0, chunkSize: 64 });
    expect(code).toBe(0);
    expect(io.errLines).toEqual([]);
    expect(drawn).toContain('translating [');
  });
});

describe('formatCounters', () => {
  it('drops zeros, sorts by name, aligns names left and numbers right', () => {
    expect(formatCounters({ zeta: 3, alpha_long_name: 1234567, mid: 0, beta: 42 })).toEqual(['alpha_long_name  1234567', 'beta                  42', 'zeta                   3']);
    expect(formatCounters({ a: 0 })).toEqual([]);
  });
});
