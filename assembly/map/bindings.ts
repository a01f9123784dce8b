// The binding table: (IPv4 address, PSID) -> IPv6 prefix or address, for every mode
// (MAP-T / MAP-E EA-len-0 rules, RFC 7599 section 12.1; lw4o6's binding table,
// RFC 7596 section 5). Open-addressing hash tables in wasm memory, linear probing
// with backward-shift deletion (no tombstones, so look-ups stay short however long
// the table churns).
//
// Two tables, one region:
//   bindings  (ipv4, psid) -> the CE's IPv6 prefix (map-t, map-e) or B4 address
//             (lw4o6). Slot, 24 bytes: u32 ipv4 | u16 psid | u8 used | u8 prefix
//             length | 16 B IPv6. `used`: bit 0 set for a slot in use, bits 1..7
//             the binding's trace slot (map/trace.ts; 0 = not traced).
//   addresses ipv4 -> the port-set parameters of that address (psid-len,
//             psid-offset) and how many bindings use it: a look-up from the IPv4
//             side needs them to turn a port into a PSID. Slot, 8 bytes: u32 ipv4 |
//             u32 1 + psid-len << 1 + psid-offset << 6 + count << 11 (0: empty).
//             Half as many slots as the binding table.
// All bindings on one IPv4 address share its parameters, so their port sets cannot
// overlap unless they are the same PSID.
//
// Why two tables: a look-up reads the address entry, then (with the PSID it gives)
// the binding. With addresses shared by many subscribers (lw4o6's port sets, 64 per
// address at psid-len 6) the address table is small enough to stay in the cache,
// so a look-up costs one cache miss, not two; and the IPv4 side's "is this address
// ours?" question (hairpinning, ownsV4) touches only the address table.
//
// Sizes: 2^log2 binding slots (the host gives at least twice the binding capacity,
// src/core/engine.ts), 2^(log2-1) address slots; neither is filled past 7/8. At 1M
// bindings that is 2^21 x 24 B + 2^20 x 8 B = 56 MiB, 58.7 bytes per binding.
// Full addresses (psid-len 0) use an address slot each, so as many fit as before
// the split (7/16 of the binding slots, at least 0.875 x the capacity).
//
// One port-set layout: where every bound address has the same (psid-len, offset) —
// the usual lw4o6 deployment, one sharing ratio — the PSID of a port is known
// without the address entry, and the binding can be looked up at once (lookup4.ts):
// one random cache miss per packet instead of two. The table counts the addresses
// of each layout to know (`uniform`, uLen, uOff).
//
// Changes are made by the worker's own thread between batches (bindingPut /
// bindingRemove), so a look-up never sees a half-written slot.

import { traceSlotOf } from './trace';

export const SLOT: usize = 24;
export const ASLOT: usize = 8;
const ADDR_SHIFT: u32 = 1;

/** Bytes of the region for 2^log2 binding slots (index.ts lays it out). */
export function areaBytes(log2: u32): usize {
  return (<usize>1 << log2) * SLOT + (<usize>1 << addrLog2(log2)) * ASLOT;
}

@inline function addrLog2(log2: u32): u32 {
  return log2 > ADDR_SHIFT + 4 ? log2 - ADDR_SHIFT : 4;
}

let base: usize = 0;
let mask: u32 = 0;
let capacity: u32 = 0;
let used: u32 = 0; // binding slots in use
let abase: usize = 0;
let amask: u32 = 0;
let acapacity: u32 = 0;
let aused: u32 = 0; // address slots in use

// Addresses per port-set layout (psid-len 0..16 x offset 0..16), how many layouts
// have any, and the one when there is exactly one.
const LAYOUTS: u32 = 17 * 17;
const layoutCount = memory.data(<i32>(LAYOUTS * 4), 16);
let layouts: u32 = 0;
export let uniform: bool = false;
export let uLen: u32 = 0;
export let uOff: u32 = 0;

function layoutChange(psidLen: u32, offset: u32, d: i32): void {
  const p = layoutCount + <usize>(psidLen * 17 + offset) * 4;
  const was = load<u32>(p);
  const now = <u32>(<i32>was + d);
  store<u32>(p, now);
  if (was == 0 && now > 0) {
    layouts++;
    if (layouts == 1) {
      uLen = psidLen;
      uOff = offset;
    }
  } else if (was > 0 && now == 0) {
    layouts--;
    if (layouts == 1) {
      // the one left
      for (let i: u32 = 0; i < LAYOUTS; i++) {
        if (load<u32>(layoutCount + <usize>i * 4) != 0) {
          uLen = i / 17;
          uOff = i % 17;
          break;
        }
      }
    }
  }
  uniform = layouts == 1;
}

export function setBindingArea(p: usize, log2: u32): void {
  base = p;
  capacity = <u32>1 << log2;
  mask = capacity - 1;
  abase = p + <usize>capacity * SLOT;
  acapacity = <u32>1 << addrLog2(log2);
  amask = acapacity - 1;
  clear();
}

export function bindingCount(): u32 {
  return used;
}
export function bindingSlots(): u32 {
  return capacity;
}
export function addressSlots(): u32 {
  return acapacity;
}
export function addressCount(): u32 {
  return aused;
}

/** A 32-bit mix of the key (the finalizer of MurmurHash3, a public-domain constant set). */
@inline function hash(v4: u32, psid: u32): u32 {
  let h: u64 = (<u64>v4 << 24) ^ (<u64>psid << 8) ^ 1;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return <u32>h;
}
@inline function ahash(v4: u32): u32 {
  return hash(v4, 0x10000);
}

@inline function slotPtr(i: u32): usize {
  return base + <usize>i * SLOT;
}
@inline function aslotPtr(i: u32): usize {
  return abase + (<usize>i << 3);
}
@inline function apack(psidLen: u32, offset: u32, count: u32): u32 {
  return 1 | (psidLen << 1) | (offset << 6) | (count << 11);
}

/** The binding slot holding (v4, psid), or 0. */
@inline function find(v4: u32, psid: u32): usize {
  let i = hash(v4, psid) & mask;
  while (true) {
    const s = slotPtr(i);
    if (load<u8>(s, 6) == 0) return 0;
    if (load<u32>(s) == v4 && <u32>load<u16>(s, 4) == psid) return s;
    i = (i + 1) & mask;
  }
  return 0;
}

/** The address slot of v4, or 0. */
@inline function afind(v4: u32): usize {
  let i = ahash(v4) & amask;
  while (true) {
    const s = aslotPtr(i);
    if (load<u32>(s, 4) == 0) return 0;
    if (load<u32>(s) == v4) return s;
    i = (i + 1) & amask;
  }
  return 0;
}

/** Claims the empty binding slot where (v4, psid) belongs (it must be absent). */
function claim(v4: u32, psid: u32): usize {
  let i = hash(v4, psid) & mask;
  while (load<u8>(slotPtr(i), 6) != 0) i = (i + 1) & mask;
  const s = slotPtr(i);
  store<u32>(s, v4);
  store<u16>(s, <u16>psid, 4);
  store<u8>(s, 1, 6);
  used++;
  return s;
}

function aclaim(v4: u32, psidLen: u32, offset: u32): usize {
  let i = ahash(v4) & amask;
  while (load<u32>(aslotPtr(i), 4) != 0) i = (i + 1) & amask;
  const s = aslotPtr(i);
  store<u32>(s, v4);
  store<u32>(s, apack(psidLen, offset, 0), 4);
  aused++;
  layoutChange(psidLen, offset, 1);
  return s;
}

/** Removes binding slot i and shifts later members of its cluster back. */
function erase(i: u32): void {
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const s = slotPtr(j);
    if (load<u8>(s, 6) == 0) break;
    const home = hash(load<u32>(s), <u32>load<u16>(s, 4)) & mask;
    // The entry at j may move into the hole when its home is not in (hole, j].
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      memory.copy(slotPtr(hole), s, SLOT);
      hole = j;
    }
  }
  memory.fill(slotPtr(hole), 0, SLOT);
  used--;
}

function aerase(i: u32): void {
  const w = load<u32>(aslotPtr(i), 4);
  layoutChange((w >> 1) & 31, (w >> 6) & 31, -1);
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & amask;
    const s = aslotPtr(j);
    if (load<u32>(s, 4) == 0) break;
    const home = ahash(load<u32>(s)) & amask;
    if (((j - home) & amask) >= ((j - hole) & amask)) {
      memory.copy(aslotPtr(hole), s, ASLOT);
      hole = j;
    }
  }
  memory.fill(aslotPtr(hole), 0, ASLOT);
  aused--;
}

// ---- look-ups (hot path) -------------------------------------------------------

// Result of addrParams().
export let bPsidLen: u32 = 0;
export let bOffset: u32 = 0;

/** True when the IPv4 address has bindings; sets bPsidLen / bOffset. */
@inline export function addrParams(v4: u32): bool {
  const s = afind(v4);
  if (s == 0) return false;
  const w = load<u32>(s, 4);
  bPsidLen = (w >> 1) & 31;
  bOffset = (w >> 6) & 31;
  return true;
}

/** The binding slot of (v4, psid), or 0. The IPv6 bytes are at slot + 8. */
@inline export function lookup(v4: u32, psid: u32): usize {
  return find(v4, psid);
}

@inline export function slotPrefixLen(s: usize): u32 {
  return load<u8>(s, 7);
}

/** The slot's `used` byte: bits 1..7 are its trace slot (map/trace.ts noteLookup). */
@inline export function slotUsed(s: usize): u32 {
  return load<u8>(s, 6);
}

/**
 * Loads a word of the slot where the look-up of v4's address entry starts. A batch touches the slots of all its packets
 * before handling them (encap/prefetch.ts), so that their cache misses overlap
 * instead of following one another. The value means nothing.
 */
@inline export function touch(v4: u32): u32 {
  return load<u32>(aslotPtr(ahash(v4) & amask));
}

/** The slot where the look-up of the binding (v4, psid) starts (to touch it). */
@inline export function homeSlot(v4: u32, psid: u32): usize {
  return slotPtr(hash(v4, psid) & mask);
}

// ---- changes (between batches) ---------------------------------------------------

export const OK: i32 = 0;
export const TABLE_FULL: i32 = 3;
export const PARAMS_CONFLICT: i32 = 4;
export const NOT_FOUND: i32 = 5;
export const BAD_ARGUMENT: i32 = 6;

/**
 * Adds or replaces the binding (v4, psid) -> ipv6 (16 bytes at `v6`, prefix length
 * plen). Neither table is filled past 7/8, so probes stay short and always end.
 */
export function put(v4: u32, psidLen: u32, offset: u32, psid: u32, v6: usize, plen: u32): i32 {
  if (psidLen > 16 || offset > 16 || psidLen + offset > 16 || plen > 128) return BAD_ARGUMENT;
  if (psidLen < 16 && psid >= (<u32>1 << psidLen)) return BAD_ARGUMENT;
  let a = afind(v4);
  if (a != 0) {
    if ((load<u32>(a, 4) & 0x7ff) != apack(psidLen, offset, 0)) return PARAMS_CONFLICT;
  } else if (aused + 1 > acapacity - (acapacity >> 3)) {
    return TABLE_FULL;
  }
  let b = find(v4, psid);
  if (b == 0 && used + 1 > capacity - (capacity >> 3)) return TABLE_FULL;
  if (a == 0) a = aclaim(v4, psidLen, offset);
  if (b == 0) {
    b = claim(v4, psid);
    store<u32>(a, load<u32>(a, 4) + (1 << 11), 4);
    // a traced key keeps its trace across remove and add (map/trace.ts)
    const t = traceSlotOf(v4, psid);
    if (t != 0) store<u8>(b, <u8>(1 | (t << 1)), 6);
  }
  store<u8>(b, <u8>plen, 7);
  memory.copy(b + 8, v6, 16);
  return OK;
}

/** Sets the trace slot (0 = none) of the binding (v4, psid); false when it is absent. */
export function setTraceFlag(v4: u32, psid: u32, t: u32): bool {
  const b = find(v4, psid);
  if (b == 0) return false;
  store<u8>(b, <u8>(1 | (t << 1)), 6);
  return true;
}

/** Removes the binding (v4, psid); the address entry goes with its last binding. */
export function remove(v4: u32, psid: u32): i32 {
  const b = find(v4, psid);
  if (b == 0) return NOT_FOUND;
  erase(<u32>((b - base) / SLOT));
  const a = afind(v4);
  if (a != 0) {
    const w = load<u32>(a, 4) - (1 << 11);
    if ((w >> 11) == 0) aerase(<u32>((a - abase) >> 3));
    else store<u32>(a, w, 4);
  }
  return OK;
}

/** Empties both tables. */
export function clear(): void {
  memory.fill(base, 0, <usize>capacity * SLOT);
  memory.fill(abase, 0, <usize>acapacity * ASLOT);
  used = 0;
  aused = 0;
  memory.fill(layoutCount, 0, <usize>LAYOUTS * 4);
  layouts = 0;
  uniform = false;
}
