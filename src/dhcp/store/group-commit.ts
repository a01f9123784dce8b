// Group commit: units of work submitted while the event loop handles a burst of
// datagrams are run together in one durable transaction, and each caller's promise
// resolves only after that transaction committed. One fsync then covers a whole batch
// of leases while every ACK still leaves after its lease is durable.
//
// Batches start on setImmediate (after the poll phase that read the datagrams) or as
// soon as `maxBatch` units are waiting; at most `concurrency` transactions are in
// flight (SQLite: 1; PostgreSQL: one per pooled connection). A unit that throws, or a
// failed commit, fails every unit of its batch (nothing of it was committed).
import type { LeaseOp, LeaseStore, LeaseTx } from './types.js';

interface Pending {
  unit: (tx: LeaseTx) => Promise<unknown>;
  /** The unit as data, when it is one (a batch of only these can go to store.runOps). */
  op?: LeaseOp;
  lockKey?: string;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface GroupCommitStats {
  transactions: number;
  units: number;
  failedTransactions: number;
  largestBatch: number;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private closed = false;
  readonly stats: GroupCommitStats = { transactions: 0, units: 0, failedTransactions: 0, largestBatch: 0 };

  constructor(
    private readonly store: LeaseStore,
    private maxBatch: number,
    private readonly concurrency: number,
    /** The longest a unit waits for its batch to fill. */
    private readonly maxWaitMs = 4,
  ) {}

  /** A reload's dhcp4o6.commit-batch: batches formed from now on (one in flight keeps its size). */
  setMaxBatch(n: number): void {
    this.maxBatch = n;
  }

  /**
   * Runs `unit` in the next batch; resolves with its result once the batch committed.
   * `op`: the same unit as data (it must give the same result), for stores with runOps.
   */
  submit<T>(unit: (tx: LeaseTx) => Promise<T>, lockKey?: string, op?: LeaseOp): Promise<T> {
    if (this.closed) return Promise.reject(new Error('lease store closed'));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ unit, op, lockKey, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    const since = performance.now();
    let seen = -1;
    // libuv reads at most 32 datagrams per socket per loop turn, so one turn's worth
    // is a small batch under load. Wait for more turns while the queue still grows
    // (bounded by maxBatch and maxWaitMs), then commit what came: under load the
    // batches grow to hundreds, idle the delay is one loop turn.
    const check = () => {
      const n = this.queue.length;
      if (n >= this.maxBatch || n === seen || performance.now() - since >= this.maxWaitMs) {
        this.scheduled = false;
        this.flush();
      } else {
        seen = n;
        setImmediate(check);
      }
    };
    setImmediate(check);
  }

  private flush(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      // Spread what is waiting over the free connections (PostgreSQL), so that they
      // work in parallel instead of one taking everything.
      const free = this.concurrency - this.inFlight;
      const share = Math.ceil(this.queue.length / free);
      const batch = this.queue.splice(0, Math.min(this.maxBatch, Math.max(share, 8)));
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.schedule();
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const keys = [...new Set(batch.map((p) => p.lockKey).filter((k): k is string => k !== undefined))].sort();
    try {
      const ops = this.store.runOps === undefined ? undefined : batch.map((p) => p.op);
      const results =
        ops !== undefined && ops.every((o) => o !== undefined)
          ? await this.store.runOps!(ops as LeaseOp[], keys)
          : await this.store.transaction(
              batch.map((p) => p.unit),
              keys,
            );
      this.stats.transactions++;
      this.stats.units += batch.length;
      if (batch.length > this.stats.largestBatch) this.stats.largestBatch = batch.length;
      batch.forEach((p, i) => p.resolve(results[i]));
    } catch (e) {
      this.stats.failedTransactions++;
      for (const p of batch) p.reject(e);
    }
  }

  /** Waits for every submitted unit to finish, then refuses new ones. */
  async close(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while ((this.queue.length > 0 || this.inFlight > 0) && Date.now() < deadline) {
      this.schedule();
      await new Promise((r) => setTimeout(r, 5));
    }
    this.closed = true;
  }
}
