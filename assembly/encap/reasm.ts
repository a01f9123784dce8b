// Reassembly of outer IPv6 fragments before decapsulation (RFC 2473 section 7: "the
// fragments are reassembled into a complete tunnel packet before determining that
// an embedded packet is present"; RFC 8200 section 4.5; DESIGN.md).
//
// Bounded and allocation-free: a fixed table of SLOTS datagrams in the core's static
// data, each holding up to MAX_PIECES fragments. A fragment's frame stays with the
// core, untouched, until its datagram is complete; then the pieces are copied into
// the frame of the first one (offset 0), REASM_HEADROOM bytes from its start, the
// Fragment header dropped, and the other frames freed. A datagram that cannot fit
// one frame (REASM_HEADROOM + link header + unfragmentable part + payload > frame
// size) is dropped as soon as a fragment shows it. At most a quarter of the frames
// are ever held, so fragments cannot starve the receive path.
//
// Every fragment ends in exactly one counter: tunnel_frag_held (and then its
// datagram is reassembled, `tunnel_reassembled`, or the fragment is dropped as
// drop_tunnel_reasm_timeout / _too_big / _invalid / _full), or directly in a drop.
// A datagram abandoned for a reason other than a timeout stays marked until its
// timer runs out, so its late fragments are dropped with the same reason instead of
// being held for nothing.
//
//   drop_tunnel_reasm_invalid   a non-last fragment whose length is not a multiple
//                               of 8, a datagram over 65535 bytes, overlapping
//                               fragments (RFC 5722: the whole datagram goes), or
//                               two different ends
//   drop_tunnel_reasm_too_big   the datagram does not fit one frame
//   drop_tunnel_reasm_full      no slot in the datagram's probe window, more than
//                               MAX_PIECES fragments, or the held-frame limit
//   drop_tunnel_reasm_timeout   fragments.timeout-ms after the first fragment
//
// Entry (ENTRY bytes): u8 state | u8 pieces | u8 last seen | u8 reason (dead) |
//   u32 id | f64 expiry | 16 B source | u32 total | u32 have | 8 pad |
//   MAX_PIECES x { u32 packet | u16 packet length | u16 data offset |
//                  u16 fragment offset (bytes) | u16 data length | 4 pad }

import { C, inc } from '../counters';
import { ld16, ld32, st16 } from '../net/bytes';
import { fragTimeoutMs } from '../params';
import { freeFrame, frameOf, frameSize, frameCount } from '../io/frames';
import { l2len } from '../xlat/l2';
import { nowMs } from '../xlat/clock';
import { P_FRAG } from '../xlat/proto';

const SLOTS: u32 = 256;
const ENTRY: usize = 48 + 16 * 8;
const MAX_PIECES: u32 = 8;
const WINDOW: u32 = 8;
const SWEEP: u32 = 32;

const FREE: u8 = 0;
const COLLECTING: u8 = 1;
const DEAD: u8 = 2;

/**
 * Where a reassembled packet starts in its frame: dispatch.ts's MIN_HEADROOM, so a
 * reassembled frame that the fragment table holds (an inner IPv4 fragment waiting
 * for its first) is never moved when it is handled again; the 40 + 8 bytes a
 * hairpinned packet's new IPv6 headers need fit in front of the inner packet.
 */
export const REASM_HEADROOM: usize = 96;

const table: usize = memory.data(<i32>(<usize>SLOTS * ENTRY), 16);
let live: u32 = 0; // entries not FREE
let held: u32 = 0; // frames held, all entries
let sweepAt: u32 = 0;

// ---- the Fragment header -------------------------------------------------------------

/** Offset (from the IPv6 header) of the byte naming the Fragment header's type. */
let fragNhPos: u32 = 0;

/**
 * Offset of the Fragment header of the IPv6 packet at ip (`end` bytes long), or 0
 * when it has none. Hop-by-Hop, Routing and Destination Options headers may come
 * before it (the unfragmentable part, RFC 8200 section 4.5).
 */
export function fragHeaderAt(ip: usize, end: u32): u32 {
  let nh = <u32>load<u8>(ip + 6);
  let pos: u32 = 6;
  let off: u32 = 40;
  for (let n: u32 = 0; n < 8; n++) {
    if (nh == P_FRAG) {
      fragNhPos = pos;
      return off + 8 <= end ? off : 0;
    }
    if (nh != 0 && nh != 43 && nh != 60) return 0;
    if (off + 8 > end) return 0;
    pos = off;
    nh = <u32>load<u8>(ip + off);
    off += (<u32>load<u8>(ip + off + 1) + 1) << 3;
  }
  return 0;
}

// ---- the table -------------------------------------------------------------------------

@inline function entry(i: u32): usize {
  return table + <usize>i * ENTRY;
}
@inline function piece(e: usize, i: u32): usize {
  return e + 48 + (<usize>i << 4);
}

@inline function hashKey(src: usize, id: u32): u32 {
  let h: u64 = load<u64>(src) ^ (load<u64>(src, 8) * 0x9e3779b97f4a7c15) ^ (<u64>id << 21) ^ <u64>id;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  return <u32>h;
}

@inline function matches(e: usize, src: usize, id: u32): bool {
  return load<u32>(e, 4) == id && load<u64>(e, 16) == load<u64>(src) && load<u64>(e, 24) == load<u64>(src, 8);
}

/** Frees the entry's frames, counting each under `reason`, and empties the entry. */
function release(e: usize, reason: C): void {
  const n = <u32>load<u8>(e, 1);
  for (let i: u32 = 0; i < n; i++) {
    freeFrame(<usize>load<u32>(piece(e, i)));
    inc(reason);
  }
  held -= n;
  if (load<u8>(e) != FREE) live--;
  memory.fill(e, 0, ENTRY);
}

/**
 * Abandons a datagram: its held fragments are dropped under `reason`, and the entry
 * stays DEAD until it would have expired, so later fragments get the same fate.
 */
function abandon(e: usize, reason: C): void {
  const exp = load<f64>(e, 8);
  const id = load<u32>(e, 4);
  const s0 = load<u64>(e, 16);
  const s1 = load<u64>(e, 24);
  release(e, reason);
  store<u8>(e, DEAD);
  store<u8>(e, <u8>reason, 3);
  store<u32>(e, id, 4);
  store<f64>(e, exp, 8);
  store<u64>(e, s0, 16);
  store<u64>(e, s1, 24);
  live++;
}

@inline function expired(e: usize): bool {
  return load<f64>(e, 8) <= nowMs;
}

/** The live entry of (src, id), or 0; an expired one is freed on the way. */
function find(src: usize, id: u32): usize {
  let i = hashKey(src, id) & (SLOTS - 1);
  for (let n: u32 = 0; n < WINDOW; n++) {
    const e = entry(i);
    if (load<u8>(e) != FREE && matches(e, src, id)) {
      if (expired(e)) {
        release(e, C.drop_tunnel_reasm_timeout);
        return 0;
      }
      return e;
    }
    i = (i + 1) & (SLOTS - 1);
  }
  return 0;
}

/** A new entry for (src, id) in the key's window (a free or expired slot), or 0. */
function make(src: usize, id: u32): usize {
  let i = hashKey(src, id) & (SLOTS - 1);
  for (let n: u32 = 0; n < WINDOW; n++) {
    const e = entry(i);
    const s = load<u8>(e);
    if (s == FREE || expired(e)) {
      if (s != FREE) release(e, C.drop_tunnel_reasm_timeout);
      store<u8>(e, COLLECTING);
      store<u32>(e, id, 4);
      store<f64>(e, nowMs + <f64>fragTimeoutMs, 8);
      store<u64>(e, load<u64>(src), 16);
      store<u64>(e, load<u64>(src, 8), 24);
      live++;
      return e;
    }
    i = (i + 1) & (SLOTS - 1);
  }
  return 0;
}

// ---- fragments ---------------------------------------------------------------------------

export const REASM_DONE: i32 = -3;
// The packet reasmAdd() completed (REASM_DONE): a frame of its own, link header first.
export let reasmPtr: usize = 0;
export let reasmLen: u32 = 0;

/**
 * Takes the IPv6 fragment at p (len bytes with the link header; its IPv6 header at
 * ip, checked, `total` = 40 + payload length; its Fragment header at `fo`). Returns
 * -1 when the frame is held (or was consumed by an abandoned datagram), REASM_DONE
 * when its datagram is complete (reasmPtr / reasmLen: the frame now belongs to the
 * caller), or the drop counter of this fragment (its frame is still the caller's).
 */
export function reasmAdd(p: usize, len: u32, ip: usize, total: u32, fo: u32): i32 {
  const field = ld16(ip + fo + 2);
  const off = field & 0xfff8;
  const more = (field & 1) != 0;
  const id = ld32(ip + fo + 4);
  const dataOff = l2len + fo + 8;
  const dlen = total - fo - 8;
  // RFC 8200 section 4.5: every fragment but the last is a multiple of 8 bytes long;
  // the datagram is at most 65535 bytes of payload.
  if ((more && ((dlen & 7) != 0 || dlen == 0)) || fo - 40 + off + dlen > 65535) return C.drop_tunnel_reasm_invalid;
  const src = ip + 8;
  if (off == 0 && !more) {
    // An atomic fragment (RFC 6946): a whole packet, processed as one.
    if (REASM_HEADROOM + <usize>dataOff - 8 + <usize>dlen > <usize>frameSize()) return C.drop_tunnel_reasm_too_big;
    assemble1(p, dataOff, dlen, ip, dlen);
    return REASM_DONE;
  }
  let e = find(src, id);
  if (e != 0 && load<u8>(e) == DEAD) return <i32>load<u8>(e, 3);
  // Too big for a frame, whatever the other fragments hold.
  if (REASM_HEADROOM + <usize>dataOff - 8 + <usize>off + <usize>dlen > <usize>frameSize()) {
    if (e != 0) abandon(e, C.drop_tunnel_reasm_too_big);
    else {
      e = make(src, id);
      if (e != 0) abandon(e, C.drop_tunnel_reasm_too_big);
    }
    return C.drop_tunnel_reasm_too_big;
  }
  if (e == 0) {
    e = make(src, id);
    if (e == 0) return C.drop_tunnel_reasm_full;
  }
  const n = <u32>load<u8>(e, 1);
  if (n >= MAX_PIECES || held >= (frameCount >> 2)) {
    abandon(e, C.drop_tunnel_reasm_full);
    return C.drop_tunnel_reasm_full;
  }
  // Overlaps (duplicates included) abandon the datagram (RFC 5722, RFC 8200 4.5).
  for (let i: u32 = 0; i < n; i++) {
    const q = piece(e, i);
    const qo = <u32>load<u16>(q, 8);
    const ql = <u32>load<u16>(q, 10);
    if (off < qo + ql && qo < off + dlen) {
      abandon(e, C.drop_tunnel_reasm_invalid);
      return C.drop_tunnel_reasm_invalid;
    }
  }
  const end = off + dlen;
  const lastSeen = load<u8>(e, 2) != 0;
  let tot = load<u32>(e, 32);
  if (!more) {
    // The end of the datagram: no fragment may lie beyond it, and there is one end.
    let bad = lastSeen && tot != end;
    for (let i: u32 = 0; i < n; i++) {
      const q = piece(e, i);
      if (<u32>load<u16>(q, 8) + <u32>load<u16>(q, 10) > end) bad = true;
    }
    if (bad) {
      abandon(e, C.drop_tunnel_reasm_invalid);
      return C.drop_tunnel_reasm_invalid;
    }
    tot = end;
    store<u32>(e, tot, 32);
    store<u8>(e, 1, 2);
  } else if (lastSeen && end > tot) {
    abandon(e, C.drop_tunnel_reasm_invalid);
    return C.drop_tunnel_reasm_invalid;
  }
  const q = piece(e, n);
  store<u32>(q, <u32>p);
  store<u16>(q, <u16>len, 4);
  store<u16>(q, <u16>dataOff, 6);
  store<u16>(q, <u16>off, 8);
  store<u16>(q, <u16>dlen, 10);
  store<u8>(e, <u8>(n + 1), 1);
  held++;
  inc(C.tunnel_frag_held);
  const have = load<u32>(e, 36) + dlen;
  store<u32>(e, have, 36);
  if (!load<u8>(e, 2) || have != tot) return -1;
  return assemble(e, tot);
}

/**
 * Moves the first fragment (link header, IPv6 header and unfragmentable part, then
 * its data) to REASM_HEADROOM in its frame without its Fragment header, fixing the
 * payload length and the Next Header that named the Fragment header. `tot` is the
 * datagram's fragmentable part length. Sets reasmPtr / reasmLen.
 */
function assemble1(p: usize, dataOff: u32, dlen: u32, ip: usize, tot: u32): void {
  const hdr = dataOff - 8; // link header + IPv6 header + unfragmentable part
  const fo = hdr - l2len;
  fragHeaderAt(ip, fo + 8);
  const nhPos = fragNhPos;
  const nextNh = load<u8>(ip + fo);
  const base = frameOf(p) + REASM_HEADROOM;
  // base < p, so both moves go down in memory and never clobber what they still read
  memory.copy(base, p, hdr);
  memory.copy(base + hdr, p + dataOff, dlen);
  const nip = base + l2len;
  store<u8>(nip + nhPos, nextNh);
  st16(nip + 4, fo - 40 + tot);
  reasmPtr = base;
  reasmLen = hdr + tot;
}

function assemble(e: usize, tot: u32): i32 {
  const n = <u32>load<u8>(e, 1);
  let first: u32 = 0;
  for (let i: u32 = 0; i < n; i++) if (load<u16>(piece(e, i), 8) == 0) first = i;
  const f = piece(e, first);
  const p0 = <usize>load<u32>(f);
  const dataOff0 = <u32>load<u16>(f, 6);
  // the other fragments' unfragmentable parts may differ in size: the datagram is
  // laid out after the first one's (RFC 8200 section 4.5)
  if (REASM_HEADROOM + <usize>dataOff0 - 8 + <usize>tot > <usize>frameSize()) {
    release(e, C.drop_tunnel_reasm_too_big);
    return -1;
  }
  assemble1(p0, dataOff0, <u32>load<u16>(f, 10), p0 + l2len, tot);
  const data = reasmPtr + <usize>dataOff0 - 8;
  for (let i: u32 = 0; i < n; i++) {
    if (i == first) continue;
    const q = piece(e, i);
    const pi = <usize>load<u32>(q);
    memory.copy(data + <usize>load<u16>(q, 8), pi + <usize>load<u16>(q, 6), <usize>load<u16>(q, 10));
    freeFrame(pi);
  }
  held -= n;
  live--;
  memory.fill(e, 0, ENTRY);
  inc(C.tunnel_reassembled);
  return REASM_DONE;
}

/** Frees what expired in the next few slots (called once per batch). */
export function reasmSweep(): void {
  if (live == 0) return;
  for (let n: u32 = 0; n < SWEEP; n++) {
    const e = entry(sweepAt);
    if (load<u8>(e) != FREE && expired(e)) release(e, C.drop_tunnel_reasm_timeout);
    sweepAt = (sweepAt + 1) & (SLOTS - 1);
  }
}

/** Frees every held frame (counted as timeouts) and empties the table. */
export function reasmClear(): void {
  for (let i: u32 = 0; i < SLOTS; i++) {
    const e = entry(i);
    if (load<u8>(e) != FREE) release(e, C.drop_tunnel_reasm_timeout);
  }
  live = 0;
  held = 0;
}

/** Frames held for reassembly (for tests and metrics). */
export function reasmHeld(): u32 {
  return held;
}
