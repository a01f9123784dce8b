// IPv6 -> IPv4 at the MAP-T BR (RFC 7599 section 8.3) with RFC 7915 sections 5.1-5.5.
// The IPv4 header is written just before the untouched L4 payload and the same frame
// leaves on the IPv4 side, or, when the IPv4 destination is itself a CE of this BR,
// goes back through v4to6 (hairpinning, RFC 7599 section 12.2).

import { C, inc } from '../counters';
import { ld16, ld32, st16, st32 } from '../net/bytes';
import { sum, finish, valid, net16, neg32, sum16B, adjust } from '../net/checksum';
import { mtu4, icmpSrc4, flags, FLAG_NO_HAIRPIN } from '../params';
import { emit } from '../io/frames';
import { inDmr, extract6052, loadHi, loadLo } from '../map/addr';
import { l2len, writeL2 } from './l2';
import { P_ICMP, P_ICMPV6, P_UDP, P_FRAG, hasPorts, pseudoCsumOffset, minL4 } from './proto';
import { sendIcmp6 } from './icmperr';
import { key6, recordFirst, lookupFollower, FOLLOW_HELD, FOLLOW_KNOWN, fragPort } from './fragtable';
import { map6to4, isError6, mType, mCode, mRest } from './icmpmap';
import { writeV4, fragment4 } from './headers';
import { newId } from './clock';
import { parse6, v6plen, v6nh, v6l4, v6frag, v6fragOff, v6fragMore, v6fragId, v6errPtr } from './parse6';
import { validateSource, vV4 } from './source6';
import { markFrom } from '../map/trace';
import { ownsV4 } from './lookup4';
import { v4to6 } from './v4to6';

/** The sum of the ~words of a 16-byte address (RFC 1624's ~m), for removing it. */
@inline function negAddr(p: usize): u64 {
  return neg32(load<u32>(p)) + neg32(load<u32>(p, 4)) + neg32(load<u32>(p, 8)) + neg32(load<u32>(p, 12));
}
@inline function neg16(v: u64): u64 {
  return <u64>(~(<u32>v) & 0xffff);
}

let cPort: u32 = 0;
let cHasPort: bool = false;
let cIsError: bool = false;

/**
 * The port that identifies the CE's port set: the source port, the echo identifier,
 * or for an ICMPv6 error the destination port (identifier) of the quoted packet,
 * which was sent to the CE.
 */
function classify6(nh: u32, l4: usize, l4len: u32): i32 {
  cPort = 0;
  cHasPort = false;
  cIsError = false;
  if (hasPorts(nh)) {
    if (l4len < 4) return C.drop_ipv6_truncated;
    cPort = ld16(l4);
    cHasPort = true;
  } else if (nh == P_ICMPV6) {
    if (l4len < 8) return C.drop_icmp_truncated;
    const t = <u32>load<u8>(l4);
    if (t == 128 || t == 129) {
      cPort = ld16(l4 + 4);
      cHasPort = true;
    } else if (isError6(t)) {
      cIsError = true;
      const inner = l4 + 8;
      if (l4len < 48 || (<u32>load<u8>(inner) >> 4) != 6) return C.drop_icmp_inner_invalid;
      let inh = <u32>load<u8>(inner + 6);
      let ioff: u32 = 40;
      let first = true;
      if (inh == P_FRAG) {
        if (l4len < 56) return C.drop_icmp_inner_invalid;
        first = (ld16(inner + 42) >> 3) == 0;
        inh = <u32>load<u8>(inner + 40);
        ioff = 48;
      }
      const have = l4len - 8 - ioff;
      if (first && hasPorts(inh) && have >= 4) {
        cPort = ld16(inner + ioff + 2);
        cHasPort = true;
      } else if (first && inh == P_ICMPV6 && have >= 6) {
        const it = <u32>load<u8>(inner + ioff);
        if (it == 128 || it == 129) {
          cPort = ld16(inner + ioff + 4);
          cHasPort = true;
        }
      }
    } else {
      return C.drop_icmp_untranslatable;
    }
  }
  return -1;
}

/**
 * Whether the BR may answer a packet whose header chain it refused (a Routing header
 * with Segments Left > 0) with an ICMPv6 error: not when it is a non-first fragment
 * or carries an ICMPv6 error message (RFC 4443 section 2.4(e.1); icmperr.ts). Walks
 * the rest of the chain; parse6 has checked the payload length against the bytes.
 */
function mayAnswer6(ip: usize): bool {
  const end: u32 = ld16(ip + 4) + 40;
  let nh = <u32>load<u8>(ip + 6);
  let off: u32 = 40;
  for (let n: u32 = 0; n < 16; n++) {
    if (off + 8 > end) return true;
    if (nh == 0 || nh == 43 || nh == 60) {
      const next = <u32>load<u8>(ip + off);
      off += (<u32>load<u8>(ip + off + 1) + 1) << 3;
      nh = next;
    } else if (nh == P_FRAG) {
      if ((ld16(ip + off + 2) >> 3) != 0) return false; // a non-first fragment
      nh = <u32>load<u8>(ip + off);
      off += 8;
    } else {
      break;
    }
  }
  return !(nh == P_ICMPV6 && off < end && isError6(<u32>load<u8>(ip + off)));
}

const FITS: i32 = -1;
const FRAGMENT: i32 = -2;
// The DF flag sizeV4() decided.
let sizedDf: bool = false;

/**
 * Sizes (RFC 7915 sections 5.1 and 5.1.1, DESIGN.md): DF is set when the IPv4
 * packet (tot4 bytes) is over 1260 bytes, unless the IPv6 packet was a fragment. A
 * packet that does not fit mtu.ipv4 is fragmented when DF is clear (FRAGMENT), else
 * Packet Too Big goes back and the drop counter is returned. A hairpin never leaves
 * on the IPv4 side, so it always FITS.
 */
@inline function sizeV4(ip: usize, total: u32, tot4: u32, hair: bool, isError: bool, nonFirst: bool): i32 {
  sizedDf = !v6frag && tot4 > 1260;
  if (hair || tot4 <= mtu4) return FITS;
  if (!sizedDf) return FRAGMENT;
  let mtu = mtu4 + 20;
  if (mtu < 1280) mtu = 1280;
  sendIcmp6(ip, total, 2, 0, mtu, isError, nonFirst);
  return C.drop_ipv6_too_big;
}

/** Translates the IPv6 packet at p from a CE to IPv4. -1 when emitted/held, else a drop. */
export function v6to4(p: usize, len: u32): i32 {
  const ip = p + l2len;
  const ipLen = len - l2len;
  let r = parse6(ip, ipLen);
  if (r >= 0) {
    if (r == C.drop_ipv6_ext_header && v6errPtr != 0) {
      if (mayAnswer6(ip)) sendIcmp6(ip, ld16(ip + 4) + 40, 4, 0, v6errPtr, false, false);
      v6errPtr = 0;
    }
    return r;
  }
  const dhi = loadHi(ip + 24);
  const dlo = loadLo(ip + 24);
  if (!inDmr(dhi, dlo)) return C.drop_ipv6_not_ours;
  const total: u32 = v6plen + 40;
  const hl = <u32>load<u8>(ip + 7);
  const nh = v6nh;
  const l4 = ip + v6l4;
  const l4len = total - v6l4;
  const nonFirst = v6frag && v6fragOff != 0;

  if (!nonFirst) {
    r = classify6(nh, l4, l4len);
    if (r >= 0) return r;
    if (v6frag && v6fragMore) {
      key6(ip + 8, ip + 24, v6fragId);
      recordFirst(cPort);
    }
  }
  if (hl <= 1) {
    // RFC 7915 section 5.1 / RFC 8200: Time Exceeded in transit
    sendIcmp6(ip, total, 3, 0, 0, cIsError, nonFirst);
    return C.drop_ipv6_hop_limit_expired;
  }
  const shi = loadHi(ip + 8);
  const slo = loadLo(ip + 8);
  let port = cPort;
  let hasPort = cHasPort;
  let src4: u32 = 0;
  if (nonFirst) {
    r = validateSource(shi, slo, 0, false);
    if (r == C.drop_ipv6_no_port) {
      key6(ip + 8, ip + 24, v6fragId);
      const f = lookupFollower(p, len, false);
      if (f == FOLLOW_HELD) return -1;
      if (f != FOLLOW_KNOWN) return f;
      port = fragPort;
      hasPort = true;
      r = validateSource(shi, slo, port, hasPort);
    }
  } else {
    r = validateSource(shi, slo, port, hasPort);
  }
  if (r >= 0) {
    if (cIsError && r != C.drop_ipv6_no_port) {
      // An ICMPv6 error from a node that is not a CE (a router of the access
      // network): its source becomes icmp.ipv4-source (RFC 6791).
      src4 = icmpSrc4;
    } else {
      // RFC 7599 section 8.3: drop, count, and SHOULD send 1/5 (source address
      // failed ingress/egress policy).
      if (r == C.drop_ipv6_port_outside_psid || r == C.drop_ipv6_src_spoofed) sendIcmp6(ip, total, 1, 5, 0, cIsError, nonFirst);
      return r;
    }
  } else {
    src4 = vV4;
    markFrom(); // a traced subscriber's packet (map/trace.ts)
  }
  const dst4 = extract6052(dhi, dlo);
  const hair = ownsV4(dst4);
  // RFC 7599 12.2 / RFC 7596 6.2: CE-to-CE through the BR unless the policy says no
  if (hair && (flags & FLAG_NO_HAIRPIN)) return C.drop_hairpin_disabled;

  if (nh == P_ICMPV6) return icmp6to4(p, ip, total, hl - 1, src4, dst4, hair);

  const tot4: u32 = l4len + 20;
  const sized = sizeV4(ip, total, tot4, hair, cIsError, nonFirst);
  if (sized >= 0) return sized;
  const df = sizedDf;
  const fragmentOut = sized == FRAGMENT;
  const proto = nh;
  let csOff: i32 = -1;
  let delta: u64 = 0;
  if (!nonFirst) {
    csOff = pseudoCsumOffset(proto);
    if (csOff >= 0 && l4len < minL4(proto)) csOff = -1;
    if (csOff >= 0) delta = negAddr(ip + 8) + negAddr(ip + 24);
  }
  const tc = (ld16(ip) >> 4) & 0xff;
  const id = v6frag ? (v6fragId & 0xffff) : newId();
  const frag = v6frag ? ((v6fragMore ? 0x2000 : 0) | v6fragOff) : (df ? 0x4000 : 0);
  const h = l4 - 20;
  writeV4(h, tc, tot4, id, frag, hl - 1, proto, src4, dst4);
  if (csOff >= 0) {
    delta += <u64>load<u32>(h + 12) + <u64>load<u32>(h + 16);
    adjust(l4 + <usize>csOff, delta, proto == P_UDP);
  }
  writeL2(h, 0, 0x0800, false);
  const out = h - l2len;
  if (hair) return v4to6(out, l2len + tot4, true);
  if (fragmentOut) fragment4(out, l2len, l4len);
  else emit(out, l2len + tot4, 0);
  inc(C.xlat_6to4);
  return -1;
}

/** ICMPv6 -> ICMPv4 (RFC 7915 sections 5.2 and 5.3). */
function icmp6to4(p: usize, ip: usize, total: u32, ttl: u32, src4: u32, dst4: u32, hair: bool): i32 {
  if (v6frag && (v6fragOff != 0 || v6fragMore)) return C.drop_icmp_fragmented;
  const l4 = ip + v6l4;
  const l4len = total - v6l4;
  const pseudo = sum16B(ip + 8) + sum16B(ip + 24) + net16(l4len) + net16(P_ICMPV6);
  if (!valid(l4, l4len, pseudo)) return C.drop_icmp_bad_checksum;
  const type = <u32>load<u8>(l4);
  const code = <u32>load<u8>(l4 + 1);
  const rest = ld32(l4 + 4);
  const tc = (ld16(ip) >> 4) & 0xff;
  if (!map6to4(type, code, rest)) return C.drop_icmp_untranslatable;

  if (!isError6(type)) {
    // sizes as for any packet (an atomic fragment keeps its Identification)
    const tot4: u32 = l4len + 20;
    const sized = sizeV4(ip, total, tot4, hair, false, false);
    if (sized >= 0) return sized;
    const df = sizedDf;
    const fragmentOut = sized == FRAGMENT;
    const h = l4 - 20;
    const oldWord = <u32>load<u16>(l4);
    // remove the pseudo-header (read before the IPv4 header overwrites it)
    let delta = negAddr(ip + 8) + negAddr(ip + 24) + neg16(net16(l4len)) + neg16(net16(P_ICMPV6));
    writeV4(h, tc, tot4, v6frag ? (v6fragId & 0xffff) : newId(), df ? 0x4000 : 0, ttl, P_ICMP, src4, dst4);
    store<u8>(l4, <u8>mType);
    store<u8>(l4 + 1, <u8>mCode);
    delta += <u64>(~oldWord & 0xffff) + <u64>load<u16>(l4);
    adjust(l4 + 2, delta, false);
    writeL2(h, 0, 0x0800, false);
    if (hair) return v4to6(h - l2len, l2len + tot4, true);
    if (fragmentOut) fragment4(h - l2len, l2len, l4len);
    else emit(h - l2len, l2len + tot4, 0);
    inc(C.xlat_6to4);
    return -1;
  }

  // An error about a packet the BR sent to the CE: inner source = a host outside
  // (RFC 6052 address), inner destination = the CE.
  const t4 = mType;
  const c4 = mCode;
  const r4 = mRest;
  const inner = l4 + 8;
  const innerLen = l4len - 8;
  let inh = <u32>load<u8>(inner + 6);
  let ioff: u32 = 40;
  let ifrag = false;
  let ifragOff: u32 = 0;
  let ifragMore = false;
  let ifragId: u32 = 0;
  if (inh == P_FRAG) {
    ifrag = true;
    const f = ld16(inner + 42);
    ifragOff = f >> 3;
    ifragMore = (f & 1) != 0;
    ifragId = ld32(inner + 44);
    inh = <u32>load<u8>(inner + 40);
    ioff = 48;
  }
  // RFC 7915 section 5.3: stop at the first embedded header.
  if (inh == 0 || inh == 43 || inh == 60 || inh == P_FRAG) return C.drop_icmp_inner_invalid;
  const ishi = loadHi(inner + 8);
  const islo = loadLo(inner + 8);
  if (!inDmr(ishi, islo)) return C.drop_icmp_inner_invalid;
  const isrc4 = extract6052(ishi, islo);
  if (validateSource(loadHi(inner + 24), loadLo(inner + 24), cPort, cHasPort) >= 0) return C.drop_icmp_inner_invalid;
  const idst4 = vV4;
  const iplen = ld16(inner + 4);
  const ipplen = iplen + 40 - ioff; // the inner upper-layer length as declared
  const itc = (ld16(inner) >> 4) & 0xff;
  const ihl = <u32>load<u8>(inner + 7);
  const ipay = inner + ioff;
  const ipayLen = innerLen - ioff;

  let icsOff: i32 = -1;
  let idelta: u64 = 0;
  let iIcmp = false;
  if (!ifrag || ifragOff == 0) {
    icsOff = pseudoCsumOffset(inh);
    if (icsOff >= 0 && ipayLen < <u32>icsOff + 2) icsOff = -1;
    if (icsOff >= 0) idelta = negAddr(inner + 8) + negAddr(inner + 24);
    if (inh == P_ICMPV6 && ipayLen >= 4) {
      const it = <u32>load<u8>(ipay);
      if (it == 128 || it == 129) {
        iIcmp = true;
        idelta = negAddr(inner + 8) + negAddr(inner + 24) + neg16(net16(ipplen)) + neg16(net16(P_ICMPV6));
      }
    }
  }
  const ih = ipay - 20;
  const m = ih - 8;
  const h = m - 20;
  const iproto = inh == P_ICMPV6 ? P_ICMP : inh;
  const ifield = ifrag ? ((ifragMore ? 0x2000 : 0) | ifragOff) : 0;
  writeV4(ih, itc, 20 + ipplen, ifrag ? ifragId & 0xffff : 0, ifield, ihl, iproto, isrc4, idst4);
  if (icsOff >= 0) adjust(ipay + <usize>icsOff, idelta + <u64>load<u32>(ih + 12) + <u64>load<u32>(ih + 16), inh == P_UDP);
  if (iIcmp) {
    const ow = <u32>load<u16>(ipay);
    store<u8>(ipay, <u8>(load<u8>(ipay) == 128 ? 8 : 0));
    adjust(ipay + 2, idelta + <u64>(~ow & 0xffff) + <u64>load<u16>(ipay), false);
  }
  let msgLen: u32 = ipayLen + 28;
  // An ICMPv6 error may be 1280 bytes: cut the quote short so that the ICMPv4 error
  // fits mtu.ipv4 (mtu.ipv4 >= 68 leaves the headers whole).
  if (msgLen + 20 > mtu4) msgLen = mtu4 - 20;
  store<u8>(m, <u8>t4);
  store<u8>(m + 1, <u8>c4);
  st16(m + 2, 0);
  st32(m + 4, r4);
  store<u16>(m + 2, finish(sum(m, msgLen, 0)));
  writeV4(h, tc, 20 + msgLen, newId(), 0, ttl, P_ICMP, src4, dst4);
  writeL2(h, 0, 0x0800, false);
  if (hair) return v4to6(h - l2len, l2len + 20 + msgLen, true);
  emit(h - l2len, l2len + 20 + msgLen, 0);
  inc(C.xlat_6to4);
  return -1;
}
