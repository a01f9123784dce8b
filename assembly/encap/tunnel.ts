// MAP-E (RFC 7597) and lw4o6 (RFC 7596): IPv4 in IPv6 (RFC 2473), next header 4.
//
// IPv4 side: the CE (MAP-E: the MAP address of the rule or binding; lw4o6: the
// binding's B4 address) is selected exactly as for MAP-T, then an IPv6 header from
// the BR address is written in front of the IPv4 packet, whose TTL is decremented
// once (DESIGN.md). Oversize packets: the IPv6 packet is fragmented (RFC 2473
// section 7, RFC 6333 section 6.3), never the IPv4 one; with encap-fragment off, DF
// packets get Fragmentation Needed instead.
//
// IPv6 side: only packets to the BR address carrying IPv4 are taken; the outer
// source must be the address the inner source (address and port) maps to (RFC 7597
// section 8.1, RFC 7596 section 6.2). MAP-E drops failures silently; lw4o6 answers
// them with ICMPv6 1/5 when errors are on (DESIGN.md).

import { C, inc } from '../counters';
import { ld16, ld32 } from '../net/bytes';
import { mtu6, mode, MODE_LW4O6, flags, FLAG_FRAGMENT_ENCAP, brHi, brLo } from '../params';
import { emit } from '../io/frames';
import { loadHi, loadLo, outHi, outLo } from '../map/addr';
import { l2len, writeL2 } from '../xlat/l2';
import { P_IPV4, P_FRAG } from '../xlat/proto';
import { sendIcmp4, sendIcmp6 } from '../xlat/icmperr';
import { writeV6, writeFH, fragment6 } from '../xlat/headers';
import { parse6, v6plen, v6nh, v6l4, v6frag } from '../xlat/parse6';
import { checkV4, v4ihl, v4tot, selectCE, classify4, cPort, cHasPort, HELD } from '../xlat/v4to6';
import { key4, recordFirst, lookupFollower, FOLLOW_HELD, FOLLOW_KNOWN, fragPort } from '../xlat/fragtable';
import { mapV4, ownsV4 } from '../xlat/lookup4';
import { newId } from '../xlat/clock';

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

/** IPv4 from the Internet (or hairpinned from a CE) -> IPv4-in-IPv6 to its CE. */
export function encap4(p: usize, len: u32): i32 {
  return encapFrom(p, len, false);
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
  if (!hairpin && <u32>load<u8>(ip + 8) <= 1) {
    sendIcmp4(ip, tot, 11, 0, 0);
    return C.drop_ipv4_ttl_expired;
  }
  r = selectCE(p, len, ip, tot, proto, ld32(ip + 12), ld32(ip + 16), ld16(ip + 4), off, more, hairpin);
  if (r == HELD) return -1;
  if (r != -1) return r;
  let fragmentOut = false;
  if (tot + 40 > mtu6) {
    if (df && !(flags & FLAG_FRAGMENT_ENCAP) && !hairpin) {
      sendIcmp4(ip, tot, 3, 4, (mtu6 - 40) & 0xffff);
      return C.drop_ipv4_too_big;
    }
    fragmentOut = true;
  }
  if (!hairpin) decTtl(ip);
  const fh: u32 = fragmentOut ? 8 : 0;
  const h = ip - 40 - fh;
  const tos = <u32>load<u8>(ip + 1);
  // RFC 2473 section 6.5 leaves the traffic class to configuration; the inner TOS
  // is copied so DSCP survives the tunnel.
  writeV6(h, tos, tot + fh, fragmentOut ? P_FRAG : P_IPV4, HOP_LIMIT, brHi, brLo, outHi, outLo);
  if (fragmentOut) writeFH(h + 40, P_IPV4, 0, false, newId() | (newId() << 16));
  writeL2(h, 1, 0x86dd, false);
  if (fragmentOut) fragment6(h - l2len, l2len, tot);
  else emit(h - l2len, l2len + 40 + tot, 1);
  inc(hairpin ? C.hairpin : C.encap_4in6);
  return -1;
}

/** IPv4-in-IPv6 from a CE / B4 -> the IPv4 packet, after source validation. */
export function decap6(p: usize, len: u32): i32 {
  const ip = p + l2len;
  const ipLen = len - l2len;
  let r = parse6(ip, ipLen);
  if (r >= 0) return r;
  if (loadHi(ip + 24) != brHi || loadLo(ip + 24) != brLo) return C.drop_tunnel_bad_br_address;
  // DESIGN.md: outer fragments are reassembled before decapsulation; until the
  // reassembly buffer exists they are counted here, never decapsulated piecemeal.
  if (v6frag) return C.drop_tunnel_outer_fragment;
  if (v6nh != P_IPV4) return C.drop_tunnel_not_ipv4;
  const total: u32 = v6plen + 40;
  const inner = ip + v6l4;
  const innerLen = total - v6l4;
  r = checkV4(inner, innerLen);
  if (r >= 0) return C.drop_tunnel_inner_invalid;
  const itot = v4tot;
  const ihl = v4ihl;
  const ff = ld16(inner + 6);
  const off = ff & 0x1fff;
  const proto = <u32>load<u8>(inner + 9);
  const isrc = ld32(inner + 12);
  const idst = ld32(inner + 16);
  // Inner non-first fragments have no port: they follow their first fragment.
  const more = (ff & 0x2000) != 0;
  const iid = ld16(inner + 4);
  if (off == 0) {
    r = classify4(proto, inner + ihl, itot - ihl, true);
    if (r >= 0) return r;
    r = mapV4(isrc, cPort, cHasPort);
    if (more) {
      key4(isrc, idst, iid, proto);
      recordFirst(cPort);
    }
  } else {
    r = mapV4(isrc, 0, false);
    if (r == C.drop_ipv4_no_port) {
      key4(isrc, idst, iid, proto);
      const f = lookupFollower(p, len);
      if (f == FOLLOW_HELD) return -1;
      if (f != FOLLOW_KNOWN) return f;
      r = mapV4(isrc, fragPort, true);
    }
  }
  if (r >= 0 || outHi != loadHi(ip + 8) || outLo != loadLo(ip + 8)) {
    // RFC 7596 section 6.2 (lw4o6): ICMPv6 1/5 when errors are on; RFC 7597
    // section 8.1 (MAP-E): silent.
    if (mode == MODE_LW4O6) sendIcmp6(ip, total, 1, 5, 0, false, false);
    return C.drop_tunnel_bad_outer_source;
  }
  if (<u32>load<u8>(inner + 8) <= 1) return C.drop_ipv4_ttl_expired;
  decTtl(inner);
  if (ownsV4(idst)) {
    // CE to CE through the BR (RFC 7597 section 8.2 / RFC 7596 section 6.2 hairpin).
    return encapFrom(inner - l2len, l2len + itot, true);
  }
  writeL2(inner, 0, 0x0800, false);
  emit(inner - l2len, l2len + itot, 0);
  inc(C.decap_4in6);
  return -1;
}

