// What a running box drives: the data plane's rules and binding table. An in-process
// Engine (EngineTarget) or the AF_XDP workers (DataplaneTarget, dataplane-box.ts).

import type { XbrConfig } from '../config/schema.js';
import type { ResolvedBinding } from '../config/rules.js';
import { compileRules } from '../core/blob.js';
import type { Engine } from '../core/engine.js';
import type { CounterSnapshot, WorkerStatus } from './types.js';

export interface CoreTarget {
  /** A config's rule blob as this data plane needs it (AF_XDP: with the resolved MACs). */
  compile(config: XbrConfig): Promise<Uint8Array>;
  /** Swaps the rules in (and what the data plane steers). */
  loadRules(config: XbrConfig, blob: Uint8Array): void;
  /** Adds or replaces a binding; a STATUS code (0 = OK). */
  tryPutBinding(b: ResolvedBinding): number;
  /** Same, throwing when refused. */
  putBinding(b: ResolvedBinding): void;
  removeBinding(ipv4: number, psid: number): void;
  bindingCount(): number;
  /**
   * Traces the binding (ipv4, psid) in trace slot `slot` (1..TRACE_SLOTS, from
   * SubscriberTrace), counters from zero, or stops tracing it (slot 0).
   */
  trace(ipv4: number, psid: number, slot: number): void;
  /** The trace counters, TRACE_SLOTS x 4 (src/core/abi.ts TRACE_COUNTER), summed over workers. */
  traceCounters(): ArrayLike<number>;
  counters(): CounterSnapshot;
  status(): { bindMode: string; workers: WorkerStatus[]; workerRestarts: number };
}

/** One in-process core: changes are applied at once, between batches. */
export class EngineTarget implements CoreTarget {
  batches = 0;

  constructor(readonly engine: Engine) {}

  async compile(config: XbrConfig): Promise<Uint8Array> {
    return compileRules(config);
  }
  loadRules(_config: XbrConfig, blob: Uint8Array): void {
    this.engine.loadRules(blob);
  }
  tryPutBinding(b: ResolvedBinding): number {
    return this.engine.tryPutBinding(b);
  }
  putBinding(b: ResolvedBinding): void {
    this.engine.putBinding(b);
  }
  removeBinding(ipv4: number, psid: number): void {
    this.engine.removeBinding(ipv4, psid);
  }
  bindingCount(): number {
    return this.engine.bindingCount;
  }
  trace(ipv4: number, psid: number, slot: number): void {
    this.engine.traceSet(ipv4, psid, slot);
  }
  traceCounters(): ArrayLike<number> {
    return Array.from(this.engine.traceCounters(), Number);
  }
  counters(): CounterSnapshot {
    const total = this.engine.counters();
    return { total, perWorker: [{ ...total }] };
  }
  status(): { bindMode: string; workers: WorkerStatus[]; workerRestarts: number } {
    return { bindMode: 'in-process', workers: [{ worker: 0, queue: 0, alive: true, heartbeat: this.batches }], workerRestarts: 0 };
  }
}
