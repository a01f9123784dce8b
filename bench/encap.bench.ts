// lw4o6 on one thread, no NIC: encapsulation (IPv4 -> B4) and decapsulation (B4 ->
// IPv4) in Mpps, batches of 64, with 1,000,000 bindings looked up at random; plus
// the time to load those bindings from a CSV file (parse and validate, then into the
// core's table) and the table's bytes per binding.
//
//   npm run build && npm run bench:encap     (node dist/bench/encap.bench.js [--quick])
//
// Each batch is staged by the core's benchStageTunnel (assembly/encap/bench.ts): a
// memcpy of a template into each rx frame, as a NIC's DMA would, then a subscriber
// drawn at random from all 1,000,000 bindings written into it (address, port, B4
// address, checksums fixed). Staging runs in wasm and is counted in the time; a row
// of its own shows what it costs alone. Packet sizes are those of the IPv4 packet
// (64 B or 550 B); a decapsulated packet arrives 40 bytes longer, in its IPv6
// header, and every packet has a 14-byte Ethernet header.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { Engine, FRAME_HEADROOM } from '../src/core/engine.js';
import { parseConfig } from '../src/config/load.js';
import { compileRules } from '../src/core/blob.js';
import { loadBindingsFile, type PackedBindings } from '../src/config/bindings-file.js';
import { canonicalIpv6, checkChecksums, ipv4, ipv6, parsePacket, udp } from '../src/packets/index.js';
import { prng } from '../src/dataplane/synthetic.js';
import { writeResults, machineLine } from './report.js';

const N = 1_000_000;
const V4BASE = 0x64400000; // 100.64.0.0: binding i is 100.64.0.0 + (i >> 6), PSID i & 63
const BATCH = 64;
const BATCHES_PER_TASK = 64;
const TEMPLATES = 256;
const BR = '2001:db8:ffff::1';
const YAML = `mode: lw4o6\nbr: ${BR}\nicmp: { errors: false }\nreserved-ports: 0-1023\n`;

interface TunnelCore {
  benchStageTunnel(n: number, tpl: number, count: number, stride: number, kind: number, v4base: number, nbind: number): void;
  benchSeed(seed: number): void;
  benchPrefetch(on: number): void;
  bindingTableBytes(bindLog2: number): number;
}

const ipText = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
const b4Text = (i: number) => `2001:db8:b4::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

function ether(ip: Uint8Array): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, ip[0] >> 4 === 6 ? 0x86 : 0x08, ip[0] >> 4 === 6 ? 0xdd : 0x00]);
  f.set(ip, 14);
  return f;
}

/** Templates of one case: the subscriber fields are overwritten at staging. */
function templates(kind: 0 | 1, ipSize: number, seed: number): Uint8Array[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const out: Uint8Array[] = [];
  for (let t = 0; t < TEMPLATES; t++) {
    const remote = `198.51.${100 + int(4)}.${1 + int(254)}`;
    const data = new Uint8Array(ipSize - 28).map(() => int(256));
    if (kind === 0) {
      out.push(ether(ipv4({ src: remote, dst: ipText(V4BASE), id: t, ttl: 64, payload: udp({ sport: 1 + int(65535), dport: 1024, payload: data }) })));
    } else {
      const inner = ipv4({ src: ipText(V4BASE), dst: remote, id: t, ttl: 64, payload: udp({ sport: 1024, dport: 1 + int(65535), payload: data }) });
      out.push(ether(ipv6({ src: b4Text(0), dst: BR, nextHeader: 4, payload: inner })));
    }
  }
  return out;
}

interface Staged {
  base: number;
  stride: number;
  count: number;
}

/**
 * Takes every frame from the core, keeps the lowest BATCH as the rx frames for good
 * (the tx descriptors point back into them), and lays the template sets out at the
 * top of the frame area.
 */
function stageAll(engine: Engine, sets: Uint8Array[][]): Staged[] {
  const core = engine.core;
  const total = core.framesTake(core.ioCap());
  const view = new DataView(core.memory.buffer);
  const addrs: number[] = [];
  for (let i = 0; i < total; i++) addrs.push(view.getUint32(core.ioPtr() + 4 * i, true));
  addrs.sort((a, b) => a - b);
  const frameSize = 1 << engine.layout.frameShift;
  const mem = new Uint8Array(core.memory.buffer);
  let at = addrs[BATCH];
  const end = addrs[addrs.length - 1] + frameSize;
  const out: Staged[] = [];
  for (const set of sets) {
    const stride = (2 + Math.max(...set.map((t) => t.length)) + 7) & ~7;
    if (at + stride * set.length > end) throw new Error('not enough frames for the templates');
    set.forEach((t, i) => {
      view.setUint16(at + i * stride, t.length, true);
      mem.set(t, at + i * stride + 2);
    });
    out.push({ base: at, stride, count: set.length });
    at += stride * set.length;
  }
  const rx = core.rxPtr();
  for (let i = 0; i < BATCH; i++) {
    view.setUint32(rx + 8 * i, addrs[i] + FRAME_HEADROOM, true);
    view.setUint8(rx + 8 * i + 6, 0);
  }
  return out;
}

function writeCsv(path: string): void {
  const lines: string[] = ['ipv4,psid-len,psid,ipv6'];
  for (let i = 0; i < N; i++) lines.push(`${ipText(V4BASE + (i >>> 6))},6,${i & 63},${b4Text(i)}`);
  writeFileSync(path, lines.join('\n') + '\n');
}

function newEngine(): Engine {
  const engine = Engine.createSync({ bindingCapacity: N, batch: BATCH, frames: 4096, frameSize: 2048 });
  engine.loadRules(compileRules(parseConfig(YAML, 'bench.yaml')));
  engine.setLinkType(1);
  return engine;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Row {
  case: string;
  mpps: number;
  nsPerPacket: number;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const dir = mkdtempSync(join(tmpdir(), 'xbr-encap-bench-'));
  const csv = join(dir, 'bindings.csv');
  process.stderr.write(`writing ${N} bindings to ${csv}…\n`);
  writeCsv(csv);

  // Load time: parse + validate (loadBindingsFile), then into the core (putBindings).
  const runs = quick ? 1 : 3;
  const parseMs: number[] = [];
  const putMs: number[] = [];
  let packed: PackedBindings | undefined;
  let engine: Engine | undefined;
  for (let r = 0; r < runs; r++) {
    let t = performance.now();
    packed = loadBindingsFile(csv, { mode: 'lw4o6', reserved: [0, 1023] });
    parseMs.push(performance.now() - t);
    engine = newEngine();
    t = performance.now();
    engine.putBindings(packed);
    putMs.push(performance.now() - t);
  }
  rmSync(dir, { recursive: true, force: true });
  const e = engine!;
  if (e.bindingCount !== N) throw new Error(`${e.bindingCount} bindings in the table`);
  const core = e.core as unknown as TunnelCore & Engine['core'];
  const slots = e.core.bindingSlots();
  const tableBytes = core.bindingTableBytes(e.layout.bindLog2);
  const bytesPerBinding = tableBytes / N;
  process.stderr.write(`load: parse+validate ${median(parseMs).toFixed(0)} ms, into the core ${median(putMs).toFixed(0)} ms; ${(tableBytes / 2 ** 20).toFixed(0)} MiB, ${bytesPerBinding.toFixed(1)} B/binding\n`);

  const sets = [templates(0, 64, 1), templates(0, 550, 2), templates(1, 64, 3), templates(1, 550, 4)];
  const staged = stageAll(e, sets);
  core.benchSeed(12345);

  // Every case is checked once before it is timed: all 64 packets sent, right B4 /
  // right IPv4 packet, valid checksums.
  const check = (s: Staged, kind: number, nbind: number) => {
    core.benchStageTunnel(BATCH, s.base, s.count, s.stride, kind, V4BASE, nbind);
    const n = core.process(BATCH, 1);
    if (n !== BATCH) throw new Error(`${n} of ${BATCH} packets sent: ${JSON.stringify(Object.fromEntries(Object.entries(e.counters()).filter(([k, v]) => k.startsWith('drop') && v)))}`);
    const view = new DataView(core.memory.buffer);
    const mem = new Uint8Array(core.memory.buffer);
    for (let i = 0; i < n; i++) {
      const a = view.getUint32(core.txPtr() + 8 * i, true);
      const len = view.getUint16(core.txPtr() + 8 * i + 4, true);
      const pkt = mem.slice(a, a + len);
      const rep = checkChecksums(pkt, 1);
      if (!rep.ok) throw new Error(`bad output: ${rep.errors.join('; ')}`);
      const p = parsePacket(pkt, 1);
      if (kind === 0) {
        const inner = p.encapsulated!;
        const v4 = inner.dst.split('.').reduce((x, o) => x * 256 + Number(o), 0);
        const idx = (v4 - V4BASE) * 64 + ((inner.dport! >> 4) & 63);
        if (p.dst !== canonicalIpv6(b4Text(idx))) throw new Error(`binding ${idx}: sent to ${p.dst}`);
      } else if (p.version !== 4) throw new Error('decapsulation did not give IPv4');
    }
  };
  check(staged[0], 0, N);
  check(staged[1], 0, N);
  check(staged[2], 1, N);
  check(staged[3], 1, N);

  const bench = new Bench({ time: quick ? 300 : 2000, warmupTime: quick ? 100 : 500 });
  // Two port-set layouts: one whole-address binding (psid-len 0) besides the million
  // of psid-len 6 turns off the direct look-up of one-layout tables (assembly/map/
  // bindings.ts): every look-up reads the address entry first, as in a deployment
  // that mixes full and shared addresses.
  const other = { ipv4: 0x64000001, psidLen: 0, psidOffset: 0, psid: 0, prefixLen: 128, ipv6: ipv6({ src: BR, dst: BR }).subarray(8, 24) };
  const mixed = {
    beforeAll: () => e.putBinding(other),
    afterAll: () => void e.removeBinding(other.ipv4, 0),
  };
  const task = (name: string, s: Staged, kind: number, nbind: number, process = true, prefetch = true, layouts = 1) => {
    let now = 2;
    bench.add(name, () => {
      core.benchPrefetch(prefetch ? 1 : 0);
      for (let b = 0; b < BATCHES_PER_TASK; b++) {
        core.benchStageTunnel(BATCH, s.base, s.count, s.stride, kind, V4BASE, nbind);
        if (process && core.process(BATCH, now) !== BATCH) throw new Error(`${name}: a packet was not sent`);
      }
      now++;
    }, layouts > 1 ? mixed : {});
  };
  task('lw4o6 encap 64 B, 1M bindings at random', staged[0], 0, N);
  task('lw4o6 decap 64 B, 1M bindings at random', staged[2], 1, N);
  task('lw4o6 encap 550 B, 1M bindings at random', staged[1], 0, N);
  task('lw4o6 decap 550 B, 1M bindings at random', staged[3], 1, N);
  task('lw4o6 encap 64 B, 1M at random, two port-set layouts', staged[0], 0, N, true, true, 2);
  task('lw4o6 decap 64 B, 1M at random, two port-set layouts', staged[2], 1, N, true, true, 2);
  task('lw4o6 encap 64 B, 1M at random, no batch prefetch', staged[0], 0, N, true, false);
  task('lw4o6 decap 64 B, 1M at random, no batch prefetch', staged[2], 1, N, true, false);
  task('lw4o6 encap 64 B, 1 binding (hot)', staged[0], 0, 1);
  task('lw4o6 decap 64 B, 1 binding (hot)', staged[2], 1, 1);
  task('staging alone, encap 64 B (included above)', staged[0], 0, N, false);
  task('staging alone, decap 64 B (included above)', staged[2], 1, N, false);
  process.stderr.write(`running ${bench.tasks.length} cases (${quick ? 'quick' : 'full'})…\n`);
  bench.addEventListener('cycle', (ev) => process.stderr.write(`  done: ${(ev as unknown as { task: { name: string } }).task.name}\n`));
  await bench.run();
  const rows: Row[] = bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
    const meanMs = r.latency?.mean ?? r.mean ?? NaN;
    const pkts = BATCH * BATCHES_PER_TASK;
    return { case: t.name, mpps: pkts / (meanMs / 1000) / 1e6, nsPerPacket: (meanMs * 1e6) / pkts };
  });
  console.table(rows.map((r) => ({ case: r.case, Mpps: r.mpps.toFixed(2), 'ns/packet': r.nsPerPacket.toFixed(1) })));
  const load = {
    bindings: N,
    parseValidateMs: Math.round(median(parseMs)),
    putBindingsMs: Math.round(median(putMs)),
    bindingSlots: slots,
    addressSlots: (tableBytes - slots * 24) / 8,
    tableBytes,
    bytesPerBinding: Number(bytesPerBinding.toFixed(1)),
  };
  console.log(`\nload of ${N} bindings from CSV (median of ${runs}): loadBindingsFile ${load.parseValidateMs} ms, Engine.putBindings ${load.putBindingsMs} ms`);
  console.log(
    `table: (${slots} binding slots x 24 B + ${load.addressSlots} address slots x 8 B) / ${N} bindings = ${load.bytesPerBinding} B per binding ` +
      `(binding slots alone: ${((slots * 24) / N).toFixed(1)} B)`,
  );
  // Markdown, for bench/RESULTS.md
  console.log('\n| case | Mpps | ns/packet |\n|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.case} | ${r.mpps.toFixed(2)} | ${r.nsPerPacket.toFixed(1)} |`);
  writeResults('encap', [...rows, { case: 'load', ...load }], machineLine());
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
