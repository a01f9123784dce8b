// The lease store contract: one row per leasable (IPv4 address, PSID) slot of the
// configured pools — RFC 7618 section 8: "the server uses the combination of address
// and PSID as the key for maintaining the state of a lease", and "the leasing database
// is required to include the IPv4 address, PSID, and client identifier". A full-address
// pool has PSID 0 and PSID-len 0 in every row.
//
// Rows exist for every slot from init() on, so "is it free?" and "take a free one" are
// row operations, and uniqueness of a (IPv4, PSID) lease is the primary key itself:
// no slot can be held by two clients because there is only one row to hold it.
//
// Every change runs inside a transaction (LeaseStore.transaction) that commits
// durably before the caller sees its result, so a reply built from a result is only
// sent once the lease is on disk (DESIGN.md: "a lease is durable before its ACK is
// sent"). A transaction takes a *list* of units of work: that is the group commit.
import type { AllocationPlan } from '../allocator.js';
import type { AllocateResult, BindResult, Holder, RequestKind } from '../leases.js';

/**
 * free: leasable (client keeps the last holder, for RFC 7618 section 8's "previous
 * binding" rule); offered: reserved for `client` until expiresAt (RFC 2131 4.3.2
 * "servers SHOULD NOT reuse offered addresses") — an offer is no lease and a store
 * need not make it durable (the SQLite store keeps offers in memory only, sqlite.ts
 * writeDirty); bound: leased until expiresAt; declined: out of use until expiresAt
 * (RFC 2131 4.3.3).
 */
export type LeaseState = 'free' | 'offered' | 'bound' | 'declined';

export interface LeaseRow {
  /** IPv4 address as an unsigned 32-bit number. */
  ipv4: number;
  psid: number;
  pool: string;
  psidLen: number;
  psidOffset: number;
  state: LeaseState;
  /** The client key (hex of the client identifier, see v4.ts clientKey); null if never leased. */
  client: string | null;
  /** ms since the epoch; 0 for free rows. */
  expiresAt: number;
  /** The per-site key the lease counts against (allocator.ts siteOf). */
  site: string | null;
  /** The data-plane binding's IPv6 prefix (16 octets), null when the lease has none (bindings.ts). */
  ipv6: Uint8Array | null;
  prefixLen: number;
  /** ms since the epoch when the row last became free; 0 = never leased. */
  freedAt: number;
}

/**
 * The pool name of a row that fits no configured pool any more (a reload removed,
 * shrank or reshaped its pool, or reserved its ports): init() gives it this name, which
 * no configured pool can have (schema.ts: names are non-empty), so no allocation ever
 * finds it (every lease operation looks rows up by pool name). Only bound rows are
 * kept so: the lease stays, and its binding, until it expires, is released, or its
 * client returns (v4.ts: a REQUEST for it is NAKed, RFC 2131 section 4.3.2). Offers and
 * declines outside the pools are dropped (an offer is no lease: its client's REQUEST
 * is NAKed and it starts over).
 */
export const RETIRED_POOL = '';

/** One pool's slots, as init() creates them (allocator.ts poolSlots). */
export interface PoolSlots {
  name: string;
  /** First IPv4 address (number) and how many consecutive addresses. */
  first: number;
  count: number;
  psidLen: number;
  psidOffset: number;
  /** The PSIDs that may be leased (reserved ports excluded), ascending; [0] for a full pool. */
  psids: number[];
}

/** A change the data planes must learn (PostgreSQL: NOTIFY to every listener). */
export interface BindingChange {
  op: 'put' | 'remove';
  row: LeaseRow;
}

/** What a unit of work may do inside a transaction. */
export interface LeaseTx {
  /** The row of a slot (locked until commit where the store locks rows). */
  get(ipv4: number, psid: number): Promise<LeaseRow | undefined>;
  /** Every row whose client is `client` (any state), in the given pools. */
  byClient(client: string, pools: readonly string[]): Promise<LeaseRow[]>;
  /**
   * A free slot of `pool`, locked for this transaction and skipped by concurrent ones
   * (PostgreSQL: FOR UPDATE SKIP LOCKED). Never-leased slots first, then the one
   * freed longest ago (so a client's previous slot stays available to it as long as
   * possible, RFC 2131 4.3.1), then by address and PSID. Also takes an offer or a
   * decline whose time has passed.
   */
  claimFree(pool: string, now: number): Promise<LeaseRow | undefined>;
  /**
   * Offered or bound, unexpired rows of `site` held by clients other than `client`,
   * counted up to `cap` (the limit is all that matters; a site behind one relay may
   * hold many thousands of leases, and counting them all would make each allocation
   * O(site size)).
   */
  countSite(site: string, exceptClient: string, now: number, cap: number): Promise<number>;
  /** Writes every mutable field of the row, found by (ipv4, psid). */
  write(row: LeaseRow): Promise<void>;
  /** Publishes a binding change after commit (PostgreSQL NOTIFY); a no-op where nobody else listens. */
  publish(change: BindingChange): Promise<void>;
  /**
   * Optional: leases.ts allocate() as one store call (fewer round trips). Must behave
   * exactly like the generic version.
   */
  allocateOne?(h: Holder, plan: AllocationPlan, now: number, offerUntil: number): Promise<AllocateResult>;
  /** Optional: leases.ts bind() (for a defined slot) as one store call, publishing the new binding itself. */
  bindOne?(
    h: Holder,
    slot: { ipv4: number; psid: number | null },
    eligible: readonly string[],
    kind: RequestKind,
    now: number,
    leaseUntil: number,
  ): Promise<BindResult>;
}

/**
 * The two hot lease operations as data (lease-service.ts attaches one to each unit it
 * submits), for a store that runs a whole batch of them in one call (runOps).
 */
export type LeaseOp =
  | { op: 'allocate'; h: Holder; plan: AllocationPlan; now: number; offerUntil: number }
  | {
      op: 'bind';
      h: Holder;
      slot: { ipv4: number; psid: number | null };
      eligible: readonly string[];
      kind: RequestKind;
      now: number;
      leaseUntil: number;
    };

export interface LeaseStore {
  readonly kind: 'sqlite' | 'postgres';
  /**
   * Creates the schema if needed and makes the rows match `pools` (idempotent; run at
   * start and again by a live reload, server.ts reconfigure):
   *  1. a row whose (IPv4, PSID, PSID-len, offset) is a slot of a pool is that pool's
   *     (a renamed pool keeps its leases);
   *  2. a row that fits no pool leaves if it is not bound; a bound one is kept under
   *     RETIRED_POOL until it ends;
   *  3. every slot of every pool gets a row — except on an address that still holds a
   *     retired lease of another PSID-len or offset: two port-set sizes on one address
   *     would overlap (and the data plane refuses mixed parameters on one address,
   *     RFC 7597 section 5.1); those slots come when the retired leases are gone and
   *     init runs again.
   * Runs as one transaction (serialized with the lease transactions where the store
   * serializes them). Resolves with the number of retired leases left.
   */
  init(pools: readonly PoolSlots[]): Promise<number>;
  /**
   * Runs the units of work in order in ONE transaction and commits it durably; the
   * results come back in order only after the commit. If any unit throws, or the
   * commit fails, everything is rolled back and the promise rejects.
   * `lockKeys` (optional) are taken first, sorted, where the store has cross-process
   * locks (PostgreSQL advisory locks on the sites the units count against).
   */
  transaction<T>(units: readonly ((tx: LeaseTx) => Promise<T>)[], lockKeys?: readonly string[]): Promise<T[]>;
  /**
   * Optional: transaction() for a batch of hot operations in one call to the store
   * (PostgreSQL: one statement instead of one round trip per lease). The same results
   * as leases.ts allocate() / bind() run in order in one transaction, each seeing the
   * ones before it (a bind's binding change published as bindOne publishes it).
   */
  runOps?(ops: readonly LeaseOp[], lockKeys?: readonly string[]): Promise<(AllocateResult | BindResult)[]>;
  /** Bound rows whose lease has not expired (restored as bindings at start). */
  active(now: number): Promise<LeaseRow[]>;
  /**
   * Frees every bound row whose lease expired at `now` and returns them as they were
   * (their bindings must go); also frees offers and declines whose time has passed.
   * At most `limit` bound rows per call.
   */
  expire(now: number, limit: number): Promise<LeaseRow[]>;
  /** Every row that ever held a client (tests, status). */
  all(): Promise<LeaseRow[]>;
  /** Server-wide persistent values (e.g. the generated server DUID). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;
  /**
   * Where several servers share the store (PostgreSQL): calls `onChange` for every
   * binding change another server published, from the moment the returned promise
   * resolves (LISTEN is in place). When the listening connection is lost it is
   * re-established (with back-off) and `onResync` is called once LISTEN is back, so
   * the caller can re-read the active leases: nothing missed while it was down stays
   * missed. Absent where one process owns the store.
   */
  follow?(onChange: (change: BindingChange) => void, onResync: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/**
 * Transactions in flight at once. SQLite: one writes at a time (a mutex in the store),
 * the others wait for their WAL sync, so 4 lets processing overlap the syncs.
 * PostgreSQL: one per pooled connection.
 */
export function storeConcurrency(_store: LeaseStore): number {
  return 4;
}
