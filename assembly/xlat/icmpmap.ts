// ICMP type and code translation, RFC 7915 sections 4.2 (ICMPv4 -> ICMPv6) and 5.2
// (ICMPv6 -> ICMPv4). The result is in mType / mCode / mRest (the 32-bit field after
// the checksum); false means "silently drop".

import { mtu4, mtu6 } from '../params';

export let mType: u32 = 0;
export let mCode: u32 = 0;
export let mRest: u32 = 0;

/** True for ICMPv4 error types this translator carries (3, 11, 12). */
@inline export function isError4(type: u32): bool {
  return type == 3 || type == 11 || type == 12;
}
/** ICMPv6 errors are types 0-127 (RFC 4443 section 2.1). */
@inline export function isError6(type: u32): bool {
  return type < 128;
}

// RFC 1191 section 7 plateaus, for a Fragmentation Needed whose MTU field is zero.
function plateau(totalLen: u32): u32 {
  if (totalLen > 32000) return 32000;
  if (totalLen > 17914) return 17914;
  if (totalLen > 8166) return 8166;
  if (totalLen > 4352) return 4352;
  if (totalLen > 2002) return 2002;
  if (totalLen > 1492) return 1492;
  return 1280; // "but that is larger than or equal to 1280" (RFC 7915 4.2)
}

@inline function min3(a: u32, b: u32, c: u32): u32 {
  let m = a < b ? a : b;
  return m < c ? m : c;
}

/** Figure 3 of RFC 7915: IPv4 header pointer -> IPv6 header pointer, or -1. */
function pointer4to6(p: u32): i32 {
  if (p == 0 || p == 1) return <i32>p;
  if (p == 2 || p == 3) return 4;
  if (p == 8) return 7;
  if (p == 9) return 6;
  if (p >= 12 && p <= 15) return 8;
  if (p >= 16 && p <= 19) return 24;
  return -1;
}

/** Figure 6 of RFC 7915: IPv6 header pointer -> IPv4 header pointer, or -1. */
function pointer6to4(p: u32): i32 {
  if (p == 0 || p == 1) return <i32>p;
  if (p == 4 || p == 5) return 2;
  if (p == 6) return 9;
  if (p == 7) return 8;
  if (p >= 8 && p <= 23) return 12;
  if (p >= 24 && p <= 39) return 16;
  return -1;
}

/**
 * ICMPv4 -> ICMPv6 (RFC 7915 section 4.2). `rest` is the ICMPv4 header's second
 * word; `innerTotal` the quoted packet's Total Length (for the MTU plateau).
 */
export function map4to6(type: u32, code: u32, rest: u32, innerTotal: u32): bool {
  mRest = rest;
  switch (type) {
    case 8: mType = 128; mCode = 0; return true;
    case 0: mType = 129; mCode = 0; return true;
    case 11: mType = 3; mCode = code; return code <= 1;
    case 3: {
      mType = 1;
      mRest = 0;
      if (code == 0 || code == 1 || code == 5 || code == 6 || code == 7 || code == 8 || code == 11 || code == 12) {
        mCode = 0;
        return true;
      }
      if (code == 9 || code == 10 || code == 13 || code == 15) {
        mCode = 1;
        return true;
      }
      if (code == 3) {
        mCode = 4;
        return true;
      }
      if (code == 2) {
        // Parameter Problem, pointer to the IPv6 Next Header field
        mType = 4;
        mCode = 1;
        mRest = 6;
        return true;
      }
      if (code == 4) {
        mType = 2;
        mCode = 0;
        let mtu = rest & 0xffff;
        if (mtu == 0) mtu = plateau(innerTotal);
        let v = min3(mtu + 20, mtu6, mtu4 + 20);
        if (v < 1280) v = 1280;
        mRest = v;
        return true;
      }
      return false; // 14 and unknown codes
    }
    case 12: {
      if (code != 0 && code != 2) return false;
      const ptr = pointer4to6(rest >> 24);
      if (ptr < 0) return false;
      mType = 4;
      mCode = 0;
      mRest = <u32>ptr;
      return true;
    }
    default:
      return false; // 13-18, 9, 10, 4, 5, 6 and unknown types
  }
}

/** ICMPv6 -> ICMPv4 (RFC 7915 section 5.2). */
export function map6to4(type: u32, code: u32, rest: u32): bool {
  mRest = rest;
  switch (type) {
    case 128: mType = 8; mCode = 0; return true;
    case 129: mType = 0; mCode = 0; return true;
    case 3: mType = 11; mCode = code; return code <= 1;
    case 1: {
      mType = 3;
      mRest = 0;
      if (code == 0 || code == 2 || code == 3) {
        mCode = 1;
        return true;
      }
      if (code == 1) {
        mCode = 10;
        return true;
      }
      if (code == 4) {
        mCode = 3;
        return true;
      }
      return false;
    }
    case 2: {
      mType = 3;
      mCode = 4;
      // minimum(MTU - 20, MTU of the IPv4 next hop, MTU of the IPv6 next hop - 20)
      const v = rest > 20 ? rest - 20 : 0;
      mRest = min3(v, mtu4, mtu6 - 20) & 0xffff;
      return true;
    }
    case 4: {
      if (code == 1) {
        mType = 3;
        mCode = 2;
        mRest = 0;
        return true;
      }
      if (code != 0) return false;
      const ptr = pointer6to4(rest);
      if (ptr < 0) return false;
      mType = 12;
      mCode = 0;
      mRest = <u32>ptr << 24;
      return true;
    }
    default:
      return false;
  }
}
