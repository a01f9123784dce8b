// The shared lease store: PostgreSQL (pg), for several 4o6 servers and BRs.
//
// - No (IPv4, PSID) is ever leased twice: it is the table's primary key, so there is
//   one row per slot and a lease is an UPDATE of that row under its row lock (SELECT
//   … FOR UPDATE). New slots are taken with FOR UPDATE SKIP LOCKED, so concurrent
//   servers never wait on, or take, the same free slot.
// - The per-site limit (RFC 7618 section 10) is counted under a transaction-scoped
//   advisory lock per site, taken in sorted order at the start of each transaction,
//   so two servers cannot both admit the last lease of one site.
// - Every binding change is published with pg_notify inside its transaction; NOTIFY is
//   delivered at commit, to every LISTENing server and BR (follow()).
// - Durability: a COMMIT with PostgreSQL's default synchronous_commit = on returns
//   after the WAL is flushed; the group commit runs several units per transaction
//   (a batch of allocations and binds: one xbr_run statement, its own transaction,
//   committed before its rows are returned, runOps).
// - A deadlock or serialization failure (40P01, 40001) rolls the transaction back;
//   it is retried (up to 3 times) from the start.
import pg from 'pg';
import type { AllocateResult, BindResult } from '../leases.js';
import { RETIRED_POOL, type BindingChange, type LeaseOp, type LeaseRow, type LeaseState, type LeaseStore, type LeaseTx, type PoolSlots } from './types.js';

const CHANNEL = 'xbr_leases';

interface RawRow {
  ipv4: string | number;
  psid: number;
  pool: string;
  psid_len: number;
  psid_offset: number;
  state: string;
  client: string | null;
  expires_at: string | number;
  site: string | null;
  ipv6: Buffer | null;
  prefix_len: number;
  freed_at: string | number;
}

/** A row of xbr_allocate / xbr_bind: the outcome, then the lease's columns (NULL when none). */
type FnRow = RawRow & { res: string };

const bytea = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b));

function fromRaw(r: RawRow): LeaseRow {
  return {
    ipv4: Number(r.ipv4),
    psid: r.psid,
    pool: r.pool,
    psidLen: r.psid_len,
    psidOffset: r.psid_offset,
    state: r.state as LeaseState,
    client: r.client,
    expiresAt: Number(r.expires_at),
    site: r.site,
    ipv6: r.ipv6 === null ? null : new Uint8Array(r.ipv6),
    prefixLen: r.prefix_len,
    freedAt: Number(r.freed_at),
  };
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS xbr_leases (
  ipv4 BIGINT NOT NULL,
  psid INTEGER NOT NULL,
  pool TEXT NOT NULL,
  psid_len INTEGER NOT NULL,
  psid_offset INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'free',
  client TEXT,
  expires_at BIGINT NOT NULL DEFAULT 0,
  site TEXT,
  ipv6 BYTEA,
  prefix_len INTEGER NOT NULL DEFAULT 0,
  freed_at BIGINT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (ipv4, psid)
);
CREATE INDEX IF NOT EXISTS xbr_leases_free ON xbr_leases (pool, freed_at, ipv4, psid) WHERE state = 'free';
CREATE INDEX IF NOT EXISTS xbr_leases_client ON xbr_leases (client) WHERE client IS NOT NULL;
-- every row with a site, so that "site = x" alone can use it (see SITE_ROWS); the
-- partial index of held rows it replaces is dropped from databases made before
DROP INDEX IF EXISTS xbr_leases_site;
CREATE INDEX IF NOT EXISTS xbr_leases_by_site ON xbr_leases (site) WHERE site IS NOT NULL;
CREATE INDEX IF NOT EXISTS xbr_leases_expiry ON xbr_leases (expires_at) WHERE state <> 'free';
CREATE TABLE IF NOT EXISTS xbr_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/*
 * The planner must not choose the indexes for the hot look-ups: its statistics lag the
 * table. A new table's ANALYZE sees every slot free, so the partial indexes of held
 * rows (expiry, site) look empty; plans that scanned xbr_leases_expiry for
 * "expires_at > now", or a bitmap of every free slot for "state = 'free'", went into
 * the connections' plan caches and then read every lease per call (auto_explain: 3-18
 * ms a call; 650, then 280 leases/s over 20,000 clients). So each hot look-up names
 * one key, which only its own index serves: the client's rows by client (the filters
 * in PL/pgSQL, as leases.ts filters byClient's rows), a site's rows by site (the
 * filters outside an OFFSET 0 fence, which the planner does not push them through).
 */

/** A site's rows, by the site index alone (see above); `site` is SQL for the site. */
const SITE_ROWS = (site: string) => `(SELECT state, expires_at, client FROM xbr_leases WHERE site = ${site} OFFSET 0) s_rows`;
/** Of SITE_ROWS, the ones held now by a client other than `client` (RFC 7618 section 10's count). */
const SITE_HELD = (now: string, client: string) => `s_rows.state IN ('offered', 'bound') AND s_rows.expires_at > ${now} AND s_rows.client <> ${client}`;

/**
 * leases.ts allocate() and bind() as one function call each (xbr_allocate, xbr_bind):
 * the same steps in the same order. A group commit's batch of them is one call
 * (xbr_run), so a batch costs one round trip instead of seven per lease. Kept in step
 * with leases.ts by running the whole server suite over this store
 * (server-pg.test.ts) and by postgres-store.test.ts.
 */
const FUNCTIONS = `
-- PL/pgSQL, not LANGUAGE sql: a SQL function called from PL/pgSQL is parsed and
-- planned again in every transaction; PL/pgSQL keeps its statements' plans per session.
CREATE OR REPLACE FUNCTION xbr_take(r xbr_leases, p_state text, p_client text, p_until bigint, p_site text, p_ipv6 bytea, p_plen int, p_now bigint)
RETURNS xbr_leases LANGUAGE plpgsql AS $f$
DECLARE
  l xbr_leases;
BEGIN
  UPDATE xbr_leases SET state = p_state, client = p_client, expires_at = p_until, site = p_site, ipv6 = p_ipv6, prefix_len = p_plen, updated_at = p_now
    WHERE ipv4 = r.ipv4 AND psid = r.psid RETURNING * INTO l;
  RETURN l;
END;
$f$;

CREATE OR REPLACE FUNCTION xbr_site_full(p_site text, p_client text, p_limit int, p_now bigint)
RETURNS boolean LANGUAGE plpgsql AS $f$
BEGIN
  RETURN (SELECT count(*) >= p_limit FROM (SELECT 1 FROM ${SITE_ROWS('p_site')} WHERE ${SITE_HELD('p_now', 'p_client')} LIMIT p_limit) s);
END;
$f$;

CREATE OR REPLACE FUNCTION xbr_allocate(p_client text, p_site text, p_limit int, p_eligible text[], p_req_ipv4 bigint, p_req_psid int,
  p_order text[], p_now bigint, p_until bigint, p_ipv6 bytea, p_plen int, p_after bigint[])
RETURNS TABLE (res text, r xbr_leases) LANGUAGE plpgsql AS $f$
DECLARE
  l xbr_leases;
  cur xbr_leases;
  prev xbr_leases;
  p text;
BEGIN
  -- the client's rows (leases.ts byClient): the current lease, a bound one first, and
  -- the previous one, the last freed (expired or released; not a declined one)
  FOR l IN SELECT * FROM xbr_leases WHERE client = p_client AND pool = ANY(p_eligible) FOR UPDATE LOOP
    IF l.state IN ('bound', 'offered') AND l.expires_at > p_now THEN
      IF cur.ipv4 IS NULL OR (l.state = 'bound' AND cur.state <> 'bound') THEN cur := l; END IF;
    ELSIF l.state = 'free' OR (l.state = 'offered' AND l.expires_at <= p_now) THEN
      IF prev.ipv4 IS NULL OR l.freed_at > prev.freed_at THEN prev := l; END IF;
    END IF;
  END LOOP;
  -- 1. the current lease; an offer is extended
  IF cur.ipv4 IS NOT NULL THEN
    IF cur.state = 'offered' THEN cur := xbr_take(cur, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); END IF;
    RETURN QUERY SELECT 'current', cur; RETURN;
  END IF;
  IF xbr_site_full(p_site, p_client, p_limit, p_now) THEN RETURN QUERY SELECT 'site-limit', NULL::xbr_leases; RETURN; END IF;
  -- 2. the previous lease
  IF prev.ipv4 IS NOT NULL THEN
    RETURN QUERY SELECT 'previous', xbr_take(prev, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); RETURN;
  END IF;
  -- 3. the requested slot, if valid (the caller checked) and free
  IF p_req_ipv4 IS NOT NULL THEN
    SELECT * INTO l FROM xbr_leases WHERE ipv4 = p_req_ipv4 AND psid = p_req_psid FOR UPDATE;
    IF FOUND AND l.pool = ANY(p_eligible) AND (l.state = 'free' OR (l.state IN ('offered', 'declined') AND l.expires_at <= p_now)) THEN
      RETURN QUERY SELECT 'requested', xbr_take(l, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); RETURN;
    END IF;
  END IF;
  -- 4. a new slot, pool by pool: the free slot first in (freed_at, ipv4, psid) order,
  --    searched from after the last one this server took from the pool (p_after, three
  --    numbers per pool of p_order, NULL for none: see FreeCursors), then from the start
  FOR i IN 1 .. coalesce(array_length(p_order, 1), 0) LOOP
    p := p_order[i];
    IF p_after[3 * i] IS NOT NULL THEN
      SELECT * INTO l FROM xbr_leases WHERE pool = p AND state = 'free' AND (freed_at, ipv4, psid) > (p_after[3 * i - 2], p_after[3 * i - 1], p_after[3 * i])
        ORDER BY freed_at, ipv4, psid LIMIT 1 FOR UPDATE SKIP LOCKED;
      IF FOUND THEN
        RETURN QUERY SELECT 'new', xbr_take(l, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); RETURN;
      END IF;
    END IF;
    SELECT * INTO l FROM xbr_leases WHERE pool = p AND state = 'free' ORDER BY freed_at, ipv4, psid LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      RETURN QUERY SELECT 'new', xbr_take(l, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); RETURN;
    END IF;
    SELECT * INTO l FROM xbr_leases WHERE pool = p AND state IN ('offered', 'declined') AND expires_at <= p_now
      ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
      RETURN QUERY SELECT 'new-lapsed', xbr_take(l, 'offered', p_client, p_until, p_site, p_ipv6, p_plen, p_now); RETURN;
    END IF;
  END LOOP;
  RETURN QUERY SELECT 'exhausted', NULL::xbr_leases;
END;
$f$;

CREATE OR REPLACE FUNCTION xbr_bind(p_client text, p_site text, p_limit int, p_eligible text[], p_ipv4 bigint, p_psid int, p_kind text,
  p_now bigint, p_until bigint, p_ipv6 bytea, p_plen int, p_origin text)
RETURNS TABLE (res text, why text, r xbr_leases) LANGUAGE plpgsql AS $f$
DECLARE
  l xbr_leases;
BEGIN
  IF p_psid IS NOT NULL THEN
    SELECT * INTO l FROM xbr_leases WHERE ipv4 = p_ipv4 AND psid = p_psid FOR UPDATE;
  ELSE
    SELECT * INTO l FROM xbr_leases WHERE client = p_client AND pool = ANY(p_eligible) AND ipv4 = p_ipv4 LIMIT 1 FOR UPDATE;
  END IF;
  IF NOT FOUND OR NOT (l.pool = ANY(p_eligible)) THEN
    RETURN QUERY SELECT CASE WHEN p_kind IN ('rebinding', 'init-reboot') THEN 'silent' ELSE 'nak' END, 'no-record', NULL::xbr_leases; RETURN;
  END IF;
  IF l.client = p_client AND l.state IN ('bound', 'offered') AND (l.expires_at > p_now OR l.state = 'bound') THEN
    NULL; -- its own offer or lease: bound below
  ELSIF (l.state IN ('offered', 'bound', 'declined') AND l.expires_at > p_now) THEN
    RETURN QUERY SELECT 'nak', 'held-by-another', NULL::xbr_leases; RETURN;
  ELSIF l.client IS DISTINCT FROM p_client THEN
    RETURN QUERY SELECT CASE WHEN p_kind IN ('selecting', 'renewing') THEN 'nak' ELSE 'silent' END,
      CASE WHEN p_kind IN ('selecting', 'renewing') THEN 'not-offered' ELSE 'no-record' END, NULL::xbr_leases; RETURN;
  ELSIF xbr_site_full(p_site, p_client, p_limit, p_now) THEN
    RETURN QUERY SELECT 'nak', 'site-limit', NULL::xbr_leases; RETURN;
  END IF;
  l := xbr_take(l, 'bound', p_client, p_until, p_site, p_ipv6, p_plen, p_now);
  IF l.ipv6 IS NOT NULL THEN
    PERFORM pg_notify('xbr_leases', json_build_object('o', p_origin, 'op', 'put', 'ipv4', l.ipv4, 'psid', l.psid, 'k', l.psid_len,
      'a', l.psid_offset, 'v6', encode(l.ipv6, 'hex'), 'l', l.prefix_len)::text);
  END IF;
  RETURN QUERY SELECT 'ack', NULL::text, l;
END;
$f$;

-- A batch of allocations and binds (store.runOps) in one call, which is its whole
-- transaction: the advisory locks of p_locks (the sites, sorted as transaction() sorts
-- them), then each op of p_ops in turn ({"a": [xbr_allocate's arguments but p_after]}
-- or {"b": [xbr_bind's but p_origin]}), each seeing the ones before it. p_after: the
-- free-slot cursors by pool ({"pool": [freed_at, ipv4, psid]}), moved here by every new
-- slot taken, as the server's own cursors move between calls.
CREATE OR REPLACE FUNCTION xbr_run(p_ops jsonb, p_after jsonb, p_origin text, p_locks text[])
RETURNS TABLE (ord int, res text, why text, r xbr_leases) LANGUAGE plpgsql AS $f$
DECLARE
  o jsonb;
  x jsonb;
  n int := 0;
  p text;
  after bigint[];
  cur jsonb := coalesce(p_after, '{}');
  a record;
  b record;
BEGIN
  PERFORM count(pg_advisory_xact_lock(hashtext(k))) FROM (SELECT k FROM unnest(p_locks) k ORDER BY k) s;
  FOR o IN SELECT jsonb_array_elements(p_ops) LOOP
    n := n + 1;
    IF o ? 'a' THEN
      x := o->'a';
      after := ARRAY[]::bigint[];
      FOR p IN SELECT jsonb_array_elements_text(x->6) LOOP
        after := after || ARRAY[(cur->p->>0)::bigint, (cur->p->>1)::bigint, (cur->p->>2)::bigint];
      END LOOP;
      SELECT * INTO a FROM xbr_allocate(x->>0, x->>1, (x->>2)::int, ARRAY(SELECT jsonb_array_elements_text(x->3)),
        (x->>4)::bigint, (x->>5)::int, ARRAY(SELECT jsonb_array_elements_text(x->6)), (x->>7)::bigint, (x->>8)::bigint,
        decode(x->>9, 'hex'), (x->>10)::int, after);
      IF a.res = 'new' THEN
        cur := jsonb_set(cur, ARRAY[(a.r).pool], jsonb_build_array((a.r).freed_at, (a.r).ipv4, (a.r).psid));
      END IF;
      RETURN QUERY SELECT n, a.res, NULL::text, a.r;
    ELSE
      x := o->'b';
      SELECT * INTO b FROM xbr_bind(x->>0, x->>1, (x->>2)::int, ARRAY(SELECT jsonb_array_elements_text(x->3)),
        (x->>4)::bigint, (x->>5)::int, x->>6, (x->>7)::bigint, (x->>8)::bigint, decode(x->>9, 'hex'), (x->>10)::int, p_origin);
      RETURN QUERY SELECT n, b.res, b.why, b.r;
    END IF;
  END LOOP;
END;
$f$;
`;

/** xbr_run's p_ops entry for an op: the arguments in the order of the function it calls. */
function opJson(o: LeaseOp): unknown {
  const v6 = o.h.ipv6 === null ? null : Buffer.from(o.h.ipv6).toString('hex');
  if (o.op === 'allocate') {
    const q = o.plan.requested;
    return { a: [o.h.client, o.h.site, o.h.siteLimit, o.plan.eligible, q?.ipv4 ?? null, q?.psid ?? null, o.plan.order, o.now, o.offerUntil, v6, o.h.prefixLen] };
  }
  return { b: [o.h.client, o.h.site, o.h.siteLimit, o.eligible, o.slot.ipv4, o.slot.psid, o.kind, o.now, o.leaseUntil, v6, o.h.prefixLen] };
}

/** An xbr_bind row as leases.ts bind() returns it. */
function bindResult(x: FnRow & { why: string | null }): BindResult {
  if (x.res === 'ack') return { kind: 'ack', row: fromRaw(x) };
  return { kind: x.res as 'nak' | 'silent', why: x.why ?? '' };
}

/** Wire form of a change in a NOTIFY payload. */
interface Payload {
  o: string;
  op: 'put' | 'remove';
  ipv4: number;
  psid: number;
  k: number;
  a: number;
  v6: string | null;
  l: number;
}

function isRetryable(e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return code === '40P01' || code === '40001';
}

/**
 * Where this server's search for a free slot resumes, per pool: the (freed_at, ipv4,
 * psid) of the last free slot it took. A lease is an UPDATE, so the slot's entry in the
 * free-slot index (xbr_leases_free) stays behind as a dead tuple until VACUUM; the
 * taken slots are the first in the index's order, and a search from the start stepped
 * over every slot leased since the last VACUUM: 489 index pages, 1.3 ms per DISCOVER
 * after 60,000 leases, and the rate fell run after run. Slots freed later sort after
 * (freed_at is the time of freeing), so resuming skips nothing that is due; a slot that
 * sorts earlier (a reload's new slots, freed_at 0, or a claim rolled back) is found by
 * the search from the start once none is left after the cursor.
 */
class FreeCursors {
  private readonly last = new Map<string, [number, number, number]>();

  /** xbr_allocate's p_after for the pools of `order`: three numbers per pool, NULLs where none. */
  after(order: readonly string[]): (number | null)[] {
    const out: (number | null)[] = [];
    for (const p of order) out.push(...(this.last.get(p) ?? [null, null, null]));
    return out;
  }

  /** xbr_run's p_after: the cursor of `pool`, if any, into `out`. */
  into(out: Record<string, [number, number, number]>, pool: string): void {
    const c = this.last.get(pool);
    if (c !== undefined) out[pool] = c;
  }

  took(row: LeaseRow): void {
    this.last.set(row.pool, [row.freedAt, row.ipv4, row.psid]);
  }

  /** A reshape moved slots between pools: search from the start again. */
  clear(): void {
    this.last.clear();
  }
}

export class PostgresLeaseStore implements LeaseStore {
  readonly kind = 'postgres' as const;
  private listener: pg.Client | undefined;
  private closed = false;
  private readonly cursors = new FreeCursors();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly origin: string,
  ) {}

  static async connect(url: string, origin: string, poolSize = 6): Promise<PostgresLeaseStore> {
    const pool = new pg.Pool({ connectionString: url, max: poolSize });
    pool.on('error', () => {
      /* an idle client died; the pool replaces it */
    });
    const c = await pool.connect(); // fail now, with the server's message, if unreachable
    c.release();
    return new PostgresLeaseStore(pool, url, origin);
  }

  async init(pools: readonly PoolSlots[]): Promise<number> {
    const c = await this.pool.connect();
    try {
      // Several servers may start (or reload) at once: one reshapes the slots at a time.
      await c.query('SELECT pg_advisory_lock(7341)');
      await c.query(SCHEMA);
      await c.query(FUNCTIONS);
      this.cursors.clear();
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.reshape(c, pools);
        } catch (e) {
          await c.query('ROLLBACK').catch(() => {});
          // A live reload's UPDATEs may meet a lease transaction's row locks in the other order.
          if (attempt < 3 && isRetryable(e)) continue;
          throw e;
        }
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock(7341)').catch(() => {});
      c.release();
    }
  }

  /** types.ts LeaseStore.init, steps 1-3, in one transaction. */
  private async reshape(c: pg.PoolClient, pools: readonly PoolSlots[]): Promise<number> {
    const fits = 'psid_len = $2 AND psid_offset = $3 AND ipv4 >= $4 AND ipv4 < $5 AND psid = ANY($6::int[])';
    const args = (p: PoolSlots) => [p.name, p.psidLen, p.psidOffset, p.first, p.first + p.count, p.psids];
    await c.query('BEGIN');
    for (const p of pools) await c.query(`UPDATE xbr_leases SET pool = $1 WHERE pool <> $1 AND ${fits}`, args(p));
    for (const p of pools) await c.query(`UPDATE xbr_leases SET pool = $7 WHERE pool = $1 AND NOT (${fits})`, [...args(p), RETIRED_POOL]);
    await c.query('UPDATE xbr_leases SET pool = $1 WHERE pool <> $1 AND NOT (pool = ANY($2::text[]))', [RETIRED_POOL, pools.map((p) => p.name)]);
    await c.query("DELETE FROM xbr_leases WHERE pool = $1 AND state <> 'bound'", [RETIRED_POOL]);
    for (const p of pools) {
      await c.query(
        'INSERT INTO xbr_leases (ipv4, psid, pool, psid_len, psid_offset) ' +
          'SELECT a, s, $3, $4, $5 FROM generate_series($1::bigint, $2::bigint) a, unnest($6::int[]) s ' +
          'WHERE NOT EXISTS (SELECT 1 FROM xbr_leases r WHERE r.ipv4 = a AND r.pool = $7 AND (r.psid_len <> $4 OR r.psid_offset <> $5)) ' +
          'ON CONFLICT DO NOTHING',
        [p.first, p.first + p.count - 1, p.name, p.psidLen, p.psidOffset, p.psids, RETIRED_POOL],
      );
    }
    const n = Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM xbr_leases WHERE pool = $1', [RETIRED_POOL])).rows[0].n);
    await c.query('COMMIT');
    return n;
  }

  private txOn(c: pg.PoolClient): LeaseTx {
    const rows = async (sql: string, args: unknown[]) => (await c.query<RawRow>(sql, args)).rows.map(fromRaw);
    return {
      get: async (ipv4, psid) => (await rows('SELECT * FROM xbr_leases WHERE ipv4 = $1 AND psid = $2 FOR UPDATE', [ipv4, psid]))[0],
      byClient: (client, pools) => rows('SELECT * FROM xbr_leases WHERE client = $1 AND pool = ANY($2::text[]) FOR UPDATE', [client, pools]),
      claimFree: async (pool, now) =>
        (
          await rows(
            "SELECT * FROM xbr_leases WHERE pool = $1 AND state = 'free' ORDER BY freed_at, ipv4, psid LIMIT 1 FOR UPDATE SKIP LOCKED",
            [pool],
          )
        )[0] ??
        (
          await rows(
            "SELECT * FROM xbr_leases WHERE pool = $1 AND state IN ('offered', 'declined') AND expires_at <= $2 ORDER BY expires_at LIMIT 1 FOR UPDATE SKIP LOCKED",
            [pool, now],
          )
        )[0],
      countSite: async (site, except, now, cap) =>
        Number(
          (
            await c.query<{ n: string }>(
              `SELECT count(*) AS n FROM (SELECT 1 FROM ${SITE_ROWS('$1')} WHERE ${SITE_HELD('$2', '$3')} LIMIT $4) s`,
              [site, now, except, cap],
            )
          ).rows[0].n,
        ),
      write: async (r) => {
        await c.query(
          'UPDATE xbr_leases SET state = $3, client = $4, expires_at = $5, site = $6, ipv6 = $7, prefix_len = $8, freed_at = $9, updated_at = $10 ' +
            'WHERE ipv4 = $1 AND psid = $2',
          [r.ipv4, r.psid, r.state, r.client, r.expiresAt, r.site, r.ipv6 === null ? null : Buffer.from(r.ipv6), r.prefixLen, r.freedAt, Date.now()],
        );
      },
      publish: async (ch) => {
        await c.query('SELECT pg_notify($1, $2)', [CHANNEL, this.payload(ch)]);
      },
      allocateOne: async (h, plan, now, offerUntil) => {
        const { rows: [x] } = await c.query<FnRow>({
          // named: prepared once per connection, not parsed and planned per call
          name: 'xbr_allocate',
          text: 'SELECT res, (r).* FROM xbr_allocate($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
          values: [
            h.client, h.site, h.siteLimit, plan.eligible, plan.requested?.ipv4 ?? null, plan.requested?.psid ?? null, plan.order, now, offerUntil,
            bytea(h.ipv6), h.prefixLen, this.cursors.after(plan.order),
          ],
        });
        return this.allocateResult(x);
      },
      bindOne: async (h, slot, eligible, kind, now, leaseUntil) => {
        const { rows: [x] } = await c.query<FnRow & { why: string | null }>({
          name: 'xbr_bind',
          text: 'SELECT res, why, (r).* FROM xbr_bind($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)',
          values: [h.client, h.site, h.siteLimit, eligible, slot.ipv4, slot.psid, kind, now, leaseUntil, bytea(h.ipv6), h.prefixLen, this.origin],
        });
        return bindResult(x);
      },
    };
  }

  /** An xbr_allocate row as leases.ts allocate() returns it; a new slot moves the pool's cursor. */
  private allocateResult(x: FnRow): AllocateResult {
    if (x.res === 'site-limit' || x.res === 'exhausted') return { ok: false, why: x.res };
    const row = fromRaw(x);
    if (x.res === 'new') this.cursors.took(row);
    return { ok: true, row, how: x.res === 'new-lapsed' ? 'new' : (x.res as 'current' | 'previous' | 'requested' | 'new') };
  }

  private payload(ch: BindingChange): string {
    const r = ch.row;
    const p: Payload = {
      o: this.origin,
      op: ch.op,
      ipv4: r.ipv4,
      psid: r.psid,
      k: r.psidLen,
      a: r.psidOffset,
      v6: r.ipv6 === null ? null : Buffer.from(r.ipv6).toString('hex'),
      l: r.prefixLen,
    };
    return JSON.stringify(p);
  }

  async transaction<T>(units: readonly ((tx: LeaseTx) => Promise<T>)[], lockKeys: readonly string[] = []): Promise<T[]> {
    return this.inTransaction(lockKeys, async (c) => {
      const tx = this.txOn(c);
      const out: T[] = [];
      for (const u of units) out.push(await u(tx));
      return out;
    });
  }

  async runOps(ops: readonly LeaseOp[], lockKeys: readonly string[] = []): Promise<(AllocateResult | BindResult)[]> {
    const after: Record<string, [number, number, number]> = {};
    for (const o of ops) if (o.op === 'allocate') for (const p of o.plan.order) this.cursors.into(after, p);
    const query = {
      name: 'xbr_run',
      text: 'SELECT ord, res, why, (r).* FROM xbr_run($1, $2, $3, $4) ORDER BY ord',
      values: [JSON.stringify(ops.map(opJson)), JSON.stringify(after), this.origin, lockKeys],
    };
    // One statement outside BEGIN ... COMMIT is a transaction of its own, committed
    // (synchronous_commit = on: the WAL flushed) before its rows come back: the whole
    // batch, locks included, is one round trip.
    let rows: (FnRow & { ord: number; why: string | null })[];
    for (let attempt = 1; ; attempt++) {
      try {
        rows = (await this.pool.query<FnRow & { ord: number; why: string | null }>(query)).rows;
        break;
      } catch (e) {
        if (attempt < 3 && isRetryable(e)) continue;
        throw e;
      }
    }
    if (rows.length !== ops.length) throw new Error(`xbr_run answered ${rows.length} rows for ${ops.length} operations`);
    // after the commit: a rolled-back batch moved no cursor
    return rows.map((x, i) => (ops[i].op === 'allocate' ? this.allocateResult(x) : bindResult(x)));
  }

  /**
   * BEGIN, the advisory locks of `lockKeys` (sorted), `body`, COMMIT; a deadlock or
   * serialization failure rolls back and runs it all again (up to 3 times).
   */
  private async inTransaction<T>(lockKeys: readonly string[], body: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await c.query('BEGIN');
          if (lockKeys.length > 0) {
            await c.query('SELECT count(pg_advisory_xact_lock(hashtext(k))) FROM (SELECT k FROM unnest($1::text[]) k ORDER BY k) s', [
              [...lockKeys].sort(),
            ]);
          }
          const out = await body(c);
          await c.query('COMMIT');
          return out;
        } catch (e) {
          await c.query('ROLLBACK').catch(() => {});
          if (attempt < 3 && isRetryable(e)) continue;
          throw e;
        }
      }
    } finally {
      c.release();
    }
  }

  async active(now: number): Promise<LeaseRow[]> {
    return (await this.pool.query<RawRow>("SELECT * FROM xbr_leases WHERE state = 'bound' AND expires_at > $1", [now])).rows.map(fromRaw);
  }

  async expire(now: number, limit: number): Promise<LeaseRow[]> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const res = await c.query<RawRow>(
        "UPDATE xbr_leases SET state = 'free', expires_at = 0, freed_at = $1, updated_at = $1 WHERE (ipv4, psid) IN " +
          "(SELECT ipv4, psid FROM xbr_leases WHERE state = 'bound' AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING *",
        [now, limit],
      );
      const out = res.rows.map((r) => ({ ...fromRaw(r), state: 'bound' as const }));
      for (const r of out) if (r.ipv6 !== null) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, this.payload({ op: 'remove', row: r })]);
      await c.query(
        "UPDATE xbr_leases SET state = 'free', expires_at = 0, freed_at = $1, updated_at = $1 WHERE state IN ('offered', 'declined') AND expires_at <= $1",
        [now],
      );
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async all(): Promise<LeaseRow[]> {
    return (await this.pool.query<RawRow>('SELECT * FROM xbr_leases WHERE client IS NOT NULL ORDER BY ipv4, psid')).rows.map(fromRaw);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return (await this.pool.query<{ value: string }>('SELECT value FROM xbr_meta WHERE key = $1', [key])).rows[0]?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    // The first writer wins: servers sharing a database agree on a generated value.
    await this.pool.query('INSERT INTO xbr_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
  }

  async follow(onChange: (change: BindingChange) => void, onResync: () => Promise<void>): Promise<void> {
    let backoff = 250;
    const connect = async (): Promise<void> => {
      const l = new pg.Client({ connectionString: this.url });
      let lost = false;
      const onLost = () => {
        if (lost || this.closed) return;
        lost = true;
        this.followerLosses++;
        l.end().catch(() => {});
        // Reconnect, then resync: changes published while we were away are re-read.
        const retry = () => {
          if (this.closed) return;
          connect()
            .then(() => {
              backoff = 250;
              return onResync();
            })
            .catch(() => {
              backoff = Math.min(backoff * 2, 30_000);
              setTimeout(retry, backoff).unref();
            });
        };
        setTimeout(retry, backoff).unref();
      };
      l.on('error', onLost);
      l.on('end', onLost);
      l.on('notification', (n) => {
        if (n.channel !== CHANNEL || n.payload === undefined) return;
        let p: Payload;
        try {
          p = JSON.parse(n.payload) as Payload;
        } catch {
          return;
        }
        if (p.o === this.origin) return; // our own change: already applied
        onChange({
          op: p.op,
          row: {
            ipv4: p.ipv4,
            psid: p.psid,
            pool: '',
            psidLen: p.k,
            psidOffset: p.a,
            state: p.op === 'put' ? 'bound' : 'free',
            client: null,
            expiresAt: 0,
            site: null,
            ipv6: p.v6 === null ? null : Uint8Array.from(Buffer.from(p.v6, 'hex')),
            prefixLen: p.l,
            freedAt: 0,
          },
        });
      });
      try {
        await l.connect();
        await l.query(`LISTEN ${CHANNEL}`);
      } catch (e) {
        l.removeListener('end', onLost);
        l.removeListener('error', onLost);
        await l.end().catch(() => {});
        throw e;
      }
      this.listener = l;
    };
    await connect();
  }

  /** How many times the LISTEN connection was lost (and re-established). */
  followerLosses = 0;

  /** The backend pid of the LISTEN connection (tests: terminate it to simulate a lost connection). */
  async listenerPid(): Promise<number | undefined> {
    return this.listener === undefined ? undefined : Number((await this.listener.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.listener !== undefined) await this.listener.end().catch(() => {});
    await this.pool.end();
  }
}
