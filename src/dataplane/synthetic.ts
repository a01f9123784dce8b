// Synthetic traffic for the in-memory benchmarks (`npm run bench`, `xbr bench`):
// a configuration and many distinct packet templates per scenario, staged into the
// core's frames so that a batch costs one wasm call to stage (standing in for the
// NIC's DMA) and one to translate. No JS runs per packet.

import { Engine, FRAME_HEADROOM } from '../core/engine.js';
import { parseConfig } from '../config/load.js';
import { compileRules, compileBindings } from '../core/blob.js';
import { mapRuleFromConfig } from '../config/rules.js';
import { ipv4, ipv6, udp, icmp4Echo } from '../packets/build.js';
import { embedIPv4, mapCeAddress } from '../map/address.js';
import { formatIpv4, formatIpv6 } from '../packets/addr.js';

export const SCENARIOS = ['map-t-4to6-udp', 'map-t-6to4-udp', 'map-t-4to6-echo', 'map-t-bindings-4to6-udp', 'map-t-bindings-6to4-udp'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<Scenario, string> = {
  'map-t-4to6-udp': 'map-t 4->6 UDP 64B, 1 rule',
  'map-t-6to4-udp': 'map-t 6->4 UDP 64B, 1 rule',
  'map-t-4to6-echo': 'map-t 4->6 ICMP echo 64B, 1 rule',
  'map-t-bindings-4to6-udp': 'map-t 4->6 UDP 64B, 10000 bindings',
  'map-t-bindings-6to4-udp': 'map-t 6->4 UDP 64B, 10000 bindings',
};

const RULE_YAML = `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
`;

/** A deterministic PRNG (mulberry32), so every run stages the same traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function ether(ip: Uint8Array, v6: boolean): Uint8Array {
  const f = new Uint8Array(14 + ip.length);
  f.set([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, v6 ? 0x86 : 0x08, v6 ? 0xdd : 0x00]);
  f.set(ip, 14);
  return f;
}

function filler(ipSize: number, headers: number): Uint8Array {
  return new Uint8Array(Math.max(0, ipSize - headers)).fill(0xab);
}

const DMR = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const BINDINGS = 10_000;

export interface Traffic {
  engine: Engine;
  templates: Uint8Array[];
}

/** The engine (rules and bindings loaded) and `count` packet templates of a scenario. */
export function scenario(name: Scenario, count: number, batch: number, seed = 1): Traffic {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const config = parseConfig(RULE_YAML, 'synthetic.yaml');
  const withBindings = name.startsWith('map-t-bindings');
  const engine = Engine.createSync({ bindingCapacity: withBindings ? BINDINGS : 1024, batch, frames: 4096, frameSize: 2048 });
  engine.loadRules(compileRules(config));
  for (const b of compileBindings(config)) engine.putBinding(b);
  engine.setLinkType(1);
  const remote = () => `198.51.100.${1 + int(254)}`;
  const remote6 = () => formatIpv6(embedIPv4(DMR, 64, 0xc6336401 + int(200)));
  const templates: Uint8Array[] = [];
  if (!withBindings) {
    const rule = mapRuleFromConfig(config.rules[0], 'map-t');
    for (let i = 0; i < count; i++) {
      const host = 1 + int(254);
      const psid = int(256);
      // a = 6, k = 8, m = 2: A in 1..63 keeps the port out of 0-1023
      const port = ((1 + int(63)) << 10) | (psid << 2) | int(4);
      const ce4 = `192.0.2.${host}`;
      if (name === 'map-t-4to6-udp') {
        templates.push(ether(ipv4({ src: remote(), dst: ce4, payload: udp({ sport: 53, dport: port, payload: filler(64, 28) }) }), false));
      } else if (name === 'map-t-4to6-echo') {
        templates.push(ether(ipv4({ src: remote(), dst: ce4, payload: icmp4Echo({ id: port, seq: i & 0xffff, data: filler(64, 28) }) }), false));
      } else {
        const ce6 = formatIpv6(mapCeAddress(rule, (0xc0000200 | host) >>> 0, psid));
        templates.push(ether(ipv6({ src: ce6, dst: remote6(), payload: udp({ sport: port, dport: 53, payload: filler(64, 48) }) }), true));
      }
    }
    return { engine, templates };
  }
  // EA-len-0 bindings: 10.64.0.0/10, psid-len 6, each CE a /64 of 2001:db8:8000::/33.
  const ce = (i: number) => {
    const b = new Uint8Array(16);
    b.set([0x20, 0x01, 0x0d, 0xb8, 0x80 | ((i >> 24) & 0x7f), (i >> 16) & 255, (i >> 8) & 255, i & 255]);
    return b;
  };
  const v4of = (i: number) => (0x0a400000 + Math.floor(i / 64)) >>> 0;
  for (let i = 0; i < BINDINGS; i++) engine.putBinding({ ipv4: v4of(i), psidLen: 6, psidOffset: 6, psid: i % 64, ipv6: ce(i), prefixLen: 64 });
  for (let i = 0; i < count; i++) {
    const b = int(BINDINGS);
    const v4 = v4of(b);
    const psid = b % 64;
    // psid-len 6, offset 6: m = 4
    const port = ((1 + int(63)) << 10) | (psid << 4) | int(16);
    const v4b = Uint8Array.from([v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255]);
    if (name === 'map-t-bindings-4to6-udp') {
      templates.push(ether(ipv4({ src: remote(), dst: formatIpv4(v4b), payload: udp({ sport: 53, dport: port, payload: filler(64, 28) }) }), false));
    } else {
      const src = ce(b);
      src.set([0, 0, ...v4b, 0, psid], 8);
      templates.push(ether(ipv6({ src: formatIpv6(src), dst: remote6(), payload: udp({ sport: port, dport: 53, payload: filler(64, 48) }) }), true));
    }
  }
  return { engine, templates };
}

export interface Staged {
  base: number;
  stride: number;
  count: number;
}

/**
 * Copies the templates to the top of the frame area (frames the core gives up for
 * good) and points the first `batch` rx descriptors at frames of their own.
 */
export function stage(engine: Engine, templates: Uint8Array[]): Staged {
  const core = engine.core;
  const total = core.framesTake(core.ioCap());
  const view = new DataView(core.memory.buffer);
  const io = core.ioPtr();
  const addrs: number[] = [];
  for (let i = 0; i < total; i++) addrs.push(view.getUint32(io + 4 * i, true));
  addrs.sort((a, b) => a - b);
  const stride = (2 + Math.max(...templates.map((t) => t.length)) + 7) & ~7;
  const frameSize = 1 << engine.layout.frameShift;
  const need = Math.ceil((templates.length * stride) / frameSize);
  if (addrs.length < engine.batch + need) throw new Error(`not enough frames to stage ${templates.length} templates`);
  const base = addrs[addrs.length - need];
  const mem = new Uint8Array(core.memory.buffer);
  templates.forEach((t, i) => {
    view.setUint16(base + i * stride, t.length, true);
    mem.set(t, base + i * stride + 2);
  });
  const rx = core.rxPtr();
  for (let i = 0; i < engine.batch; i++) {
    view.setUint32(rx + 8 * i, addrs[i] + FRAME_HEADROOM, true);
    view.setUint8(rx + 8 * i + 6, 0);
  }
  return { base, stride, count: templates.length };
}

/**
 * A function that stages and translates `batches` batches; returns packets sent.
 * Throws if a packet of the scenario is not sent (the traffic is all translatable).
 */
export function batchRunner(engine: Engine, s: Staged): (batches: number, nowMs: number) => number {
  const core = engine.core;
  const batch = engine.batch;
  const chunks = Math.max(1, Math.floor(s.count / batch));
  let chunk = 0;
  return (batches, nowMs) => {
    let sent = 0;
    for (let b = 0; b < batches; b++) {
      core.benchStage(batch, s.base + chunk * batch * s.stride, batch, s.stride);
      const n = core.process(batch, nowMs);
      if (n !== batch) throw new Error(`${n} of ${batch} packets sent`);
      sent += n;
      chunk = (chunk + 1) % chunks;
    }
    return sent;
  };
}
