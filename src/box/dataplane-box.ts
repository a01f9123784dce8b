// The running box over the AF_XDP data plane (`xbr run`): every binding change goes
// to each worker's binding ring (applied between batches), rules are swapped through
// the control block, and what the XDP program steers follows the bindings.

import type { XbrConfig } from '../config/schema.js';
import type { ResolvedBinding } from '../config/rules.js';
import type { PackedBindings } from '../config/bindings-file.js';
import { compileRules } from '../core/blob.js';
import { coreCounterNames } from '../core/engine.js';
import { STATUS } from '../core/abi.js';
import { OP_PUT, OP_REMOVE } from '../dataplane/binding-ring.js';
import { runtimeMacs, type Dataplane } from '../dataplane/runtime.js';
import { coveredBy } from '../dataplane/steering.js';
import { RunningBox, type BoxOptions, type LeaseAdapter } from './box.js';
import type { CoreTarget } from './core-target.js';
import type { CounterSnapshot, WorkerStatus } from './types.js';

export class DataplaneTarget implements CoreTarget {
  /** Bindings per IPv4 address, for the steering maps. */
  private perAddress = new Map<number, number>();
  /** (IPv4, PSID) keys bound, to bound the table as the workers' cores do. */
  private keys = new Set<number>();
  /** Addresses the config's prefixes steer already (a binding there needs no re-steer). */
  private covered: (ipv4: number) => boolean;

  constructor(
    readonly dp: Dataplane,
    private config: XbrConfig,
    initial: PackedBindings,
  ) {
    this.covered = coveredBy(config);
    for (let i = 0; i < initial.count; i++) {
      this.keys.add(initial.ipv4[i] * 65536 + initial.psid[i]);
      this.note(initial.ipv4[i], +1);
    }
  }

  /**
   * Counts a binding on an address in or out; true when the XDP maps must change: an
   * address outside the config's prefixes got its first binding or lost its last.
   */
  private note(ipv4: number, d: number): boolean {
    const n = (this.perAddress.get(ipv4) ?? 0) + d;
    if (n <= 0) this.perAddress.delete(ipv4);
    else this.perAddress.set(ipv4, n);
    return ((d > 0 && n === 1) || n <= 0) && !this.covered(ipv4);
  }

  async compile(config: XbrConfig): Promise<Uint8Array> {
    return compileRules(config, await runtimeMacs(config));
  }

  loadRules(config: XbrConfig, blob: Uint8Array): void {
    this.config = config;
    this.covered = coveredBy(config);
    this.dp.swapRules(config, blob, this.perAddress.keys());
  }

  tryPutBinding(b: ResolvedBinding): number {
    const key = b.ipv4 * 65536 + b.psid;
    const added = !this.keys.has(key);
    if (added && this.keys.size >= this.config['binding-capacity']) return STATUS.TABLE_FULL;
    this.dp.pushBinding(OP_PUT, b);
    if (added) {
      this.keys.add(key);
      if (this.note(b.ipv4, +1)) this.dp.steer(this.config, this.perAddress.keys());
    }
    return STATUS.OK;
  }

  putBinding(b: ResolvedBinding): void {
    const rc = this.tryPutBinding(b);
    if (rc !== STATUS.OK) throw new Error(`binding refused: table full (binding-capacity ${this.config['binding-capacity']})`);
  }

  trace(ipv4: number, psid: number, slot: number): void {
    this.dp.pushTrace(ipv4, psid, slot);
  }

  traceCounters(): ArrayLike<number> {
    return this.dp.traceCounters();
  }

  removeBinding(ipv4: number, psid: number): void {
    this.dp.pushBinding(OP_REMOVE, { ipv4, psid, psidLen: 0, psidOffset: 0, prefixLen: 0, ipv6: new Uint8Array(16) });
    if (this.keys.delete(ipv4 * 65536 + psid) && this.note(ipv4, -1)) this.dp.steer(this.config, this.perAddress.keys());
  }

  bindingCount(): number {
    return this.keys.size;
  }

  counters(): CounterSnapshot {
    return this.dp.counters(coreCounterNames());
  }

  status(): { bindMode: string; workers: WorkerStatus[]; workerRestarts: number } {
    const workers: WorkerStatus[] = [];
    for (let w = 0; w < this.dp.workers; w++) workers.push({ worker: w, queue: w, alive: this.dp.alive(w), heartbeat: this.dp.control.heartbeat(w) });
    return { bindMode: this.dp.bindMode, workers, workerRestarts: this.dp.restarts };
  }
}

export class DataplaneBox extends RunningBox {
  /** A box over a started data plane built from the same config and bindings. */
  static create(configPath: string, config: XbrConfig, packed: PackedBindings, dp: Dataplane, opts: BoxOptions & { leases?: LeaseAdapter } = {}): DataplaneBox {
    const box = new DataplaneBox(configPath, config, packed, new DataplaneTarget(dp, config, packed), opts.leases, opts);
    box.logStart();
    return box;
  }

}
