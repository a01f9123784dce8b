// The SQLite lease store in a worker thread (sqlite-worker-main.ts), seen from the
// server's thread as a LeaseStore (init, restore, expiry, status) and a LeaseService
// (the lease operations). Why: better-sqlite3 is synchronous, and a durable commit is
// an fsync; on the server's thread every statement and every fsync would stop the
// datagram handling. Here the server's thread decodes, decides and answers while the
// worker writes and syncs; requests made in one event-loop turn travel in one
// message, and the worker folds every message waiting for it into one transaction
// (synchronous=FULL: the COMMIT returns after the WAL is fsynced), so the group
// commit happens there. A result — and so a reply — comes back only after its COMMIT.
// Requests and replies cross as flat frames (worker-wire.ts).
import { Worker } from 'node:worker_threads';
import type { AllocationPlan } from '../allocator.js';
import type { LeaseService, Slot } from '../lease-service.js';
import type { AllocateResult, BindResult, Holder, RequestKind } from '../leases.js';
import type { GroupCommitStats } from './group-commit.js';
import type { LeaseRow, LeaseStore, PoolSlots } from './types.js';
import { readReplies, writeAllocate, writeBind, writeCall, type Frame } from './worker-wire.js';

export class SqliteWorkerStore implements LeaseStore, LeaseService {
  readonly kind = 'sqlite' as const;
  readonly stats: GroupCommitStats = { transactions: 0, units: 0, failedTransactions: 0, largestBatch: 0 };
  private readonly worker: Worker;
  private nextId = 1;
  /** The requests of this event-loop turn: one frame (worker-wire.ts). */
  private outbox: Frame = [];
  private scheduled = false;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private dead: Error | undefined;
  /** Units of the transaction in progress already answered in its offers frame. */
  private offered = 0;
  private closed = false;

  constructor(path: string) {
    this.worker = new Worker(new URL('./sqlite-worker-main.js', import.meta.url), { workerData: { path } });
    // A transaction's replies come as one frame after its COMMIT; its offers, if any,
    // as { offers: frame } just before it (sqlite-worker-main.ts handle()).
    this.worker.on('message', (m: Frame | { offers: Frame }) => {
      const early = !Array.isArray(m);
      const n = readReplies(early ? m.offers : m, (id, ok, value) => {
        const p = this.pending.get(id);
        if (p === undefined) return;
        this.pending.delete(id);
        if (ok) p.resolve(value);
        else {
          this.stats.failedTransactions++;
          p.reject(new Error(value as string));
        }
      });
      this.stats.units += n;
      if (early) {
        this.offered += n;
        return;
      }
      this.stats.transactions++;
      const units = n + this.offered;
      this.offered = 0;
      if (units > this.stats.largestBatch) this.stats.largestBatch = units;
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`lease store worker exited (${code})`)));
  }

  private call<T>(op: string, ...args: unknown[]): Promise<T> {
    return this.request((f, id) => writeCall(f, id, op, args));
  }

  /** `write` puts the request, under the id given, into this turn's frame. */
  private request<T>(write: (f: Frame, id: number) => void): Promise<T> {
    if (this.dead !== undefined) return Promise.reject(this.dead);
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      write(this.outbox, id);
      if (!this.scheduled) {
        this.scheduled = true;
        // One message per event-loop turn: everything the datagrams of this turn asked for.
        setImmediate(() => {
          this.scheduled = false;
          const batch = this.outbox;
          this.outbox = [];
          this.worker.postMessage(batch);
        });
      }
    });
  }

  // ---- LeaseStore
  init(pools: readonly PoolSlots[]): Promise<number> {
    return this.call('init', pools);
  }
  transaction<T>(): Promise<T[]> {
    return Promise.reject(new Error('SqliteWorkerStore runs lease operations in its worker: use it as the LeaseService'));
  }
  active(now: number): Promise<LeaseRow[]> {
    return this.call('active', now);
  }
  expire(now: number, limit: number): Promise<LeaseRow[]> {
    return this.call('expire', now, limit);
  }
  all(): Promise<LeaseRow[]> {
    return this.call('all');
  }
  getMeta(key: string): Promise<string | undefined> {
    return this.call('getMeta', key);
  }
  setMeta(key: string, value: string): Promise<void> {
    return this.call('setMeta', key, value);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.dead === undefined) await this.call('close').catch(() => undefined);
    await this.worker.terminate();
  }

  // ---- LeaseService
  allocate(h: Holder, plan: AllocationPlan, now: number, offerUntil: number): Promise<AllocateResult> {
    return this.request((f, id) => writeAllocate(f, id, h, plan, now, offerUntil));
  }
  bind(h: Holder, slot: Slot, eligible: readonly string[], kind: RequestKind, now: number, leaseUntil: number): Promise<BindResult> {
    return this.request((f, id) => writeBind(f, id, h, slot, eligible, kind, now, leaseUntil));
  }
  release(client: string, slot: Slot, eligible: readonly string[], now: number): Promise<LeaseRow | null> {
    return this.call('release', client, slot, eligible, now);
  }
  decline(client: string, slot: Slot, eligible: readonly string[], until: number): Promise<LeaseRow | null | 'ignored'> {
    return this.call('decline', client, slot, eligible, until);
  }
  withdrawOffers(client: string, pools: readonly string[], now: number): Promise<number> {
    return this.call('withdraw', client, pools, now);
  }
  dropRetired(client: string, ipv4: number | undefined, now: number): Promise<LeaseRow[]> {
    return this.call('dropRetired', client, ipv4 ?? null, now);
  }
}
