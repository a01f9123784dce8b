// The binding table: (IPv4 address, PSID) -> IPv6 prefix or address, for every mode
// (MAP-T / MAP-E EA-len-0 rules, RFC 7599 section 12.1; lw4o6's binding table,
// RFC 7596 section 5). One open-addressing hash table in wasm memory, linear probing
// with backward-shift deletion (no tombstones, so look-ups stay short however long
// the table churns).
//
// Two kinds of entry share the table:
//   ADDR (ipv4, 0)    -> the port-set parameters of that IPv4 address (psid-len,
//                        psid-offset) and how many bindings use it. A look-up from
//                        the IPv4 side needs them to turn a port into a PSID.
//   BIND (ipv4, psid) -> the CE's IPv6 prefix (map-t, map-e) or B4 address (lw4o6).
// All bindings on one IPv4 address share its parameters, so their port sets cannot
// overlap unless they are the same PSID.
//
// Slot, 24 bytes: u32 ipv4 | u16 psid | u8 tag | u8 prefix length | 16 B IPv6
//   (ADDR: u8 psid-len at 8, u8 psid-offset at 9, u32 count at 12)
// At the default 50% load that is 48 bytes per binding, overhead included.
//
// Changes are made by the worker's own thread between batches (bindingPut /
// bindingRemove), so a look-up never sees a half-written slot.

export const SLOT: usize = 24;
const TAG_EMPTY: u8 = 0;
const TAG_BIND: u8 = 1;
const TAG_ADDR: u8 = 2;

let base: usize = 0;
let mask: u32 = 0;
let capacity: u32 = 0;
let used: u32 = 0; // slots in use, both kinds
let bindings: u32 = 0;

export function setBindingArea(p: usize, log2: u32): void {
  base = p;
  capacity = <u32>1 << log2;
  mask = capacity - 1;
  memory.fill(base, 0, <usize>capacity * SLOT);
  used = 0;
  bindings = 0;
}

export function bindingCount(): u32 {
  return bindings;
}
export function bindingSlots(): u32 {
  return capacity;
}

/** A 32-bit mix of the key (the finalizer of MurmurHash3, a public-domain constant set). */
@inline function hash(v4: u32, psid: u32, tag: u32): u32 {
  let h: u64 = (<u64>v4 << 24) ^ (<u64>psid << 8) ^ <u64>tag;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return <u32>h;
}

@inline function slotPtr(i: u32): usize {
  return base + <usize>i * SLOT;
}

/** The slot holding the key, or 0. */
@inline function find(v4: u32, psid: u32, tag: u8): usize {
  let i = hash(v4, psid, tag) & mask;
  while (true) {
    const s = slotPtr(i);
    const t = load<u8>(s, 6);
    if (t == TAG_EMPTY) return 0;
    if (t == tag && load<u32>(s) == v4 && <u32>load<u16>(s, 4) == psid) return s;
    i = (i + 1) & mask;
  }
  return 0;
}

/** Claims the empty slot where the key belongs (the key must be absent). */
function claim(v4: u32, psid: u32, tag: u8): usize {
  let i = hash(v4, psid, tag) & mask;
  while (load<u8>(slotPtr(i), 6) != TAG_EMPTY) i = (i + 1) & mask;
  const s = slotPtr(i);
  store<u32>(s, v4);
  store<u16>(s, <u16>psid, 4);
  store<u8>(s, tag, 6);
  used++;
  return s;
}

/** Removes the slot at index i and shifts later members of its cluster back. */
function erase(i: u32): void {
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const s = slotPtr(j);
    const t = load<u8>(s, 6);
    if (t == TAG_EMPTY) break;
    const home = hash(load<u32>(s), <u32>load<u16>(s, 4), t) & mask;
    // The entry at j may move into the hole when its home is not in (hole, j].
    const dist = (j - home) & mask;
    const holeDist = (j - hole) & mask;
    if (dist >= holeDist) {
      memory.copy(slotPtr(hole), s, SLOT);
      hole = j;
    }
  }
  memory.fill(slotPtr(hole), 0, SLOT);
  used--;
}

// ---- look-ups (hot path) -------------------------------------------------------

// Result of addrParams().
export let bPsidLen: u32 = 0;
export let bOffset: u32 = 0;

/** True when the IPv4 address has bindings; sets bPsidLen / bOffset. */
@inline export function addrParams(v4: u32): bool {
  const s = find(v4, 0, TAG_ADDR);
  if (s == 0) return false;
  bPsidLen = load<u8>(s, 8);
  bOffset = load<u8>(s, 9);
  return true;
}

/** The binding slot of (v4, psid), or 0. The IPv6 bytes are at slot + 8. */
@inline export function lookup(v4: u32, psid: u32): usize {
  return find(v4, psid, TAG_BIND);
}

@inline export function slotPrefixLen(s: usize): u32 {
  return load<u8>(s, 7);
}

// ---- changes (between batches) ---------------------------------------------------

export const OK: i32 = 0;
export const TABLE_FULL: i32 = 3;
export const PARAMS_CONFLICT: i32 = 4;
export const NOT_FOUND: i32 = 5;
export const BAD_ARGUMENT: i32 = 6;

/**
 * Adds or replaces the binding (v4, psid) -> ipv6 (16 bytes at `v6`, prefix length
 * plen). The table is never filled past 7/8, so probes stay short and always end.
 */
export function put(v4: u32, psidLen: u32, offset: u32, psid: u32, v6: usize, plen: u32): i32 {
  if (psidLen > 16 || offset > 16 || psidLen + offset > 16 || plen > 128) return BAD_ARGUMENT;
  if (psidLen < 16 && psid >= (<u32>1 << psidLen)) return BAD_ARGUMENT;
  let a = find(v4, 0, TAG_ADDR);
  if (a != 0) {
    if (<u32>load<u8>(a, 8) != psidLen || <u32>load<u8>(a, 9) != offset) return PARAMS_CONFLICT;
  }
  let b = find(v4, psid, TAG_BIND);
  const need: u32 = (a == 0 ? 1 : 0) + (b == 0 ? 1 : 0);
  if (used + need > capacity - (capacity >> 3)) return TABLE_FULL;
  if (a == 0) {
    a = claim(v4, 0, TAG_ADDR);
    store<u8>(a, <u8>psidLen, 8);
    store<u8>(a, <u8>offset, 9);
    store<u32>(a, 0, 12);
  }
  if (b == 0) {
    b = claim(v4, psid, TAG_BIND);
    store<u32>(a, load<u32>(a, 12) + 1, 12);
    bindings++;
  }
  store<u8>(b, <u8>plen, 7);
  memory.copy(b + 8, v6, 16);
  return OK;
}

/** Removes the binding (v4, psid); the address entry goes with its last binding. */
export function remove(v4: u32, psid: u32): i32 {
  const b = find(v4, psid, TAG_BIND);
  if (b == 0) return NOT_FOUND;
  erase(<u32>((b - base) / SLOT));
  bindings--;
  const a = find(v4, 0, TAG_ADDR);
  if (a != 0) {
    const n = load<u32>(a, 12) - 1;
    if (n == 0) erase(<u32>((a - base) / SLOT));
    else store<u32>(a, n, 12);
  }
  return OK;
}

/** Empties the table. */
export function clear(): void {
  memory.fill(base, 0, <usize>capacity * SLOT);
  used = 0;
  bindings = 0;
}
