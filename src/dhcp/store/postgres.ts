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
//   after the WAL is flushed; the group commit runs several units per transaction.
// - A deadlock or serialization failure (40P01, 40001) rolls the transaction back;
//   it is retried (up to 3 times) from the start.
import pg from 'pg';
import type { BindingChange, LeaseRow, LeaseState, LeaseStore, LeaseTx, PoolSlots } from './types.js';

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
CREATE INDEX IF NOT EXISTS xbr_leases_site ON xbr_leases (site) WHERE state IN ('offered', 'bound');
CREATE INDEX IF NOT EXISTS xbr_leases_expiry ON xbr_leases (expires_at) WHERE state <> 'free';
CREATE TABLE IF NOT EXISTS xbr_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

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

export class PostgresLeaseStore implements LeaseStore {
  readonly kind = 'postgres' as const;
  private listener: pg.Client | undefined;
  private closed = false;

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

  async init(pools: readonly PoolSlots[]): Promise<void> {
    const c = await this.pool.connect();
    try {
      // Several servers may start at once: one creates the schema and slots at a time.
      await c.query('SELECT pg_advisory_lock(7341)');
      await c.query(SCHEMA);
      await c.query('BEGIN');
      await c.query("DELETE FROM xbr_leases WHERE state = 'free' AND NOT (pool = ANY($1::text[]))", [pools.map((p) => p.name)]);
      for (const p of pools) {
        await c.query(
          "DELETE FROM xbr_leases WHERE state = 'free' AND pool = $1 AND (psid_len <> $2 OR psid_offset <> $3 OR ipv4 < $4 OR ipv4 >= $5 OR NOT (psid = ANY($6::int[])))",
          [p.name, p.psidLen, p.psidOffset, p.first, p.first + p.count, p.psids],
        );
        await c.query(
          'INSERT INTO xbr_leases (ipv4, psid, pool, psid_len, psid_offset) ' +
            'SELECT a, s, $3, $4, $5 FROM generate_series($1::bigint, $2::bigint) a, unnest($6::int[]) s ON CONFLICT DO NOTHING',
          [p.first, p.first + p.count - 1, p.name, p.psidLen, p.psidOffset, p.psids],
        );
      }
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      await c.query('SELECT pg_advisory_unlock(7341)').catch(() => {});
      c.release();
    }
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
              "SELECT count(*) AS n FROM (SELECT 1 FROM xbr_leases WHERE site = $1 AND state IN ('offered', 'bound') AND expires_at > $2 AND client <> $3 LIMIT $4) s",
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
    };
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
          const tx = this.txOn(c);
          const out: T[] = [];
          for (const u of units) out.push(await u(tx));
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
