// Item 9: property-based round trip through the core (fast-check). Random valid MAP-T
// rules (IPv6 prefix length, IPv4 prefix, EA-bits length, PSID offset or the modulus
// form, RFC 7597 or dIVI-pd interface id, any RFC 6052 DMR length), a random CE (IPv4
// address, PSID, a port of its set) and a random remote IPv4 host: IPv4 -> IPv6
// through the core must reach exactly the address the TS oracle (src/map/address.ts
// mapCeAddress) computes, and the CE's reply IPv6 -> IPv4 must map back exactly.
//
// Seed: XBR_SEED=<n> reproduces a run; the seed in use is printed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mapRuleFromConfig } from '../../src/config/rules.js';
import { bindingCeAddress, embedIPv4, mapCeAddress } from '../../src/map/address.js';
import { bigIntToIPv6, formatIPv4, formatIPv6, ipv4Mask, ipv6Mask } from '../../src/map/ip.js';
import { icmp4Echo, icmp6Echo, ipv4, ipv6, tcp, udp, type Transport } from '../../src/packets/index.js';
import { Harness, config } from './helpers.js';
import type { XbrConfig } from '../../src/config/schema.js';

const SEED = Number(process.env.XBR_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.XBR_RUNS ?? 10_000);

type Proto = 'udp' | 'tcp' | 'icmp';
const l4 = (proto: Proto, sport: number, dport: number, v: 4 | 6, reply: boolean): Transport => {
  if (proto === 'udp') return udp({ sport, dport, payload: 'rt' });
  if (proto === 'tcp') return tcp({ sport, dport, flags: reply ? 'SA' : 'S' });
  // an echo request, answered with an echo reply: the identifier is the CE's port either way
  const id = reply ? sport : dport;
  return v === 4 ? icmp4Echo({ id, seq: 1, reply }) : icmp6Echo({ id, seq: 1, reply });
};

interface Case {
  cfg: Record<string, unknown>;
  ceV4: number;
  psid: number;
  port: number;
  /** A port of another PSID (k > 0), or -1. */
  otherPort: number;
  remote: number;
  rport: number;
  proto: Proto;
  dmr: { prefix: Uint8Array; len: number };
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const pick = (x: number, lo: number, hi: number) => lo + (x % (hi - lo + 1)); // hi >= lo

/** Raw random numbers -> one valid rule, CE and flow (every choice inside its constraints). */
const caseArb: fc.Arbitrary<Case> = fc
  .record({
    r: fc.integer({ min: 1, max: 32 }),
    o: u32,
    n: u32,
    shortPrefix: fc.boolean(),
    a: u32,
    reservedNone: fc.boolean(),
    divi: fc.boolean(),
    modulus: fc.boolean(),
    R: u32,
    M: u32,
    v6: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
    v4: u32,
    dmrLen: fc.constantFrom(32, 40, 48, 56, 64, 96),
    dmrBits: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
    host: u32,
    psid: u32,
    A: u32,
    j: u32,
    i: u32,
    other: u32,
    remote: u32,
    rport: fc.integer({ min: 1, max: 65535 }),
    proto: fc.constantFrom<Proto>('udp', 'tcp', 'icmp'),
  })
  .map((x): Case => {
    const r = x.r;
    const p = 32 - r;
    const o = pick(x.o, 0, Math.min(48, p + 16));
    const k = Math.max(0, o - p);
    const ceLen = r + Math.min(o, p);
    // End-user prefixes up to /64 most of the time; longer ones only as long as the
    // address still carries the whole IPv4 address (when the CE gets a prefix, its host
    // bits live in the interface identifier: RFC 7599 erratum 5225).
    let maxN = 128 - o;
    if (o < p) maxN = Math.min(maxN, (x.divi ? 72 : 80) + ceLen - o);
    const n = x.shortPrefix && 64 - o >= 0 ? pick(x.n, 0, Math.min(64 - o, maxN)) : pick(x.n, 0, maxN);
    const useModulus = x.modulus && k > 0 && k <= 15; // sharing-ratio <= 32768
    let reservedNone = x.reservedNone;
    let a = 6;
    let R = 0;
    let M = 0;
    let psid = 0;
    let port: number;
    let otherPort = -1;
    if (k === 0) {
      port = pick(x.A, 1, 65535);
    } else if (useModulus) {
      R = pick(x.R, 2 ** (k - 1) + 1, 2 ** k);
      M = pick(x.M, 1, Math.floor(32768 / R));
      const jMin = Math.ceil(1024 / (R * M));
      const jMax = Math.floor(65536 / (R * M)) - 1;
      psid = x.psid % R;
      const jj = pick(x.j, jMin, jMax);
      port = R * M * jj + M * psid + (x.i % M);
      const other = (psid + 1 + (x.other % (R - 1))) % R;
      otherPort = R * M * pick(x.other >>> 3, jMin, jMax) + M * other + (x.i % M);
    } else {
      if (k === 16) reservedNone = true; // a = 0 is the only layout, and it has ports < 1024
      a = reservedNone ? pick(x.a, 0, 16 - k) : pick(x.a, 1, Math.min(6, 16 - k));
      const m = 16 - a - k;
      psid = x.psid % 2 ** k;
      const A = a === 0 ? 0 : pick(x.A, 1, 2 ** a - 1);
      port = A * 2 ** (16 - a) + psid * 2 ** m + (x.j % 2 ** m);
      const other = (psid + 1 + (x.other % (2 ** k - 1))) % 2 ** k;
      otherPort = A * 2 ** (16 - a) + other * 2 ** m + (x.i % 2 ** m);
    }
    const v6prefix = bigIntToIPv6(x.v6 & ipv6Mask(n));
    const v4prefix = (x.v4 & ipv4Mask(r)) >>> 0;
    const ceV4 = (v4prefix | (x.host & ~ipv4Mask(r))) >>> 0;
    let remote = x.remote >>> 0;
    if (((remote & ipv4Mask(r)) >>> 0) === v4prefix) remote = (remote ^ (1 << (32 - r))) >>> 0; // outside the rule: no hairpin
    let dmrBits = x.dmrBits & ipv6Mask(x.dmrLen);
    if (x.dmrLen === 96) dmrBits &= ~(0xffn << 56n); // RFC 6052: bits 64-71 zero
    const dmr = { prefix: bigIntToIPv6(dmrBits), len: x.dmrLen };
    const rule: Record<string, unknown> = {
      'ipv6-prefix': `${formatIPv6(v6prefix)}/${n}`,
      'ipv4-prefix': `${formatIPv4(v4prefix)}/${r}`,
      'ea-len': o,
      'interface-id': x.divi ? 'divi-pd' : 'rfc7597',
    };
    if (useModulus) Object.assign(rule, { 'sharing-ratio': R, 'contiguous-ports': M });
    else rule['psid-offset'] = a;
    return {
      cfg: { dmr: `${formatIPv6(dmr.prefix)}/${dmr.len}`, rules: [rule], bindings: [], 'reserved-ports': reservedNone ? 'none' : '0-1023' },
      ceV4,
      psid,
      port,
      otherPort,
      remote,
      rport: x.rport,
      proto: x.proto,
      dmr,
    };
  });

function roundTrip(h: Harness, c: Case, cfg: XbrConfig): void {
  h.reload(cfg);
  const rule = mapRuleFromConfig(cfg.rules[0], 'map-t');
  const ce6 = formatIPv6(mapCeAddress(rule, c.ceV4, c.psid));
  const remote6 = formatIPv6(embedIPv4(c.dmr.prefix, c.dmr.len, c.remote));
  const ce4 = formatIPv4(c.ceV4);
  const remote4 = formatIPv4(c.remote);

  // the core's own look-up agrees with the oracle
  const core = h.engine.core;
  expect(core.lookupV4(c.ceV4, c.port, 1), 'lookupV4').toBe(-1);
  expect(formatIPv6(new Uint8Array(core.memory.buffer, core.argPtr(), 16).slice()), 'lookupV4 address').toBe(ce6);

  // IPv4 -> IPv6
  const r1 = h.run([ipv4({ src: remote4, dst: ce4, payload: l4(c.proto, c.rport, c.port, 4, false) })]);
  expect(r1.out.length, `4->6 ${JSON.stringify(r1.d)}`).toBe(1);
  const o = r1.out[0].p;
  expect([o.version, o.dst, o.src]).toEqual([6, ce6, remote6]);
  if (c.proto !== 'icmp') expect([o.sport, o.dport]).toEqual([c.rport, c.port]);
  else expect(o.icmp!.id).toBe(c.port);

  // the CE's reply, IPv6 -> IPv4
  const r2 = h.run([ipv6({ src: o.dst, dst: o.src, payload: l4(c.proto, c.port, c.rport, 6, true) })]);
  expect(r2.out.length, `6->4 ${JSON.stringify(r2.d)}`).toBe(1);
  const b = r2.out[0].p;
  expect([b.version, b.src, b.dst]).toEqual([4, ce4, remote4]);
  if (c.proto !== 'icmp') expect([b.sport, b.dport]).toEqual([c.port, c.rport]);
  else expect(b.icmp!.id).toBe(c.port);

  // the same CE with a port of another PSID is refused
  if (c.otherPort >= 0) {
    const r3 = h.run([ipv6({ src: ce6, dst: remote6, payload: udp({ sport: c.otherPort, dport: c.rport }) })]);
    expect(r3.v4.length, `port ${c.otherPort} of another PSID`).toBe(0);
    expect(r3.d.drop_ipv6_port_outside_psid).toBe(1);
  }
}

describe('property: IPv4 -> IPv6 -> IPv4 through the core (fast-check)', () => {
  it(`${RUNS} random rules, CEs and flows map to the oracle's address and back exactly (seed ${SEED})`, () => {
    console.log(`roundtrip: seed ${SEED} (XBR_SEED=${SEED} to reproduce), ${RUNS} runs`);
    const h = new Harness(config(), { frames: 256, batch: 4 });
    let shared = 0;
    let prefixes = 0;
    let modulus = 0;
    let divi = 0;
    let longPrefix = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const cfg = config(c.cfg);
        const rule = cfg.rules[0];
        const o = rule['ea-len'];
        const p = 32 - Number(rule['ipv4-prefix'].split('/')[1]);
        if (o > p) shared++;
        if (o < p) prefixes++;
        if (rule['sharing-ratio'] !== undefined) modulus++;
        if (rule['interface-id'] === 'divi-pd') divi++;
        if (Number(rule['ipv6-prefix'].split('/')[1]) + o > 64) longPrefix++;
        roundTrip(h, c, cfg);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`roundtrip: ${shared} shared addresses, ${prefixes} IPv4 prefixes, ${modulus} modulus rules, ${divi} dIVI-pd, ${longPrefix} end-user prefixes longer than 64`);
    // the generator really covers the kinds of rules
    for (const n of [shared, prefixes, modulus, divi, longPrefix]) expect(n).toBeGreaterThan(RUNS / 50);
  });

  it(`EA-len 0 bindings: random (IPv4, PSID, offset, end-user prefix) map to bindingCeAddress and back (seed ${SEED})`, () => {
    const h = new Harness(config(), { frames: 256, batch: 4 });
    fc.assert(
      fc.property(
        fc.record({
          v4: u32,
          k: fc.integer({ min: 0, max: 15 }),
          a: u32,
          psid: u32,
          A: u32,
          j: u32,
          plen: fc.integer({ min: 0, max: 64 }),
          v6: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
          remote: u32,
          proto: fc.constantFrom<Proto>('udp', 'tcp', 'icmp'),
        }),
        (x) => {
          // reserved ports 0-1023 need A > 0 with 2^(16-a) >= 1024
          const a = x.k === 0 ? 6 : pick(x.a, 1, Math.min(6, 16 - x.k));
          const psid = x.k === 0 ? 0 : x.psid % 2 ** x.k;
          const m = 16 - a - x.k;
          const port = x.k === 0 ? pick(x.A, 1, 65535) : pick(x.A, 1, 2 ** a - 1) * 2 ** (16 - a) + psid * 2 ** m + (x.j % 2 ** m);
          const v4 = x.v4 >>> 0;
          let remote = x.remote >>> 0;
          if (remote === v4) remote ^= 1;
          const v6 = bigIntToIPv6(x.v6 & ipv6Mask(x.plen));
          const cfg = config({
            rules: [],
            bindings: [{ ipv4: formatIPv4(v4), 'psid-len': x.k, psid, 'psid-offset': a, ipv6: `${formatIPv6(v6)}/${x.plen}` }],
          });
          h.reload(cfg);
          const ce6 = formatIPv6(bindingCeAddress({ ipv4: v4, psidLen: x.k, psid, ipv6Prefix: v6, prefixLen: x.plen }));
          const r1 = h.run([ipv4({ src: formatIPv4(remote), dst: formatIPv4(v4), payload: l4(x.proto, 4000, port, 4, false) })]);
          expect(r1.out.length, JSON.stringify(r1.d)).toBe(1);
          expect(r1.out[0].p.dst).toBe(ce6);
          const r2 = h.run([ipv6({ src: r1.out[0].p.dst, dst: r1.out[0].p.src, payload: l4(x.proto, port, 4000, 6, true) })]);
          expect(r2.out.length, JSON.stringify(r2.d)).toBe(1);
          expect([r2.out[0].p.src, r2.out[0].p.dst]).toEqual([formatIPv4(v4), formatIPv4(remote)]);
        },
      ),
      { numRuns: Math.max(1000, RUNS / 5), seed: SEED },
    );
  });
});
