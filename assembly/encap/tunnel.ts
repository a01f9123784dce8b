// MAP-E (RFC 7597) and lw4o6 (RFC 7596): IPv4 in IPv6 (RFC 2473), next header 4.
//
// IPv4 side (encap4): the CE (MAP-E: the MAP address of the rule or binding, RFC 7597
// sections 5.2, 5.3 and 6; lw4o6: the binding's B4 address, RFC 7596 section 6.2) is
// selected exactly as for MAP-T: the destination port, the echo identifier, or for an
// ICMP error the source port of the quoted packet (RFC 7596 section 8.1, RFC 5508
// REQ-3; RFC 7597 section 8.2). Then an IPv6 header from the BR address is written in
// front of the IPv4 packet, whose TTL is decremented once (DESIGN.md). Hop limit 64
// (RFC 2473 section 6.3), the inner TOS copied to the traffic class (section 6.4
// leaves it to configuration; copying keeps DSCP across the softwire), flow label 0.
// Oversize packets (RFC 2473 section 7.2): the IPv6 packet is fragmented, never the
// IPv4 one; with encap-fragment off, DF packets get Fragmentation Needed with the
// tunnel MTU (mtu.ipv6 - 40) instead.
//
// IPv6 side (decap6): only packets to the BR address are taken. Outer fragments are
// reassembled first (encap/reasm.ts, RFC 2473 section 7). An ICMPv6 error about a
// tunnel packet the BR sent is relayed to the original IPv4 source (RFC 2473 section
// 8.3; RFC 7597 section 8.2; RFC 7596 section 8). IPv4-in-IPv6 is decapsulated after
// source validation (RFC 7597 section 8.1, RFC 7596 section 6.2): the inner IPv4
// source address and port must belong to a CE / binding (else
// drop_tunnel_inner_source), and that CE's address must be the outer source (else
// drop_tunnel_bad_outer_source). MAP-E drops failures silently; lw4o6 answers them
// with ICMPv6 1/5 when errors are on (DESIGN.md). Then the inner TTL is decremented
// (expired: ICMPv4 Time Exceeded back through the softwire), and the packet leaves
// on the IPv4 side (fragmented as IPv4, or Fragmentation Needed through the softwire
// when DF is set, if it exceeds mtu.ipv4) or, for an address the BR owns, goes back
// out to that CE (hairpinning, RFC 7596 section 6.2; the TTL is not decremented
// again).

import { C, inc } from '../counters';
import { ld16, ld32 } from '../net/bytes';
import { valid, net16, sum16B } from '../net/checksum';
import { mtu4, mtu6, mode, MODE_LW4O6, flags, FLAG_FRAGMENT_ENCAP, FLAG_LW_UNREACH, FLAG_NO_HAIRPIN, brHi, brLo } from '../params';
import { emit, freeFrame } from '../io/frames';
import { loadHi, loadLo, outHi, outLo } from '../map/addr';
import { l2len, writeL2 } from '../xlat/l2';
import { P_IPV4, P_FRAG, P_ICMPV6 } from '../xlat/proto';
import { sendIcmp6 } from '../xlat/icmperr';
import { writeV6, writeFH, fragment6, fragment4 } from '../xlat/headers';
import { parse6, v6plen, v6nh, v6l4, v6frag } from '../xlat/parse6';
import { checkV4, v4ihl, v4tot, selectCE, classify4, cPort, cHasPort, HELD } from '../xlat/v4to6';
import { key4in6, recordFirst, lookupFollower, FOLLOW_HELD, FOLLOW_KNOWN, fragPort } from '../xlat/fragtable';
import { isError6 } from '../xlat/icmpmap';
import { mapV4, ownsV4 } from '../xlat/lookup4';
import { markFrom } from '../map/trace';
import { newId } from '../xlat/clock';
import { icmp4ToInternet, icmp4ToCE } from './icmp4';
import { fragHeaderAt, reasmAdd, REASM_DONE, reasmPtr, reasmLen } from './reasm';

const HOP_LIMIT: u32 = 64; // RFC 2473 section 6.3: the tunnel entry point's default

/** Decrements the IPv4 TTL at ip and patches the header checksum (RFC 1624). */
@inline function decTtl(ip: usize): void {
  store<u8>(ip + 8, load<u8>(ip + 8) - 1);
  // Loaded little-endian, the TTL/protocol word has TTL as its low byte, so the
  // word drops by 1: ~m + m' = ~m + m - 1 = 0xfffe.
  const old = <u32>load<u16>(ip + 10);
  let s = (~old & 0xffff) + 0xfffe;
  s = (s & 0xffff) + (s >> 16);
  store<u16>(ip + 10, <u16>~s);
}

// The CE a hairpinned packet came from (decap6 -> encapFrom), for the ICMPv4 errors
// about it, which go back through its softwire.
let fromHi: u64 = 0;
let fromLo: u64 = 0;

/** IPv4 from the Internet -> IPv4-in-IPv6 to its CE. */
export function encap4(p: usize, len: u32): i32 {
  return encapFrom(p, len, false);
}

/** The ICMPv4 error about a packet encapFrom refuses: to the Internet, or back to the CE it came from. */
function refuse(ip: usize, tot: u32, hairpin: bool, type: u32, code: u32, rest: u32): void {
  if (hairpin) icmp4ToCE(ip, tot, type, code, rest, fromHi, fromLo);
  else icmp4ToInternet(ip, tot, type, code, rest, true);
}

/** A hairpinned IPv4 packet (made from a CE's) that waited for its first fragment. */
export function encapHairpin(p: usize, len: u32): i32 {
  return encapFrom(p, len, true);
}

function encapFrom(p: usize, len: u32, hairpin: bool): i32 {
  const ip = p + l2len;
  let r = checkV4(ip, len - l2len);
  if (r >= 0) return r;
  const tot = v4tot;
  const ff = ld16(ip + 6);
  const off = ff & 0x1fff;
  const more = (ff & 0x2000) != 0;
  const df = (ff & 0x4000) != 0;
  const proto = <u32>load<u8>(ip + 9);
  // RFC 1812 5.3.1 (a hairpinned packet was decremented when it was decapsulated)
  if (!hairpin && <u32>load<u8>(ip + 8) <= 1) {
    icmp4ToInternet(ip, tot, 11, 0, 0, true);
    return C.drop_ipv4_ttl_expired;
  }
  // selectCE sends ICMPv4 3/1 to an Internet source itself; a CE's gets it here.
  r = selectCE(p, len, ip, tot, proto, ld32(ip + 12), ld32(ip + 16), ld16(ip + 4), off, more, hairpin);
  if (r == HELD) return -1;
  if (r != -1) {
    if (hairpin && (r == C.drop_ipv4_port_unmapped || (r == C.drop_ipv4_no_binding && (mode != MODE_LW4O6 || (flags & FLAG_LW_UNREACH))))) {
      icmp4ToCE(ip, tot, 3, 1, 0, fromHi, fromLo);
    }
    return r;
  }
  let fragmentOut = false;
  if (tot + 40 > mtu6) {
    if (df && !(flags & FLAG_FRAGMENT_ENCAP)) {
      // RFC 2473 section 7.2 (a): the tunnel MTU
      refuse(ip, tot, hairpin, 3, 4, (mtu6 - 40) & 0xffff);
      return C.drop_ipv4_too_big;
    }
    fragmentOut = true;
  }
  if (!hairpin) decTtl(ip);
  const fh: u32 = fragmentOut ? 8 : 0;
  const h = ip - 40 - fh;
  const tos = <u32>load<u8>(ip + 1);
  writeV6(h, tos, tot + fh, fragmentOut ? P_FRAG : P_IPV4, HOP_LIMIT, brHi, brLo, outHi, outLo);
  if (fragmentOut) writeFH(h + 40, P_IPV4, 0, false, newId() | (newId() << 16));
  writeL2(h, 1, 0x86dd, false);
  if (fragmentOut) fragment6(h - l2len, l2len, tot);
  else emit(h - l2len, l2len + 40 + tot, 1);
  inc(hairpin ? C.hairpin : C.encap_4in6);
  return -1;
}

/** IPv6 to the BR: IPv4-in-IPv6 from a CE / lwB4, its fragments, or ICMPv6 about a tunnel packet. */
export function decap6(p: usize, len: u32): i32 {
  const ip = p + l2len;
  const ipLen = len - l2len;
  if (ipLen < 40) return C.drop_ipv6_truncated;
  if ((<u32>load<u8>(ip) >> 4) != 6) return C.drop_ipv6_bad_header;
  const total = ld16(ip + 4) + 40;
  if (total > ipLen) return C.drop_ipv6_bad_length;
  if (loadHi(ip + 24) != brHi || loadLo(ip + 24) != brLo) return C.drop_tunnel_bad_br_address;
  if (<u32>load<u8>(ip + 6) != P_IPV4) {
    // Outer fragments are reassembled before anything else is looked at (RFC 2473
    // section 7, RFC 8200 section 4.5: a non-first fragment's data is not headers).
    const fo = fragHeaderAt(ip, total);
    if (fo != 0) {
      const r = reasmAdd(p, len, ip, total, fo);
      if (r != REASM_DONE) return r;
      const q = reasmPtr;
      const d = decapWhole(q, reasmLen);
      if (d >= 0) {
        inc(<C>d);
        freeFrame(q);
      }
      return -1;
    }
  }
  return decapWhole(p, len);
}

/** decap6 for a whole (unfragmented or reassembled) IPv6 packet to the BR. */
function decapWhole(p: usize, len: u32): i32 {
  const ip = p + l2len;
  let r = parse6(ip, len - l2len);
  if (r >= 0) return r;
  if (v6frag) return C.drop_tunnel_reasm_invalid; // a Fragment header left after reassembly
  const total: u32 = v6plen + 40;
  if (v6nh == P_ICMPV6) return tunnelError(p, ip, total);
  if (v6nh != P_IPV4) return C.drop_tunnel_not_ipv4;
  const inner = ip + v6l4;
  r = checkV4(inner, total - v6l4);
  if (r >= 0) return C.drop_tunnel_inner_invalid;
  const itot = v4tot;
  const ihl = v4ihl;
  const ff = ld16(inner + 6);
  const off = ff & 0x1fff;
  const more = (ff & 0x2000) != 0;
  const proto = <u32>load<u8>(inner + 9);
  const isrc = ld32(inner + 12);
  const idst = ld32(inner + 16);
  const iid = ld16(inner + 4);
  const shi = loadHi(ip + 8);
  const slo = loadLo(ip + 8);
  // The inner source port (non-first inner fragments follow their first fragment's).
  let port: u32 = 0;
  let hasPort = false;
  if (off == 0) {
    r = classify4(proto, inner + ihl, itot - ihl, true);
    if (r >= 0) return r;
    port = cPort;
    hasPort = cHasPort;
    r = mapV4(isrc, port, hasPort);
  } else {
    r = mapV4(isrc, 0, false); // a full address or prefix needs no port
    if (r == C.drop_ipv4_no_port) {
      key4in6(isrc, idst, iid, proto);
      const f = lookupFollower(p, len, false);
      if (f == FOLLOW_HELD) return -1;
      if (f != FOLLOW_KNOWN) return f;
      r = mapV4(isrc, fragPort, true);
    }
  }
  // Source validation (RFC 7597 section 8.1, RFC 7596 section 6.2).
  if (r >= 0 || outHi != shi || outLo != slo) {
    // lw4o6: ICMPv6 1/5 when errors are on (RFC 7596 section 6.2); MAP-E: silent
    // (RFC 7597 section 8.1).
    if (mode == MODE_LW4O6) sendIcmp6(ip, total, 1, 5, 0, false, false);
    return r >= 0 ? C.drop_tunnel_inner_source : C.drop_tunnel_bad_outer_source;
  }
  markFrom(); // a traced subscriber's packet (map/trace.ts)
  // A validated first fragment: its followers take its port (recorded only now, so
  // a spoofed first fragment cannot set the port of a flow).
  if (off == 0 && more) {
    key4in6(isrc, idst, iid, proto);
    recordFirst(port);
  }
  if (<u32>load<u8>(inner + 8) <= 1) {
    icmp4ToCE(inner, itot, 11, 0, 0, shi, slo);
    return C.drop_ipv4_ttl_expired;
  }
  // RFC 7596 section 6.2: the hairpinning policy is configurable (hairpinning: false)
  if ((flags & FLAG_NO_HAIRPIN) && ownsV4(idst)) return C.drop_hairpin_disabled;
  decTtl(inner);
  // The frame becomes an IPv4 frame (link header in front of the inner packet), so
  // that a hairpinned fragment the fragment table holds is an IPv4 frame when it is
  // handled again.
  writeL2(inner, 0, 0x0800, false);
  if (ownsV4(idst)) {
    // CE to CE through the BR (RFC 7596 section 6.2; RFC 7597 section 7.1's BR
    // forwarding for CEs without the other's FMR).
    fromHi = shi;
    fromLo = slo;
    return encapFrom(inner - l2len, l2len + itot, true);
  }
  if (itot > mtu4) {
    // The IPv4 next hop's MTU (RFC 791, RFC 1191): DF set -> Fragmentation Needed
    // back through the softwire; else IPv4 fragments. Options would have to be
    // sorted into copied and not copied: such a packet is dropped.
    if ((ff & 0x4000) != 0 || ihl != 20) {
      if ((ff & 0x4000) != 0) icmp4ToCE(inner, itot, 3, 4, mtu4 & 0xffff, shi, slo);
      return C.drop_ipv4_too_big;
    }
    fragment4(inner - l2len, l2len, itot - 20);
    inc(C.decap_4in6);
    return -1;
  }
  emit(inner - l2len, l2len + itot, 0);
  inc(C.decap_4in6);
  return -1;
}

/**
 * An ICMPv6 message to the BR address. An error about a tunnel packet the BR sent
 * (its quote: IPv6 from `br` carrying IPv4, a first fragment at most) is relayed to
 * the original IPv4 source as RFC 2473 section 8.3 says: Hop Limit Exceeded and
 * Destination Unreachable become ICMPv4 3/1; Packet Too Big becomes 3/4 with its MTU
 * minus the tunnel header, when the original had DF set (section 7.2). Other types
 * (Parameter Problem: this BR adds no Tunnel Encapsulation Limit) are not relayed.
 * The tunnel MTU itself stays mtu.ipv6 (RFC 7597 section 8.3.1: no PMTUD across
 * the domain). The original source is on the Internet, or behind another CE when
 * the original was hairpinned; then the ICMPv4 goes through that CE's softwire.
 */
function tunnelError(p: usize, ip: usize, total: u32): i32 {
  const l4 = ip + v6l4;
  const l4len = total - v6l4;
  if (l4len < 8) return C.drop_icmp_truncated;
  const type = <u32>load<u8>(l4);
  if (!isError6(type)) return C.drop_tunnel_not_ipv4; // echo and the like: not tunnel traffic
  const pseudo = sum16B(ip + 8) + sum16B(ip + 24) + net16(l4len) + net16(P_ICMPV6);
  if (!valid(l4, l4len, pseudo)) return C.drop_icmp_bad_checksum;
  // The quoted tunnel packet.
  const q = l4 + 8;
  const qlen = l4len - 8;
  if (qlen < 60 || (<u32>load<u8>(q) >> 4) != 6) return C.drop_tunnel_icmp_invalid;
  if (loadHi(q + 8) != brHi || loadLo(q + 8) != brLo) return C.drop_tunnel_icmp_invalid;
  let nh = <u32>load<u8>(q + 6);
  let qo: u32 = 40;
  if (nh == P_FRAG) {
    if (qlen < 68) return C.drop_tunnel_icmp_invalid;
    if ((ld16(q + 42) >> 3) != 0) return C.drop_tunnel_icmp_not_relayed; // quotes no IPv4 header
    nh = <u32>load<u8>(q + 40);
    qo = 48;
  }
  if (nh != P_IPV4) return C.drop_tunnel_icmp_invalid;
  const orig = q + qo;
  const olen = qlen - qo;
  const ovihl = <u32>load<u8>(orig);
  const oihl = (ovihl & 15) << 2;
  if ((ovihl >> 4) != 4 || oihl < 20 || oihl > olen) return C.drop_tunnel_icmp_invalid;
  const otot = ld16(orig + 2);
  const off = ffOff(orig);
  const oproto = <u32>load<u8>(orig + 9);
  const odst = ld32(orig + 16);
  const osrc = ld32(orig + 12);
  // Only what this BR could have sent: the original's destination (and port) maps to
  // the quoted tunnel destination. An ICMPv4 error is never sent about a non-first
  // fragment (RFC 1812 4.3.2.7).
  if (off != 0) return C.drop_tunnel_icmp_not_relayed;
  let l4have = olen - oihl;
  if (otot >= oihl && otot - oihl < l4have) l4have = otot - oihl;
  if (classify4(oproto, orig + oihl, l4have, false) >= 0) return C.drop_tunnel_icmp_invalid;
  if (mapV4(odst, cPort, cHasPort) >= 0 || outHi != loadHi(q + 24) || outLo != loadLo(q + 24)) return C.drop_tunnel_icmp_invalid;
  let t4: u32 = 3;
  let c4: u32 = 1;
  let rest: u32 = 0;
  if (type == 2) {
    if ((ld16(orig + 6) & 0x4000) == 0) return C.drop_tunnel_icmp_not_relayed;
    let mtu = ld32(l4 + 4);
    if (mtu < 1280) mtu = 1280; // no IPv6 link is smaller (RFC 8200 section 5)
    mtu -= 40;
    if (mtu > 0xffff) mtu = 0xffff;
    c4 = 4;
    rest = mtu;
  } else if (type != 1 && type != 3) {
    return C.drop_tunnel_icmp_not_relayed;
  }
  let sent = false;
  if (ownsV4(osrc)) {
    // hairpinned: the source's CE owns the source address and port
    if (classify4(oproto, orig + oihl, l4have, true) < 0 && mapV4(osrc, cPort, cHasPort) < 0) {
      sent = icmp4ToCE(orig, olen, t4, c4, rest, outHi, outLo);
    }
  } else {
    sent = icmp4ToInternet(orig, olen, t4, c4, rest, false);
  }
  if (!sent) return C.drop_tunnel_icmp_not_relayed;
  inc(C.tunnel_icmp_relayed);
  freeFrame(p); // the message was copied into a frame of its own
  return -1;
}

@inline function ffOff(ip: usize): u32 {
  return ld16(ip + 6) & 0x1fff;
}
