// The wasm core on one thread, no NIC: Mpps per case, batches of 64 (issue: "a
// tinybench suite for the core on one thread"). Each task runs BATCHES_PER_TASK
// batches; a batch is staged by the core's benchStage (a memcpy of each packet into
// its frame, standing in for the NIC's DMA, and counted in the time), then
// translated in place.
//
//   npm run bench            (node dist/bench/core.bench.js [--quick] [--only NAME])
//
// Templates are many distinct packets, so look-ups hit random rules/bindings and the
// caches see what a real mix would give them, not one hot entry.

import { Bench } from 'tinybench';
import { Engine, FRAME_HEADROOM } from '../src/core/engine.js';
import { parseConfig } from '../src/config/load.js';
import { compileRules, compileBindings } from '../src/core/blob.js';
import { ipv4, ipv6, udp, icmp4Echo } from '../src/packets/build.js';
import { embedIPv4, mapCeAddress } from '../src/map/address.js';
import { mapRuleFromConfig } from '../src/config/rules.js';
import { formatIpv6, formatIpv4 } from '../src/packets/addr.js';
import { writeResults, machineLine, type ResultRow } from './report.js';

const BATCH = 64;
const BATCHES_PER_TASK = 64;

interface Case {
  name: string;
  engine: Engine;
  templates: Uint8Array[];
}

/** The packets' payload so that the IP packet is `size` bytes. */
function payload(size: number, headers: number): Uint8Array {
  return new Uint8Array(Math.max(0, size - headers)).fill(0xab);
}

function ruleConfig(extra = ''): string {
  return `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
${extra}`;
}

function randomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

/** Ports in PSID `psid`'s set (a = 6, k = 8 → m = 2): A in 1..63. */
function portOf(psid: number, k: number): number {
  const a = 6;
  const m = 16 - a - k;
  const A = 1 + randomInt(2 ** a - 1);
  return (A << (16 - a)) | (psid << m) | randomInt(2 ** m);
}

function stageTemplates(engine: Engine, templates: Uint8Array[]): { base: number; stride: number; count: number } {
  // Templates live at the top of the frame area, in frames the core no longer owns:
  // take every frame out of the free list, keep the low ones for rx.
  const core = engine.core;
  const total = core.framesTake(core.ioCap());
  const view = new DataView(core.memory.buffer);
  const io = core.ioPtr();
  const addrs: number[] = [];
  for (let i = 0; i < total; i++) addrs.push(view.getUint32(io + 4 * i, true));
  addrs.sort((a, b) => a - b);
  const stride = 2 + Math.max(...templates.map((t) => t.length));
  const evenStride = (stride + 7) & ~7;
  const frameSize = 1 << engine.layout.frameShift;
  const need = Math.ceil((templates.length * evenStride) / frameSize);
  if (addrs.length < BATCH + need) throw new Error('not enough frames for the templates');
  const base = addrs[addrs.length - need];
  const mem = new Uint8Array(core.memory.buffer);
  templates.forEach((t, i) => {
    const p = base + i * evenStride;
    view.setUint16(p, t.length, true);
    mem.set(t, p + 2);
  });
  // rx descriptors point at the first BATCH frames, for good
  const rx = core.rxPtr();
  for (let i = 0; i < BATCH; i++) {
    view.setUint32(rx + 8 * i, addrs[i] + FRAME_HEADROOM, true);
    view.setUint8(rx + 8 * i + 6, 0);
  }
  return { base, stride: evenStride, count: templates.length };
}

function runner(c: Case): () => void {
  const { base, stride, count } = stageTemplates(c.engine, c.templates);
  const core = c.engine.core;
  const chunks = Math.floor(count / BATCH);
  let chunk = 0;
  let now = 1;
  return () => {
    for (let b = 0; b < BATCHES_PER_TASK; b++) {
      core.benchStage(BATCH, base + chunk * BATCH * stride, BATCH, stride);
      const n = core.process(BATCH, now);
      if (n !== BATCH) throw new Error(`${c.name}: ${n} of ${BATCH} packets translated`);
      chunk = (chunk + 1) % chunks;
    }
    now += 1;
  };
}

function engineFor(yaml: string, bindingCapacity = 16384): Engine {
  const config = parseConfig(yaml, 'bench.yaml');
  const engine = Engine.createSync({ bindingCapacity, batch: BATCH, frames: 4096, frameSize: 2048 });
  engine.loadRules(compileRules(config));
  for (const b of compileBindings(config)) engine.putBinding(b);
  engine.setLinkType(1);
  return engine;
}

function ether(ip: Uint8Array, v6: boolean): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, v6 ? 0x86 : 0x08, v6 ? 0xdd : 0x00]);
  f.set(ip, 14);
  return f;
}

const TEMPLATES = 4096;

function mapTRuleCases(): Case[] {
  const config = parseConfig(ruleConfig(), 'bench.yaml');
  const rule = mapRuleFromConfig(config.rules[0], 'map-t');
  const dmr = new Uint8Array(16);
  dmr.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
  const v4to6: Uint8Array[] = [];
  const v6to4: Uint8Array[] = [];
  const echo: Uint8Array[] = [];
  for (let i = 0; i < TEMPLATES; i++) {
    const host = 1 + randomInt(254);
    const psid = randomInt(256);
    const port = portOf(psid, 8);
    const ce4 = `192.0.2.${host}`;
    const remote = `198.51.100.${1 + randomInt(254)}`;
    // 64-byte IP packets (20 + 8 + 36 for IPv4; 40 + 8 + 16 for IPv6)
    v4to6.push(ether(ipv4({ src: remote, dst: ce4, payload: udp({ sport: 53, dport: port, payload: payload(64, 28) }) }), false));
    const ce6 = formatIpv6(mapCeAddress(rule, (0xc0000200 | host) >>> 0, psid));
    const dst6 = formatIpv6(embedIPv4(dmr, 64, 0xc6336401 + randomInt(200)));
    v6to4.push(ether(ipv6({ src: ce6, dst: dst6, payload: udp({ sport: port, dport: 53, payload: payload(64, 48) }) }), true));
    echo.push(ether(ipv4({ src: remote, dst: ce4, payload: icmp4Echo({ id: port, seq: i, data: payload(64, 28) }) }), false));
  }
  const mk = (name: string, templates: Uint8Array[]): Case => ({ name, engine: engineFor(ruleConfig()), templates });
  return [
    mk('map-t 4->6 UDP 64B, 1 rule', v4to6),
    mk('map-t 6->4 UDP 64B, 1 rule', v6to4),
    mk('map-t 4->6 ICMP echo 64B, 1 rule', echo),
  ];
}

function bindingCases(count: number): Case[] {
  // EA-len-0 bindings: 10.64.0.0/10 addresses, psid-len 6, each CE a /64.
  const specs: { v4: number; psid: number; prefix: string }[] = [];
  for (let i = 0; i < count; i++) {
    const v4 = (0x0a400000 + Math.floor(i / 64)) >>> 0;
    const psid = i % 64;
    const prefix = `2001:db8:${(0x8000 + (i >> 16)).toString(16)}:${(i & 0xffff).toString(16)}::`;
    specs.push({ v4, psid, prefix });
  }
  const yaml = `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
`;
  const makeEngine = (): Engine => {
  const engine = engineFor(yaml, count);
  for (const s of specs) {
    const ipv6b = new Uint8Array(16);
    const parts = s.prefix.split(':');
    ipv6b.set([0x20, 0x01, 0x0d, 0xb8]);
    const w2 = parseInt(parts[2], 16);
    const w3 = parseInt(parts[3] || '0', 16);
    ipv6b.set([w2 >> 8, w2 & 255, w3 >> 8, w3 & 255], 4);
    engine.putBinding({ ipv4: s.v4, psidLen: 6, psidOffset: 6, psid: s.psid, ipv6: ipv6b, prefixLen: 64 });
  }
  return engine;
  };
  const dmr = new Uint8Array(16);
  dmr.set([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff]);
  const v4to6: Uint8Array[] = [];
  const v6to4: Uint8Array[] = [];
  for (let i = 0; i < TEMPLATES; i++) {
    const s = specs[randomInt(specs.length)];
    // psid-len 6, offset 6: m = 4
    const port = ((1 + randomInt(63)) << 10) | (s.psid << 4) | randomInt(16);
    const remote = `198.51.100.${1 + randomInt(254)}`;
    v4to6.push(ether(ipv4({ src: remote, dst: formatIpv4(Uint8Array.from(u32bytes(s.v4))), payload: udp({ sport: 53, dport: port, payload: payload(64, 28) }) }), false));
    const ce = new Uint8Array(16);
    const parts = s.prefix.split(':');
    const w2 = parseInt(parts[2], 16);
    const w3 = parseInt(parts[3] || '0', 16);
    ce.set([0x20, 0x01, 0x0d, 0xb8, w2 >> 8, w2 & 255, w3 >> 8, w3 & 255, 0, 0, ...u32bytes(s.v4), 0, s.psid]);
    const dst6 = formatIpv6(embedIPv4(dmr, 64, 0xc6336401 + randomInt(200)));
    v6to4.push(ether(ipv6({ src: formatIpv6(ce), dst: dst6, payload: udp({ sport: port, dport: 53, payload: payload(64, 48) }) }), true));
  }
  return [
    { name: `map-t 4->6 UDP 64B, ${count} bindings`, engine: makeEngine(), templates: v4to6 },
    { name: `map-t 6->4 UDP 64B, ${count} bindings`, engine: makeEngine(), templates: v6to4 },
  ];
}

function u32bytes(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const cases = [...mapTRuleCases(), ...bindingCases(10_000)].filter((c) => !only || c.name.includes(only));
  const bench = new Bench({ time: quick ? 300 : 2000, warmupTime: quick ? 100 : 500 });
  for (const c of cases) bench.add(c.name, runner(c));
  process.stderr.write(`running ${cases.length} cases (${quick ? 'quick' : 'full'})…\n`);
  bench.addEventListener('cycle', (e) => process.stderr.write(`  done: ${(e as unknown as { task: { name: string } }).task.name}\n`));
  await bench.run();
  const rows: ResultRow[] = bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
    const meanMs = r.latency?.mean ?? r.mean ?? NaN;
    const pkts = BATCH * BATCHES_PER_TASK;
    return { case: t.name, mpps: pkts / (meanMs / 1000) / 1e6, nsPerPacket: (meanMs * 1e6) / pkts };
  });
  console.table(rows.map((r) => ({ case: r.case, Mpps: r.mpps.toFixed(2), 'ns/packet': r.nsPerPacket.toFixed(1) })));
  writeResults('core', rows, machineLine());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
