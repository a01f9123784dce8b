// IPv6 address arithmetic on (hi, lo) pairs of u64, each the big-endian value of one
// half of the address. Results come back in the module globals outHi / outLo (a wasm
// function returns one value; globals avoid any allocation).

import { ld64, st64 } from '../net/bytes';
import { dmrHi, dmrLo, dmrLen } from '../params';

export let outHi: u64 = 0;
export let outLo: u64 = 0;

@inline export function maskHi(len: u32): u64 {
  return len >= 64 ? 0xffffffffffffffff : (len == 0 ? 0 : ~(<u64>0xffffffffffffffff >> len));
}
@inline export function maskLo(len: u32): u64 {
  return len <= 64 ? 0 : (len >= 128 ? 0xffffffffffffffff : ~(<u64>0xffffffffffffffff >> (len - 64)));
}

@inline export function loadHi(p: usize): u64 {
  return ld64(p);
}
@inline export function loadLo(p: usize): u64 {
  return ld64(p + 8);
}
@inline export function storeAddr(p: usize, hi: u64, lo: u64): void {
  st64(p, hi);
  st64(p + 8, lo);
}

/**
 * ORs the low `len` bits of `v` into bits [pos, pos+len) of the 128-bit value
 * (bit 0 = most significant), into outHi/outLo. len <= 64.
 */
export function insertBits(hi: u64, lo: u64, v: u64, pos: u32, len: u32): void {
  if (len == 0) {
    outHi = hi;
    outLo = lo;
    return;
  }
  const end = pos + len; // exclusive
  if (end <= 64) {
    hi |= v << (64 - end);
  } else if (pos >= 64) {
    lo |= v << (128 - end);
  } else {
    // straddles the halves: the top (64 - pos) bits go to hi
    const lowBits = end - 64;
    hi |= v >> lowBits;
    lo |= v << (64 - lowBits);
  }
  outHi = hi;
  outLo = lo;
}

/** Bits [pos, pos+len) of the 128-bit value, right-aligned. len <= 64. */
export function extractBits(hi: u64, lo: u64, pos: u32, len: u32): u64 {
  if (len == 0) return 0;
  const end = pos + len;
  const m: u64 = len == 64 ? 0xffffffffffffffff : ((<u64>1 << len) - 1);
  if (end <= 64) return (hi >> (64 - end)) & m;
  if (pos >= 64) return (lo >> (128 - end)) & m;
  const lowBits = end - 64;
  return ((hi << lowBits) | (lo >> (64 - lowBits))) & m;
}

/**
 * RFC 6052 section 2.2: the IPv4-embedded IPv6 address of `v4` under the DMR prefix.
 * Bits 64..71 (the u-octet) stay zero; for /96 the address fills bits 96..127.
 */
export function embed6052(v4: u32): void {
  const hi = dmrHi;
  let lo: u64 = 0;
  let h = hi;
  const a = <u64>v4;
  switch (dmrLen) {
    case 32: h |= a; break;
    case 40: h |= a >> 8; lo = (a & 0xff) << 48; break;
    case 48: h |= a >> 16; lo = (a & 0xffff) << 40; break;
    case 56: h |= a >> 24; lo = (a & 0xffffff) << 32; break;
    case 64: lo = a << 24; break;
    default: lo = dmrLo | a; break; // 96
  }
  outHi = h;
  outLo = lo;
}

/** RFC 6052 section 2.2 in reverse: the IPv4 address embedded in (hi, lo). */
export function extract6052(hi: u64, lo: u64): u32 {
  switch (dmrLen) {
    case 32: return <u32>hi;
    case 40: return <u32>(((hi & 0xffffff) << 8) | ((lo >> 48) & 0xff));
    case 48: return <u32>(((hi & 0xffff) << 16) | ((lo >> 40) & 0xffff));
    case 56: return <u32>(((hi & 0xff) << 24) | ((lo >> 32) & 0xffffff));
    case 64: return <u32>(lo >> 24);
    default: return <u32>lo;
  }
}

/** True when (hi, lo) lies in the DMR prefix. */
@inline export function inDmr(hi: u64, lo: u64): bool {
  return ((hi ^ dmrHi) & maskHi(dmrLen)) == 0 && ((lo ^ dmrLo) & maskLo(dmrLen)) == 0;
}

/** Copies 16 bytes. */
@inline export function copyAddr(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src));
  store<u64>(dst, load<u64>(src, 8), 8);
}

