// The lease operations as the DHCPv4 state machine calls them: each resolves only
// after its change is durable (and, where other BRs listen, published). Two
// implementations:
//  - StoreLeaseService: the operations as units of work in a GroupCommit over any
//    LeaseStore, on this thread (PostgreSQL; SQLite in tests);
//  - SqliteWorkerStore (store/sqlite-worker.ts): the SQLite store in a worker thread,
//    so its statements and fsyncs never block the thread that handles datagrams.
import type { AllocationPlan } from './allocator.js';
import { allocate, bind, decline, dropRetired, release, withdrawOffers, type AllocateResult, type BindResult, type Holder, type RequestKind } from './leases.js';
import { GroupCommit, type GroupCommitStats } from './store/group-commit.js';
import type { LeaseRow, LeaseStore } from './store/types.js';

export type Slot = { ipv4: number; psid: number | null } | undefined;

export interface LeaseService {
  allocate(h: Holder, plan: AllocationPlan, now: number, offerUntil: number): Promise<AllocateResult>;
  bind(h: Holder, slot: Slot, eligible: readonly string[], kind: RequestKind, now: number, leaseUntil: number): Promise<BindResult>;
  release(client: string, slot: Slot, eligible: readonly string[], now: number): Promise<LeaseRow | null>;
  decline(client: string, slot: Slot, eligible: readonly string[], until: number): Promise<LeaseRow | null | 'ignored'>;
  withdrawOffers(client: string, pools: readonly string[], now: number): Promise<number>;
  /** leases.ts dropRetired: the client's leases outside every pool (after a reload) end; their removal is published. */
  dropRetired(client: string, ipv4: number | undefined, now: number): Promise<LeaseRow[]>;
  readonly stats: GroupCommitStats;
  /** Waits for what was submitted; the store itself is closed by its owner. */
  close(): Promise<void>;
}

export class StoreLeaseService implements LeaseService {
  private readonly commit: GroupCommit;

  constructor(store: LeaseStore, maxBatch: number, concurrency: number) {
    this.commit = new GroupCommit(store, maxBatch, concurrency);
  }

  get stats(): GroupCommitStats {
    return this.commit.stats;
  }

  allocate(h: Holder, plan: AllocationPlan, now: number, offerUntil: number): Promise<AllocateResult> {
    // The site's advisory lock (PostgreSQL) makes the per-site count exact across servers.
    return this.commit.submit((tx) => allocate(tx, h, plan, now, offerUntil), h.site, { op: 'allocate', h, plan, now, offerUntil });
  }

  bind(h: Holder, slot: Slot, eligible: readonly string[], kind: RequestKind, now: number, leaseUntil: number): Promise<BindResult> {
    return this.commit.submit(
      async (tx) => {
        const r = await bind(tx, h, slot, eligible, kind, now, leaseUntil);
        // bindOne (PostgreSQL) publishes inside its statement.
        if (r.kind === 'ack' && r.row.ipv6 !== null && tx.bindOne === undefined) await tx.publish({ op: 'put', row: r.row });
        return r;
      },
      h.site,
      // without a slot, bind() answers without the store: no op, the unit does it
      slot === undefined ? undefined : { op: 'bind', h, slot, eligible, kind, now, leaseUntil },
    );
  }

  release(client: string, slot: Slot, eligible: readonly string[], now: number): Promise<LeaseRow | null> {
    return this.commit.submit(async (tx) => {
      const r = await release(tx, client, slot, eligible, now);
      if (r !== null) await tx.publish({ op: 'remove', row: r });
      return r;
    });
  }

  decline(client: string, slot: Slot, eligible: readonly string[], until: number): Promise<LeaseRow | null | 'ignored'> {
    return this.commit.submit(async (tx) => {
      const r = await decline(tx, client, slot, eligible, until);
      if (r !== null && r !== 'ignored') await tx.publish({ op: 'remove', row: r });
      return r;
    });
  }

  withdrawOffers(client: string, pools: readonly string[], now: number): Promise<number> {
    return this.commit.submit((tx) => withdrawOffers(tx, client, pools, now));
  }

  dropRetired(client: string, ipv4: number | undefined, now: number): Promise<LeaseRow[]> {
    return this.commit.submit(async (tx) => {
      const rows = await dropRetired(tx, client, ipv4, now);
      for (const r of rows) if (r.ipv6 !== null) await tx.publish({ op: 'remove', row: r });
      return rows;
    });
  }

  /** A reload's dhcp4o6.commit-batch: batches formed from now on. */
  setMaxBatch(n: number): void {
    this.commit.setMaxBatch(n);
  }

  close(): Promise<void> {
    return this.commit.close();
  }
}
