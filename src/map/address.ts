// MAP address arithmetic: the control plane's oracle for what the wasm core computes
// per packet. Tests compare the two, so this file favours plain, checkable BigInt
// arithmetic over speed.
//
//  - RFC 6052 section 2.2: IPv4-embedded IPv6 addresses (the DMR / BR prefix side).
//  - RFC 7597 sections 5.2 and 6: the MAP CE address built from a rule, an IPv4
//    address and a PSID, and back.
//  - draft-xli-softwire-divi-pd Figures 4 and 5: the dIVI-pd interface identifier.
import { bigIntToIPv6, bytesEqual, ipv4InPrefix, ipv4Mask, ipv6Mask, ipv6ToBigInt } from './ip.js';
import {
  ceIPv4PrefixLength,
  endUserPrefixLength,
  ipv4SuffixLength,
  psidLength,
  type InterfaceIdFormat,
  type MapRule,
} from './rule.js';

/** The prefix lengths RFC 6052 section 2.2 allows. */
export const RFC6052_LENGTHS = [32, 40, 48, 56, 64, 96] as const;

function assertRfc6052Length(len: number): void {
  if (!(RFC6052_LENGTHS as readonly number[]).includes(len)) {
    throw new RangeError(`RFC 6052 prefix length must be one of ${RFC6052_LENGTHS.join(', ')}, not ${len}`);
  }
}

/** Byte positions that hold the IPv4 address for a prefix length: skip the u-octet (byte 8). */
function rfc6052Positions(len: number): number[] {
  if (len === 96) return [12, 13, 14, 15];
  const out: number[] = [];
  for (let i = len / 8; out.length < 4; i++) if (i !== 8) out.push(i);
  return out;
}

/**
 * RFC 6052 section 2.2 / 2.3: prefix, the IPv4 address (around the u-octet, bits
 * 64..71, which stays zero), suffix zero.
 */
export function embedIPv4(prefix: Uint8Array, prefixLen: number, ipv4: number): Uint8Array {
  assertRfc6052Length(prefixLen);
  const out = new Uint8Array(16);
  out.set(prefix.subarray(0, prefixLen / 8));
  const v4 = [ipv4 >>> 24, (ipv4 >>> 16) & 0xff, (ipv4 >>> 8) & 0xff, ipv4 & 0xff];
  rfc6052Positions(prefixLen).forEach((pos, i) => (out[pos] = v4[i]));
  return out;
}

/**
 * RFC 6052 section 2.3: the 32 bits after the prefix, the u-octet removed. The suffix
 * is ignored ("SHOULD ignore the bits' value"); use `rfc6052Conforms` to check it.
 */
export function extractIPv4(addr: Uint8Array, prefixLen: number): number {
  assertRfc6052Length(prefixLen);
  const p = rfc6052Positions(prefixLen);
  return ((addr[p[0]] << 24) | (addr[p[1]] << 16) | (addr[p[2]] << 8) | addr[p[3]]) >>> 0;
}

/** True if `addr` is exactly what embedIPv4 builds: u-octet and suffix zero. */
export function rfc6052Conforms(addr: Uint8Array, prefixLen: number): boolean {
  return bytesEqual(embedIPv4(addr, prefixLen, extractIPv4(addr, prefixLen)), addr);
}

// ---- MAP CE addresses (RFC 7597 5.2, 6) ----

/**
 * The 64-bit interface identifier.
 *  rfc7597 (RFC 7597 section 6, Figure 8): 16 zero bits | IPv4 (32) | PSID (16,
 *    right-aligned: "left-padded with zeros").
 *  divi-pd (draft Figure 4): u (8, zero) | IPv4 (32) | PSID (k bits, left-aligned
 *    right after the address) | zeros | L (8) = 32 + k.
 */
export function interfaceIdentifier(format: InterfaceIdFormat, ipv4: number, psid: number, psidLen: number): bigint {
  if (psidLen < 0 || psidLen > 16 || psid < 0 || psid >= 2 ** psidLen) {
    throw new RangeError(`psid ${psid} does not fit in ${psidLen} bits`);
  }
  const v4 = BigInt(ipv4 >>> 0);
  if (format === 'rfc7597') return (v4 << 16n) | BigInt(psid);
  return (v4 << 24n) | (BigInt(psid) << BigInt(24 - psidLen)) | BigInt(32 + psidLen);
}

/** Inverse of interfaceIdentifier for the IPv4 field. */
function ipv4FromIid(format: InterfaceIdFormat, iid: bigint): number {
  const shift = format === 'rfc7597' ? 16n : 24n;
  return Number((iid >> shift) & 0xffffffffn);
}

/**
 * Combines an end-user prefix with an interface identifier: subnet id zero (RFC 7597
 * 5.2, "the first subnet"), and when the prefix is longer than 64 bits its bits
 * overwrite the top of the IID (RFC 7597 section 6).
 */
function combine(prefix: bigint, prefixLen: number, iid: bigint): Uint8Array {
  const hostBits = 128 - Math.max(64, prefixLen);
  const iidMask = hostBits === 0 ? 0n : (1n << BigInt(hostBits)) - 1n;
  return bigIntToIPv6((prefix & ipv6Mask(prefixLen)) | (iid & iidMask));
}

export interface EndUserPrefix {
  prefix: Uint8Array;
  length: number;
}

function checkRuleInput(rule: MapRule, ipv4: number, psid: number): void {
  if (!ipv4InPrefix(ipv4, { addr: rule.ipv4Prefix, len: rule.ipv4PrefixLen })) {
    throw new RangeError('IPv4 address is outside the rule IPv4 prefix');
  }
  const k = psidLength(rule);
  if (!Number.isInteger(psid) || psid < 0 || psid >= 2 ** k) throw new RangeError(`psid ${psid} does not fit in ${k} bits`);
  if (rule.modulus && k > 0 && psid >= rule.modulus.sharingRatio) {
    throw new RangeError(`psid ${psid} >= sharing ratio ${rule.modulus.sharingRatio}`);
  }
}

/** The EA bits (RFC 7597 5.2, Figures 4-6): IPv4 suffix (p bits), then the PSID (q bits). */
function eaBits(rule: MapRule, ipv4: number, psid: number): bigint {
  const p = ipv4SuffixLength(rule);
  const q = psidLength(rule);
  // p may be 32: keep the arithmetic unsigned (x & 0xffffffff would turn negative).
  const suffix = p === 0 ? 0 : (ipv4 >>> (32 - rule.ipv4PrefixLen - p)) % 2 ** p;
  return (BigInt(suffix) << BigInt(q)) | BigInt(psid);
}

/** End-user IPv6 prefix = rule IPv6 prefix + EA bits (RFC 7597 5.2, Figure 3). */
export function endUserPrefix(rule: MapRule, ipv4: number, psid: number): EndUserPrefix {
  checkRuleInput(rule, ipv4, psid);
  const length = endUserPrefixLength(rule);
  if (length > 128) throw new RangeError('ipv6 prefix length + ea-len exceeds 128');
  const prefix = (ipv6ToBigInt(rule.ipv6Prefix) & ipv6Mask(rule.ipv6PrefixLen)) | (eaBits(rule, ipv4, psid) << BigInt(128 - length));
  return { prefix: bigIntToIPv6(prefix), length };
}

/** The IPv4 field of the IID for a CE address (see MapRule.fullIPv4InIid). */
function iidIPv4(rule: MapRule, ipv4: number): number {
  const ceLen = ceIPv4PrefixLength(rule);
  if (ceLen < 32 && !rule.fullIPv4InIid) return (ipv4 & ipv4Mask(ceLen)) >>> 0;
  return ipv4;
}

/**
 * The MAP IPv6 address of the CE that owns (ipv4, psid) under `rule` (RFC 7597 5.2
 * and 6; with interface-id divi-pd, the draft's Figure 5). `ipv4` must be inside
 * the rule's IPv4 prefix; `psid` must fit in k bits (0 when k = 0).
 */
export function mapCeAddress(rule: MapRule, ipv4: number, psid: number): Uint8Array {
  const eu = endUserPrefix(rule, ipv4, psid);
  const k = psidLength(rule);
  const iid = interfaceIdentifier(rule.interfaceId, iidIPv4(rule, ipv4), k === 0 ? 0 : psid, k);
  return combine(ipv6ToBigInt(eu.prefix), eu.length, iid);
}

export interface MapAddressInfo {
  ipv4: number;
  psid: number;
  psidLen: number;
  /** True iff `mapCeAddress(rule, ipv4, psid)` equals the address (RFC 7597 5.2). */
  valid: boolean;
}

/**
 * The reverse of mapCeAddress: the IPv4 address and PSID an IPv6 address carries
 * under `rule`, or null when the address is not inside the rule IPv6 prefix (or the
 * end-user prefix would not fit). `valid` is false when the subnet id or interface
 * identifier disagree with the EA bits (DESIGN.md: such MAP-T sources are spoofed).
 */
export function extractMapAddress(rule: MapRule, addr: Uint8Array): MapAddressInfo | null {
  const n = rule.ipv6PrefixLen;
  const o = rule.eaLen;
  if (n + o > 128) return null;
  const a = ipv6ToBigInt(addr);
  if ((a & ipv6Mask(n)) !== (ipv6ToBigInt(rule.ipv6Prefix) & ipv6Mask(n))) return null;
  const ea = o === 0 ? 0n : (a >> BigInt(128 - n - o)) & ((1n << BigInt(o)) - 1n);
  const q = psidLength(rule);
  const p = ipv4SuffixLength(rule);
  const r = rule.ipv4PrefixLen;
  const psid = Number(ea & ((1n << BigInt(q)) - 1n));
  const suffix = Number(ea >> BigInt(q));
  let ipv4 = (rule.ipv4Prefix | (p === 0 ? 0 : suffix * 2 ** (32 - r - p))) >>> 0;
  const ceLen = r + p;
  if (ceLen < 32 && rule.fullIPv4InIid) {
    // The host bits beyond the CE's IPv4 prefix come from the IID (RFC 7599 erratum 5225).
    const fromIid = ipv4FromIid(rule.interfaceId, a & 0xffffffffffffffffn);
    ipv4 = (ipv4 | (fromIid & ~ipv4Mask(ceLen))) >>> 0;
  }
  let valid = !(rule.modulus && q > 0 && psid >= rule.modulus.sharingRatio);
  if (valid) valid = bytesEqual(mapCeAddress(rule, ipv4, psid), addr);
  return { ipv4, psid, psidLen: q, valid };
}

// ---- bindings (EA-len 0: everything provisioned, RFC 7597 Appendix A examples 4, 5) ----

export interface BindingAddressInput {
  ipv4: number;
  psidLen: number;
  psid: number;
  /** The CE's end-user prefix (map-t, map-e) or the B4's address as a /128 (lw4o6). */
  ipv6Prefix: Uint8Array;
  prefixLen: number;
}

/**
 * The CE address of a binding: its IPv6 prefix + the RFC 7597 section 6 interface
 * identifier (IPv4 address, PSID). A /128 (lw4o6 B4 address) overwrites the whole
 * IID, so the result is the configured address itself.
 */
export function bindingCeAddress(b: BindingAddressInput): Uint8Array {
  const iid = interfaceIdentifier('rfc7597', b.ipv4, b.psidLen === 0 ? 0 : b.psid, b.psidLen);
  return combine(ipv6ToBigInt(b.ipv6Prefix), b.prefixLen, iid);
}
