// Binding changes for running workers (static bindings on reload, 4o6 leases): one
// single-producer / single-consumer ring per worker in a SharedArrayBuffer. The main
// thread pushes; the worker drains the ring at a batch boundary into its own binding
// table, so a look-up never sees a half-written entry and no batch is interrupted.
//
// Entry (32 bytes): u8 op | u8 psid-len | u8 psid-offset | u8 prefix length |
//                   u32 ipv4 | u16 psid | 2 pad | 16 B ipv6 | 4 pad
// OP_TRACE (per-subscriber counters, src/box/trace.ts) carries the trace slot in the
// prefix-length byte (0 = stop tracing (ipv4, psid)).

import type { BindingSpec } from '../core/engine.js';

export const OP_PUT = 1;
export const OP_REMOVE = 2;
export const OP_TRACE = 3;
const ENTRY = 32;
const HEAD = 0; // Int32 index: next slot the producer writes
const TAIL = 1; // next slot the consumer reads

export class BindingRing {
  readonly sab: SharedArrayBuffer;
  readonly capacity: number;
  private idx: Int32Array;
  private bytes: Uint8Array;
  private view: DataView;

  constructor(sabOrCapacity: SharedArrayBuffer | number) {
    if (typeof sabOrCapacity === 'number') {
      this.sab = new SharedArrayBuffer(8 + sabOrCapacity * ENTRY);
    } else {
      this.sab = sabOrCapacity;
    }
    this.capacity = (this.sab.byteLength - 8) / ENTRY;
    this.idx = new Int32Array(this.sab, 0, 2);
    this.bytes = new Uint8Array(this.sab, 8);
    this.view = new DataView(this.sab, 8);
  }

  /** Producer: queues a change; false when the ring is full (try again later). */
  push(op: typeof OP_PUT | typeof OP_REMOVE | typeof OP_TRACE, b: BindingSpec): boolean {
    const head = Atomics.load(this.idx, HEAD);
    const tail = Atomics.load(this.idx, TAIL);
    if (head - tail >= this.capacity) return false;
    const at = (head % this.capacity) * ENTRY;
    this.view.setUint8(at, op);
    this.view.setUint8(at + 1, b.psidLen);
    this.view.setUint8(at + 2, b.psidOffset);
    this.view.setUint8(at + 3, b.prefixLen);
    this.view.setUint32(at + 4, b.ipv4 >>> 0, true);
    this.view.setUint16(at + 8, b.psid, true);
    this.bytes.set(b.ipv6.subarray(0, 16), at + 12);
    // the entry is complete before the consumer can see it
    Atomics.store(this.idx, HEAD, head + 1);
    return true;
  }

  pending(): number {
    return Atomics.load(this.idx, HEAD) - Atomics.load(this.idx, TAIL);
  }

  /**
   * Consumer: applies every queued change through `apply`; returns how many.
   * Called by the worker between batches.
   */
  drain(apply: (op: number, b: BindingSpec) => void): number {
    const head = Atomics.load(this.idx, HEAD);
    let tail = Atomics.load(this.idx, TAIL);
    const n = head - tail;
    const ipv6 = new Uint8Array(16);
    while (tail < head) {
      const at = (tail % this.capacity) * ENTRY;
      ipv6.set(this.bytes.subarray(at + 12, at + 28));
      apply(this.view.getUint8(at), {
        psidLen: this.view.getUint8(at + 1),
        psidOffset: this.view.getUint8(at + 2),
        prefixLen: this.view.getUint8(at + 3),
        ipv4: this.view.getUint32(at + 4, true),
        psid: this.view.getUint16(at + 8, true),
        ipv6,
      });
      tail++;
    }
    Atomics.store(this.idx, TAIL, tail);
    return n;
  }
}
