// Item 10: robustness. About a million packets through the core in batches of 64:
// valid MAP-T traffic of a rich domain (every rule kind, bindings, fragments out of
// order, ICMP, extension headers, hairpins), mutations of it (truncation, bit flips,
// length fields, version, IHL, extension header chains, fragment fields, TTL ...,
// half of them with their checksums made right again so they get past the checks)
// and pure random bytes, raw IP and Ethernet. Per batch:
//   - no trap / exception out of the core;
//   - the counter identities of helpers.ts (rx, one fate per handling, tx, splits) and
//     frame conservation (free + held = all);
//   - every output: right version for its side, lengths consistent, IPv4 header
//     checksum valid, TTL / hop limit >= 1, not over the side's MTU, IPv4 source one
//     of the domain's (or icmp.ipv4-source), IPv6 source in the DMR, and the source
//     port of a translated UDP/TCP packet inside some CE's port set;
//   - checksums (checkChecksums): every ICMP error the BR sends or sources itself
//     (icmp.ipv4-source, its IPv6 address); every packet out of a batch whose inputs all had valid
//     checksums (a translator updates TCP/UDP checksums incrementally, RFC 1624, so a
//     wrong one stays wrong end to end, see header.test.ts); and for the valid stream
//     all of them, fragments reassembled.
// Reproduce with XBR_FUZZ_SEED=<seed> (printed); XBR_FUZZ_PACKETS sets the count.
import { describe, expect, it } from 'vitest';
import { mapRuleFromConfig } from '../../src/config/rules.js';
import { bindingCeAddress, embedIPv4, mapCeAddress } from '../../src/map/address.js';
import { formatIPv4, formatIPv6, ipv4InPrefix, ipv4Mask, parseIPv4, parseIPv4Prefix } from '../../src/map/ip.js';
import { psidLength, rulePortSet } from '../../src/map/rule.js';
import { portSetRanges, type PortRange } from '../../src/map/psid.js';
import {
  checkChecksums,
  destinationOptions,
  ethernet,
  finishChecksum,
  foldSum,
  fragment4,
  fragment6,
  hopByHop,
  icmp4Echo,
  icmp4Error,
  icmp6Echo,
  icmp6Error,
  internetChecksum,
  ipv4,
  ipv6,
  ipv6Bytes,
  parsePacket,
  pseudoHeaderSum4,
  pseudoHeaderSum6,
  routing,
  sumBytes,
  tcp,
  udp,
  type Extension,
  type Transport,
} from '../../src/packets/index.js';
import { Engine } from '../../src/core/engine.js';
import { compileBindings, compileRules } from '../../src/core/blob.js';
import { accountingErrors, checkOutputs, config, nonZero, type Counters, type LinkType, type Out } from './helpers.js';

const SEED = Number(process.env.XBR_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const TOTAL = Number(process.env.XBR_FUZZ_PACKETS ?? 1_000_000);
const BATCH = 64;

// ---- a seeded PRNG (mulberry32) -------------------------------------------------------

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** lo..hi inclusive */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.u32() / 2 ** 32) * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.u32() % a.length];
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) b[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return b;
  }
}

// ---- the domain ---------------------------------------------------------------------

const DOMAIN = {
  dmr: '2001:db8:ffff::/64',
  rules: [
    // shared addresses, RFC 7599 Appendix A
    { 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16, 'psid-offset': 6, fmr: true },
    // IPv4 prefixes (/28) per CE, the full address in the IID (erratum 5225)
    { 'ipv6-prefix': '2001:db8:300::/40', 'ipv4-prefix': '203.0.113.0/24', 'ea-len': 4 },
    // full addresses
    { 'ipv6-prefix': '2001:db8:400::/40', 'ipv4-prefix': '198.51.100.0/25', 'ea-len': 7 },
    // dIVI-pd interface id, 16 CEs per address
    { 'ipv6-prefix': '2001:db8:500::/40', 'ipv4-prefix': '198.51.100.128/25', 'ea-len': 11, 'psid-offset': 4, 'interface-id': 'divi-pd' },
    // the modulus port mapping, R = 3, M = 7
    { 'ipv6-prefix': '2001:db8:600::/40', 'ipv4-prefix': '100.64.0.0/24', 'ea-len': 10, 'sharing-ratio': 3, 'contiguous-ports': 7 },
  ],
  bindings: [
    { ipv4: '192.0.2.200', 'psid-len': 6, psid: 12, 'psid-offset': 6, ipv6: '2001:db8:100:77::/64' },
    { ipv4: '100.64.1.1', ipv6: '2001:db8:101:100::/56' },
  ],
  mtu: { ipv4: 1400, ipv6: 1280 },
  icmp: { errors: true, rate: 1_000_000 },
  fragments: { 'timeout-ms': 200, 'table-size': 1024 },
};
const CFG = config(DOMAIN);
const MTU4 = 1400;
const MTU6 = 1280;
const ICMP_SRC4 = parseIPv4('192.0.0.8');
const DMR_PREFIX = ipv6Bytes('2001:db8:ffff::');
const BR6 = ipv6Bytes('2001:db8:ffff::1'); // the BR's own ICMPv6 source (DMR + ::1)

interface Ce {
  v4: number;
  v4s: string;
  v6: string;
  ranges: PortRange[] | null; // null: every port
  other: PortRange[] | null; // another PSID's ports
}

function portOf(rng: Rng, ranges: PortRange[] | null): number {
  if (!ranges) return rng.int(1, 65535);
  const [lo, hi] = rng.pick(ranges);
  return rng.int(lo, hi);
}

function makeCes(rng: Rng): Ce[] {
  const ces: Ce[] = [];
  for (const rc of CFG.rules) {
    const rule = mapRuleFromConfig(rc, 'map-t');
    const k = psidLength(rule);
    for (let i = 0; i < 8; i++) {
      const v4 = (rule.ipv4Prefix | (rng.u32() & ~ipv4Mask(rule.ipv4PrefixLen))) >>> 0;
      if (CFG.bindings.some((b) => parseIPv4(b.ipv4) === v4)) continue;
      const max = rule.modulus ? rule.modulus.sharingRatio : 2 ** k;
      const psid = k === 0 ? 0 : rng.int(0, max - 1);
      const other = k === 0 ? -1 : (psid + 1) % max;
      ces.push({
        v4,
        v4s: formatIPv4(v4),
        v6: formatIPv6(mapCeAddress(rule, v4, psid)),
        ranges: k === 0 ? null : rulePortSet(rule, psid),
        other: other < 0 ? null : rulePortSet(rule, other),
      });
    }
  }
  for (const b of compileBindings(CFG)) {
    ces.push({
      v4: b.ipv4,
      v4s: formatIPv4(b.ipv4),
      v6: formatIPv6(bindingCeAddress({ ipv4: b.ipv4, psidLen: b.psidLen, psid: b.psid, ipv6Prefix: b.ipv6, prefixLen: b.prefixLen })),
      ranges: b.psidLen === 0 ? null : portSetRanges(b.psid, b.psidOffset, b.psidLen),
      other: b.psidLen === 0 ? null : portSetRanges((b.psid + 1) % 2 ** b.psidLen, b.psidOffset, b.psidLen),
    });
  }
  return ces;
}

const OWNED = [...CFG.rules.map((r) => parseIPv4Prefix(r['ipv4-prefix'])), ...CFG.bindings.map((b) => ({ addr: parseIPv4(b.ipv4), len: 32 }))];
const owned = (v4: number) => v4 === ICMP_SRC4 || OWNED.some((p) => ipv4InPrefix(v4, p));
const SHARED = [parseIPv4Prefix('192.0.2.0/24'), parseIPv4Prefix('198.51.100.128/25'), parseIPv4Prefix('100.64.0.0/24'), { addr: parseIPv4('192.0.2.200'), len: 32 }];
const shared = (v4: number) => SHARED.some((p) => ipv4InPrefix(v4, p));

interface Remote {
  v4: string;
  v6: string;
}

function makeRemotes(rng: Rng): Remote[] {
  const out: Remote[] = [];
  for (let i = 0; i < 32; i++) {
    const v4 = i % 2 ? (0x0a000000 | (rng.u32() & 0xffffff)) >>> 0 : (0xac100000 | (rng.u32() & 0xfffff)) >>> 0;
    out.push({ v4: formatIPv4(v4), v6: formatIPv6(embedIPv4(DMR_PREFIX, 64, v4)) });
  }
  return out;
}

// ---- generators of valid traffic -----------------------------------------------------

class Gen {
  private id = 1;
  constructor(
    private rng: Rng,
    private ces: Ce[],
    private remotes: Remote[],
  ) {}

  private payload(): Uint8Array {
    const r = this.rng;
    return r.bytes(r.chance(0.2) ? r.int(1000, 1600) : r.int(0, 200));
  }

  /** A packet from the Internet (or a datagram's fragments). */
  to6(): Uint8Array[] {
    const r = this.rng;
    const ce = r.pick(this.ces);
    const rem = r.pick(this.remotes);
    const port = r.chance(0.92) ? portOf(r, ce.ranges) : r.int(0, 65535);
    const kind = r.int(0, 99);
    let payload: Transport | Uint8Array;
    let protocol: number | undefined;
    if (kind < 42) payload = udp({ sport: r.int(1, 65535), dport: port, payload: this.payload(), noChecksum: r.chance(0.05) });
    else if (kind < 65) payload = tcp({ sport: r.int(1, 65535), dport: port, flags: r.pick(['S', 'SA', 'A', 'PA', 'F']), seq: r.u32(), options: r.chance(0.3) ? [{ kind: 'mss', value: 1400 }] : undefined, payload: this.payload() });
    else if (kind < 78) payload = icmp4Echo({ id: port, seq: r.int(0, 65535), reply: r.chance(0.5), data: this.payload() });
    else if (kind < 95) {
      const inner = r.int(0, 2);
      const quote = ipv4({
        src: ce.v4s,
        dst: rem.v4,
        ttl: r.int(1, 64),
        payload: inner === 0 ? udp({ sport: port, dport: 53, payload: r.bytes(r.int(0, 64)) }) : inner === 1 ? tcp({ sport: port, dport: 443 }) : icmp4Echo({ id: port }),
      });
      const [type, code] = r.pick([
        [3, 0], [3, 1], [3, 2], [3, 3], [3, 4], [3, 9], [3, 13], [3, 14], [11, 0], [11, 1], [12, 0], [12, 1], [12, 2], [4, 0], [5, 1],
      ] as [number, number][]);
      payload = icmp4Error({ type, code, quote, maxQuote: r.chance(0.5) ? 28 : undefined, rest: type === 3 && code === 4 ? r.int(0, 1600) : type === 12 ? r.int(0, 24) << 24 : 0 });
    } else {
      protocol = r.pick([47, 50, 132]);
      payload = this.payload();
    }
    const df = r.chance(0.3);
    const pkt = ipv4({
      src: rem.v4,
      dst: ce.v4s,
      ttl: r.chance(0.03) ? r.int(0, 2) : r.int(2, 255),
      tos: r.int(0, 255),
      df,
      id: this.id++ & 0xffff,
      protocol,
      options: r.chance(0.05) ? r.pick([[1, 1, 1, 1], [7, 7, 4, 0, 0, 0, 0], [131, 7, 4, 1, 2, 3, 4], [131, 7, 8, 1, 2, 3, 4]]) : undefined,
      payload,
    });
    if (!df && pkt.length > 200 && r.chance(0.15)) {
      const hl = (pkt[0] & 15) * 4;
      return fragment4(pkt, r.int(hl + 72, Math.max(hl + 72, pkt.length - 1)));
    }
    return [pkt];
  }

  /** A packet from a CE (or its fragments). */
  to4(): Uint8Array[] {
    const r = this.rng;
    const ce = r.pick(this.ces);
    const hair = r.chance(0.1) ? r.pick(this.ces) : undefined;
    const rem = r.pick(this.remotes);
    const dst = hair ? formatIPv6(embedIPv4(DMR_PREFIX, 64, hair.v4)) : rem.v6;
    const sport = r.chance(0.92) ? portOf(r, ce.ranges) : ce.other && r.chance(0.5) ? portOf(r, ce.other) : r.int(0, 65535);
    const dport = hair ? portOf(r, hair.ranges) : r.int(1, 65535);
    let src = ce.v6;
    if (r.chance(0.03)) {
      const b = ipv6Bytes(ce.v6).slice();
      b[r.int(6, 15)] ^= 1 << r.int(0, 7);
      src = formatIPv6(b);
    }
    const kind = r.int(0, 99);
    let payload: Transport | Uint8Array;
    let nextHeader: number | undefined;
    if (kind < 42) payload = udp({ sport, dport, payload: this.payload() });
    else if (kind < 65) payload = tcp({ sport, dport, flags: r.pick(['S', 'SA', 'A', 'PA', 'R']), payload: this.payload() });
    else if (kind < 78) payload = icmp6Echo({ id: sport, seq: r.int(0, 65535), reply: r.chance(0.5), data: this.payload() });
    else if (kind < 95) {
      const quote = ipv6({ src: dst, dst: ce.v6, hopLimit: r.int(1, 64), payload: r.chance(0.7) ? udp({ sport: dport, dport: sport, payload: r.bytes(r.int(0, 64)) }) : icmp6Echo({ id: sport }) });
      const [type, code] = r.pick([
        [1, 0], [1, 1], [1, 3], [1, 4], [1, 5], [2, 0], [3, 0], [3, 1], [4, 0], [4, 1], [4, 2], [0, 0], [100, 0],
      ] as [number, number][]);
      payload = icmp6Error({ type, code, quote, maxQuote: r.chance(0.4) ? r.int(40, 60) : undefined, rest: type === 2 ? r.int(0, 9000) : type === 4 ? r.int(0, 48) : 0 });
      if (r.chance(0.1)) src = rem.v6.replace(/:0$/, ':1'); // an error from a router
    } else {
      nextHeader = r.pick([47, 50, 132]);
      payload = this.payload();
    }
    const exts: Extension[] = [];
    if (r.chance(0.1)) {
      if (r.chance(0.5)) exts.push(hopByHop());
      if (r.chance(0.5)) exts.push(destinationOptions({ options: [{ type: 0x1e, data: r.bytes(r.int(0, 12)) }] }));
      if (r.chance(0.3)) exts.push(routing({ segmentsLeft: r.chance(0.3) ? 1 : 0, addresses: [dst] }));
    }
    const pkt = ipv6({
      src,
      dst,
      hopLimit: r.chance(0.03) ? r.int(0, 2) : r.int(2, 255),
      trafficClass: r.int(0, 255),
      flowLabel: r.int(0, 0xfffff),
      extensions: exts,
      nextHeader,
      payload,
    });
    if (pkt.length > 300 && !exts.some((e) => e.type === 43) && r.chance(0.15)) return fragment6(pkt, r.int(200, Math.max(200, pkt.length - 1)), this.id++);
    return [pkt];
  }

  datagram(): Uint8Array[] {
    const frags = this.rng.chance(0.5) ? this.to6() : this.to4();
    if (frags.length > 1) {
      if (this.rng.chance(0.3)) frags.reverse();
      if (this.rng.chance(0.3)) {
        const i = this.rng.int(0, frags.length - 2);
        [frags[i], frags[i + 1]] = [frags[i + 1], frags[i]];
      }
      if (this.rng.chance(0.05)) frags.splice(this.rng.int(0, frags.length - 1), 1);
    }
    return frags;
  }
}

// ---- mutations ------------------------------------------------------------------------

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const put16 = (b: Uint8Array, o: number, v: number) => {
  b[o] = (v >> 8) & 0xff;
  b[o + 1] = v & 0xff;
};

function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let b = src.slice();
  const n = rng.int(1, 3);
  for (let k = 0; k < n; k++) {
    if (b.length === 0) break;
    const v = b[0] >> 4;
    switch (rng.int(0, 13)) {
      case 0: // truncate
        b = b.slice(0, rng.int(0, b.length));
        break;
      case 1: // bit flips
        for (let i = rng.int(1, 8); i > 0; i--) b[rng.int(0, b.length - 1)] ^= 1 << rng.int(0, 7);
        break;
      case 2: // a random byte in the first 64
        b[rng.int(0, Math.min(63, b.length - 1))] = rng.int(0, 255);
        break;
      case 3: // the IP length field
        if (v === 4 && b.length >= 4) put16(b, 2, rng.chance(0.5) ? u16(b, 2) + rng.int(-24, 24) : rng.int(0, 65535));
        if (v === 6 && b.length >= 6) put16(b, 4, rng.chance(0.5) ? u16(b, 4) + rng.int(-24, 24) : rng.int(0, 65535));
        break;
      case 4: // IHL
        if (v === 4) b[0] = 0x40 | rng.int(0, 15);
        break;
      case 5: // version
        b[0] = (rng.pick([4, 6, 4, 6, 0, 5, 15]) << 4) | (b[0] & 15);
        break;
      case 6: // fragment fields
        if (v === 4 && b.length >= 8) put16(b, 6, rng.chance(0.5) ? rng.int(0, 65535) : (u16(b, 6) & 0xe000) | rng.int(0, 8)  | (rng.chance(0.5) ? 0x2000 : 0));
        if (v === 6 && b.length >= 40) {
          // insert a Fragment header
          const fh = Uint8Array.from([b[6], 0, 0, 0, ...rng.bytes(4)]);
          put16(fh, 2, (rng.int(0, 200) << 3) | (rng.chance(0.5) ? 1 : 0));
          const c = new Uint8Array(b.length + 8);
          c.set(b.subarray(0, 40));
          c.set(fh, 40);
          c.set(b.subarray(40), 48);
          c[6] = 44;
          put16(c, 4, u16(b, 4) + 8);
          b = c;
        }
        break;
      case 7: // next header / protocol
        if (v === 6 && b.length >= 7) b[6] = rng.pick([0, 43, 44, 60, 6, 17, 58, 59, 50, 51, rng.int(0, 255)]);
        if (v === 4 && b.length >= 10) b[9] = rng.pick([1, 6, 17, 47, 58, rng.int(0, 255)]);
        break;
      case 8: // an extension header chain
        if (v === 6 && b.length >= 40) {
          const len = rng.int(0, 2);
          const eh = rng.bytes(8 * (len + 1));
          eh[0] = b[6];
          eh[1] = len;
          if (rng.chance(0.5)) eh[3] = 0; // segments left, when it is a Routing header
          const c = new Uint8Array(b.length + eh.length);
          c.set(b.subarray(0, 40));
          c.set(eh, 40);
          c.set(b.subarray(40), 40 + eh.length);
          c[6] = rng.pick([0, 60, 43, 60, 0]);
          put16(c, 4, u16(b, 4) + eh.length);
          b = c;
        }
        break;
      case 9: // TTL / hop limit
        if (v === 4 && b.length >= 9) b[8] = rng.pick([0, 1, 2, 255]);
        if (v === 6 && b.length >= 8) b[7] = rng.pick([0, 1, 2, 255]);
        break;
      case 10: {
        // the upper layer's first bytes (ports, ICMP type and code)
        const at = v === 4 ? (b[0] & 15) * 4 : 40;
        for (let i = 0; i < 4 && at + i < b.length; i++) if (rng.chance(0.5)) b[at + i] = rng.int(0, 255);
        break;
      }
      case 11: {
        // trailing bytes
        const c = new Uint8Array(b.length + rng.int(1, 40));
        c.set(b);
        c.set(rng.bytes(c.length - b.length), b.length);
        b = c;
        break;
      }
      case 12: // the quoted packet of an ICMP error
        if (b.length > 60) for (let i = 0; i < 3; i++) b[rng.int(28, Math.min(b.length - 1, 90))] = rng.int(0, 255);
        break;
      default: // an addresses' byte
        if (v === 4 && b.length >= 20) b[rng.int(12, 19)] ^= 1 << rng.int(0, 7);
        if (v === 6 && b.length >= 40) b[rng.int(8, 39)] ^= 1 << rng.int(0, 7);
    }
  }
  return b;
}

/** Makes the checksums right again where the packet can be parsed (so that it gets past them). */
function fixChecksums(b: Uint8Array): Uint8Array {
  if (b.length >= 20 && b[0] >> 4 === 4) {
    const hl = (b[0] & 15) * 4;
    if (hl >= 20 && hl <= b.length) {
      b[10] = b[11] = 0;
      put16(b, 10, internetChecksum(b, 0, hl));
    }
  }
  let p;
  try {
    p = parsePacket(b, 101);
  } catch {
    return b;
  }
  if (p.fragment && (p.fragment.more || p.fragment.offset > 0)) return b;
  const off = p.protocol === 17 ? 6 : p.protocol === 6 ? 16 : p.protocol === 1 || p.protocol === 58 ? 2 : -1;
  const len = p.l4Length;
  if (off < 0 || len < off + 2 || p.l4Offset + len > b.length) return b;
  if (p.protocol === 17 && p.udp && p.udp.length !== len) return b;
  b[p.l4Offset + off] = b[p.l4Offset + off + 1] = 0;
  let init = 0;
  const o = p.l3Offset;
  if (p.version === 4 && p.protocol !== 1) init = pseudoHeaderSum4(b.subarray(o + 12, o + 16), b.subarray(o + 16, o + 20), p.protocol, len);
  if (p.version === 6) init = pseudoHeaderSum6(b.subarray(o + 8, o + 24), ipv6Bytes(p.ipv6!.finalDestination), p.protocol, len);
  let cs = finishChecksum(sumBytes(b, p.l4Offset, p.l4Offset + len, init));
  if (p.protocol === 17 && cs === 0) cs = 0xffff;
  put16(b, p.l4Offset + off, cs);
  return b;
}

function mutateL2(rng: Rng, f: Uint8Array): Uint8Array {
  const b = f.slice();
  switch (rng.int(0, 3)) {
    case 0:
      return b.slice(0, rng.int(0, 14));
    case 1:
      put16(b, 12, rng.pick([0x0806, 0x8100, 0x88a8, 0x86dd, 0x0800, rng.int(0, 65535)]));
      return b;
    case 2:
      put16(b, 12, u16(b, 12) === 0x0800 ? 0x86dd : 0x0800);
      return b;
    default:
      b.set(rng.bytes(12), 0);
      return b;
  }
}

// ---- checks on what comes out -------------------------------------------------------------

class Findings {
  readonly byKind = new Map<string, { count: number; examples: string[] }>();
  add(kind: string, example: string): void {
    const f = this.byKind.get(kind) ?? { count: 0, examples: [] };
    f.count++;
    if (f.examples.length < 3) f.examples.push(example);
    this.byKind.set(kind, f);
  }
  summary(): Record<string, string> {
    const o: Record<string, string> = {};
    for (const [k, v] of this.byKind) o[k] = `${v.count}x, e.g. ${v.examples.join(' | ')}`;
    return o;
  }
}

const hexOf = (b: Uint8Array) => Buffer.from(b.subarray(0, 96)).toString('hex');

/** The checks every output must pass whatever came in; returns the problems. */
function outputProblems(o: { data: Uint8Array; port: 0 | 1 }, lt: LinkType, core: Engine['core']): string[] {
  const errs: string[] = [];
  const l2 = lt === 1 ? 14 : 0;
  const d = o.data;
  if (d.length < l2 + 20) return [`runt output of ${d.length} bytes`];
  if (lt === 1 && u16(d, 12) !== (o.port === 0 ? 0x0800 : 0x86dd)) errs.push(`EtherType ${u16(d, 12).toString(16)} on port ${o.port}`);
  const ip = d.subarray(l2);
  const v = ip[0] >> 4;
  if (v !== (o.port === 0 ? 4 : 6)) return [...errs, `IPv${v} on port ${o.port}`];
  let icmp = false;
  if (v === 4) {
    const hl = (ip[0] & 15) * 4;
    if (hl !== 20) errs.push(`IHL ${hl}`);
    if (u16(ip, 2) !== ip.length) errs.push(`total length ${u16(ip, 2)} of ${ip.length}`);
    if (foldSum(sumBytes(ip, 0, 20)) !== 0xffff) errs.push('IPv4 header checksum');
    if (ip[8] < 1) errs.push('TTL 0');
    if (ip.length > MTU4) errs.push(`IPv4 packet of ${ip.length} > mtu.ipv4`);
    const src = ((ip[12] << 24) | (ip[13] << 16) | (ip[14] << 8) | ip[15]) >>> 0;
    if (!owned(src)) errs.push(`IPv4 source ${formatIPv4(src)} is not the domain's`);
    const frag = (u16(ip, 6) & 0x3fff) !== 0;
    if (!frag && (ip[9] === 6 || ip[9] === 17) && ip.length >= 24 && shared(src) && src !== ICMP_SRC4) {
      if (core.lookupV4(src, u16(ip, 20), 1) !== -1) errs.push(`source port ${formatIPv4(src)}:${u16(ip, 20)} in no CE's port set`);
    }
    // the BR's own errors and RFC 6791-sourced translated errors: checksums always computed
    icmp = !frag && ip[9] === 1 && src === ICMP_SRC4;
  } else {
    if (u16(ip, 4) + 40 !== ip.length) errs.push(`payload length ${u16(ip, 4)} of ${ip.length}`);
    if (ip[7] < 1) errs.push('hop limit 0');
    if (ip.length > MTU6) errs.push(`IPv6 packet of ${ip.length} > mtu.ipv6`);
    for (let i = 0; i < 8; i++) if (ip[8 + i] !== DMR_PREFIX[i]) {
      errs.push(`IPv6 source ${formatIPv6(ip.subarray(8, 24))} outside the DMR`);
      break;
    }
    icmp = ip[6] === 58 && ip.subarray(8, 24).every((x, i) => x === BR6[i]);
  }
  if (icmp) {
    const r = checkChecksums(d, lt);
    if (!r.ok) errs.push(`ICMP message: ${r.errors.join('; ')}`);
  }
  return errs;
}

// ---- streams -----------------------------------------------------------------------------

interface Stats {
  packets: number;
  batches: number;
  outputs: number;
  verifiedBatches: number;
  totals: Counters;
}

class Stream {
  readonly engine: Engine;
  private last: Counters;
  private pool = new Map<string, Uint8Array[]>();
  private now = 1_000_000;
  readonly stats: Stats = { packets: 0, batches: 0, outputs: 0, verifiedBatches: 0, totals: {} };
  dead = false;

  constructor(
    readonly name: string,
    readonly lt: LinkType,
    private findings: Findings,
  ) {
    this.engine = Engine.createSync({ bindingCapacity: 1024, fragmentSlots: 1024, frames: 4096, batch: BATCH });
    this.engine.loadRules(compileRules(CFG));
    for (const b of compileBindings(CFG)) this.engine.putBinding(b);
    this.engine.setLinkType(lt);
    this.last = this.engine.counters();
  }

  /** One batch. `verified`: every input has valid checksums; `full`: check every output with reassembly. */
  run(frames: Uint8Array[], verified: boolean, full: boolean): void {
    if (this.dead) return;
    const at = `${this.name} batch ${this.stats.batches}`;
    this.now += 1;
    let out: { data: Uint8Array; port: 0 | 1 }[];
    try {
      out = this.engine.processBatch(frames, this.now);
    } catch (e) {
      this.findings.add(`exception: ${(e as Error).message.slice(0, 60)}`, at);
      this.dead = true;
      return;
    }
    this.stats.packets += frames.length;
    this.stats.batches++;
    this.stats.outputs += out.length;
    if (verified) this.stats.verifiedBatches++;
    const c = this.engine.counters();
    const d: Counters = {};
    for (const k of Object.keys(c)) {
      d[k] = c[k] - (this.last[k] ?? 0);
      if (d[k]) this.stats.totals[k] = (this.stats.totals[k] ?? 0) + d[k];
    }
    this.last = c;
    for (const e of accountingErrors(d, frames.length, out)) this.findings.add(e.replace(/: .*/, ''), `${at}: ${e}; ${JSON.stringify(nonZero(d))}`);
    const held = c.frag_held - c.frag_released - c.drop_frag_timeout;
    if (this.engine.core.framesFree() !== 4096 - held) this.findings.add('frames: free + held != all', `${at}: ${this.engine.core.framesFree()} free, ${held} held`);
    for (const o of out) for (const e of outputProblems(o, this.lt, this.engine.core)) this.findings.add(e.replace(/[0-9a-f:.]{6,}|\d+/g, '#'), `${at}: ${e}; ${hexOf(o.data)}`);
    if (full) {
      const parsed: Out[] = [];
      for (const o of out) {
        try {
          const p = parsePacket(o.data, this.lt);
          parsed.push({ frame: o.data, ip: o.data.subarray(p.l3Offset), port: o.port, p });
        } catch (e) {
          this.findings.add('output the toolkit cannot parse', `${at}: ${(e as Error).message}; ${hexOf(o.data)}`);
        }
      }
      for (const e of checkOutputs(parsed, this.lt, this.pool)) this.findings.add('checksum (valid stream)', `${at}: ${e}`);
    } else if (verified) {
      for (const o of out) {
        const r = checkChecksums(o.data, this.lt);
        if (!r.ok) this.findings.add('checksum (inputs with valid checksums)', `${at}: ${r.errors.join('; ')}; ${hexOf(o.data)}`);
      }
    }
  }
}

/**
 * Inputs whose checksums are all valid, so that the outputs' must be too. Left out:
 * protocol numbers that mean something else in the other family. RFC 7915 4.1 / 5.1
 * copy the protocol number, so ICMPv6 (58) in IPv4 or ICMPv4 (1) in IPv6 becomes a
 * message of the other ICMP that was never checksummed as one, and an IPv4 protocol
 * that is an IPv6 extension header number (0, 43, 44, 51, 60) makes the toolkit walk
 * payload bytes as a header chain.
 */
const NOT_VERIFIABLE_4 = new Set([0, 43, 44, 51, 58, 60]);
function inputVerified(frame: Uint8Array, lt: LinkType): boolean {
  const r = checkChecksums(frame, lt);
  if (!r.ok || r.l4 === 'malformed') return false;
  if (r.version === 4) return !NOT_VERIFIABLE_4.has(r.protocol!);
  if (r.protocol === 1) return false;
  // an AH in the chain: the toolkit walks it, the core (RFC 7915 5.1) does not
  const p = parsePacket(frame, lt);
  return !p.ipv6!.extensions.some((e) => e.type === 51);
}

describe('robustness: random and mutated packets through the core', () => {
  it(`${TOTAL} packets (seed ${SEED}): no trap, counters add up, every output sane`, () => {
    const t0 = Date.now();
    console.log(`robustness: seed ${SEED} (XBR_FUZZ_SEED=${SEED} to reproduce), ${TOTAL} packets`);
    const rng = new Rng(SEED);
    const findings = new Findings();
    const ces = makeCes(rng);
    const remotes = makeRemotes(rng);
    const gen = new Gen(new Rng(rng.u32()), ces, remotes);

    // a corpus of valid packets to mutate
    const corpus: Uint8Array[] = [];
    while (corpus.length < 4000) corpus.push(...gen.datagram());

    const valid = new Stream('valid/raw', 101, findings);
    const fuzzRaw = new Stream('fuzz/raw', 101, findings);
    const fuzzEth = new Stream('fuzz/eth', 1, findings);
    const nValid = Math.floor(TOTAL * 0.12);
    const nEth = Math.floor(TOTAL * 0.25);
    const nRaw = TOTAL - nValid - nEth;

    const phases: Record<string, number> = { setup: Date.now() - t0 };
    let tp = Date.now();
    // 1. valid traffic, fresh datagrams (unique fragment ids), checked completely
    const vr = new Rng(rng.u32());
    const vgen = new Gen(vr, ces, remotes);
    let queue: Uint8Array[] = [];
    let sent = 0;
    while (sent < nValid && !valid.dead) {
      while (queue.length < BATCH) queue.push(...vgen.datagram());
      const batch = queue.slice(0, Math.min(BATCH, nValid - sent));
      queue = queue.slice(batch.length);
      valid.run(batch, true, true);
      sent += batch.length;
    }

    // 2. mutations and random bytes, raw IP and Ethernet
    const fuzz = (s: Stream, n: number, r: Rng) => {
      let done = 0;
      while (done < n && !s.dead) {
        const size = Math.min(BATCH, n - done);
        const verifiedBatch = r.chance(0.3);
        const frames: Uint8Array[] = [];
        let attempts = 0;
        while (frames.length < size) {
          attempts++;
          let ip: Uint8Array;
          const what = r.int(0, 99);
          if (what < 8) ip = r.bytes(r.int(0, r.chance(0.8) ? 80 : 1700));
          else if (what < 12) {
            ip = r.bytes(r.int(20, 600));
            ip[0] = r.chance(0.5) ? 0x45 : 0x60;
          } else if (what < 20) ip = r.pick(corpus).slice();
          else ip = mutate(r, r.pick(corpus));
          if (r.chance(0.5) || verifiedBatch) ip = fixChecksums(ip);
          let f = s.lt === 1 ? (ip.length > 0 ? ethernet({ type: ip[0] >> 4 === 6 ? 0x86dd : 0x0800, payload: ip }) : ip) : ip;
          if (s.lt === 1 && f.length >= 14 && r.chance(0.05)) f = mutateL2(r, f);
          if (f.length > 1792) f = f.slice(0, 1792);
          if (verifiedBatch && !(inputVerified(f, s.lt) || attempts > 20 * size)) continue;
          frames.push(f);
        }
        const verified = verifiedBatch && frames.every((f) => inputVerified(f, s.lt));
        s.run(frames, verified, false);
        done += frames.length;
      }
    };
    phases.valid = Date.now() - tp;
    tp = Date.now();
    fuzz(fuzzRaw, nRaw, new Rng(rng.u32()));
    phases.fuzzRaw = Date.now() - tp;
    tp = Date.now();
    fuzz(fuzzEth, nEth, new Rng(rng.u32()));
    phases.fuzzEth = Date.now() - tp;

    const secs = (Date.now() - t0) / 1000;
    console.log(`robustness: phases (ms) ${JSON.stringify(phases)}`);
    const all = [valid, fuzzRaw, fuzzEth];
    const sumOf = (k: string) => all.reduce((n, s) => n + (s.stats.totals[k] ?? 0), 0);
    const report = {
      seed: SEED,
      seconds: secs,
      packets: all.reduce((n, s) => n + s.stats.packets, 0),
      batches: all.reduce((n, s) => n + s.stats.batches, 0),
      outputs: all.reduce((n, s) => n + s.stats.outputs, 0),
      verifiedFuzzBatches: fuzzRaw.stats.verifiedBatches + fuzzEth.stats.verifiedBatches,
      streams: Object.fromEntries(all.map((s) => [s.name, { packets: s.stats.packets, outputs: s.stats.outputs }])),
      translated: { xlat_4to6: sumOf('xlat_4to6'), xlat_6to4: sumOf('xlat_6to4'), hairpin: sumOf('hairpin'), frag_held: sumOf('frag_held'), frag_released: sumOf('frag_released'), icmp4_sent: sumOf('icmp4_sent'), icmp6_sent: sumOf('icmp6_sent') },
      drops: Object.fromEntries(
        Object.keys(valid.stats.totals)
          .concat(Object.keys(fuzzRaw.stats.totals), Object.keys(fuzzEth.stats.totals))
          .filter((k, i, a) => k.startsWith('drop_') && a.indexOf(k) === i)
          .sort()
          .map((k) => [k, sumOf(k)]),
      ),
    };
    console.log(`robustness: ${JSON.stringify(report, null, 1)}`);
    if (findings.byKind.size) console.log(`robustness findings: ${JSON.stringify(findings.summary(), null, 1)}`);
    expect(report.packets).toBe(TOTAL);
    expect(findings.summary()).toEqual({});
  });
});
