// The control block shared by the main thread and the data-plane workers: one
// SharedArrayBuffer read with Atomics at batch boundaries. A busy worker loop never
// services MessagePort messages (DESIGN.md), so everything the control plane tells a
// running worker goes through here.
//
// Layout (Int32 words, then per-worker counter snapshots as Float64):
//   [0] stop           1 = leave the loop after the current batch
//   [1] rules gen      bumped by the main thread when a new rule blob is in `blob`
//   [2] blob length
//   [3] workers
//   [4] debug exit     w + 1 = worker w ends its thread abruptly (test hook, honoured
//                      only with XBR_DEBUG_HOOKS=1; see run-worker.ts)
//   [5..7] reserved
//   [8 + w] heartbeat  per worker: bumped at each counter publication
//   counters           workers x COUNTERS_MAX float64, published every PUBLISH_MS
//   trace counters     workers x TRACE_SLOTS x 4 float64 (src/core/abi.ts), published
//                      with the counters
//   blob               BLOB_BYTES bytes
// The header has one heartbeat word per worker (any number of queues).

import { TRACE_SLOTS } from '../core/abi.js';

export const PUBLISH_MS = 250;
export const COUNTERS_MAX = 128;
export const BLOB_BYTES = 256 * 1024;
const FIXED_WORDS = 8;
const TRACE_VALUES = TRACE_SLOTS * 4;

export const W_STOP = 0;
export const W_RULES_GEN = 1;
export const W_BLOB_LEN = 2;
export const W_WORKERS = 3;
export const W_DEBUG_EXIT = 4;

/** Header bytes for `workers` workers, rounded up to 8 (the counters are Float64). */
function headerBytes(workers: number): number {
  return (((FIXED_WORDS + workers) * 4 + 7) >> 3) << 3;
}

export class ControlBlock {
  readonly sab: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly workers: number;
  private counterBase: number;
  private traceBase: number;
  private blobBase: number;

  constructor(sabOrWorkers: SharedArrayBuffer | number) {
    if (typeof sabOrWorkers === 'number') {
      const workers = sabOrWorkers;
      const counterBase = headerBytes(workers);
      const blobBase = counterBase + workers * (COUNTERS_MAX + TRACE_VALUES) * 8;
      this.sab = new SharedArrayBuffer(blobBase + BLOB_BYTES);
      this.words = new Int32Array(this.sab, 0, FIXED_WORDS + workers);
      Atomics.store(this.words, W_WORKERS, workers);
    } else {
      this.sab = sabOrWorkers;
      const workers = Atomics.load(new Int32Array(this.sab, 0, FIXED_WORDS), W_WORKERS);
      this.words = new Int32Array(this.sab, 0, FIXED_WORDS + workers);
    }
    this.workers = Atomics.load(this.words, W_WORKERS);
    this.counterBase = headerBytes(this.workers);
    this.traceBase = this.counterBase + this.workers * COUNTERS_MAX * 8;
    this.blobBase = this.traceBase + this.workers * TRACE_VALUES * 8;
  }

  stop(): void {
    Atomics.store(this.words, W_STOP, 1);
  }
  stopping(): boolean {
    return Atomics.load(this.words, W_STOP) === 1;
  }

  /** Main thread: publishes a new rule blob; workers swap it in at a batch boundary. */
  publishRules(blob: Uint8Array): number {
    if (blob.length > BLOB_BYTES) throw new Error(`rule blob of ${blob.length} bytes exceeds ${BLOB_BYTES}`);
    new Uint8Array(this.sab, this.blobBase, BLOB_BYTES).set(blob);
    Atomics.store(this.words, W_BLOB_LEN, blob.length);
    return Atomics.add(this.words, W_RULES_GEN, 1) + 1;
  }
  rulesGeneration(): number {
    return Atomics.load(this.words, W_RULES_GEN);
  }
  /** A copy of the current blob. */
  rules(): Uint8Array {
    const len = Atomics.load(this.words, W_BLOB_LEN);
    return new Uint8Array(this.sab, this.blobBase, len).slice();
  }

  /** Worker: publishes its counters (and its trace counters, when given). */
  publishCounters(worker: number, values: ArrayLike<number | bigint>, trace?: ArrayLike<number | bigint>): void {
    const dst = new Float64Array(this.sab, this.counterBase + worker * COUNTERS_MAX * 8, COUNTERS_MAX);
    const n = Math.min(values.length, COUNTERS_MAX);
    for (let i = 0; i < n; i++) dst[i] = Number(values[i]);
    if (trace) {
      const t = this.traceView(worker);
      const m = Math.min(trace.length, TRACE_VALUES);
      for (let i = 0; i < m; i++) t[i] = Number(trace[i]);
    }
    Atomics.add(this.words, FIXED_WORDS + worker, 1);
  }
  private traceView(worker: number): Float64Array {
    return new Float64Array(this.sab, this.traceBase + worker * TRACE_VALUES * 8, TRACE_VALUES);
  }
  /** A copy of worker w's trace counters (TRACE_SLOTS x 4). */
  traceCounters(worker: number): Float64Array {
    return this.traceView(worker).slice();
  }
  /** Main thread: zeroes trace slot `slot` (1-based) of every worker. */
  clearTrace(slot: number): void {
    for (let w = 0; w < this.workers; w++) this.traceView(w).fill(0, (slot - 1) * 4, slot * 4);
  }
  /** Main thread: zeroes a dead worker's slot before its replacement starts. */
  clearCounters(worker: number): void {
    new Float64Array(this.sab, this.counterBase + worker * COUNTERS_MAX * 8, COUNTERS_MAX).fill(0);
    this.traceView(worker).fill(0);
  }
  counters(worker: number): Float64Array {
    return new Float64Array(this.sab, this.counterBase + worker * COUNTERS_MAX * 8, COUNTERS_MAX).slice();
  }
  heartbeat(worker: number): number {
    return Atomics.load(this.words, FIXED_WORDS + worker);
  }

  /** Main thread, test hook: asks worker w to end its thread abruptly. */
  requestDebugExit(worker: number): void {
    Atomics.store(this.words, W_DEBUG_EXIT, worker + 1);
  }
  /** Worker: true (once) when the main thread asked this worker to exit. */
  takeDebugExit(worker: number): boolean {
    return Atomics.compareExchange(this.words, W_DEBUG_EXIT, worker + 1, 0) === worker + 1;
  }
}
