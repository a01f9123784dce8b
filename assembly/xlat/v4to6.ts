// IPv4 -> IPv6 at the MAP-T BR (RFC 7599 section 8.4) with the header and ICMP
// translation of RFC 7915 sections 4.1-4.5. The packet is rewritten in place: the
// IPv6 header is written in front of the untouched L4 payload (the frame's headroom
// takes the growth), and the same frame is transmitted.

import { C, inc } from '../counters';
import { ld16, ld32, st16, st32 } from '../net/bytes';
import { sum, finish, valid, fold, net16, neg32, sum16B, adjust } from '../net/checksum';
import { mtu6, flags, FLAG_LW_UNREACH, mode, MODE_LW4O6 } from '../params';
import { emit } from '../io/frames';
import { embed6052, outHi, outLo } from '../map/addr';
import { l2len, writeL2 } from './l2';
import { P_ICMP, P_ICMPV6, P_UDP, P_FRAG, hasPorts, pseudoCsumOffset, minL4 } from './proto';
import { sendIcmp4 } from './icmperr';
import { key4, recordFirst, lookupFollower, FOLLOW_HELD, FOLLOW_KNOWN, fragPort } from './fragtable';
import { map4to6, isError4, mType, mCode, mRest } from './icmpmap';
import { writeV6, writeFH, fragment6 } from './headers';
import { mapV4 } from './lookup4';
import { markTo } from '../map/trace';

let s6hi: u64 = 0;
let s6lo: u64 = 0;
let d6hi: u64 = 0;
let d6lo: u64 = 0;

/** True when an IPv4 header at ip (ihl bytes) has an unexpired source route option. */
function hasSourceRoute(ip: usize, ihl: u32): bool {
  let o: u32 = 20;
  while (o < ihl) {
    const t = <u32>load<u8>(ip + o);
    if (t == 0) break; // end of options
    if (t == 1) {
      o++;
      continue;
    }
    if (o + 1 >= ihl) break;
    const l = <u32>load<u8>(ip + o + 1);
    if (l < 2) break;
    // LSRR (131) and SSRR (137): unexpired while pointer <= length (RFC 791)
    if ((t == 131 || t == 137) && o + 2 < ihl && <u32>load<u8>(ip + o + 2) <= l) return true;
    o += l;
  }
  return false;
}

/** The IPv4 header checks every IPv4 packet the BR takes in (RFC 791, RFC 1812 5.2.2). */
export let v4ihl: u32 = 0;
export let v4tot: u32 = 0;
export function checkV4(ip: usize, ipLen: u32): i32 {
  if (ipLen < 20) return C.drop_ipv4_truncated;
  const vihl = <u32>load<u8>(ip);
  if ((vihl >> 4) != 4) return C.drop_ipv4_bad_header;
  const ihl = (vihl & 15) << 2;
  if (ihl < 20 || ihl > ipLen) return C.drop_ipv4_bad_header;
  const tot = ld16(ip + 2);
  if (tot < ihl || tot > ipLen) return C.drop_ipv4_bad_length;
  // RFC 1812 5.2.2: verify the header checksum. The usual 20-byte header is summed
  // in five loads here, without the general loop of net/checksum.ts.
  const ok = ihl == 20
    ? fold(<u64>load<u32>(ip) + <u64>load<u32>(ip, 4) + <u64>load<u32>(ip, 8) + <u64>load<u32>(ip, 12) + <u64>load<u32>(ip, 16)) == 0xffff
    : valid(ip, ihl, 0);
  if (!ok) return C.drop_ipv4_bad_checksum;
  v4ihl = ihl;
  v4tot = tot;
  return -1;
}

// Port classification results.
export let cPort: u32 = 0;
export let cHasPort: bool = false;

/**
 * The port that selects the CE (RFC 7599 sections 8.4 and 9): the destination port,
 * the ICMP echo identifier, or for an ICMP error the source port (or identifier) of
 * the packet it quotes, which the CE sent (RFC 5508 REQ-3, DESIGN.md). -1 or a drop.
 * `fromCE` (a decapsulated packet a CE sent): its source port, echo identifier, or
 * the destination port of the packet an ICMP error quotes.
 */
export function classify4(proto: u32, l4: usize, l4len: u32, fromCE: bool): i32 {
  cPort = 0;
  cHasPort = false;
  if (hasPorts(proto)) {
    if (l4len < 4) return C.drop_ipv4_truncated;
    cPort = ld16(l4 + (fromCE ? 0 : 2));
    cHasPort = true;
  } else if (proto == P_ICMP) {
    if (l4len < 8) return C.drop_icmp_truncated;
    const t = <u32>load<u8>(l4);
    if (t == 8 || t == 0) {
      cPort = ld16(l4 + 4);
      cHasPort = true;
    } else if (isError4(t)) {
      const inner = l4 + 8;
      if (l4len < 28) return C.drop_icmp_inner_invalid;
      const iihl = (<u32>load<u8>(inner) & 15) << 2;
      if ((<u32>load<u8>(inner) >> 4) != 4 || iihl < 20 || iihl + 8 > l4len) return C.drop_icmp_inner_invalid;
      const iproto = <u32>load<u8>(inner + 9);
      const ioff = ld16(inner + 6) & 0x1fff;
      const il4 = inner + iihl;
      const ihave = l4len - 8 - iihl;
      if (ioff == 0 && hasPorts(iproto) && ihave >= 4) {
        cPort = ld16(il4 + (fromCE ? 2 : 0));
        cHasPort = true;
      } else if (ioff == 0 && iproto == P_ICMP && ihave >= 6) {
        const it = <u32>load<u8>(il4);
        if (it == 8 || it == 0) {
          cPort = ld16(il4 + 4);
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
 * Translates the IPv4 packet at p (len bytes with its link header) to IPv6 for the
 * CE that owns its destination. `hairpin`: the packet was just translated from a
 * CE's IPv6 packet (RFC 7599 section 12.2), its TTL already decremented.
 * Returns -1 when the frame was emitted or held, else the drop counter.
 */
export function v4to6(p: usize, len: u32, hairpin: bool): i32 {
  const ip = p + l2len;
  const ipLen = len - l2len;
  let r = checkV4(ip, ipLen);
  if (r >= 0) return r;
  const ihl = v4ihl;
  const tot = v4tot;
  const ff = ld16(ip + 6);
  const off = ff & 0x1fff;
  const more = (ff & 0x2000) != 0;
  const df = (ff & 0x4000) != 0;
  const proto = <u32>load<u8>(ip + 9);
  const src = ld32(ip + 12);
  const dst = ld32(ip + 16);
  const id = ld16(ip + 4);
  let ttl = <u32>load<u8>(ip + 8);
  if (!hairpin) {
    // RFC 7915 section 4.1 / RFC 1812 5.3.1: the translator forwards, so TTL is
    // decremented and a packet that would leave with 0 gets Time Exceeded.
    if (ttl <= 1) {
      sendIcmp4(ip, tot, 11, 0, 0);
      return C.drop_ipv4_ttl_expired;
    }
    ttl--;
  }
  // RFC 7915 section 4.1: an unexpired source route is not translated.
  if (ihl > 20 && hasSourceRoute(ip, ihl)) {
    sendIcmp4(ip, tot, 3, 5, 0);
    return C.drop_ipv4_source_route;
  }
  const l4 = ip + ihl;
  const l4len = tot - ihl;

  r = selectCE(p, len, ip, tot, proto, src, dst, id, off, more, hairpin);
  if (r == HELD) return -1;
  if (r != -1) return r;
  d6hi = outHi;
  d6lo = outLo;
  // RFC 7599 section 5.1: the IPv4 source embedded in the DMR prefix (RFC 6052).
  embed6052(src);
  s6hi = outHi;
  s6lo = outLo;

  if (proto == P_ICMP) return icmp4to6(p, ip, ihl, tot, ttl, off, more, hairpin);

  const isFrag = more || off != 0;
  let needFH = isFrag;
  let fragmentOut = false;
  if (l4len + 40 + (needFH ? 8 : 0) > mtu6) {
    // RFC 7915 section 4.1: DF set -> Fragmentation Needed with the MTU the IPv4
    // side can use; DF clear -> fragment the IPv6 packet.
    if (df && !hairpin) {
      sendIcmp4(ip, tot, 3, 4, (mtu6 - 20 - (needFH ? 8 : 0)) & 0xffff);
      return C.drop_ipv4_too_big;
    }
    fragmentOut = true;
    needFH = true;
  }
  const fh: u32 = needFH ? 8 : 0;

  // L4 checksum: the pseudo-header changes from IPv4 to IPv6 addresses (RFC 7915
  // section 4.5), an incremental update (RFC 1624). Only the first fragment has it.
  let csOff: i32 = -1;
  let delta: u64 = 0;
  let udpZero = false;
  if (off == 0) {
    csOff = pseudoCsumOffset(proto);
    if (csOff >= 0 && l4len < minL4(proto)) csOff = -1;
    if (proto == P_UDP && csOff >= 0 && load<u16>(l4 + 6) == 0) {
      // RFC 7915 section 4.5: a zero UDP checksum is computed (DESIGN.md); a fragment
      // cannot be, the datagram is not all here.
      if (isFrag) return C.drop_udp_zero_checksum_fragment;
      udpZero = true;
    }
    if (csOff >= 0) delta = neg32(load<u32>(ip + 12)) + neg32(load<u32>(ip + 16));
  }
  const tos = <u32>load<u8>(ip + 1);
  const h = l4 - 40 - fh;
  writeV6(h, tos, l4len + fh, needFH ? P_FRAG : proto, ttl, s6hi, s6lo, d6hi, d6lo);
  if (needFH) writeFH(h + 40, proto, off, more, id);
  if (udpZero) {
    const acc = sum16B(h + 8) + sum16B(h + 24) + net16(l4len) + net16(P_UDP);
    let c = finish(sum(l4, l4len, acc));
    if (c == 0) c = 0xffff;
    store<u16>(l4 + 6, c);
  } else if (csOff >= 0) {
    adjust(l4 + <usize>csOff, delta + sum16B(h + 8) + sum16B(h + 24), proto == P_UDP);
  }
  writeL2(h, 1, 0x86dd, false);
  const out = h - l2len;
  if (fragmentOut) {
    fragment6(out, l2len, l4len);
  } else {
    emit(out, l2len + 40 + fh + l4len, 1);
  }
  inc(hairpin ? C.hairpin : C.xlat_4to6);
  return -1;
}

/** Held: the frame waits in the fragment table for its first fragment. */
export const HELD: i32 = -2;

/**
 * Which CE an IPv4 packet goes to (outHi/outLo): the port comes from the first
 * fragment, later ones follow it (RFC 7599 section 10.2). -1 when found, HELD, or
 * the drop counter (ICMPv4 3/1 sent where the BR owns the address).
 */
export function selectCE(p: usize, len: u32, ip: usize, tot: u32, proto: u32, src: u32, dst: u32, id: u32, off: u32, more: bool, hairpin: bool): i32 {
  const l4 = ip + v4ihl;
  const l4len = tot - v4ihl;
  let r: i32;
  // Which CE: the port comes from the first fragment; later ones follow it.
  if (off == 0) {
    r = classify4(proto, l4, l4len, false);
    if (r >= 0) return r;
    r = mapV4(dst, cPort, cHasPort);
    if (more) {
      key4(src, dst, id, proto);
      recordFirst(cPort);
    }
  } else {
    r = mapV4(dst, 0, false); // a full address or prefix needs no port
    if (r == C.drop_ipv4_no_port) {
      key4(src, dst, id, proto);
      const f = lookupFollower(p, len, hairpin);
      if (f == FOLLOW_HELD) return HELD;
      if (f != FOLLOW_KNOWN) return f;
      r = mapV4(dst, fragPort, true);
    }
  }
  if (r >= 0) {
    // An address the BR owns whose port has no CE: ICMPv4 3/1 (RFC 7596 section 6.2
    // for lw4o6; the same for MAP). Not the BR's address at all: silent (DESIGN.md).
    if (r == C.drop_ipv4_port_unmapped || (r == C.drop_ipv4_no_binding && (mode != MODE_LW4O6 || (flags & FLAG_LW_UNREACH)))) {
      if (!hairpin) sendIcmp4(ip, tot, 3, 1, 0);
    }
    return r;
  }
  markTo(); // a traced subscriber's packet (map/trace.ts)
  return -1;
}

/** ICMPv4 -> ICMPv6 (RFC 7915 sections 4.2 and 4.3). */
function icmp4to6(p: usize, ip: usize, ihl: u32, tot: u32, ttl: u32, off: u32, more: bool, hairpin: bool): i32 {
  // The ICMPv6 checksum covers the whole message and a pseudo-header whose length is
  // the whole message's: a fragmented ICMP message cannot be translated piecewise.
  if (off != 0 || more) return C.drop_icmp_fragmented;
  const l4 = ip + ihl;
  const l4len = tot - ihl;
  const otos = <u32>load<u8>(ip + 1); // read now: the ICMPv6 header overwrites it
  if (!valid(l4, l4len, 0)) return C.drop_icmp_bad_checksum;
  const type = <u32>load<u8>(l4);
  const code = <u32>load<u8>(l4 + 1);
  const rest = ld32(l4 + 4);

  if (!isError4(type)) {
    if (!map4to6(type, code, rest, 0)) return C.drop_icmp_untranslatable;
    // RFC 7915 section 4.1 holds for a query as for any packet: over mtu.ipv6 after
    // translation, DF set -> Fragmentation Needed, DF clear -> IPv6 fragments.
    let fh: u32 = 0;
    if (l4len + 40 > mtu6) {
      if ((ld16(ip + 6) & 0x4000) != 0 && !hairpin) {
        sendIcmp4(ip, tot, 3, 4, (mtu6 - 20) & 0xffff);
        return C.drop_ipv4_too_big;
      }
      fh = 8;
    }
    const id = ld16(ip + 4); // read now: the IPv6 header overwrites it
    const h = l4 - 40 - fh;
    writeV6(h, otos, l4len + fh, fh ? P_FRAG : P_ICMPV6, ttl, s6hi, s6lo, d6hi, d6lo);
    if (fh) writeFH(h + 40, P_ICMPV6, 0, false, id);
    // type change and the ICMPv6 pseudo-header, incrementally (RFC 1624)
    const oldWord = <u32>load<u16>(l4);
    store<u8>(l4, <u8>mType);
    store<u8>(l4 + 1, <u8>mCode);
    const delta = <u64>(~oldWord & 0xffff) + <u64>load<u16>(l4) + sum16B(h + 8) + sum16B(h + 24) + net16(l4len) + net16(P_ICMPV6);
    adjust(l4 + 2, delta, false);
    writeL2(h, 1, 0x86dd, false);
    if (fh) fragment6(h - l2len, l2len, l4len);
    else emit(h - l2len, l2len + 40 + l4len, 1);
    inc(hairpin ? C.hairpin : C.xlat_4to6);
    return -1;
  }

  // An error: translate the quoted packet too. It was sent by the CE: inner source
  // = the CE (outer destination), inner destination = a host outside.
  const inner = l4 + 8;
  const innerLen = l4len - 8;
  const iihl = (<u32>load<u8>(inner) & 15) << 2;
  const itot = ld16(inner + 2);
  const itos = <u32>load<u8>(inner + 1);
  const ittl = <u32>load<u8>(inner + 8);
  const iproto = <u32>load<u8>(inner + 9);
  const iff = ld16(inner + 6);
  const ioff = iff & 0x1fff;
  const imore = (iff & 0x2000) != 0;
  const iid = ld16(inner + 4);
  const idst = ld32(inner + 16);
  if (!map4to6(type, code, rest, itot)) return C.drop_icmp_untranslatable;
  const t6 = mType;
  const c6 = mCode;
  const r6 = mRest;
  if (itot < iihl) return C.drop_icmp_inner_invalid;
  const ifh: u32 = imore || ioff != 0 ? 8 : 0;
  const ipay = inner + iihl;
  const ipayLen = innerLen - iihl; // bytes quoted (may be fewer than itot - iihl)
  const ipplen = itot - iihl; // the inner datagram's payload as declared

  // inner L4 checksum, pseudo-header delta (only where the field was quoted)
  let icsOff: i32 = -1;
  let idelta: u64 = 0;
  let iIcmp = false;
  if (ioff == 0) {
    icsOff = pseudoCsumOffset(iproto);
    if (icsOff >= 0 && ipayLen < <u32>icsOff + 2) icsOff = -1;
    if (iproto == P_UDP && icsOff >= 0 && load<u16>(ipay + 6) == 0) icsOff = -1;
    if (icsOff >= 0) idelta = neg32(load<u32>(inner + 12)) + neg32(load<u32>(inner + 16));
    if (iproto == P_ICMP && ipayLen >= 4) {
      const it = <u32>load<u8>(ipay);
      if (it == 8 || it == 0) iIcmp = true;
    }
  }

  // Layout, back from the untouched inner payload: outer IPv6 | ICMPv6 | inner IPv6
  // (| Fragment header) | inner payload.
  const ih = ipay - 40 - ifh;
  const m = ih - 8;
  const h = m - 40;
  // inner IPv6: source = the CE (as the outer destination), destination = RFC 6052
  embed6052(idst);
  const idhi = outHi;
  const idlo = outLo;
  const inh = iproto == P_ICMP ? P_ICMPV6 : iproto;
  writeV6(ih, itos, ipplen + ifh, ifh ? P_FRAG : inh, ittl, d6hi, d6lo, idhi, idlo);
  if (ifh) writeFH(ih + 40, inh, ioff, imore, iid);
  if (icsOff >= 0) adjust(ipay + <usize>icsOff, idelta + sum16B(ih + 8) + sum16B(ih + 24), iproto == P_UDP);
  if (iIcmp) {
    // the quoted echo becomes ICMPv6 echo: type and pseudo-header (RFC 7915 4.3)
    const ow = <u32>load<u16>(ipay);
    store<u8>(ipay, <u8>(load<u8>(ipay) == 8 ? 128 : 129));
    if (ipayLen >= 4) {
      const d = <u64>(~ow & 0xffff) + <u64>load<u16>(ipay) + sum16B(ih + 8) + sum16B(ih + 24) + net16(ipplen) + net16(P_ICMPV6);
      adjust(ipay + 2, d, false);
    }
  }
  // RFC 4443 2.4(c): an ICMPv6 error fits in the minimum MTU.
  let msgLen: u32 = ipayLen + ifh + 48;
  if (40 + msgLen > 1280) msgLen = 1280 - 40;
  store<u8>(m, <u8>t6);
  store<u8>(m + 1, <u8>c6);
  st16(m + 2, 0);
  st32(m + 4, r6);
  writeV6(h, otos, msgLen, P_ICMPV6, ttl, s6hi, s6lo, d6hi, d6lo);
  const acc = sum16B(h + 8) + sum16B(h + 24) + net16(msgLen) + net16(P_ICMPV6);
  store<u16>(m + 2, finish(sum(m, msgLen, acc)));
  writeL2(h, 1, 0x86dd, false);
  emit(h - l2len, l2len + 40 + msgLen, 1);
  inc(hairpin ? C.hairpin : C.xlat_4to6);
  return -1;
}

