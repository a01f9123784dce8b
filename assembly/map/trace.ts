// Per-subscriber counters for a few chosen bindings (an operator debugging one
// customer). The rest of the traffic pays a byte test on a binding slot the look-up
// has already loaded, and one branch per transmitted packet:
//
//   - the host names up to TRACE_MAX bindings, each with a trace slot (1..TRACE_MAX);
//     the slot number lives in the binding slot's `used` byte (map/bindings.ts:
//     bit 0 used, bits 1..7 the trace slot), so a look-up learns it for free;
//   - the packet paths note the trace slot of the binding they matched: the source
//     binding of a packet from a CE (trFrom) and the destination binding of a packet
//     to a CE (trTo); dispatch.ts clears both before each packet;
//   - emit() (io/frames.ts) counts a packet sent to the IPv4 side for trFrom and a
//     packet sent to the IPv6 side for trTo. A hairpinned packet counts for the CE it
//     reaches; the BR's own ICMP errors about a CE's packet count for nobody.
//
// Counters, per trace slot, four u64 in a region the host reads directly:
//   from-subscriber packets, IP bytes, to-subscriber packets, IP bytes.
// The key list (u32 ipv4 | u32 psid, 0xffffffff = free) lets a binding that is
// removed and added again (a lease renewed after it expired, a static binding that
// replaces a lease) keep its trace, with no help from the host.

export const TRACE_MAX: u32 = 64;
const KEY_FREE: u32 = 0xffffffff;

let countersBase: usize = 0; // TRACE_MAX x 4 u64
let keysBase: usize = 0; // TRACE_MAX x (u32 ipv4, u32 psid)
let active: u32 = 0; // trace slots in use

/** Trace slot (1-based, 0 = none) of the packet's source / destination binding. */
let trFrom: u32 = 0;
let trTo: u32 = 0;
/** Trace slot of the last binding a look-up matched (0 = none, or a rule). */
let trLast: u32 = 0;

export function traceAreaBytes(): usize {
  return <usize>TRACE_MAX * 40;
}

export function setTraceArea(p: usize): void {
  countersBase = p;
  keysBase = p + <usize>TRACE_MAX * 32;
  memory.fill(countersBase, 0, <usize>TRACE_MAX * 32);
  for (let i: u32 = 0; i < TRACE_MAX; i++) {
    store<u32>(keysBase + (<usize>i << 3), KEY_FREE);
    store<u32>(keysBase + (<usize>i << 3), KEY_FREE, 4);
  }
  active = 0;
}

export function traceCountersPtr(): usize {
  return countersBase;
}

@inline export function resetPacketTrace(): void {
  trFrom = 0;
  trTo = 0;
}

@inline export function noteLookup(slotUsedByte: u32): void {
  trLast = slotUsedByte >> 1;
}
@inline export function noteRule(): void {
  trLast = 0;
}
@inline export function markFrom(): void {
  trFrom = trLast;
}
@inline export function markTo(): void {
  trTo = trLast;
}

/** Counts a packet of `bytes` IP bytes sent to the IPv4 side (port 0) or the IPv6 side. */
@inline export function traceSent(port: u32, bytes: u32): void {
  const t = port == 0 ? trFrom : trTo;
  if (t == 0) return;
  const p = countersBase + (<usize>(t - 1) << 5) + (port == 0 ? 0 : 16);
  store<u64>(p, load<u64>(p) + 1);
  store<u64>(p, load<u64>(p, 8) + <u64>bytes, 8);
}

/** The trace slot (1-based) recorded for (v4, psid), or 0. Between batches only. */
export function traceSlotOf(v4: u32, psid: u32): u32 {
  if (active == 0) return 0;
  for (let i: u32 = 0; i < TRACE_MAX; i++) {
    const k = keysBase + (<usize>i << 3);
    if (load<u32>(k) == v4 && load<u32>(k, 4) == psid) return i + 1;
  }
  return 0;
}

/**
 * Starts tracing (v4, psid) in trace slot t (1..TRACE_MAX), counters from zero, or
 * stops tracing it (t = 0). Tracing a key again in its own slot keeps its counters.
 * Returns 0, 1 for a slot out of range, 2 when the slot holds another key or the key
 * another slot, 3 when t is 0 and the key is not traced. The caller sets the flag in
 * the binding slot (map/bindings.ts setTraceFlag). Between batches.
 */
export function traceKeySet(v4: u32, psid: u32, t: u32): i32 {
  const old = traceSlotOf(v4, psid);
  if (t == 0) {
    if (old == 0) return 3;
    const k = keysBase + (<usize>(old - 1) << 3);
    store<u32>(k, KEY_FREE);
    store<u32>(k, KEY_FREE, 4);
    memory.fill(countersBase + (<usize>(old - 1) << 5), 0, 32);
    active--;
    return 0;
  }
  if (t > TRACE_MAX) return 1;
  if (old == t) return 0;
  const k = keysBase + (<usize>(t - 1) << 3);
  if (old != 0 || load<u32>(k, 4) != KEY_FREE) return 2;
  store<u32>(k, v4);
  store<u32>(k, psid, 4);
  memory.fill(countersBase + (<usize>(t - 1) << 5), 0, 32);
  active++;
  return 0;
}
