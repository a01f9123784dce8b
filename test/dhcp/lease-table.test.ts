// The in-memory lease table (store/lease-table.ts) against the SQL it replaces: random
// sequences of every lease operation (leases.ts), expiry sweeps, pool reloads, batched
// and failing transactions run through two SQLite stores, one reading through SQL
// statements (reads: 'sql', the reference) and one through the table (reads:
// 'memory', what `xbr dhcp` runs). Every result and, after each step, every row must
// be the same; and the memory store's file, opened afresh, must hold what its table held
// — except offers, which the memory store keeps in the table only (sqlite.ts
// writeDirty): for a row last left offered the file holds what it was before.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocate, bind, decline, dropRetired, release, withdrawOffers, type Holder, type RequestKind } from '../../src/dhcp/leases.js';
import { SqliteLeaseStore } from '../../src/dhcp/store/sqlite.js';
import { LeaseTable, type RowColumns } from '../../src/dhcp/store/lease-table.js';
import type { LeaseRow, LeaseTx, PoolSlots } from '../../src/dhcp/store/types.js';

const V4 = 0x64400000;
/** Two pool layouts; a reload from one to the other retires, rehomes and reshapes rows. */
const LAYOUTS: PoolSlots[][] = [
  [
    { name: 's', first: V4, count: 2, psidLen: 2, psidOffset: 6, psids: [1, 2] },
    { name: 'f', first: V4 + 8, count: 1, psidLen: 0, psidOffset: 0, psids: [0] },
  ],
  [
    { name: 's', first: V4 + 1, count: 2, psidLen: 2, psidOffset: 6, psids: [1, 3] },
    { name: 'g', first: V4 + 8, count: 2, psidLen: 1, psidOffset: 6, psids: [0, 1] },
  ],
];
const POOLS = ['s', 'f', 'g', 'x'];
const KINDS: RequestKind[] = ['selecting', 'init-reboot', 'renewing', 'rebinding'];
const V6 = [null, Uint8Array.from({ length: 16 }, (_, i) => i), Uint8Array.from({ length: 16 }, (_, i) => 255 - i)];

const client = fc.integer({ min: 0, max: 3 }).map((n) => `c${n}`);
/** Slots of both layouts, a few that exist in neither, and "no PSID given" (null). */
const slot = fc.record({ ipv4: fc.integer({ min: V4 - 1, max: V4 + 11 }), psid: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }) });
/** Mostly the configured pools (so that slots change hands), sometimes odd sets. */
const pools: fc.Arbitrary<string[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<string[]>(['s', 'f', 'g']) },
  { weight: 2, arbitrary: fc.constantFrom<string[]>(['s'], ['g', 'f'], ['f', 's']) },
  { weight: 1, arbitrary: fc.subarray(POOLS, { minLength: 0 }) },
);
/** Who asks (Holder, see unit()): client, site and its limit, binding address. */
const holderFields = { c: client, site: fc.integer({ min: 0, max: 2 }), limit: fc.integer({ min: 0, max: 3 }), v6: fc.integer({ min: 0, max: 2 }) };
const unitOp = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('allocate' as const),
      ...holderFields,
      eligible: pools,
      order: pools,
      requested: fc.option(fc.record({ ipv4: fc.integer({ min: V4, max: V4 + 10 }), psid: fc.integer({ min: 0, max: 3 }) }), { nil: undefined }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('bind' as const),
      ...holderFields,
      slot: fc.option(slot, { nil: undefined }),
      eligible: pools,
      kind: fc.constantFrom(...KINDS),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), c: client, slot: fc.option(slot, { nil: undefined }), eligible: pools }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('decline' as const), c: client, slot: fc.option(slot, { nil: undefined }), eligible: pools }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('withdraw' as const), c: client, eligible: pools }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('dropRetired' as const), c: client, ipv4: fc.option(fc.integer({ min: V4, max: V4 + 10 }), { nil: undefined }) }) },
);
type UnitOp = typeof unitOp extends fc.Arbitrary<infer T> ? T : never;
const step = fc.oneof(
  { weight: 6, arbitrary: fc.record({ units: fc.array(unitOp, { minLength: 1, maxLength: 4 }), fail: fc.integer({ min: 0, max: 4 }).map((n) => n === 0) }) },
  { weight: 2, arbitrary: fc.record({ tick: fc.constantFrom(0, 1, 500, 1000, 1500, 3000, 4000) }) },
  { weight: 1, arbitrary: fc.record({ expire: fc.integer({ min: -1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ layout: fc.integer({ min: 0, max: 1 }) }) },
);

/** Runs one unit of leases.ts at `now` (offer 1 s, lease 3 s, decline 2 s). */
function unit(u: UnitOp, now: number): (tx: LeaseTx) => Promise<unknown> {
  const holder = (site: number, limit: number, v6: number): Holder => ({ client: u.c, site: `site${site}`, siteLimit: limit, ipv6: V6[v6], prefixLen: v6 === 0 ? 0 : 128 });
  switch (u.op) {
    case 'allocate':
      return (tx) => allocate(tx, holder(u.site, u.limit, u.v6), { eligible: u.eligible, order: u.order, requested: u.requested }, now, now + 1000);
    case 'bind':
      return (tx) => bind(tx, holder(u.site, u.limit, u.v6), u.slot, u.eligible, u.kind, now, now + 3000);
    case 'release':
      return (tx) => release(tx, u.c, u.slot, u.eligible, now);
    case 'decline':
      return (tx) => decline(tx, u.c, u.slot, u.eligible, now + 2000);
    case 'withdraw':
      return (tx) => withdrawOffers(tx, u.c, u.eligible, now);
    case 'dropRetired':
      return (tx) => dropRetired(tx, u.c, u.ipv4, now);
  }
}

/** Comparable form: typed arrays as plain arrays. */
const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? [...x] : x)));

describe('LeaseTable', () => {
  it('answers every lease operation, sweep and reload exactly as the SQL reads do, and its file holds the same rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xbr-table-'));
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
          run++;
          const sql = new SqliteLeaseStore(join(dir, `sql${run}.db`), 'full', 'sql');
          const memPath = join(dir, `mem${run}.db`);
          const mem = new SqliteLeaseStore(memPath, 'full', 'memory');
          // What the memory store's file must hold: every row that has a client, as the
          // last committed write that was not an offer left it — also when the same
          // transaction then offered the row again (a RELEASE and a DISCOVER in one
          // group commit: the release is committed, the offer is not).
          const onDisk = new Map<number, { ipv4: number; psid: number }>();
          const key = (r: { ipv4: number; psid: number }) => r.ipv4 * 16 + r.psid;
          const wrote = (rows: readonly LeaseRow[]) => {
            for (const r of rows) {
              if (r.state === 'offered') continue;
              if (r.client === null) onDisk.delete(key(r));
              else onDisk.set(key(r), plain(r) as LeaseRow);
            }
          };
          /** After an expiry sweep (it writes no offers) or an init (it writes them all): every row as it is now. */
          const committed = async (offersToo: boolean) => {
            const rows = plain(await mem.all()) as { ipv4: number; psid: number; state: string }[];
            const now = new Set(rows.map(key));
            for (const k of onDisk.keys()) if (!now.has(k)) onDisk.delete(k); // a client can only go by a write that is no offer
            for (const r of rows) if (offersToo || r.state !== 'offered') onDisk.set(key(r), r);
          };
          try {
            let now = 1_000_000;
            expect(await mem.init(LAYOUTS[0])).toBe(await sql.init(LAYOUTS[0]));
            for (const s of steps) {
              if ('tick' in s) now += s.tick;
              else if ('expire' in s) {
                expect(plain(await mem.expire(now, s.expire))).toEqual(plain(await sql.expire(now, s.expire)));
                await committed(false);
              } else if ('layout' in s) {
                expect(await mem.init(LAYOUTS[s.layout])).toBe(await sql.init(LAYOUTS[s.layout]));
                await committed(true); // init writes the offers before it reshapes the rows
              } else {
                const units = s.units.map((u) => unit(u, now));
                if (s.fail) units.push(async () => Promise.reject(new Error('unit failed')));
                const written: LeaseRow[] = [];
                const recorded = units.map((u) => (tx: LeaseTx) => u({ ...tx, write: async (row) => (written.push({ ...row }), tx.write(row)) }));
                const outcome = async (st: SqliteLeaseStore, us: typeof units) =>
                  st.transaction(us).then(
                    (r) => plain(r),
                    (e: Error) => `rejected: ${e.message}`,
                  );
                const result = await outcome(mem, recorded);
                expect(result).toEqual(await outcome(sql, units));
                if (typeof result !== 'string') wrote(written);
              }
              expect(plain(await mem.all())).toEqual(plain(await sql.all()));
            }
            expect(plain(await mem.active(now))).toEqual(plain(await sql.active(now)));
            const rows = [...onDisk.values()].sort((a, b) => a.ipv4 - b.ipv4 || a.psid - b.psid);
            await mem.close();
            const again = new SqliteLeaseStore(memPath, 'full', 'memory');
            try {
              expect(plain(await again.all())).toEqual(rows);
            } finally {
              await again.close();
            }
          } finally {
            await sql.close();
            await mem.close();
          }
        }),
        { numRuns: 300 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('keeps offers out of the file: DISCOVERs alone write nothing, the ACK writes the lease, a restart forgets offers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xbr-offers-'));
    const path = join(dir, 'l.db');
    const now = 1_000_000;
    const h = (client: string): Holder => ({ client, site: client, siteLimit: 4, ipv6: null, prefixLen: 0 });
    const plan = { eligible: ['s', 'f'], order: ['s'] };
    const offer = async (st: SqliteLeaseStore, client: string) => {
      const [r] = await st.transaction([(tx) => allocate(tx, h(client), plan, now, now + 1000)]);
      if (!r.ok) throw new Error(`no offer for ${client}`);
      return { ipv4: r.row.ipv4, psid: r.row.psid };
    };
    const request = async (st: SqliteLeaseStore, client: string, slot: { ipv4: number; psid: number }) =>
      (await st.transaction([(tx) => bind(tx, h(client), slot, plan.eligible, 'selecting', now, now + 3000)]))[0];
    let st = new SqliteLeaseStore(path, 'full', 'memory');
    try {
      await st.init(LAYOUTS[0]);
      const wal = () => statSync(`${path}-wal`).size;
      const before = wal();
      const a = await offer(st, 'a');
      const b = await offer(st, 'b');
      expect(wal()).toBe(before); // two committed transactions, nothing written
      expect((await request(st, 'a', a)).kind).toBe('ack');
      expect(wal()).toBeGreaterThan(before);
      // a failed transaction takes back its own changes, not b's earlier offer
      await expect(st.transaction([(tx) => allocate(tx, h('c'), plan, now, now + 1000), async () => Promise.reject(new Error('boom'))])).rejects.toThrow('boom');
      expect((await st.all()).map((r) => [r.client, r.state])).toEqual([['a', 'bound'], ['b', 'offered']]);
      await st.close();
      st = new SqliteLeaseStore(path, 'full', 'memory');
      expect((await st.all()).map((r) => [r.client, r.state, r.ipv4, r.psid])).toEqual([['a', 'bound', a.ipv4, a.psid]]);
      expect(await request(st, 'b', b)).toEqual({ kind: 'nak', why: 'not-offered' });
    } finally {
      await st.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes a RELEASE that its own transaction follows with a new offer of the slot: the release is committed, the offer is not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xbr-offers-'));
    const path = join(dir, 'l.db');
    const now = 1_000_000;
    const h: Holder = { client: 'a', site: 's', siteLimit: 4, ipv6: null, prefixLen: 0 };
    const plan = { eligible: ['s'], order: ['s'] };
    let st = new SqliteLeaseStore(path, 'full', 'memory');
    try {
      await st.init(LAYOUTS[0]);
      const [offer] = await st.transaction([(tx) => allocate(tx, h, plan, now, now + 1000)]);
      if (!offer.ok) throw new Error('no offer');
      const slot = { ipv4: offer.row.ipv4, psid: offer.row.psid };
      expect((await st.transaction([(tx) => bind(tx, h, slot, plan.eligible, 'selecting', now, now + 3000)]))[0].kind).toBe('ack');
      // one group commit: the client releases its lease and asks again; it is offered its previous slot
      const [released, again] = await st.transaction<unknown>([(tx) => release(tx, 'a', slot, plan.eligible, now + 10), (tx) => allocate(tx, h, plan, now + 10, now + 1010)]);
      expect(released).not.toBeNull();
      expect(again).toMatchObject({ ok: true, how: 'previous', row: { state: 'offered', ...slot } });
      await st.close();
      st = new SqliteLeaseStore(path, 'full', 'memory');
      // not the bound lease the client gave back: a restart must not bring it (or its binding) back
      expect((await st.all()).map((r) => [r.client, r.state, r.freedAt])).toEqual([['a', 'free', now + 10]]);
      expect(await st.active(now + 20)).toEqual([]);
    } finally {
      await st.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // The orders the table keeps, on a larger pool than the sequences above reach.
  const row = (ipv4: number, psid: number, state: string, freedAt: number, expiresAt = 0, client: string | null = null): RowColumns => [
    ipv4, psid, 'p', 2, 6, state, client, expiresAt, state === 'free' ? null : 'site', null, 0, freedAt,
  ];

  it('hands out never-leased slots in address order, then freed ones oldest first, then lapsed offers', () => {
    const t = new LeaseTable(6);
    t.add(row(V4, 1, 'free', 500, 0, 'old'));
    t.add(row(V4, 2, 'offered', 0, 900, 'x'));
    t.add(row(V4, 3, 'free', 0));
    t.add(row(V4 + 1, 1, 'free', 200, 0, 'older'));
    t.add(row(V4 + 1, 2, 'free', 0));
    t.add(row(V4 + 1, 3, 'bound', 0, 5000, 'y'));
    const take = () => {
      const r = t.claimFree('p', 1000);
      if (r !== undefined) t.write({ ...r, state: 'bound', client: 'z', expiresAt: 9999, site: 'site' });
      return r && [r.ipv4 - V4, r.psid];
    };
    expect([take(), take(), take(), take(), take(), take()]).toEqual([[0, 3], [1, 2], [1, 1], [0, 1], [0, 2], undefined]);
    // a row made never-leased again behind the cursor is found again (a store's init can do that)
    t.write({ ...t.get(V4, 3)!, state: 'free', client: null, expiresAt: 0, site: null, freedAt: 0 });
    expect(take()).toEqual([0, 3]);
    expect(t.claimFree('nope', 1000)).toBeUndefined();
  });

  it('counts a site up to its cap, without expired holds or the asking client', () => {
    const t = new LeaseTable(5);
    t.add(row(V4, 0, 'bound', 0, 2000, 'a'));
    t.add(row(V4, 1, 'offered', 0, 2000, 'b'));
    t.add(row(V4, 2, 'bound', 0, 500, 'c')); // expired at 1000
    t.add(row(V4, 3, 'offered', 0, 2000, 'me'));
    t.add(row(V4, 4, 'free', 100, 0, 'd'));
    expect(t.countSite('site', 'me', 1000, 10)).toBe(2);
    expect(t.countSite('site', 'me', 1000, 1)).toBe(1);
    expect(t.countSite('site', 'me', 1000, 0)).toBe(0);
    expect(t.countSite('site', 'nobody', 1000, -1)).toBe(3);
    expect(t.countSite('other', 'me', 1000, 10)).toBe(0);
  });

  it("keeps a client's rows in address order and a site's holds counted as rows join and leave, first, middle or last", () => {
    const t = new LeaseTable(6);
    for (let i = 0; i < 6; i++) t.add(row(V4 + (i >> 1), i & 1, 'free', 0));
    const rows = (c: string) => t.rowsOf(c, ['p']).map((r) => [r.ipv4 - V4, r.psid]);
    // rows join client "a" and site "s" out of address order
    for (const [a, p] of [[1, 1], [0, 0], [2, 1], [1, 0]]) t.write({ ...t.get(V4 + a, p)!, state: 'bound', client: 'a', site: 's', expiresAt: 5000 });
    expect(rows('a')).toEqual([[0, 0], [1, 0], [1, 1], [2, 1]]);
    expect(t.countSite('s', 'other', 1000, -1)).toBe(4);
    // the first, a middle and the last row leave; the rest stay listed
    for (const [a, p, left] of [[0, 0, [[1, 0], [1, 1], [2, 1]]], [1, 1, [[1, 0], [2, 1]]], [2, 1, [[1, 0]]]] as const) {
      t.write({ ...t.get(V4 + a, p)!, state: 'free', client: null, site: null, expiresAt: 0, freedAt: 100 });
      expect(rows('a')).toEqual(left);
      expect(t.countSite('s', 'other', 1000, -1)).toBe(left.length);
    }
    // the site's newest hold leaves, then the next newest: the oldest is still counted
    const hold = (a: number, p: number, site: string | null) =>
      t.write({ ...t.get(V4 + a, p)!, state: site === null ? 'free' : 'offered', client: site === null ? null : `h${a}${p}`, site, expiresAt: site === null ? 0 : 5000 });
    for (const [a, p] of [[0, 0], [0, 1], [2, 0]]) hold(a, p, 'u');
    expect(t.countSite('u', 'x', 1000, -1)).toBe(3);
    hold(2, 0, null);
    hold(0, 1, null);
    expect(t.countSite('u', 'x', 1000, -1)).toBe(1);
    hold(0, 1, 'u');
    expect(t.countSite('u', 'x', 1000, -1)).toBe(2);
    hold(0, 0, null);
    hold(0, 1, null);
    expect(t.countSite('u', 'x', 1000, -1)).toBe(0);
    hold(2, 0, 'u');
    expect(t.countSite('u', 'x', 1000, -1)).toBe(1);
    // a row changing hands and sites moves between lists
    t.write({ ...t.get(V4 + 1, 0)!, client: 'b', site: 't' });
    expect([rows('a'), rows('b'), t.countSite('s', 'x', 1000, -1), t.countSite('t', 'x', 1000, -1)]).toEqual([[], [[1, 0]], 0, 1]);
    // the binding address is the table's copy: changing the array written changes nothing
    const v6 = Uint8Array.from({ length: 16 }, (_, i) => i);
    t.write({ ...t.get(V4 + 1, 0)!, ipv6: v6, prefixLen: 128 });
    v6[0] = 99;
    expect(t.get(V4 + 1, 0)!.ipv6![0]).toBe(0);
    // a wrong-sized address is refused before anything changes
    const before = t.get(V4 + 1, 0)!;
    expect(() => t.write({ ...before, client: 'c', state: 'free', ipv6: new Uint8Array(4) })).toThrow(/4 octets \(16 expected\)/);
    expect(t.get(V4 + 1, 0)).toEqual(before);
    expect(rows('b')).toEqual([[1, 0]]);
  });

  it('keeps its heaps bounded by rebuilding them when most entries are dead', () => {
    const n = 1000;
    const t = new LeaseTable(n);
    for (let i = 0; i < n; i++) t.add(row(V4 + (i >> 2), i & 3, 'bound', 0, 10_000 + i, `c${i}`));
    // Each renewal pushes a new expiry entry and leaves the old one dead.
    for (let round = 1; round <= 20; round++) for (let i = 0; i < n; i++) t.write({ ...t.get(V4 + (i >> 2), i & 3)!, expiresAt: 10_000 + round * n + i });
    const heap = (t as unknown as { bound: { size: number } }).bound;
    expect(heap.size).toBeLessThanOrEqual(2 * n);
    // and the sweep still finds exactly the rows due, earliest first
    const due = t.expiredBound(10_000 + 20 * n + 4, 100);
    expect(due.map((r) => r.expiresAt)).toEqual([0, 1, 2, 3, 4].map((i) => 10_000 + 20 * n + i));
  });
});
