// ICMPv4 errors the BR sends in the encapsulation modes (icmp.errors: true, rate-
// limited with the translator's errors, xlat/clock.ts), delivered one of two ways:
//
//   toward the Internet: a plain IPv4 packet on the IPv4 side;
//   toward a CE / lwB4: the same ICMPv4 packet encapsulated in IPv6 from the `br`
//     address to the CE's address. The IPv4 source of a packet the BR decapsulated
//     lives behind a softwire, so its errors go back through it: an inner TTL that
//     expires at the BR (RFC 1812 5.3.1), a hairpinned packet with no CE for its port
//     (RFC 7596 section 6.2's 3/1), a decapsulated or hairpinned packet too big for
//     the next link with DF set (RFC 1191), and RFC 2473 section 8.3 relays about
//     packets a CE sent through the BR to another CE.
//
// Never sent about (RFC 1122 3.2.2, RFC 1812 4.3.2.7): an ICMP error, a non-first
// fragment, a packet from an unspecified, multicast, broadcast or loopback source.
// At most 576 bytes of IPv4 (RFC 1812 4.3.2.3); the source is icmp.ipv4-source.

import { C, inc } from '../counters';
import { ld16, ld32, st16, st32 } from '../net/bytes';
import { sum, finish } from '../net/checksum';
import { flags, FLAG_ICMP_ERRORS, icmpSrc4, brHi, brLo } from '../params';
import { allocFrame, emit } from '../io/frames';
import { icmpAllowed, newId } from '../xlat/clock';
import { l2len, writeL2 } from '../xlat/l2';
import { P_ICMP, P_IPV4 } from '../xlat/proto';
import { HEADROOM } from '../xlat/icmperr';
import { writeV6 } from '../xlat/headers';

const HOP_LIMIT: u32 = 64; // RFC 2473 section 6.3

// The message build() made: its IPv4 header and total length.
let bIp: usize = 0;
let bTot: u32 = 0;

/** True when an ICMPv4 error may be sent about the IPv4 packet at ip. */
function allowed(ip: usize, ipLen: u32): bool {
  if (!(flags & FLAG_ICMP_ERRORS)) return false;
  if (ipLen < 20) return false;
  const src = ld32(ip + 12);
  if (src == 0 || (src >> 28) == 0xe || src == 0xffffffff || (src >> 24) == 127) return false;
  if ((ld16(ip + 6) & 0x1fff) != 0) return false;
  const ihl = (<u32>load<u8>(ip) & 15) << 2;
  if (<u32>load<u8>(ip + 9) == P_ICMP && ipLen > ihl) {
    const t = <u32>load<u8>(ip + ihl);
    // only query messages may be answered with an error
    if (t != 8 && t != 0 && t != 13 && t != 14) return false;
  }
  return true;
}

/**
 * Builds ICMPv4 type/code (`rest`: the 32-bit field after the checksum) about the
 * IPv4 packet at ip (ipLen bytes of it are here) in a new frame, with room in front
 * for an IPv6 header. False when it may not or cannot be sent.
 */
function build(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32): bool {
  if (!allowed(ip, ipLen)) return false;
  if (!icmpAllowed()) {
    inc(C.icmp_rate_limited);
    return false;
  }
  const f = allocFrame();
  if (!f) {
    inc(C.drop_no_frame);
    return false;
  }
  const o = f + HEADROOM;
  let quote = ipLen;
  if (quote > 576 - 28) quote = 576 - 28;
  const tot: u32 = quote + 28;
  memory.copy(o + 28, ip, quote);
  st32(o, 0x45000000 | tot);
  st16(o + 4, newId());
  st16(o + 6, 0);
  store<u8>(o + 8, 64);
  store<u8>(o + 9, <u8>P_ICMP);
  st16(o + 10, 0);
  st32(o + 12, icmpSrc4);
  st32(o + 16, ld32(ip + 12));
  store<u16>(o + 10, finish(sum(o, 20, 0)));
  const m = o + 20;
  store<u8>(m, <u8>type);
  store<u8>(m + 1, <u8>code);
  st16(m + 2, 0);
  st32(m + 4, rest);
  store<u16>(m + 2, finish(sum(m, 8 + quote, 0)));
  bIp = o;
  bTot = tot;
  return true;
}

/**
 * An ICMPv4 error to the (Internet) source of the packet at ip, sent on the IPv4
 * side. `reply`: the offending frame came from the IPv4 side (its MACs are swapped).
 */
export function icmp4ToInternet(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32, reply: bool): bool {
  if (!build(ip, ipLen, type, code, rest)) return false;
  writeL2(bIp, 0, 0x0800, reply);
  emit(bIp - l2len, bTot + l2len, 0);
  inc(C.icmp4_sent);
  return true;
}

/**
 * An ICMPv4 error to the source of the packet at ip, which sits behind the CE (lwB4)
 * at IPv6 address (hi, lo): encapsulated from the BR address (RFC 2473 section 3.1),
 * sent on the IPv6 side, where the offending frame came from.
 */
export function icmp4ToCE(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32, hi: u64, lo: u64): bool {
  if (!build(ip, ipLen, type, code, rest)) return false;
  const h = bIp - 40;
  writeV6(h, 0, bTot, P_IPV4, HOP_LIMIT, brHi, brLo, hi, lo);
  writeL2(h, 1, 0x86dd, true);
  emit(h - l2len, 40 + bTot + l2len, 1);
  inc(C.icmp4_sent);
  return true;
}
