// Writers for the IPv6 and IPv4 headers the core builds, and the output fragmenters
// (RFC 7915 sections 4.1 and 5.1.1; RFC 8200 section 4.5; RFC 791).

import { C, inc } from '../counters';
import { ld16, st16, st32 } from '../net/bytes';
import { sum, finish } from '../net/checksum';
import { mtu4, mtu6 } from '../params';
import { allocFrame, emit } from '../io/frames';
import { storeAddr } from '../map/addr';
import { HEADROOM } from './icmperr';

/** A 40-byte IPv6 header at h (flow label 0, RFC 7915 section 4.1). */
export function writeV6(h: usize, tc: u32, plen: u32, nh: u32, hl: u32, shi: u64, slo: u64, dhi: u64, dlo: u64): void {
  st32(h, 0x60000000 | (tc << 20));
  st16(h + 4, plen);
  store<u8>(h + 6, <u8>nh);
  store<u8>(h + 7, <u8>hl);
  storeAddr(h + 8, shi, slo);
  storeAddr(h + 24, dhi, dlo);
}

/** An IPv6 Fragment header (RFC 8200 4.5); offset in 8-byte units. */
export function writeFH(f: usize, nh: u32, offset: u32, more: bool, id: u32): void {
  store<u8>(f, <u8>nh);
  store<u8>(f + 1, 0);
  st16(f + 2, (offset << 3) | (more ? 1 : 0));
  st32(f + 4, id);
}

/** A 20-byte IPv4 header at h, checksum included. `frag` = flags and offset field. */
export function writeV4(h: usize, tos: u32, tot: u32, id: u32, frag: u32, ttl: u32, proto: u32, src: u32, dst: u32): void {
  st32(h, 0x45000000 | (tos << 16) | tot);
  st16(h + 4, id);
  st16(h + 6, frag);
  store<u8>(h + 8, <u8>ttl);
  store<u8>(h + 9, <u8>proto);
  st16(h + 10, 0);
  st32(h + 12, src);
  st32(h + 16, dst);
  store<u16>(h + 10, finish(sum(h, 20, 0)));
}

/**
 * Splits the IPv6 packet at `out` (l2 bytes of link header, a 40-byte IPv6 header,
 * an 8-byte Fragment header, then payLen bytes) into fragments of at most mtu.ipv6
 * bytes, emitted in order on the IPv6 side. The first stays in its frame.
 */
export function fragment6(out: usize, l2: u32, payLen: u32): void {
  const h = out + l2;
  const fh = h + 40;
  const unit = (mtu6 - 48) & ~7;
  const field = ld16(fh + 2);
  const origOff = field >> 3;
  const origMore = (field & 1) != 0;
  const hdr = l2 + 48;
  // the first fragment: [0, unit)
  st16(h + 4, 8 + unit);
  st16(fh + 2, (origOff << 3) | 1);
  emit(out, hdr + unit, 1);
  inc(C.frag_out6);
  let pos = unit;
  while (pos < payLen) {
    let chunk = payLen - pos;
    const last = chunk <= unit;
    if (!last) chunk = unit;
    const f = allocFrame();
    if (!f) {
      inc(C.drop_no_frame);
      return;
    }
    const o = f + HEADROOM;
    memory.copy(o, out, hdr);
    memory.copy(o + hdr, fh + 8 + pos, chunk);
    st16(o + l2 + 4, 8 + chunk);
    st16(o + l2 + 42, ((origOff + (pos >> 3)) << 3) | (last && !origMore ? 0 : 1));
    emit(o, hdr + chunk, 1);
    inc(C.frag_out6);
    pos += chunk;
  }
}

/**
 * Splits the IPv4 packet at `out` (l2 bytes, a 20-byte IPv4 header, payLen bytes)
 * into fragments of at most mtu.ipv4 bytes (RFC 791), emitted on the IPv4 side.
 */
export function fragment4(out: usize, l2: u32, payLen: u32): void {
  const h = out + l2;
  const unit = (mtu4 - 20) & ~7;
  const field = ld16(h + 6);
  const origOff = field & 0x1fff;
  const origMore = (field & 0x2000) != 0;
  const hdr = l2 + 20;
  st16(h + 2, 20 + unit);
  st16(h + 6, 0x2000 | origOff);
  st16(h + 10, 0);
  store<u16>(h + 10, finish(sum(h, 20, 0)));
  emit(out, hdr + unit, 0);
  inc(C.frag_out4);
  let pos = unit;
  while (pos < payLen) {
    let chunk = payLen - pos;
    const last = chunk <= unit;
    if (!last) chunk = unit;
    const f = allocFrame();
    if (!f) {
      inc(C.drop_no_frame);
      return;
    }
    const o = f + HEADROOM;
    const oh = o + l2;
    memory.copy(o, out, hdr);
    memory.copy(o + hdr, h + 20 + pos, chunk);
    st16(oh + 2, 20 + chunk);
    st16(oh + 6, (last && !origMore ? 0 : 0x2000) | (origOff + (pos >> 3)));
    st16(oh + 10, 0);
    store<u16>(oh + 10, finish(sum(oh, 20, 0)));
    emit(o, hdr + chunk, 0);
    inc(C.frag_out4);
    pos += chunk;
  }
}
