// Lease expiry: a periodic sweep frees every bound lease whose time has passed and
// removes its binding from the data plane (the store publishes the removal to other
// BRs where it can). Offers and declines whose time passed become free in the same
// sweep (they have no binding).
import { bindingOf, type BindingSink } from './bindings.js';
import type { Counters } from './counters.js';
import type { LeaseRow, LeaseStore } from './store/types.js';

export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /**
   * Called after every sweep with the bound leases it ended (server.ts: when some of
   * them were outside every pool after a reload, the store's slots are reshaped).
   */
  afterSweep: ((expired: LeaseRow[]) => Promise<void>) | undefined;

  constructor(
    private readonly store: LeaseStore,
    private readonly sink: BindingSink,
    private readonly counters: Counters,
    private intervalMs: number,
    private readonly now: () => number = Date.now,
    /** Bound leases freed per store call; a sweep loops until none is left. */
    private readonly batch = 1000,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.running === undefined) this.running = this.sweep().then(() => undefined, () => undefined).finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** A reload's dhcp4o6.expiry-interval (seconds * 1000): the timer restarts with it. */
  setIntervalMs(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.start();
  }

  /** One sweep; returns how many bound leases expired. */
  async sweep(): Promise<number> {
    const ended: LeaseRow[] = [];
    try {
      for (let round = 0; round < 1000; round++) {
        const rows = await this.store.expire(this.now(), this.batch);
        for (const r of rows) if (bindingOf(r) !== null) this.sink.remove(r.ipv4, r.psid);
        ended.push(...rows);
        if (rows.length < this.batch) break;
      }
    } catch {
      this.counters.inc('expiry-store-error');
    }
    if (ended.length > 0) this.counters.inc('v4-expired', ended.length);
    await this.afterSweep?.(ended);
    return ended.length;
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
