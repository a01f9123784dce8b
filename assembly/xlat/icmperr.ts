// ICMP errors the BR itself sends (icmp.errors: true), rate-limited per worker.
//
// Sources: ICMPv4 errors come from icmp.ipv4-source (default 192.0.0.8, RFC 7600's
// IPv4 dummy address; RFC 6791 leaves the choice to the operator); ICMPv6 errors from
// the `br` address (map-e, lw4o6) or icmp.ipv6-source (map-t), both carried in the
// blob's BR field.
//
// Never sent about (RFC 1122 3.2.2, RFC 1812 4.3.2.7, RFC 4443 2.4(e)): an ICMP
// error, a non-first fragment, a packet from an unspecified, multicast or broadcast
// source. Sizes: at most 576 bytes for ICMPv4 (RFC 1812 4.3.2.3), 1280 for ICMPv6
// (RFC 4443 2.4(c)).

import { C, inc } from '../counters';
import { ld16, ld32, st16, st32 } from '../net/bytes';
import { sum, finish, net16, sum16B } from '../net/checksum';
import { flags, FLAG_ICMP_ERRORS, icmpSrc4, brHi, brLo } from '../params';
import { allocFrame, emit } from '../io/frames';
import { storeAddr } from '../map/addr';
import { icmpAllowed, newId } from './clock';
import { l2len, writeL2 } from './l2';
import { P_ICMP, P_ICMPV6 } from './proto';

export const HEADROOM: usize = 256;

@inline function errorsOn(): bool {
  return (flags & FLAG_ICMP_ERRORS) != 0;
}

/** True when an ICMPv4 error may be sent about the IPv4 packet at ip. */
function allowed4(ip: usize, ipLen: u32): bool {
  if (!errorsOn() || ipLen < 20) return false;
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

// The message buildIcmp4() made: its IPv4 header's address and total length.
export let builtIp: usize = 0;
export let builtTot: u32 = 0;

/**
 * Builds ICMPv4 type/code (`rest`: the 32-bit field after the checksum) about the
 * IPv4 packet at ip (ipLen bytes of it are here) in a new frame, HEADROOM bytes in
 * (room for a link header or an IPv6 header). False when it may not or cannot be
 * sent (counted: icmp_rate_limited, drop_no_frame).
 */
export function buildIcmp4(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32): bool {
  if (!allowed4(ip, ipLen)) return false;
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
  builtIp = o;
  builtTot = tot;
  return true;
}

/** Sends ICMPv4 type/code (with the 32-bit `rest` field) about the IPv4 packet at ip. */
export function sendIcmp4(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32): void {
  if (!buildIcmp4(ip, ipLen, type, code, rest)) return;
  writeL2(builtIp, 0, 0x0800, true);
  emit(builtIp - l2len, builtTot + l2len, 0);
  inc(C.icmp4_sent);
}

/**
 * Sends ICMPv6 type/code about the IPv6 packet at ip. `isError` tells that the
 * offending packet is itself an ICMPv6 error (the caller has walked its headers).
 */
export function sendIcmp6(ip: usize, ipLen: u32, type: u32, code: u32, rest: u32, isError: bool, nonFirstFrag: bool): void {
  if (!errorsOn() || isError || nonFirstFrag) return;
  // source must be a unicast address: not :: and not ff00::/8
  const s0 = load<u8>(ip + 8);
  if (s0 == 0xff) return;
  if (load<u64>(ip + 8) == 0 && load<u64>(ip + 16) == 0) return;
  if (!icmpAllowed()) {
    inc(C.icmp_rate_limited);
    return;
  }
  const f = allocFrame();
  if (!f) {
    inc(C.drop_no_frame);
    return;
  }
  const o = f + HEADROOM;
  let quote = ipLen;
  if (quote > 1280 - 48) quote = 1280 - 48;
  const plen: u32 = quote + 8;
  memory.copy(o + 48, ip, quote);
  st32(o, 0x60000000);
  st16(o + 4, plen);
  store<u8>(o + 6, <u8>P_ICMPV6);
  store<u8>(o + 7, 64);
  storeAddr(o + 8, brHi, brLo);
  memory.copy(o + 24, ip + 8, 16);
  const m = o + 40;
  store<u8>(m, <u8>type);
  store<u8>(m + 1, <u8>code);
  st16(m + 2, 0);
  st32(m + 4, rest);
  let acc = sum16B(o + 8) + sum16B(o + 24) + net16(plen) + net16(P_ICMPV6);
  store<u16>(m + 2, finish(sum(m, plen, acc)));
  writeL2(o, 1, 0x86dd, true);
  emit(o - l2len, 40 + plen + l2len, 1);
  inc(C.icmp6_sent);
}
