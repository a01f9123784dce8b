// Basic and Forwarding Mapping Rules (RFC 7597 section 5, RFC 7599 section 5), kept
// as precomputed records in wasm memory, longest IPv4 prefix first (the blob is
// sorted that way by the compiler, src/core/blob.ts).
//
// A rule maps IPv4 prefix/r + PSID <-> IPv6 rule prefix/n + EA bits (o of them):
//   p = 32 - r IPv4 suffix bits, k = o - p PSID bits (k <= 0: the CE gets an IPv4
//   prefix of length r + o, no port sharing).

import { mode, MODE_MAPE } from '../params';
import { insertBits, extractBits, maskHi, maskLo, loadHi, loadLo, outHi, outLo } from './addr';

@unmanaged export class Rule {
  v6hi: u64; // rule IPv6 prefix
  v6lo: u64;
  m6hi: u64; // its mask
  m6lo: u64;
  v4: u32; // rule IPv4 prefix
  m4: u32;
  v6len: u32;
  v4len: u32;
  eaLen: u32; // o
  a: u32; // PSID offset (RFC 7597 5.1)
  k: u32; // PSID length (0 for a full address or a prefix)
  p: u32; // IPv4 suffix bits = 32 - v4len
  flags: u32; // RULE_FLAG of abi.ts
  ratio: u32; // R of the generalized modulus form
  contiguous: u32; // M
  jMin: u32; // the modulus form's port-range index bounds (draft section 4.1)
  jMax: u32;
}

export const RULE_FLAG_FMR: u32 = 1;
export const RULE_FLAG_DIVI_PD: u32 = 2;
export const RULE_FLAG_MODULUS: u32 = 4;

// Blob record offsets (src/core/abi.ts RULE).
const R_IPV6: usize = 0;
const R_IPV6_LEN: usize = 16;
const R_IPV4_LEN: usize = 17;
const R_EA_LEN: usize = 18;
const R_PSID_OFFSET: usize = 19;
const R_PSID_LEN: usize = 20;
const R_FLAGS: usize = 21;
const R_IPV4: usize = 24;
const R_RATIO: usize = 28;
const R_CONTIG: usize = 30;
export const BLOB_RULE_SIZE: u32 = 48;

let rulesBase: usize = 0;
let ruleCount: u32 = 0;
// Rule indexes ordered by IPv6 prefix length, longest first (for source look-ups).
let order6Base: usize = 0;
export const RULE_SIZE: usize = offsetof<Rule>();

export function setRulesArea(base: usize, order6: usize): void {
  rulesBase = base;
  order6Base = order6;
}

@inline export function rule(i: u32): Rule {
  return changetype<Rule>(rulesBase + <usize>i * RULE_SIZE);
}

export function rulesCount(): u32 {
  return ruleCount;
}

/** Reads `n` blob rule records at `p` into the precomputed table. */
export function loadRules(p: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const src = p + <usize>i * BLOB_RULE_SIZE;
    const r = rule(i);
    r.v6len = load<u8>(src + R_IPV6_LEN);
    r.v4len = load<u8>(src + R_IPV4_LEN);
    r.eaLen = load<u8>(src + R_EA_LEN);
    r.a = load<u8>(src + R_PSID_OFFSET);
    r.k = load<u8>(src + R_PSID_LEN);
    r.flags = load<u8>(src + R_FLAGS);
    r.m6hi = maskHi(r.v6len);
    r.m6lo = maskLo(r.v6len);
    r.v6hi = loadHi(src + R_IPV6) & r.m6hi;
    r.v6lo = loadLo(src + R_IPV6) & r.m6lo;
    r.m4 = r.v4len == 0 ? 0 : <u32>(0xffffffff << (32 - r.v4len));
    r.v4 = load<u32>(src + R_IPV4) & r.m4;
    r.p = 32 - r.v4len;
    r.ratio = load<u16>(src + R_RATIO);
    r.contiguous = load<u16>(src + R_CONTIG);
    // j runs from (1024/M)/R, rounded up (the well-known ports are excluded), to
    // (65536/M)/R - 1 (dIVI-pd draft section 4.1).
    const rm = r.ratio * r.contiguous;
    r.jMin = rm == 0 ? 0 : (1024 + rm - 1) / rm;
    r.jMax = rm == 0 ? 0 : 65536 / rm - 1;
  }
  ruleCount = n;
  // Insertion sort of indexes by IPv6 prefix length (n is small: rules are few).
  for (let i: u32 = 0; i < n; i++) store<u32>(order6Base + (<usize>i << 2), i);
  for (let i: u32 = 1; i < n; i++) {
    const v = load<u32>(order6Base + (<usize>i << 2));
    const len = rule(v).v6len;
    let j = i;
    while (j > 0 && rule(load<u32>(order6Base + (<usize>(j - 1) << 2))).v6len < len) {
      store<u32>(order6Base + (<usize>j << 2), load<u32>(order6Base + (<usize>(j - 1) << 2)));
      j--;
    }
    store<u32>(order6Base + (<usize>j << 2), v);
  }
}

/** Longest-prefix match of an IPv4 address; -1 when no rule covers it. */
export function findRule4(addr: u32): i32 {
  for (let i: u32 = 0; i < ruleCount; i++) {
    const r = rule(i);
    if (((addr ^ r.v4) & r.m4) == 0) return <i32>i;
  }
  return -1;
}

/** Longest-prefix match of an IPv6 address against the rules' IPv6 prefixes. */
export function findRule6(hi: u64, lo: u64): i32 {
  for (let j: u32 = 0; j < ruleCount; j++) {
    const i = load<u32>(order6Base + (<usize>j << 2));
    const r = rule(i);
    if (((hi ^ r.v6hi) & r.m6hi) == 0 && ((lo ^ r.v6lo) & r.m6lo) == 0) return <i32>i;
  }
  return -1;
}

// ---- port sets -------------------------------------------------------------------

/**
 * The PSID of `port` under offset a and length k (RFC 7597 section 5.1: the port is
 * A (a bits) | PSID (k bits) | M (m bits)), or -1 when the port belongs to no port
 * set: A = 0 when a > 0 (the RFC excludes those ports) or a reserved port
 * (RFC 7618 section 8, checked by the caller).
 */
@inline export function psidOf(port: u32, a: u32, k: u32): i32 {
  if (k == 0) return 0;
  if (a > 0 && (port >> (16 - a)) == 0) return -1;
  return <i32>((port >> (16 - a - k)) & ((1 << k) - 1));
}

/**
 * The dIVI-pd draft's generalized modulus form (section 4.1): P = R*M*j + M*K + i,
 * so K = floor(P / M) % R, for ports whose j = floor(P / (R*M)) is in range.
 */
@inline export function psidOfModulus(r: Rule, port: u32): i32 {
  const j = port / (r.ratio * r.contiguous);
  if (j < r.jMin || j > r.jMax) return -1;
  return <i32>((port / r.contiguous) % r.ratio);
}

/** The PSID a rule gives `port`, or -1. */
@inline export function rulePsid(r: Rule, port: u32): i32 {
  if (r.flags & RULE_FLAG_MODULUS) return psidOfModulus(r, port);
  return psidOf(port, r.a, r.k);
}

// ---- MAP addresses ---------------------------------------------------------------

/**
 * The interface identifier (the low 64 bits) of a MAP address.
 * RFC 7597 section 6 / RFC 7599 section 6: 16 zero bits | IPv4 address | PSID
 * (right-aligned in 16 bits). The dIVI-pd draft (Figures 4 and 5): u (8 zero bits)
 * | IPv4 address | PSID (k bits, left-aligned after the address) | zeros | L, with
 * L = 32 + k the length of the IPv4 address and PSID in bits.
 */
@inline export function interfaceId(v4: u32, psid: u32, k: u32, diviPd: bool): u64 {
  if (diviPd) return (<u64>v4 << 24) | (<u64>psid << (24 - k)) | <u64>(32 + k);
  return (<u64>v4 << 16) | <u64>psid;
}

/**
 * The MAP IPv6 address of (v4, psid) under rule r (RFC 7597 section 5.2): the
 * end-user prefix is the rule prefix followed by the EA bits, the subnet id is 0, and
 * when the end-user prefix is longer than 64 bits it overwrites the top of the
 * interface identifier. When the CE gets an IPv4 prefix (o < p) the interface
 * identifier carries the complete IPv4 address (RFC 7599 erratum 5225).
 */
export function mapAddress(r: Rule, v4: u32, psid: u32): void {
  const suffix: u64 = r.p == 0 ? 0 : <u64>(v4 & ~r.m4);
  let ea: u64;
  let k = r.k;
  if (r.eaLen >= r.p) {
    ea = (suffix << k) | <u64>psid;
  } else {
    ea = suffix >> (r.p - r.eaLen);
    k = 0;
    psid = 0;
    // The CE has an IPv4 prefix: MAP-T carries the complete address (RFC 7599
    // erratum 5225); MAP-E pads the prefix with zeros (RFC 7597 section 6).
    const ceLen = r.v4len + r.eaLen;
    if (mode == MODE_MAPE) v4 &= ceLen == 0 ? 0 : <u32>(0xffffffff << (32 - ceLen));
  }
  insertBits(r.v6hi, r.v6lo, ea, r.v6len, r.eaLen);
  const hi = outHi;
  const eup = r.v6len + r.eaLen; // end-user prefix length
  let lo = interfaceId(v4, psid, k, (r.flags & RULE_FLAG_DIVI_PD) != 0);
  if (eup > 64) {
    const m = maskLo(eup);
    lo = (outLo & m) | (lo & ~m);
  }
  outHi = hi;
  outLo = lo;
}

/** The CE address of an EA-len-0 binding: its prefix, then the RFC 7597 IID. */
export function bindingAddress(hi: u64, lo: u64, plen: u32, v4: u32, psid: u32): void {
  if (plen >= 128) {
    outHi = hi;
    outLo = lo;
    return;
  }
  const iid = interfaceId(v4, psid, 0, false);
  if (plen <= 64) {
    outHi = hi & maskHi(plen);
    outLo = iid;
  } else {
    const m = maskLo(plen);
    outHi = hi;
    outLo = (lo & m) | (iid & ~m);
  }
}

// Results of sourceOfRule(): the IPv4 address and PSID a MAP address encodes.
export let srcV4: u32 = 0;
export let srcPsid: u32 = 0;

/**
 * From a source address that matched rule r: the IPv4 address and PSID its EA bits
 * encode (RFC 7597 section 5.2). Returns false when the address is not exactly the
 * MAP address those values give (interface identifier or subnet id disagree): the
 * source is spoofed.
 */
export function sourceOfRule(r: Rule, hi: u64, lo: u64): bool {
  const ea = extractBits(hi, lo, r.v6len, r.eaLen);
  let v4: u32;
  let psid: u32 = 0;
  if (r.eaLen >= r.p) {
    psid = <u32>(ea & ((<u64>1 << r.k) - 1));
    const suffix = r.p == 0 ? 0 : <u32>(ea >> r.k);
    v4 = r.v4 | suffix;
  } else {
    // An IPv4 prefix: the complete address is in the IID (RFC 7599 erratum 5225). When
    // the end-user prefix is longer than 64 bits it overwrites the top of the IID
    // (RFC 7597 section 6), which can hide the address's first bits: the CE's prefix
    // (rule prefix + EA bits) is taken from where it is sure, the IID gives the rest,
    // and the comparison below checks every IID bit that is left.
    const iid = (r.flags & RULE_FLAG_DIVI_PD) ? <u32>(lo >> 24) : <u32>(lo >> 16);
    const ceLen = r.v4len + r.eaLen; // < 32 here
    const host: u32 = 0xffffffff >>> ceLen;
    const eaPart: u32 = r.eaLen == 0 ? 0 : <u32>ea << (r.p - r.eaLen);
    v4 = r.v4 | eaPart | (iid & host);
  }
  mapAddress(r, v4, psid);
  if (outHi != hi || outLo != lo) return false;
  srcV4 = v4;
  srcPsid = psid;
  return true;
}

