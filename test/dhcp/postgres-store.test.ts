// The PostgreSQL store's hot paths:
// - a batch of allocations and binds run as one call (runOps) gives exactly what the
//   same operations give one by one in one transaction, through the SQL functions
//   (allocateOne / bindOne) and through leases.ts's own steps;
// and its look-ups under the conditions that made them slow:
// - the free-slot search resumes after the last slot this server took (FreeCursors),
//   and still finds a slot it left behind once none is left after the cursor;
// - with the planner's statistics of a new table (every slot free; autovacuum off so
//   they stay so), a DHCPDISCOVER and a DHCPREQUEST read a few pages, not every lease
//   (counted with EXPLAIN (ANALYZE, BUFFERS): pages, not time).
// Needs PostgreSQL at XBR_PG_URL (scripts/start-postgres.sh); skipped without it,
// except in CI (CI=true), where a missing database fails.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocate, bind, type AllocateResult, type BindResult, type Holder } from '../../src/dhcp/leases.js';
import { PostgresLeaseStore } from '../../src/dhcp/store/postgres.js';
import type { LeaseOp, LeaseRow, LeaseTx, PoolSlots } from '../../src/dhcp/store/types.js';
import { PG_URL, pgUnavailable, withPg } from './server-helpers.js';

const unavailable = await pgUnavailable();
const CI = process.env.CI === 'true';
if (unavailable !== null && !CI) console.warn(`PostgreSQL look-up tests skipped: ${unavailable}`);

const BASE = 0x64400000; // 100.64.0.0
/** 4 slots: one address, PSID-len 2. */
const SMALL: PoolSlots = { name: 'small', first: BASE, count: 1, psidLen: 2, psidOffset: 6, psids: [0, 1, 2, 3] };
/** 4,096 slots: 256 addresses x 16 PSIDs. */
const BIG: PoolSlots = { name: 'big', first: BASE + 256, count: 256, psidLen: 4, psidOffset: 6, psids: [...Array(16).keys()] };

/** Two pools of the same shape, 16 slots each: one for runOps, one for the units one by one. */
const EQ_A: PoolSlots = { name: 'eq-a', first: BASE + 1024, count: 4, psidLen: 2, psidOffset: 6, psids: [0, 1, 2, 3] };
const EQ_B: PoolSlots = { ...EQ_A, name: 'eq-b', first: BASE + 2048 };
/** And a third, for leases.ts's own steps over the store's statements (no allocateOne / bindOne). */
const EQ_C: PoolSlots = { ...EQ_A, name: 'eq-c', first: BASE + 3072 };

const NOW = 1_800_000_000_000;
const holder = (client: string): Holder => ({ client, site: `site ${client}`, siteLimit: 4, ipv6: null, prefixLen: 0 });
const plan = (pool: string) => ({ eligible: [pool], order: [pool] });

describe.skipIf(unavailable !== null && !CI)('PostgreSQL store: batches and look-ups', () => {
  const dbName = `xbr_l_${process.pid}_${Date.now()}`;
  const url = PG_URL.replace(/\/[^/?]*(\?|$)/, `/${dbName}$1`);
  let store: PostgresLeaseStore;

  const offer = async (client: string, pool: string): Promise<AllocateResult> =>
    (await store.transaction([(tx) => allocate(tx, holder(client), plan(pool), NOW, NOW + 60_000)]))[0];
  const slotOf = (r: AllocateResult) => (r.ok ? `${r.row.ipv4 - BASE}/${r.row.psid}` : r.why);

  beforeAll(async () => {
    if (unavailable !== null) throw new Error(`PostgreSQL at ${PG_URL} is required in CI (scripts/start-postgres.sh): ${unavailable}`);
    await withPg((c) => c.query(`CREATE DATABASE ${dbName}`));
    store = await PostgresLeaseStore.connect(url, 'test');
    await store.init([SMALL, BIG, EQ_A, EQ_B, EQ_C]);
    // the statistics of a new table, kept: every slot free
    await withPg(async (c) => {
      await c.query('ANALYZE xbr_leases');
      await c.query('ALTER TABLE xbr_leases SET (autovacuum_enabled = false)');
    }, url);
  });

  afterAll(async () => {
    if (unavailable !== null) return;
    await store?.close();
    await withPg((c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`));
  });

  it('a batch run as one call (runOps) gives what the same operations give one by one, and what leases.ts gives', async () => {
    // Operations that depend on the ones before them: a repeated DISCOVER, a site filling
    // up (limit 4), binds of one's own and of another's offer, a requested slot.
    const ops = (pool: PoolSlots, tag: string): LeaseOp[] => {
      const h = (c: string, site = 's1', ipv6: Uint8Array | null = null): Holder => ({
        client: `${tag}-${c}`,
        site: `${tag}-${site}`,
        siteLimit: 4,
        ipv6,
        prefixLen: ipv6 === null ? 0 : 128,
      });
      const a = (holder: Holder, requested?: number): LeaseOp => ({
        op: 'allocate',
        h: holder,
        plan: { ...plan(pool.name), requested: requested === undefined ? undefined : { ipv4: pool.first + (requested >> 2), psid: requested & 3 } },
        now: NOW,
        offerUntil: NOW + 60_000,
      });
      const b = (holder: Holder, slot: number, kind: 'selecting' | 'init-reboot' | 'renewing'): LeaseOp => ({
        op: 'bind',
        h: holder,
        slot: { ipv4: pool.first + (slot >> 2), psid: slot & 3 },
        eligible: [pool.name],
        kind,
        now: NOW + 1_000,
        leaseUntil: NOW + 3_600_000,
      });
      const v6 = Uint8Array.from({ length: 16 }, (_, i) => (i === 0 ? 0x20 : i === 15 ? 1 : 0));
      return [
        a(h('c1', 's1', v6)), a(h('c1', 's1', v6)), a(h('c2')), a(h('c3')), a(h('c4')), a(h('c5')),
        b(h('c1', 's1', v6), 0, 'selecting'), b(h('c2'), 0, 'selecting'), b(h('c9', 's3'), 9, 'init-reboot'),
        a(h('c6', 's2'), 6), b(h('c6', 's2'), 6, 'renewing'),
      ];
    };
    const seen = (pool: PoolSlots, r: AllocateResult | BindResult) => {
      const row = 'row' in r ? r.row : undefined;
      const slot = row && { slot: (row.ipv4 - pool.first) * 4 + row.psid, state: row.state, expiresAt: row.expiresAt, ipv6: row.ipv6 && Buffer.from(row.ipv6).toString('hex') };
      if ('ok' in r) return r.ok ? { how: r.how, ...slot } : { why: r.why };
      return r.kind === 'ack' ? { kind: r.kind, ...slot } : { kind: r.kind, why: r.why };
    };
    const batched = (await store.runOps!(ops(EQ_A, 'a'))).map((r) => seen(EQ_A, r));
    const units = (pool: PoolSlots, tag: string, generic: boolean) =>
      ops(pool, tag).map((o) => (t: LeaseTx): Promise<AllocateResult | BindResult> => {
        // generic: leases.ts's steps over get / byClient / claimFree / countSite / write
        const tx: LeaseTx = generic ? { ...t, allocateOne: undefined, bindOne: undefined } : t;
        return o.op === 'allocate' ? allocate(tx, o.h, o.plan, o.now, o.offerUntil) : bind(tx, o.h, o.slot, o.eligible, o.kind, o.now, o.leaseUntil);
      });
    const oneByOne = (await store.transaction(units(EQ_B, 'b', false))).map((r) => seen(EQ_B, r));
    const generic = (await store.transaction(units(EQ_C, 'c', true))).map((r) => seen(EQ_C, r));
    expect(batched).toEqual(oneByOne);
    expect(batched).toEqual(generic);
    // and what leases.ts says they are
    expect(batched.map((r) => ('how' in r ? r.how : 'kind' in r ? `${r.kind}${r.why ? ' ' + r.why : ''}` : r.why))).toEqual([
      'new', 'current', 'new', 'new', 'new', 'site-limit',
      'ack', 'nak held-by-another', 'silent no-record',
      'requested', 'ack',
    ]);
    expect(batched.slice(0, 5).map((r) => ('slot' in r ? r.slot : -1))).toEqual([0, 0, 1, 2, 3]);
    expect(batched[6]).toMatchObject({ slot: 0, state: 'bound', expiresAt: NOW + 3_600_000, ipv6: '20000000000000000000000000000001' });
  });

  it('a new slot is searched for after the last one taken; one left behind is taken when none is left after it', async () => {
    expect(slotOf(await offer('a', 'small'))).toBe('0/0');
    // a claim rolled back: 0/1 stays free, behind this server's cursor
    await expect(
      store.transaction([
        async (tx) => {
          const r = await allocate(tx, holder('b'), plan('small'), NOW, NOW + 60_000);
          expect(slotOf(r)).toBe('0/1');
          throw new Error('rolled back');
        },
      ]),
    ).rejects.toThrow('rolled back');
    expect(slotOf(await offer('c', 'small'))).toBe('0/2');
    expect(slotOf(await offer('d', 'small'))).toBe('0/3');
    // nothing after the cursor: from the start, where 0/1 is still free
    expect(slotOf(await offer('e', 'small'))).toBe('0/1');
    expect(slotOf(await offer('f', 'small'))).toBe('exhausted');
  });

  it('with the statistics of a new table, a DISCOVER and a REQUEST read a few pages, not every lease', async () => {
    // 3,000 leases (an offer, then its binding), 100 per transaction
    let last: LeaseRow | undefined;
    for (let b = 0; b < 30; b++) {
      const ids = Array.from({ length: 100 }, (_, i) => `c${b * 100 + i}`);
      const offers = await store.transaction(ids.map((id) => (tx) => allocate(tx, holder(id), plan('big'), NOW, NOW + 60_000)));
      const rows = offers.map((r) => (r.ok ? r.row : expect.unreachable(`offer: ${r.why}`)));
      const acks = await store.transaction(
        rows.map((row, i) => (tx) => bind(tx, holder(ids[i]), { ipv4: row.ipv4, psid: row.psid }, ['big'], 'selecting', NOW, NOW + 3_600_000)),
      );
      for (const a of acks) expect(a.kind).toBe('ack');
      last = rows[rows.length - 1];
    }
    const pages = await withPg(async (c) => {
      // PL/pgSQL plans its statements per session; past the fifth call a generic plan may
      // be kept: make the calls that get there first
      const call = (client: string, explain: boolean) =>
        c.query(
          `${explain ? 'EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ' : ''}SELECT * FROM xbr_allocate($1, $2, 4, ARRAY['big'], NULL, NULL, ARRAY['big'], $3, $4, NULL, 0, $5)`,
          [client, `site ${client}`, NOW, NOW + 60_000, [last!.freedAt, last!.ipv4, last!.psid]],
        );
      for (let i = 0; i < 8; i++) await call(`warm${i}`, false);
      const discover = await call('new', true);
      const row = (await c.query<{ ipv4: string; psid: number }>("SELECT ipv4, psid FROM xbr_leases WHERE client = 'new'")).rows[0];
      const request = await c.query(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM xbr_bind('new', 'site new', 4, ARRAY['big'], $1, $2, 'selecting', $3, $4, NULL, 0, 'test')",
        [row.ipv4, row.psid, NOW, NOW + 3_600_000],
      );
      const read = (r: pg.QueryResult) => {
        const top = (r.rows[0]['QUERY PLAN'] as { Plan: Record<string, number> }[])[0].Plan;
        return top['Shared Hit Blocks'] + top['Shared Read Blocks'];
      };
      return { discover: read(discover), request: read(request) };
    }, url);
    // Index look-ups by client, site and slot, and the row updates: 24 and 19 pages when
    // written. The plans this replaced read the held rows: 154 pages for the DISCOVER
    // after 2,000 leases, more with every lease.
    expect(pages.discover).toBeGreaterThan(0);
    expect(pages.discover).toBeLessThan(60);
    expect(pages.request).toBeGreaterThan(0);
    expect(pages.request).toBeLessThan(60);
  });
});
