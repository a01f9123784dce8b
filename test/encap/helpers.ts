// Shared harness for the MAP-E / lw4o6 tests: an Engine loaded from YAML, packets in
// and out by batch, the counters each batch moved, and checks that every packet the
// core emits is well formed with valid checksums.
import { expect } from 'vitest';
import { Engine, type EngineOptions, type OutputPacket } from '../../src/core/engine.js';
import { parseConfig } from '../../src/config/load.js';
import { compileRules, compileBindings } from '../../src/core/blob.js';
import { checkAll, checkChecksums, ipv4, ipv6, parsePacket, type ParsedPacket, type Ipv4Options } from '../../src/packets/index.js';

export const BR = '2001:db8:ffff::1';
export const HOST = '203.0.113.5';
export const ICMP_SRC4 = '192.0.0.8';

/** lw4o6: two B4s share 198.51.100.7 (PSIDs 12 and 13, a = 6, k = 6), a third has 198.51.100.9 whole. */
export const LW = {
  addr: '198.51.100.7',
  full: '198.51.100.9',
  b4a: '2001:db8:77::7', // PSID 12: ports A·1024 + 12·16 + j (1216-1231, 2240-2255, …)
  b4b: '2001:db8:77::8', // PSID 13: 1232-1247, …
  b4c: '2001:db8:77::9', // 198.51.100.9, every port
  portA: 1216,
  portA2: 2250,
  portB: 1233,
  /** PSID 56: no binding */
  portNone: 5000,
} as const;

export function lwYaml(extra = ''): string {
  return `mode: lw4o6
br: ${BR}
bindings:
  - { ipv4: ${LW.addr}, psid-len: 6, psid: 12, psid-offset: 6, ipv6: ${LW.b4a} }
  - { ipv4: ${LW.addr}, psid-len: 6, psid: 13, psid-offset: 6, ipv6: ${LW.b4b} }
  - { ipv4: ${LW.full}, psid-len: 0, psid: 0, ipv6: ${LW.b4c} }
reserved-ports: 0-1023
${extra}`;
}

/**
 * MAP-E: RFC 7597 Appendix A's rule (2001:db8::/40 <-> 192.0.2.0/24, ea-len 16,
 * a = 6, k = 8), a rule whose CEs get an IPv4 /24 prefix (10.0.0.0/16, ea-len 8),
 * and an EA-len-0 binding.
 */
export const ME = {
  ce4: '192.0.2.18', // PSID 0x34: ports 1232-1235, 2256-2259, …
  ce6: '2001:db8:12:3400:0:c000:212:34', // RFC 7597 Appendix A, example 1
  ce4b: '192.0.2.52', // PSID 0x10 on the same rule: ports 1088-1091, …
  ce6b: '2001:db8:34:1000:0:c000:234:10',
  port: 1232,
  portB: 1089,
  /** 10.0.5.0/24 -> 2001:db8:100:500::/56; the MAP-E IID pads the prefix (RFC 7597 section 6) */
  pfx4: '10.0.5.77',
  pfx6: '2001:db8:100:500:0:a00:500:0',
  bind4: '198.51.100.7', // psid-len 6, PSID 12 -> 2001:db8:200:77::/64
  bind6: '2001:db8:200:77:0:c633:6407:c',
  bindPort: 1216,
} as const;

export function meYaml(extra = ''): string {
  return `mode: map-e
br: ${BR}
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
    fmr: true
  - ipv6-prefix: 2001:db8:100::/48
    ipv4-prefix: 10.0.0.0/16
    ea-len: 8
bindings:
  - { ipv4: ${ME.bind4}, psid-len: 6, psid: 12, psid-offset: 6, ipv6: 2001:db8:200:77::/64 }
reserved-ports: 0-1023
${extra}`;
}

export type Counters = Record<string, number>;

export interface Batch {
  out: OutputPacket[];
  /** Counters that moved in this batch, by how much. */
  delta: Counters;
  /** Parsed outputs (raw IP or Ethernet as the harness's link type). */
  parsed: ParsedPacket[];
}

export class Harness {
  readonly engine: Engine;
  now = 1000;
  /** Outputs may hold a datagram's fragments only in part (the test drops the others). */
  partialFragments = false;
  constructor(
    yaml: string,
    readonly linktype: 1 | 101 = 101,
    opts: EngineOptions = {},
  ) {
    const config = parseConfig(yaml, 'test.yaml');
    this.engine = Engine.createSync({ bindingCapacity: 1024, ...opts });
    this.engine.loadRules(compileRules(config));
    for (const b of compileBindings(config)) this.engine.putBinding(b);
    this.engine.setLinkType(linktype);
  }

  counters(): Counters {
    return this.engine.counters();
  }

  /** Runs one batch at `now` (then advances the clock by `step` ms); checks every output. */
  run(packets: Uint8Array[], step = 1): Batch {
    const before = this.counters();
    const out = this.engine.processBatch(packets, this.now);
    this.now += step;
    const after = this.counters();
    const delta: Counters = {};
    for (const k of Object.keys(after)) if (after[k] !== before[k]) delta[k] = after[k] - before[k];
    expectWellFormed(out, this.linktype, this.partialFragments);
    return { out, delta, parsed: out.map((o) => parsePacket(o.data, this.linktype)) };
  }

  /** One packet through the core. */
  one(packet: Uint8Array, step = 1): Batch {
    return this.run([packet], step);
  }

  framesFree(): number {
    return this.engine.core.framesFree();
  }
}

/**
 * Every output parses and carries valid checksums (fragments are reassembled by the
 * toolkit and checked whole; a tunnel packet's inner packet is checked too).
 */
export function expectWellFormed(out: OutputPacket[], linktype: number, partial = false): void {
  for (const o of out) {
    const p = parsePacket(o.data, linktype);
    expect(o.port, 'IPv4 leaves on port 0, IPv6 on port 1').toBe(p.version === 4 ? 0 : 1);
    if (p.fragment) continue;
    const r = checkChecksums(o.data, linktype);
    expect(r.errors, 'checksums of an output packet').toEqual([]);
    expect(r.ok).toBe(true);
  }
  const frags = out.filter((o) => parsePacket(o.data, linktype).fragment);
  if (frags.length > 0) {
    const rep = checkAll(
      frags.map((o) => o.data),
      linktype,
      { allowIncomplete: partial },
    );
    expect(rep.errors, 'fragments reassemble to valid packets').toEqual([]);
  }
}

/** Only the drop counters of a delta. */
export function drops(d: Counters): Counters {
  return Object.fromEntries(Object.entries(d).filter(([k, v]) => k.startsWith('drop_') && v !== 0));
}

/** IPv4-in-IPv6 from `src` (a CE / B4) to `dst` (the BR unless given). */
export function tunnel(src: string, inner: Uint8Array, dst: string = BR, extra: { hopLimit?: number; trafficClass?: number } = {}): Uint8Array {
  return ipv6({ src, dst, nextHeader: 4, payload: inner, ...extra });
}

export function v4(o: Ipv4Options): Uint8Array {
  return ipv4(o);
}

/** The bytes of a parsed packet's IP layer (without link header or padding). */
export function ipBytes(data: Uint8Array, p: ParsedPacket): Uint8Array {
  return data.subarray(p.l3Offset, p.l3Offset + p.ipLength);
}

/** A copy of an IPv4 packet with TTL decremented by n and the header checksum fixed. */
export function ttlMinus(pkt: Uint8Array, n = 1): Uint8Array {
  const c = pkt.slice();
  c[8] -= n;
  const hl = (c[0] & 15) * 4;
  c[10] = c[11] = 0;
  let s = 0;
  for (let i = 0; i < hl; i += 2) s += (c[i] << 8) | c[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const cs = ~s & 0xffff;
  c[10] = cs >> 8;
  c[11] = cs & 0xff;
  return c;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
