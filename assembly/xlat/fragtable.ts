// Fragment flows (RFC 7599 section 10.2, RFC 7597 section 8.3.2): a non-first
// fragment carries no port, so it follows the port its flow's first fragment had.
// The table is bounded: `slots` entries of 64 bytes, each living fragments.timeout-ms
// after its flow's last fragment, looked up in a window of 8 slots.
//
// A non-first fragment that arrives before its first one is held (its frame stays
// with the core, untouched), at most HELD_MAX per flow; when the first fragment
// arrives the held ones are queued for handling right after it (takePending). Held
// frames of a flow whose first fragment never comes are freed when the flow expires
// and counted as drop_frag_timeout. When no slot of the window is free the fragment
// is dropped as drop_frag_table_full (a first fragment is still translated, and
// counted as such: only its followers then miss their state, and are counted when
// they are dropped).
//
// Entry: u8 kind (0 free, 4, 6) | u8 proto | u16 port | u32 id | f64 expiry |
//        16 B source | 16 B destination | u8 held | u8 known | u16 len0 |
//        u32 addr0 | u32 addr1 | u16 len1 | u8 hairpin flags | 1 pad

import { C, inc } from '../counters';
import { fragTimeoutMs } from '../params';
import { freeFrame } from '../io/frames';
import { nowMs } from './clock';

const ENTRY: usize = 64;
const WINDOW: u32 = 8;
const HELD_MAX: u32 = 2;

let base: usize = 0;
let mask: u32 = 0;
let sweepAt: u32 = 0;

// The key of the fragment being handled (set by key4 / key6).
let kKind: u32 = 0;
let kProto: u32 = 0;
let kId: u32 = 0;
let kSrc0: u64 = 0;
let kSrc1: u64 = 0;
let kDst0: u64 = 0;
let kDst1: u64 = 0;

// Frames released by a first fragment, to be handled next.
let pendingAddr0: u32 = 0;
let pendingLen0: u32 = 0;
let pendingAddr1: u32 = 0;
let pendingLen1: u32 = 0;
let pendingN: u32 = 0;
let pendingFlags: u32 = 0;

// Frames held across the whole table, and the most there may be: a flood of
// fragments whose first never comes must not take the frames the BR receives into
// (a quarter of them at most; setHeldLimit).
let heldFrames: u32 = 0;
let heldLimit: u32 = 0xffffffff;

export function setHeldLimit(n: u32): void {
  heldLimit = n;
}

export function setFragArea(p: usize, log2: u32): void {
  base = p;
  mask = (<u32>1 << log2) - 1;
  memory.fill(base, 0, <usize>(mask + 1) * ENTRY);
  pendingN = 0;
  heldFrames = 0;
}

export function fragClear(): void {
  // frees held frames too
  for (let i: u32 = 0; i <= mask; i++) dropEntry(base + <usize>i * ENTRY, false);
}

export function key4(src: u32, dst: u32, id: u32, proto: u32): void {
  kKind = 4;
  kProto = proto;
  kId = id;
  kSrc0 = <u64>src;
  kSrc1 = 0;
  kDst0 = <u64>dst;
  kDst1 = 0;
}

/**
 * The key of an IPv4 fragment decapsulated from a tunnel (encap/tunnel.ts). Kept
 * apart from key4's flows: a hairpinned datagram is in both at once, following its
 * source port (validation) on the way in and its destination port (the next CE) on
 * the way out.
 */
export function key4in6(src: u32, dst: u32, id: u32, proto: u32): void {
  key4(src, dst, id, proto);
  kKind = 5;
}

export function key6(src: usize, dst: usize, id: u32): void {
  kKind = 6;
  kProto = 0;
  kId = id;
  kSrc0 = load<u64>(src);
  kSrc1 = load<u64>(src, 8);
  kDst0 = load<u64>(dst);
  kDst1 = load<u64>(dst, 8);
}

@inline function hashKey(): u32 {
  let h: u64 = kSrc0 ^ (kSrc1 * 0x9e3779b97f4a7c15) ^ (kDst0 * 0xc2b2ae3d27d4eb4f) ^ kDst1 ^ (<u64>kId << 17) ^ <u64>kProto ^ <u64>kKind;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  return <u32>h;
}

@inline function matches(e: usize): bool {
  return <u32>load<u8>(e) == kKind && <u32>load<u8>(e, 1) == kProto && load<u32>(e, 4) == kId &&
    load<u64>(e, 16) == kSrc0 && load<u64>(e, 24) == kSrc1 && load<u64>(e, 32) == kDst0 && load<u64>(e, 40) == kDst1;
}

@inline function expired(e: usize): bool {
  return load<f64>(e, 8) <= nowMs;
}

function dropEntry(e: usize, timeout: bool): void {
  if (load<u8>(e) == 0) return;
  const held = <u32>load<u8>(e, 48);
  heldFrames -= held;
  if (held > 0) {
    freeFrame(<usize>load<u32>(e, 52));
    if (timeout) inc(C.drop_frag_timeout);
  }
  if (held > 1) {
    freeFrame(<usize>load<u32>(e, 56));
    if (timeout) inc(C.drop_frag_timeout);
  }
  memory.fill(e, 0, ENTRY);
}

/** The live entry of the current key, or 0. */
function find(): usize {
  let i = hashKey() & mask;
  for (let n: u32 = 0; n < WINDOW; n++) {
    const e = base + <usize>i * ENTRY;
    if (load<u8>(e) != 0 && matches(e)) {
      if (expired(e)) {
        dropEntry(e, true);
        return 0;
      }
      return e;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/** A free (or expired) slot for the current key, or 0 when the window is full. */
function make(): usize {
  let i = hashKey() & mask;
  for (let n: u32 = 0; n < WINDOW; n++) {
    const e = base + <usize>i * ENTRY;
    if (load<u8>(e) == 0 || expired(e)) {
      dropEntry(e, true);
      store<u8>(e, <u8>kKind);
      store<u8>(e, <u8>kProto, 1);
      store<u32>(e, kId, 4);
      store<u64>(e, kSrc0, 16);
      store<u64>(e, kSrc1, 24);
      store<u64>(e, kDst0, 32);
      store<u64>(e, kDst1, 40);
      return e;
    }
    i = (i + 1) & mask;
  }
  return 0;
}

/**
 * A first fragment (offset 0, MF set) of the current key: remember its port. Frames
 * held for this flow are queued for handling (takePending).
 */
export function recordFirst(port: u32): void {
  let e = find();
  if (!e) e = make();
  if (!e) {
    // The first fragment itself goes on: it is not a drop (assembly/counters.ts: one
    // fate per packet). Its followers find no state and are counted then.
    return;
  }
  store<u16>(e, <u16>port, 2);
  store<u8>(e, 1, 49);
  store<f64>(e, nowMs + <f64>fragTimeoutMs, 8);
  const held = <u32>load<u8>(e, 48);
  if (held > 0) {
    heldFrames -= held;
    pendingFlags = load<u8>(e, 62);
    pendingAddr0 = load<u32>(e, 52);
    pendingLen0 = load<u16>(e, 50);
    pendingN = 1;
    pendingIdx = 0;
    if (held > 1) {
      pendingAddr1 = load<u32>(e, 56);
      pendingLen1 = load<u16>(e, 60);
      pendingN = 2;
    }
    store<u8>(e, 0, 48);
  }
}

// Result of lookupFollower().
export let fragPort: u32 = 0;

export const FOLLOW_KNOWN: i32 = 0;
export const FOLLOW_HELD: i32 = 1;

/**
 * A non-first fragment of the current key. FOLLOW_KNOWN: its flow's port is in
 * fragPort. FOLLOW_HELD: the frame (p, len) is held until the first fragment comes
 * (`hairpin`: it is a packet the BR made from a CE's, handled as such when released).
 * Otherwise a drop counter; drop_frag_table_full also when the held-frame limit is
 * reached.
 */
export function lookupFollower(p: usize, len: u32, hairpin: bool): i32 {
  let e = find();
  if (e && load<u8>(e, 49)) {
    fragPort = load<u16>(e, 2);
    store<f64>(e, nowMs + <f64>fragTimeoutMs, 8);
    return FOLLOW_KNOWN;
  }
  if (!e) e = make();
  if (!e) return C.drop_frag_table_full;
  const held = <u32>load<u8>(e, 48);
  if (held >= HELD_MAX) return C.drop_frag_no_first;
  if (heldFrames >= heldLimit) {
    if (held == 0 && !load<u8>(e, 49)) memory.fill(e, 0, ENTRY); // made for nothing
    return C.drop_frag_table_full;
  }
  if (held == 0) {
    store<u32>(e, <u32>p, 52);
    store<u16>(e, <u16>len, 50);
    store<f64>(e, nowMs + <f64>fragTimeoutMs, 8);
    store<u8>(e, hairpin ? 1 : 0, 62);
  } else {
    store<u32>(e, <u32>p, 56);
    store<u16>(e, <u16>len, 60);
    if (hairpin) store<u8>(e, load<u8>(e, 62) | 2, 62);
  }
  heldFrames++;
  store<u8>(e, <u8>(held + 1), 48);
  inc(C.frag_held);
  return FOLLOW_HELD;
}

/**
 * Pops a released frame in arrival order: its address (0 when none); sets pendingLen
 * and pendingHairpin.
 */
export let pendingLen: u32 = 0;
export let pendingHairpin: bool = false;
let pendingIdx: u32 = 0;
export function takePending(): usize {
  if (pendingIdx >= pendingN) {
    pendingIdx = 0;
    pendingN = 0;
    return 0;
  }
  const i = pendingIdx++;
  pendingLen = i == 0 ? pendingLen0 : pendingLen1;
  pendingHairpin = (pendingFlags & (i == 0 ? 1 : 2)) != 0;
  return <usize>(i == 0 ? pendingAddr0 : pendingAddr1);
}

/** Frees what expired in the next few slots (called once per batch). */
export function sweep(count: u32): void {
  for (let n: u32 = 0; n < count; n++) {
    const e = base + <usize>sweepAt * ENTRY;
    if (load<u8>(e) != 0 && expired(e)) dropEntry(e, true);
    sweepAt = (sweepAt + 1) & mask;
  }
}
