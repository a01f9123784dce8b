// Every lease row of the SQLite store, held in memory, so that the reads of a lease
// operation (leases.ts: a client's rows, a slot, the next free slot, a site's count)
// are array and map look-ups instead of SQL statements; SQLite then only writes the
// rows that changed, and only needs its primary key to find them (sqlite.ts).
//
// Sound because one process owns a SQLite lease file (sqlite.ts claimOwnership refuses
// a second; several servers share leases through PostgreSQL, never through one SQLite
// file), and every change goes through write(): the table is the file's content plus
// the offers (kept out of the file, sqlite.ts writeDirty) and the changes of the
// transaction in progress. If a transaction fails, sqlite.ts rolls the file back and
// writes the rows it changed back into the table as they were.
//
// Each read answers exactly what the SQL of the store answers (sqlite.ts, the `reads:
// 'sql'` reference; test/dhcp/lease-table.test.ts runs random operation sequences
// through both and compares every result and every row):
// - rows in (ipv4, psid) order, the primary key's, in typed arrays (with the indexes
//   below, ~97 bytes a slot: 24 MB for a /18 of 15 PSIDs; each lease then adds ~195
//   bytes, its strings and map entries; measured, bench/dhcp4o6-results.md);
// - a slot by binary search over the sorted keys;
// - a client's rows and a site's offered/bound rows as lists threaded through typed
//   arrays (a map holds each list's first row);
// - per pool, "free, ORDER BY freed_at, ipv4, psid": never-leased slots (freed_at 0)
//   by a cursor over the pool's rows, then freed ones in a heap by (freed_at, row);
//   "offered or declined and past, ORDER BY expires_at" in a second heap;
// - bound rows by expiry in a heap, for the expiry sweep.
//
// A lease leaves as little on the heap as it can: its client and site strings (one
// instance each, kept when a later write brings equal ones) and a map entry for each.
// Its binding address lives in a column, not an array of its own, and its lists in
// typed arrays, not an array or a set per client and per site. Whatever a lease kept
// on the heap the worker's collector copied and promoted, and then marked for as long
// as the lease lasted (bench/dhcp4o6-results.md, tenth session).
import { RowHeap } from './row-heap.js';
import type { LeaseRow, LeaseState } from './types.js';

/** A row as the store's SELECT returns it (raw mode), in sqlite.ts ROW_COLUMNS order. */
export type RowColumns = [number, number, string, number, number, string, string | null, number, string | null, Uint8Array | null, number, number];

const FREE = 0;
const OFFERED = 1;
const BOUND = 2;
const DECLINED = 3;
const STATES: readonly LeaseState[] = ['free', 'offered', 'bound', 'declined'];
const STATE_CODE: Readonly<Record<string, number>> = { free: FREE, offered: OFFERED, bound: BOUND, declined: DECLINED };

/** Which ordered queue a row is in: by its state and, when free, whether it was ever leased. */
const Q_NEVER = 0; // free, freed_at 0: the pool's cursor
const Q_FREED = 1; // free, freed_at set: the pool's freed heap
const Q_PENDING = 2; // offered or declined: the pool's pending heap, by expires_at
const Q_BOUND = 3; // bound: the bound heap, by expires_at

interface PoolQueues {
  readonly name: string;
  /** The pool's rows, ascending (so by ipv4, psid). */
  readonly rows: number[];
  /** No never-leased free row of the pool sits before this position of `rows`. */
  cursor: number;
  readonly freed: RowHeap;
  freedLive: number;
  readonly pending: RowHeap;
  pendingLive: number;
}

const key = (ipv4: number, psid: number) => ipv4 * 65536 + psid;

/** A binding address is 16 octets (the column's width): refused before any change to the table. */
function checkIpv6(b: Uint8Array | null): void {
  if (b !== null && b.length !== 16) throw new Error(`lease table: a binding address of ${b.length} octets (16 expected)`);
}

export class LeaseTable {
  private n = 0;
  private readonly keys: Float64Array;
  private readonly poolOf: Uint16Array;
  private readonly psidLen: Uint8Array;
  private readonly psidOffset: Uint8Array;
  private readonly state: Uint8Array;
  private readonly client: (string | null)[];
  private readonly expiresAt: Float64Array;
  private readonly freedAt: Float64Array;
  private readonly site: (string | null)[];
  /** 16 octets a row: the binding address, when hasIpv6. */
  private readonly ipv6: Uint8Array;
  private readonly hasIpv6: Uint8Array;
  private readonly prefixLen: Uint8Array;
  private readonly posInPool: Int32Array;

  private readonly pools: PoolQueues[] = [];
  private readonly poolIndex = new Map<string, number>();
  /** A client's first row; the next ones by clientNext, ascending (so by ipv4, psid); -1 ends. */
  private readonly byClient = new Map<string, number>();
  private readonly clientNext: Int32Array;
  /**
   * Offered and bound rows by site (what countSite counts, before its time and client
   * tests): the site's first row, the others by siteNext / sitePrev, in no order.
   */
  private readonly bySite = new Map<string, number>();
  private readonly siteNext: Int32Array;
  private readonly sitePrev: Int32Array;
  private readonly bound = new RowHeap();
  private boundLive = 0;

  /** `capacity`: how many rows add() will be given. */
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
    this.poolOf = new Uint16Array(capacity);
    this.psidLen = new Uint8Array(capacity);
    this.psidOffset = new Uint8Array(capacity);
    this.state = new Uint8Array(capacity);
    this.client = new Array<string | null>(capacity).fill(null);
    this.expiresAt = new Float64Array(capacity);
    this.freedAt = new Float64Array(capacity);
    this.site = new Array<string | null>(capacity).fill(null);
    this.ipv6 = new Uint8Array(capacity * 16);
    this.hasIpv6 = new Uint8Array(capacity);
    this.clientNext = new Int32Array(capacity).fill(-1);
    this.siteNext = new Int32Array(capacity).fill(-1);
    this.sitePrev = new Int32Array(capacity).fill(-1);
    this.prefixLen = new Uint8Array(capacity);
    this.posInPool = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  /** Appends a row; rows must come in ascending (ipv4, psid) order (the primary key's). */
  add(c: RowColumns): void {
    const i = this.n;
    if (i >= this.keys.length) throw new Error('lease table: more rows than its capacity');
    const k = key(c[0], c[1]);
    if (i > 0 && k <= this.keys[i - 1]) throw new Error('lease table: rows out of (ipv4, psid) order');
    const st = STATE_CODE[c[5]];
    if (st === undefined) throw new Error(`lease table: row ${c[0]}/${c[1]} has unknown state ${c[5]}`);
    checkIpv6(c[9]);
    this.n++;
    this.keys[i] = k;
    let p = this.poolIndex.get(c[2]);
    if (p === undefined) {
      p = this.pools.length;
      this.pools.push({ name: c[2], rows: [], cursor: 0, freed: new RowHeap(), freedLive: 0, pending: new RowHeap(), pendingLive: 0 });
      this.poolIndex.set(c[2], p);
    }
    this.poolOf[i] = p;
    this.posInPool[i] = this.pools[p].rows.length;
    this.pools[p].rows.push(i);
    this.psidLen[i] = c[3];
    this.psidOffset[i] = c[4];
    this.state[i] = st;
    this.client[i] = c[6];
    this.expiresAt[i] = c[7];
    this.site[i] = c[8];
    this.setIpv6(i, c[9]);
    this.prefixLen[i] = c[10];
    this.freedAt[i] = c[11];
    if (c[6] !== null) this.listClient(c[6], i);
    if (this.held(i)) this.listSite(this.site[i]!, i);
    this.enqueue(i);
  }

  /** The row of a slot, or -1. */
  find(ipv4: number, psid: number): number {
    const k = key(ipv4, psid);
    const keys = this.keys;
    let lo = 0;
    let hi = this.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = keys[mid];
      if (v === k) return mid;
      if (v < k) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Row `i` as a LeaseRow (a new object, with a copy of the binding address). */
  row(i: number): LeaseRow {
    const k = this.keys[i];
    return {
      ipv4: Math.floor(k / 65536),
      psid: k % 65536,
      pool: this.pools[this.poolOf[i]].name,
      psidLen: this.psidLen[i],
      psidOffset: this.psidOffset[i],
      state: STATES[this.state[i]],
      client: this.client[i],
      expiresAt: this.expiresAt[i],
      site: this.site[i],
      ipv6: this.hasIpv6[i] === 1 ? this.ipv6.slice(i * 16, i * 16 + 16) : null,
      prefixLen: this.prefixLen[i],
      freedAt: this.freedAt[i],
    };
  }

  get(ipv4: number, psid: number): LeaseRow | undefined {
    const i = this.find(ipv4, psid);
    return i < 0 ? undefined : this.row(i);
  }

  /** The client's rows in the given pools, by (ipv4, psid). */
  rowsOf(client: string, pools: readonly string[]): LeaseRow[] {
    const out: LeaseRow[] = [];
    for (let i = this.byClient.get(client) ?? -1; i >= 0; i = this.clientNext[i]) {
      if (pools.includes(this.pools[this.poolOf[i]].name)) out.push(this.row(i));
    }
    return out;
  }

  /**
   * The store's claimFree: the free row of `pool` first by (freed_at, ipv4, psid);
   * failing that, the offered or declined one whose time has passed, earliest first.
   */
  claimFree(pool: string, now: number): LeaseRow | undefined {
    const p = this.poolIndex.get(pool);
    if (p === undefined) return undefined;
    const q = this.pools[p];
    const freed = this.liveTop(q.freed, Q_FREED);
    if (freed >= 0 && q.freed.topKey() < 0) return this.row(freed); // freed_at before 0 sorts first (never in practice)
    while (q.cursor < q.rows.length) {
      const i = q.rows[q.cursor];
      if (this.state[i] === FREE && this.freedAt[i] === 0) return this.row(i);
      q.cursor++;
    }
    if (freed >= 0) return this.row(freed);
    const pending = this.liveTop(q.pending, Q_PENDING);
    if (pending >= 0 && this.expiresAt[pending] <= now) return this.row(pending);
    return undefined;
  }

  /** The store's countSite: offered or bound rows of `site`, unexpired, of another client, counted up to `cap`. */
  countSite(site: string, exceptClient: string, now: number, cap: number): number {
    const limit = cap < 0 ? Infinity : cap; // SQLite: a negative LIMIT is no limit
    let n = 0;
    if (n >= limit) return 0;
    for (let i = this.bySite.get(site) ?? -1; i >= 0; i = this.siteNext[i]) {
      const c = this.client[i];
      if (this.expiresAt[i] > now && c !== null && c !== exceptClient && ++n >= limit) break;
    }
    return n;
  }

  /** Writes the row's mutable fields to its slot; the slot's index, or -1 if there is no such slot. */
  write(r: LeaseRow): number {
    const i = this.find(r.ipv4, r.psid);
    if (i < 0) return -1;
    const st = STATE_CODE[r.state];
    if (st === undefined) throw new Error(`lease table: unknown state ${r.state}`);
    checkIpv6(r.ipv6);
    const oldClient = this.client[i];
    const oldSite = this.site[i];
    const wasHeld = this.held(i);
    const oldQueue = this.queueOf(i);
    const oldKey = this.queueKey(i);
    this.dequeue(i, oldQueue);
    this.state[i] = st;
    // Equal strings keep the instance the table already holds (the new one, fresh from
    // the worker's message, then dies young).
    if (oldClient !== r.client) this.client[i] = r.client;
    this.expiresAt[i] = r.expiresAt;
    if (oldSite !== r.site) this.site[i] = r.site;
    this.setIpv6(i, r.ipv6);
    this.prefixLen[i] = r.prefixLen;
    this.freedAt[i] = r.freedAt;
    if (oldClient !== r.client) {
      if (oldClient !== null) this.unlistClient(oldClient, i);
      if (r.client !== null) this.listClient(r.client, i);
    }
    const isHeld = this.held(i);
    if (wasHeld && (!isHeld || oldSite !== r.site)) this.unlistSite(oldSite!, i);
    if (isHeld && (!wasHeld || oldSite !== r.site)) this.listSite(r.site!, i);
    // An unchanged queue position keeps its entry (no duplicate to skip later).
    if (this.queueOf(i) === oldQueue && this.queueKey(i) === oldKey) this.count(i, oldQueue, +1);
    else this.enqueue(i);
    return i;
  }

  /** Bound rows whose time has come (expires_at <= now), earliest first, at most `limit`. */
  expiredBound(now: number, limit: number): LeaseRow[] {
    const out: LeaseRow[] = [];
    this.due(this.bound, Q_BOUND, now, limit < 0 ? Infinity : limit, out); // SQLite: a negative LIMIT is no limit
    return out;
  }

  /** Offered and declined rows whose time has passed (expires_at <= now). */
  expiredPending(now: number): LeaseRow[] {
    const out: LeaseRow[] = [];
    for (const q of this.pools) this.due(q.pending, Q_PENDING, now, Infinity, out);
    return out;
  }

  /** Appends to `out` the rows of heap `h` (of queue `queue`) keyed <= now, earliest first, until `out` holds `most`. */
  private due(h: RowHeap, queue: number, now: number, most: number, out: LeaseRow[]): void {
    const seen = new Set<number>();
    // Entries are only popped once their rows are freed (the caller writes them), so
    // the top entries are popped to walk the heap and pushed back after.
    const taken: [number, number][] = [];
    while (out.length < most) {
      const i = this.liveTop(h, queue);
      if (i < 0 || h.topKey() > now) break;
      taken.push([h.topKey(), i]);
      h.pop();
      if (!seen.has(i)) {
        seen.add(i);
        out.push(this.row(i));
      }
    }
    for (const [k, i] of taken) h.push(k, i);
  }

  /** Every row `keep` accepts, by (ipv4, psid). */
  filter(keep: (state: LeaseState, client: string | null, expiresAt: number) => boolean): LeaseRow[] {
    const out: LeaseRow[] = [];
    for (let i = 0; i < this.n; i++) if (keep(STATES[this.state[i]], this.client[i], this.expiresAt[i])) out.push(this.row(i));
    return out;
  }

  // ---- indexes

  private held(i: number): boolean {
    const s = this.state[i];
    return (s === OFFERED || s === BOUND) && this.site[i] !== null;
  }

  /** The row's binding address (checkIpv6 has passed it). */
  private setIpv6(i: number, b: Uint8Array | null): void {
    if (b === null) {
      this.hasIpv6[i] = 0;
      return;
    }
    this.ipv6.set(b, i * 16);
    this.hasIpv6[i] = 1;
  }

  /** Threads row `i` into client `c`'s list, in ascending order (a client holds a row or two). */
  private listClient(c: string, i: number): void {
    const next = this.clientNext;
    const head = this.byClient.get(c);
    if (head === undefined || i < head) {
      next[i] = head ?? -1;
      this.byClient.set(c, i);
      return;
    }
    let p = head;
    while (next[p] >= 0 && next[p] < i) p = next[p];
    next[i] = next[p];
    next[p] = i;
  }

  private unlistClient(c: string, i: number): void {
    const next = this.clientNext;
    const head = this.byClient.get(c);
    if (head === undefined) return;
    if (head === i) {
      if (next[i] < 0) this.byClient.delete(c);
      else this.byClient.set(c, next[i]);
    } else {
      let p = head;
      while (next[p] >= 0 && next[p] !== i) p = next[p];
      if (next[p] !== i) return;
      next[p] = next[i];
    }
    next[i] = -1;
  }

  private listSite(s: string, i: number): void {
    const head = this.bySite.get(s);
    this.sitePrev[i] = -1;
    this.siteNext[i] = head ?? -1;
    if (head !== undefined) this.sitePrev[head] = i;
    this.bySite.set(s, i);
  }

  private unlistSite(s: string, i: number): void {
    const p = this.sitePrev[i];
    const n = this.siteNext[i];
    if (p >= 0) this.siteNext[p] = n;
    else if (n >= 0) this.bySite.set(s, n);
    else this.bySite.delete(s);
    if (n >= 0) this.sitePrev[n] = p;
    this.siteNext[i] = -1;
    this.sitePrev[i] = -1;
  }

  // ---- ordered queues

  private queueOf(i: number): number {
    const s = this.state[i];
    if (s === FREE) return this.freedAt[i] === 0 ? Q_NEVER : Q_FREED;
    return s === BOUND ? Q_BOUND : Q_PENDING;
  }

  private queueKey(i: number): number {
    return this.state[i] === FREE ? this.freedAt[i] : this.expiresAt[i];
  }

  /** Whether a heap entry still describes its row. */
  private live(queue: number, k: number, i: number): boolean {
    return this.queueOf(i) === queue && this.queueKey(i) === k;
  }

  /** The heap's first live entry's row (dead ones on top are dropped), or -1. */
  private liveTop(h: RowHeap, queue: number): number {
    for (;;) {
      const i = h.topRow();
      if (i < 0 || this.live(queue, h.topKey(), i)) return i;
      h.pop();
    }
  }

  private enqueue(i: number): void {
    const queue = this.queueOf(i);
    const k = this.queueKey(i);
    if (queue === Q_NEVER) {
      const q = this.pools[this.poolOf[i]];
      if (this.posInPool[i] < q.cursor) q.cursor = this.posInPool[i];
      return;
    }
    const h = this.heapOf(i, queue);
    h.push(k, i);
    this.count(i, queue, +1);
    // More dead entries than live ones: rebuild (each row once).
    if (h.size > 64 && h.size > 2 * this.liveCount(i, queue)) {
      const seen = new Set<number>();
      h.retain((hk, row) => !seen.has(row) && this.live(queue, hk, row) && (seen.add(row), true));
    }
  }

  private dequeue(i: number, queue: number): void {
    this.count(i, queue, -1);
  }

  private heapOf(i: number, queue: number): RowHeap {
    if (queue === Q_BOUND) return this.bound;
    const q = this.pools[this.poolOf[i]];
    return queue === Q_FREED ? q.freed : q.pending;
  }

  private liveCount(i: number, queue: number): number {
    if (queue === Q_BOUND) return this.boundLive;
    const q = this.pools[this.poolOf[i]];
    return queue === Q_FREED ? q.freedLive : q.pendingLive;
  }

  private count(i: number, queue: number, d: number): void {
    if (queue === Q_NEVER) return;
    if (queue === Q_BOUND) {
      this.boundLive += d;
      return;
    }
    const q = this.pools[this.poolOf[i]];
    if (queue === Q_FREED) q.freedLive += d;
    else q.pendingLive += d;
  }
}
