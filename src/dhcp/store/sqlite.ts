// The embedded lease store: one SQLite file (better-sqlite3), no setup.
//
// Durability: journal_mode=WAL, and a transaction's promise resolves only after the
// WAL file holding its commit record has been fdatasync'ed — so a lease whose
// transaction resolved is on disk, exactly what synchronous=FULL gives (SQLite docs:
// "In WAL mode when synchronous is FULL ... the WAL file is synchronized after each
// transaction commit"), but with the sync done off the event loop: SQLite runs with
// synchronous=NORMAL (commit = write() to the WAL, no sync; the WAL is still synced
// before every checkpoint, so the database file only ever receives synced frames),
// and this store calls fdatasync on the WAL itself, in libuv's thread pool. While one
// sync is in flight the next batch of leases is processed and written; one sync
// covers every commit written before it started (the WAL is append-only between
// checkpoints, and a checkpoint syncs it first). A crash before the sync loses only
// commits whose callers have not been answered. `durability: 'full'` instead sets
// synchronous=FULL and syncs inside COMMIT (simpler, blocks the event loop per batch).
//
// Reads (reads: 'memory', the default): every row is also held in memory
// (lease-table.ts), so a lease operation's look-ups are no statements and SQLite only
// UPDATEs the rows a transaction changed, just before its COMMIT, through the primary
// key alone — the read indexes are dropped (each cost every UPDATE). At 10,000 leases
// in a 256-in-flight storm this took the SQLite worker from ~27 to ~17 us of CPU per
// lease (bench/dhcp4o6-results.md, eighth session). Offers stay in memory only
// (writeDirty): one UPDATE per lease, ~1.5 us less again (ninth session).
//
// Each transaction is BEGIN IMMEDIATE (the write lock is taken up front, so no unit
// fails half-way with SQLITE_BUSY on upgrade). better-sqlite3 is synchronous: units
// are awaited one after another while the transaction is open, but complete through
// microtasks only, and a mutex keeps one BEGIN..COMMIT at a time.
import { closeSync, fdatasyncSync, openSync, fdatasync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db, Statement } from 'better-sqlite3';
import { LeaseTable, type RowColumns } from './lease-table.js';
import { RETIRED_POOL, type BindingChange, type LeaseRow, type LeaseState, type LeaseStore, type LeaseTx, type PoolSlots } from './types.js';

/** LeaseTx.countSite's query, its cap `limit` (a literal or `?`). */
function countSiteSql(limit: string): string {
  return `SELECT count(*) AS n FROM (SELECT 1 FROM leases WHERE site = ? AND state IN ('offered', 'bound') AND expires_at > ? AND client <> ? LIMIT ${limit})`;
}

/**
 * The columns of a LeaseRow, in this order, for every statement that reads rows:
 * they return arrays (better-sqlite3 raw mode) turned into LeaseRows by fromColumns,
 * not an object keyed by column name first (a visible cost per row read).
 */
const ROW_COLUMNS = 'ipv4, psid, pool, psid_len, psid_offset, state, client, expires_at, site, ipv6, prefix_len, freed_at';

function fromColumns(c: RowColumns): LeaseRow {
  return {
    ipv4: c[0],
    psid: c[1],
    pool: c[2],
    psidLen: c[3],
    psidOffset: c[4],
    state: c[5] as LeaseState,
    client: c[6],
    expiresAt: c[7],
    site: c[8],
    ipv6: c[9] === null ? null : new Uint8Array(c[9]),
    prefixLen: c[10],
    freedAt: c[11],
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS leases (
  ipv4 INTEGER NOT NULL,
  psid INTEGER NOT NULL,
  pool TEXT NOT NULL,
  psid_len INTEGER NOT NULL,
  psid_offset INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'free',
  client TEXT,
  expires_at INTEGER NOT NULL DEFAULT 0,
  site TEXT,
  ipv6 BLOB,
  prefix_len INTEGER NOT NULL DEFAULT 0,
  freed_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (ipv4, psid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/**
 * The indexes the SQL reads use (reads: 'sql'). With the rows in memory nothing reads
 * through them, and each would cost every UPDATE of a lease: they are dropped.
 */
const READ_INDEXES = `
CREATE INDEX IF NOT EXISTS leases_free ON leases (pool, freed_at, ipv4, psid) WHERE state = 'free';
CREATE INDEX IF NOT EXISTS leases_client ON leases (client) WHERE client IS NOT NULL;
CREATE INDEX IF NOT EXISTS leases_site ON leases (site) WHERE state IN ('offered', 'bound');
CREATE INDEX IF NOT EXISTS leases_expiry ON leases (expires_at) WHERE state <> 'free';
`;
const DROP_READ_INDEXES = `
DROP INDEX IF EXISTS leases_free;
DROP INDEX IF EXISTS leases_client;
DROP INDEX IF EXISTS leases_site;
DROP INDEX IF EXISTS leases_expiry;
`;

/**
 * Makes this process the only user of the lease file `path`, or throws naming it.
 * The memory store (reads: 'memory') decides from its table alone. A second process
 * on the same file — a second `xbr dhcp`, or `xbr run` beside it — would decide from
 * a table of its own, and the two would lease one slot twice. (Through SQL alone they
 * would only have been slow.) The lock is SQLite's own: an exclusive lock on a
 * side file, `PATH-owner`, held for the life of the connection (locking_mode =
 * EXCLUSIVE). A second claim, from this process or another, fails at once
 * (SQLITE_BUSY, busy_timeout 0). The kernel drops the lock when its process ends,
 * SIGKILL included, so a restart is never locked out. Readers of the lease file itself
 * are not blocked.
 */
function claimOwnership(path: string): Db {
  const lock = new Database(`${path}-owner`);
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.pragma('busy_timeout = 0');
    lock.exec('BEGIN EXCLUSIVE; COMMIT'); // in EXCLUSIVE locking mode the lock outlives the transaction
    return lock;
  } catch (e) {
    lock.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') {
      throw new Error(
        `lease store ${path}: in use by another xbr server (one server per SQLite lease file; servers share leases through PostgreSQL)`,
      );
    }
    throw e;
  }
}

export class SqliteLeaseStore implements LeaseStore {
  readonly kind = 'sqlite' as const;
  private readonly db: Db;
  private readonly s: Record<string, Statement>;
  private tx: LeaseTx;
  private readonly countSiteByCap = new Map<number, Statement>();

  private readonly asyncSync: boolean;
  private walFd: number | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  /** The sync in flight, and the callers waiting for the one after it. */
  private syncing = false;
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private syncWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  /**
   * reads: 'memory': the rows are read from a LeaseTable (lease-table.ts), loaded from
   * the file on first use and again after an init (undefined until then).
   * reads: 'sql': every read is a SQL statement (the reference the table is tested against).
   */
  private readonly memory: boolean;
  private loaded: LeaseTable | undefined;
  /**
   * Rows of the table written by the transaction in progress, each as it was before
   * the transaction: put back in the table after a ROLLBACK (undoTable).
   */
  private readonly changed = new Map<number, LeaseRow>();
  /**
   * What the file gets at the COMMIT (writeDirty): each row's last write of the
   * transaction that was not an offer.
   */
  private readonly toFile = new Map<number, LeaseRow>();

  /** reads: 'memory': the lock that makes this store the file's only user (claimOwnership). */
  private readonly owner: Db | undefined;

  constructor(
    private readonly path: string,
    durability: 'async-wal-sync' | 'full' = 'async-wal-sync',
    reads: 'memory' | 'sql' = 'memory',
  ) {
    // Before anything is read: the table is only right while nobody else writes the file.
    this.owner = reads === 'memory' && path !== ':memory:' ? claimOwnership(path) : undefined;
    let db: Db | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      this.asyncSync = durability === 'async-wal-sync' && path !== ':memory:';
      db.pragma(this.asyncSync ? 'synchronous = NORMAL' : 'synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(SCHEMA);
      db.exec(reads === 'memory' ? DROP_READ_INDEXES : READ_INDEXES);
      if (this.asyncSync) {
        // The WAL exists once something was written; keep an fd on it to sync.
        db.prepare("INSERT INTO meta (key, value) VALUES ('opened', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(String(Date.now()));
        this.walFd = openSync(`${path}-wal`, 'r');
        fdatasyncSync(this.walFd);
        // the WAL's directory entry, once
        const dfd = openSync(dirname(path), 'r');
        fdatasyncSync(dfd);
        closeSync(dfd);
      }
    } catch (e) {
      // a store that failed to open holds nothing
      if (db?.open) db.close();
      if (this.walFd !== undefined) closeSync(this.walFd);
      this.owner?.close();
      throw e;
    }
    this.db = db;
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      get: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE ipv4 = ? AND psid = ?`).raw(),
      byClient: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE client = ?`).raw(),
      claimFree: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE pool = ? AND state = 'free' ORDER BY freed_at, ipv4, psid LIMIT 1`).raw(),
      claimStale: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE pool = ? AND state IN ('offered', 'declined') AND expires_at <= ? ORDER BY expires_at, ipv4, psid LIMIT 1`).raw(),
      countSite: p(countSiteSql('?')),
      // Positional parameters: binding the same values by name from a copy of the row
      // cost about three times as much per row written (two writes per lease).
      write: p(
        'UPDATE leases SET state = ?, client = ?, expires_at = ?, site = ?, ipv6 = ?, ' +
          'prefix_len = ?, freed_at = ?, updated_at = ? WHERE ipv4 = ? AND psid = ?',
      ),
      active: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE state = 'bound' AND expires_at > ?`).raw(),
      expiredBound: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE state = 'bound' AND expires_at <= ? ORDER BY expires_at, ipv4, psid LIMIT ?`).raw(),
      freeRow: p("UPDATE leases SET state = 'free', expires_at = 0, freed_at = ?, updated_at = ? WHERE ipv4 = ? AND psid = ?"),
      freeStale: p(
        "UPDATE leases SET state = 'free', expires_at = 0, freed_at = ?, updated_at = ? WHERE state IN ('offered', 'declined') AND expires_at <= ?",
      ),
      all: p(`SELECT ${ROW_COLUMNS} FROM leases WHERE client IS NOT NULL ORDER BY ipv4, psid`).raw(),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    const s = this.s;
    this.tx = {
      get: async (ipv4, psid) => {
        const r = s.get.get(ipv4, psid) as RowColumns | undefined;
        return r && fromColumns(r);
      },
      byClient: async (client, pools) => (s.byClient.all(client) as RowColumns[]).map(fromColumns).filter((r) => pools.includes(r.pool)),
      claimFree: async (pool, now) => {
        const r = (s.claimFree.get(pool) ?? s.claimStale.get(pool, now)) as RowColumns | undefined;
        return r && fromColumns(r);
      },
      countSite: async (site, except, now, cap) => {
        const st = this.countSiteWithCap(cap);
        return ((st === undefined ? s.countSite.get(site, now, except, cap) : st.get(site, now, except)) as { n: number }).n;
      },
      write: async (row) => {
        const ipv6 = row.ipv6 === null ? null : Buffer.from(row.ipv6);
        s.write.run(row.state, row.client, row.expiresAt, row.site, ipv6, row.prefixLen, row.freedAt, Date.now(), row.ipv4, row.psid);
      },
      publish: async (_change: BindingChange) => {},
    };
    this.memory = reads === 'memory';
    if (this.memory) this.tx = this.tableTx();
  }

  /** The rows in memory, loaded from the file (every row, in primary-key order) if they are not. */
  private table(): LeaseTable {
    if (this.loaded !== undefined) return this.loaded;
    const { n } = this.db.prepare('SELECT count(*) AS n FROM leases').get() as { n: number };
    const table = new LeaseTable(n);
    for (const c of this.db.prepare(`SELECT ${ROW_COLUMNS} FROM leases ORDER BY ipv4, psid`).raw().iterate()) table.add(c as RowColumns);
    this.loaded = table;
    return table;
  }

  /** The LeaseTx over the in-memory rows: reads from the table, writes to it and marks the row for the COMMIT. */
  private tableTx(): LeaseTx {
    return {
      get: async (ipv4, psid) => this.table().get(ipv4, psid),
      byClient: async (client, pools) => this.table().rowsOf(client, pools),
      claimFree: async (pool, now) => this.table().claimFree(pool, now),
      countSite: async (site, except, now, cap) => this.table().countSite(site, except, now, cap),
      write: async (row) => {
        const t = this.table();
        const i = t.find(row.ipv4, row.psid);
        if (i < 0) return;
        if (!this.changed.has(i)) this.changed.set(i, t.row(i));
        if (row.state !== 'offered') this.toFile.set(i, row);
        t.write(row);
      },
      publish: async (_change: BindingChange) => {},
    };
  }

  /** Writes every mutable field of a row to its slot in the file. */
  private persist(r: LeaseRow, now: number): void {
    const ipv6 = r.ipv6 === null ? null : Buffer.from(r.ipv6);
    this.s.write.run(r.state, r.client, r.expiresAt, r.site, ipv6, r.prefixLen, r.freedAt, now, r.ipv4, r.psid);
  }

  /**
   * UPDATEs the rows the transaction changed in the table (inside it, before its
   * COMMIT) — except those it left offered. RFC 2131 section 4.3.1: the server "need
   * not reserve the offered network address", so an offer is no lease and need not be
   * on disk; it lives in the table only, and the file keeps the row as it last was
   * otherwise (free, declined, or bound — a DISCOVER for a client's current bound
   * lease does not write it; a RELEASE that a DISCOVER in the same group commit follows
   * with an offer of the slot is written, as released). A lease then costs one UPDATE (its
   * ACK), not two, and a batch of DHCPDISCOVERs alone commits nothing (no WAL write, no
   * fsync). After a restart the offers are gone: a REQUEST for one is NAKed
   * (not-offered, RFC 2131 4.3.2) and its client starts over — as for an offer whose
   * transaction failed (sqlite-worker-main.ts). init() writes the offers it finds, so
   * that a reload keeps them.
   */
  private writeDirty(): void {
    const now = Date.now();
    for (const r of this.toFile.values()) this.persist(r, now);
    this.changed.clear();
    this.toFile.clear();
  }

  /**
   * After a ROLLBACK: the rows the transaction changed are put back as they were (the
   * offers of earlier transactions, which the file does not hold, stay). Should that
   * fail, the table is read again from the file.
   */
  private undoTable(): void {
    const t = this.loaded;
    try {
      if (t !== undefined) for (const r of this.changed.values()) t.write(r);
      this.changed.clear();
      this.toFile.clear();
    } catch {
      this.reloadTable();
    }
  }

  /** The table is read again from the file when next used (after an init, or a failed undo). */
  private reloadTable(): void {
    this.changed.clear();
    this.toFile.clear();
    this.loaded = undefined;
  }

  /**
   * The per-site count with its cap written into the statement as a literal: SQLite
   * ran the same query several times slower with the cap as a bound `LIMIT ?` (about
   * 8 us against 2 us per count on a store of 262,144 slots; one count per
   * allocation). One statement per cap seen (the configured max-leases-per-site,
   * changed only by a reload); anything but a plain non-negative integer (undefined
   * here) keeps the bound form.
   */
  private countSiteWithCap(cap: number): Statement | undefined {
    if (!Number.isSafeInteger(cap) || cap < 0) return undefined;
    let st = this.countSiteByCap.get(cap);
    if (st === undefined) {
      if (this.countSiteByCap.size >= 16) this.countSiteByCap.clear();
      st = this.db.prepare(countSiteSql(String(cap)));
      this.countSiteByCap.set(cap, st);
    }
    return st;
  }

  async init(pools: readonly PoolSlots[]): Promise<number> {
    const names = pools.map((p) => p.name);
    const inNames = names.map(() => '?').join(',');
    const fits = 'psid_len = ? AND psid_offset = ? AND ipv4 >= ? AND ipv4 < ? AND psid IN (SELECT value FROM json_each(?))';
    const fitArgs = (p: PoolSlots) => [p.psidLen, p.psidOffset, p.first, p.first + p.count, JSON.stringify(p.psids)];
    const rehome = this.db.prepare(`UPDATE leases SET pool = ? WHERE pool <> ? AND ${fits}`);
    const retire = this.db.prepare(`UPDATE leases SET pool = ? WHERE pool = ? AND NOT (${fits})`);
    const ins = this.db.prepare('INSERT OR IGNORE INTO leases (ipv4, psid, pool, psid_len, psid_offset) VALUES (?, ?, ?, ?, ?)');
    const initRows = this.db.transaction((): number => {
      // 0. the offers that live only in the table (writeDirty) go to the file, which
      //    the table is read from again after this
      if (this.loaded !== undefined) for (const r of this.loaded.filter((state) => state === 'offered')) this.persist(r, Date.now());
      // 1. rows that are a slot of a pool belong to it (a renamed or re-added pool takes its leases back)
      for (const p of pools) rehome.run(p.name, p.name, ...fitArgs(p));
      // 2. rows that fit no pool: retired; only bound ones stay (types.ts RETIRED_POOL)
      for (const p of pools) retire.run(RETIRED_POOL, p.name, ...fitArgs(p));
      this.db.prepare(`UPDATE leases SET pool = ? WHERE pool NOT IN (${inNames})`).run(RETIRED_POOL, ...names);
      this.db.prepare("DELETE FROM leases WHERE pool = ? AND state <> 'bound'").run(RETIRED_POOL);
      // 3. every slot a row, except on an address with a retired lease of another port-set shape
      const blocked = new Map<number, string[]>();
      for (const r of this.db.prepare('SELECT DISTINCT ipv4, psid_len, psid_offset FROM leases WHERE pool = ?').all(RETIRED_POOL) as { ipv4: number; psid_len: number; psid_offset: number }[]) {
        blocked.set(r.ipv4, [...(blocked.get(r.ipv4) ?? []), `${r.psid_len}/${r.psid_offset}`]);
      }
      for (const p of pools) {
        const shape = `${p.psidLen}/${p.psidOffset}`;
        for (let i = 0; i < p.count; i++) {
          const v4 = p.first + i;
          if (blocked.get(v4)?.some((b) => b !== shape)) continue;
          for (const psid of p.psids) ins.run(v4, psid, p.name, p.psidLen, p.psidOffset);
        }
      }
      return (this.db.prepare('SELECT count(*) AS n FROM leases WHERE pool = ?').get(RETIRED_POOL) as { n: number }).n;
    });
    const body = async (): Promise<number> => {
      const retired = initRows(); // if it throws, it rolled back: the table still matches the file
      this.reloadTable();
      return retired;
    };
    // Under the transaction mutex: a live reload (or the reconcile after retired leases
    // ended) must not start its transaction inside an open lease batch.
    const run = this.lock.then(body, body);
    this.lock = run.catch(() => undefined);
    return run;
  }

  async transaction<T>(units: readonly ((tx: LeaseTx) => Promise<T>)[]): Promise<T[]> {
    return this.transactionThen(units);
  }

  /**
   * transaction(), and `beforeCommit` sees the units' results once all of them ran and
   * before the COMMIT (the SQLite worker answers DHCPDISCOVERs there: an offer need not
   * be durable, sqlite-worker-main.ts); if it throws, nothing commits.
   */
  async transactionThen<T>(units: readonly ((tx: LeaseTx) => Promise<T>)[], beforeCommit?: (results: readonly T[]) => void): Promise<T[]> {
    const body = async (): Promise<T[]> => {
      this.db.exec('BEGIN IMMEDIATE');
      const out: T[] = [];
      try {
        for (const u of units) out.push(await u(this.tx));
        beforeCommit?.(out);
        this.writeDirty();
        this.db.exec('COMMIT'); // synchronous=FULL: synced here; NORMAL: written, synced below
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.undoTable();
        throw e;
      }
      return out;
    };
    const run = this.lock.then(body, body);
    this.lock = run.catch(() => undefined);
    const out = await run;
    if (this.asyncSync) await this.sync();
    return out;
  }

  /** Resolves once every commit written before the call is on disk. */
  private sync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      if (!this.syncing) this.startSync();
    });
  }

  private startSync(): void {
    const fd = this.walFd;
    this.syncWaiters = this.waiting;
    this.waiting = [];
    this.syncing = true;
    const done = (err: NodeJS.ErrnoException | null) => {
      const ws = this.syncWaiters;
      this.syncWaiters = [];
      this.syncing = false;
      for (const w of ws) err ? w.reject(err) : w.resolve();
      if (this.waiting.length > 0) this.startSync();
    };
    if (fd === undefined) done(new Error('lease store closed'));
    else fdatasync(fd, done);
  }

  async active(now: number): Promise<LeaseRow[]> {
    if (this.memory) return this.table().filter((state, _client, expiresAt) => state === 'bound' && expiresAt > now);
    return (this.s.active.all(now) as RowColumns[]).map(fromColumns);
  }

  async expire(now: number, limit: number): Promise<LeaseRow[]> {
    if (this.memory) {
      const [rows] = await this.transaction([
        async (tx) => {
          const t = this.table();
          const rows = t.expiredBound(now, limit);
          const free = (r: LeaseRow) => tx.write({ ...r, state: 'free', expiresAt: 0, freedAt: now });
          for (const r of rows) await free(r);
          for (const r of t.expiredPending(now)) await free(r);
          return rows;
        },
      ]);
      return rows;
    }
    const [rows] = await this.transaction([
      async () => {
        const rows = (this.s.expiredBound.all(now, limit) as RowColumns[]).map(fromColumns);
        for (const r of rows) this.s.freeRow.run(now, now, r.ipv4, r.psid);
        this.s.freeStale.run(now, now, now);
        return rows;
      },
    ]);
    return rows;
  }

  async all(): Promise<LeaseRow[]> {
    if (this.memory) return this.table().filter((_state, client) => client !== null);
    return (this.s.all.all() as RowColumns[]).map(fromColumns);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (this.s.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.transaction([async () => this.s.setMeta.run(key, value)]);
  }

  async close(): Promise<void> {
    await this.lock;
    while (this.syncing || this.waiting.length > 0) await new Promise((r) => setTimeout(r, 1));
    if (this.db.open) this.db.close();
    if (this.owner?.open) this.owner.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    this.walFd = undefined;
  }
}
