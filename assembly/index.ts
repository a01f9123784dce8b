// The wasm core's exports: the whole ABI the host (src/core/engine.ts, the AF_XDP
// worker) uses. Memory is imported, created by the host at its final size (initial =
// maximum, so it never grows and never moves: DESIGN.md); init() carves it into
// regions above the AssemblyScript data, all fixed for the instance's life.
//
//   [ static data | counters | trace | arg | blob | rules | bindings | fragments |
//     rx descriptors | tx descriptors | io | free list | (page-aligned) frames ]

import { C, COUNTER_NAMES, setCountersBase } from './counters';
import { setParams } from './params';
import { setRulesArea, loadRules, RULE_SIZE, BLOB_RULE_SIZE } from './map/rules';
import * as bindings from './map/bindings';
import * as trace from './map/trace';
import { setFragArea, fragClear, setHeldLimit } from './xlat/fragtable';
import { reasmClear } from './encap/reasm';
export { benchStageTunnel, benchSeed, benchPrefetch } from './encap/bench';
import * as frames from './io/frames';
import { setLinkType as setLink } from './xlat/l2';
import { resetClock } from './xlat/clock';
import { processBatch } from './dispatch';
import './abort';
import { loadHi, loadLo } from './map/addr';
import { mapV4 } from './xlat/lookup4';
import { validateSource, vV4, vPsid } from './xlat/source6';
import { outHi, outLo, storeAddr } from './map/addr';

// Layout constants (mirrored in src/core/abi.ts).
const REGION_BASE: usize = 1 << 20; // the AS static data stays below 1 MiB
const BLOB_HEADER: usize = 88;
const MAX_RULES: u32 = 4096;
const BLOB_CAP: usize = BLOB_HEADER + <usize>MAX_RULES * BLOB_RULE_SIZE;
const ARG_SIZE: usize = 64;
const FRAG_ENTRY: usize = 64;
const TX_PER_RX: u32 = 4; // room for fragments and ICMP errors a packet may add

@inline function align(v: usize, a: usize): usize {
  return (v + a - 1) & ~(a - 1);
}

let counters: usize = 0;
let arg: usize = 0;
let blob: usize = 0;
let ioCapacity: u32 = 0;

/** Bytes of memory an instance with these sizes needs (the host sizes its Memory). */
export function layoutBytes(bindLog2: u32, fragLog2: u32, frameCount: u32, frameShift: u32, batch: u32): f64 {
  return <f64>place(bindLog2, fragLog2, frameCount, frameShift, batch, false);
}

function place(bindLog2: u32, fragLog2: u32, frameCount: u32, frameShift: u32, batch: u32, apply: bool): usize {
  let p = REGION_BASE;
  const cnt = p;
  p = align(p + <usize>C.COUNT * 8, 64);
  const tr = p;
  p = align(p + trace.traceAreaBytes(), 64);
  const a = p;
  p += ARG_SIZE;
  const b = p;
  p = align(p + BLOB_CAP, 64);
  const rules = p;
  p = align(p + <usize>MAX_RULES * RULE_SIZE, 64);
  const order6 = p;
  p = align(p + <usize>MAX_RULES * 4, 64);
  const bind = p;
  p = align(p + bindings.areaBytes(bindLog2), 64);
  const frag = p;
  p = align(p + (<usize>1 << fragLog2) * FRAG_ENTRY, 64);
  const rx = p;
  p = align(p + <usize>batch * 8, 64);
  const tx = p;
  p = align(p + <usize>batch * TX_PER_RX * 8, 64);
  const io = p;
  const ioCap = frameCount > batch ? frameCount : batch;
  p = align(p + <usize>ioCap * 4, 64);
  const free = p;
  p = align(p + <usize>frameCount * 4, 4096);
  const fr = p;
  p += <usize>frameCount << frameShift;
  if (apply) {
    counters = cnt;
    arg = a;
    blob = b;
    ioCapacity = ioCap;
    setCountersBase(cnt);
    memory.fill(cnt, 0, <usize>C.COUNT * 8);
    trace.setTraceArea(tr);
    setRulesArea(rules, order6);
    bindings.setBindingArea(bind, bindLog2);
    setFragArea(frag, fragLog2);
    // fragments waiting for their first one hold at most a quarter of the frames
    setHeldLimit(frameCount >> 2);
    frames.setDescAreas(rx, tx, batch * TX_PER_RX, io, ioCap);
    frames.setFrameArea(fr, frameShift, frameCount, free);
  }
  return p;
}

/**
 * Sets the instance up. Returns 0, or 1 when the memory is too small for the layout,
 * 2 when the static data reaches into the regions, 3 for a bad frame size.
 */
export function init(bindLog2: u32, fragLog2: u32, frameCount: u32, frameShift: u32, batch: u32): i32 {
  if (frameShift < 11 || frameShift > 12) return 3; // 2 KiB or 4 KiB (AF_XDP chunk)
  if (batch == 0 || batch > 256) return 4; // a tx descriptor names its rx index in a byte
  if (__heap_base > REGION_BASE) return 2;
  const need = place(bindLog2, fragLog2, frameCount, frameShift, batch, false);
  if (<u64>need > <u64>memory.size() << 16) return 1;
  place(bindLog2, fragLog2, frameCount, frameShift, batch, true);
  resetClock();
  return 0;
}

// ---- pointers the host reads and writes -----------------------------------------
export function countersPtr(): usize { return counters; }
export function counterCount(): u32 { return C.COUNT; }
export function counterNamesPtr(): usize { return changetype<usize>(COUNTER_NAMES); }
export function counterNamesLength(): i32 { return COUNTER_NAMES.length; }
export function argPtr(): usize { return arg; }
export function blobPtr(): usize { return blob; }
export function blobCapacity(): u32 { return <u32>BLOB_CAP; }
export function rxPtr(): usize { return frames.rxBase; }
export function txPtr(): usize { return frames.txBase; }
export function ioPtr(): usize { return frames.ioBase; }
export function ioCap(): u32 { return ioCapacity; }
export function framesPtr(): usize { return frames.framesBase; }
export function framesBytes(): u32 { return frames.frameCount << frames.frameShift; }

// ---- rules ----------------------------------------------------------------------

/**
 * Loads the rule blob the host wrote at blobPtr() (src/core/abi.ts). Called between
 * batches, so every batch sees one generation of rules. Returns STATUS.
 */
export function rulesLoad(len: u32): i32 {
  if (len < <u32>BLOB_HEADER) return 7;
  if (load<u32>(blob) != 0x31524258) return 1;
  const n = load<u32>(blob + 84);
  if (n > MAX_RULES) return 2;
  if (<usize>len < BLOB_HEADER + <usize>n * BLOB_RULE_SIZE) return 7;
  setParams(
    load<u8>(blob + 4), load<u8>(blob + 5), load<u16>(blob + 6), load<u16>(blob + 8),
    load<u16>(blob + 10), load<u16>(blob + 12), load<u8>(blob + 14),
    loadHi(blob + 16), loadLo(blob + 16), loadHi(blob + 32), loadLo(blob + 32),
    load<u32>(blob + 48), load<u32>(blob + 52), load<u32>(blob + 80),
    mac(blob + 56), mac(blob + 62), mac(blob + 68), mac(blob + 74),
  );
  loadRules(blob + BLOB_HEADER, n);
  return 0;
}

function mac(p: usize): u64 {
  let v: u64 = 0;
  for (let i: usize = 0; i < 6; i++) v = (v << 8) | <u64>load<u8>(p + i);
  return v;
}

// ---- bindings -------------------------------------------------------------------

/** Adds or replaces (v4, psid) -> the 16 IPv6 bytes at argPtr(), prefix length plen. */
export function bindingPut(v4: u32, psidLen: u32, offset: u32, psid: u32, plen: u32): i32 {
  return bindings.put(v4, psidLen, offset, psid, arg, plen);
}
export function bindingRemove(v4: u32, psid: u32): i32 {
  return bindings.remove(v4, psid);
}
export function bindingCount(): u32 {
  return bindings.bindingCount();
}
export function bindingClear(): void {
  bindings.clear();
}
export function bindingSlots(): u32 {
  return bindings.bindingSlots();
}
/** Bytes of the binding region: the binding table and its address table. */
export function bindingTableBytes(bindLog2: u32): f64 {
  return <f64>bindings.areaBytes(bindLog2);
}

// ---- per-subscriber counters (map/trace.ts) -------------------------------------

/**
 * Traces the binding (v4, psid) in trace slot t (1..traceMax()), or stops tracing
 * it (t = 0); the binding need not exist yet (it is flagged when it is added). 0, or
 * 1 slot out of range, 2 slot or key taken, 3 not traced. Between batches.
 */
export function traceSet(v4: u32, psid: u32, t: u32): i32 {
  const rc = trace.traceKeySet(v4, psid, t);
  if (rc == 0) bindings.setTraceFlag(v4, psid, t);
  return rc;
}
/** Per trace slot (t - 1): u64 from-subscriber packets, bytes, to-subscriber packets, bytes. */
export function traceCountersPtr(): usize { return trace.traceCountersPtr(); }
export function traceMax(): u32 { return trace.TRACE_MAX; }

// ---- frames and batches -----------------------------------------------------------

export function framesTake(n: u32): u32 { return frames.take(n); }
export function framesPut(n: u32): void { frames.put(n); }
export function framesFree(): u32 { return frames.freeFrames(); }
export function setLinkType(t: u32): void { setLink(t); }
export function fragmentsClear(): void {
  fragClear();
  reasmClear();
}

/** Handles n rx descriptors; returns the number of tx descriptors written. */
export function process(n: u32, nowMs: f64): u32 {
  return processBatch(n, nowMs);
}

// ---- look-ups for the operator's calculator and the tests ----------------------

/** IPv4 + port -> the CE address (written at argPtr()); -1 on success, else a counter. */
export function lookupV4(v4: u32, port: u32, hasPort: bool): i32 {
  const r = mapV4(v4, port, hasPort);
  if (r < 0) storeAddr(arg, outHi, outLo);
  return r;
}

/** The IPv6 source at argPtr() with port -> -1 (IPv4 at arg+16, PSID at arg+20) or a drop. */
export function validateV6(port: u32, hasPort: bool): i32 {
  const r = validateSource(loadHi(arg), loadLo(arg), port, hasPort);
  if (r < 0) {
    store<u32>(arg + 16, vV4);
    store<u32>(arg + 20, vPsid);
  }
  return r;
}


/**
 * Benchmark staging: copies packet templates into the frames named by the first n
 * rx descriptors (template i % count, each `stride` bytes apart at tpl, its length
 * in the u16 before it), as a NIC's DMA would. Lives in wasm so a benchmark measures
 * no JS per packet.
 */
export function benchStage(n: u32, tpl: usize, count: u32, stride: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const d = frames.rxBase + (<usize>i << 3);
    const t = tpl + <usize>(i % count) * stride;
    const len = <u32>load<u16>(t);
    memory.copy(<usize>load<u32>(d), t + 2, len);
    store<u16>(d, <u16>len, 4);
  }
}

/**
 * Reorders the tx descriptors of the last batch so the IPv4-side ones come first,
 * each side keeping its order (a stable partition, through the io array); returns
 * how many are IPv4-side. The AF_XDP worker hands each run to its own socket.
 */
export function txSplit(n: u32): u32 {
  const tx = frames.txBase;
  const scratch = frames.ioBase;
  if (<usize>n * 8 > <usize>ioCapacity * 4) return 0xffffffff;
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const d = tx + (<usize>i << 3);
    if (load<u8>(d, 6) == 0) {
      store<u64>(scratch + (<usize>k << 3), load<u64>(d));
      k++;
    }
  }
  const v4 = k;
  for (let i: u32 = 0; i < n; i++) {
    const d = tx + (<usize>i << 3);
    if (load<u8>(d, 6) != 0) {
      store<u64>(scratch + (<usize>k << 3), load<u64>(d));
      k++;
    }
  }
  memory.copy(tx, scratch, <usize>n << 3);
  return v4;
}
