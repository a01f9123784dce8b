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
import { brHi, brLo } from '../params';
import { emit } from '../io/frames';
import { l2len, writeL2 } from '../xlat/l2';
import { P_IPV4 } from '../xlat/proto';
import { buildIcmp4, builtIp, builtTot } from '../xlat/icmperr';
import { writeV6 } from '../xlat/headers';

const HOP_LIMIT: u32 = 64; // RFC 2473 section 6.3

/**
 * An ICMPv4 error to the (Internet) source of the packet at ip, sent on the IPv4
 * side. `reply`: the offending frame came from the IPv4 side (its MACs are swapped).
 */
export function icmp4ToInternet(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32, reply: bool): bool {
  if (!buildIcmp4(ip, ipLen, type, code, rest)) return false;
  writeL2(builtIp, 0, 0x0800, reply);
  emit(builtIp - l2len, builtTot + l2len, 0);
  inc(C.icmp4_sent);
  return true;
}

/**
 * An ICMPv4 error to the source of the packet at ip, which sits behind the CE (lwB4)
 * at IPv6 address (hi, lo): encapsulated from the BR address (RFC 2473 section 3.1),
 * sent on the IPv6 side, where the offending frame came from.
 */
export function icmp4ToCE(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32, hi: u64, lo: u64): bool {
  if (!buildIcmp4(ip, ipLen, type, code, rest)) return false;
  const h = builtIp - 40;
  writeV6(h, 0, builtTot, P_IPV4, HOP_LIMIT, brHi, brLo, hi, lo);
  writeL2(h, 1, 0x86dd, true);
  emit(h - l2len, 40 + builtTot + l2len, 1);
  inc(C.icmp4_sent);
  return true;
}
