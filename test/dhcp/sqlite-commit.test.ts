// SqliteLeaseStore.transactionThen: the hook the SQLite worker answers DHCPDISCOVERs
// from (store/sqlite-worker-main.ts) runs after every unit and before the COMMIT —
// nothing of the transaction is visible to another connection yet — and a hook that
// throws leaves nothing committed.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteLeaseStore } from '../../src/dhcp/store/sqlite.js';
import type { LeaseRow, LeaseTx } from '../../src/dhcp/store/types.js';

const V4 = 0x64400000;

describe('SqliteLeaseStore.transactionThen', () => {
  let dir: string;
  let path: string;
  let store: SqliteLeaseStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'xbr-commit-'));
    path = join(dir, 'l.db');
    store = new SqliteLeaseStore(path, 'full');
    await store.init([{ name: 'p', first: V4, count: 2, psidLen: 2, psidOffset: 6, psids: [1, 2, 3] }]);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * A unit that leases the first free slot to `client` and returns the row written
   * (bound: an offer would never reach the file, sqlite.ts writeDirty).
   */
  const lease =
    (client: string) =>
    async (tx: LeaseTx): Promise<LeaseRow> => {
      const r = (await tx.claimFree('p', 0))!;
      const row: LeaseRow = { ...r, state: 'bound', client, expiresAt: Date.now() + 60_000, site: 's', ipv6: null, prefixLen: 0 };
      await tx.write(row);
      return row;
    };
  /** What another connection (another process, a crash-restart) sees for a client. */
  const seenElsewhere = (client: string): number => {
    const db = new Database(path, { readonly: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM leases WHERE client = ?').get(client) as { n: number }).n;
    } finally {
      db.close();
    }
  };

  it('hands the hook every unit result before the COMMIT, and commits after it', async () => {
    let during: { results: LeaseRow[]; visible: number } | undefined;
    const out = await store.transactionThen([lease('a'), lease('b')], (results) => {
      during = { results: [...results], visible: seenElsewhere('a') + seenElsewhere('b') };
    });
    expect(during?.results.map((r) => r.client)).toEqual(['a', 'b']);
    expect(during?.results).toEqual(out);
    expect(during?.visible).toBe(0); // not committed while the hook ran
    expect(seenElsewhere('a') + seenElsewhere('b')).toBe(2); // committed once it returned
    expect(out[0].ipv4 * 4 + out[0].psid).not.toBe(out[1].ipv4 * 4 + out[1].psid);
  });

  it('commits nothing when the hook throws', async () => {
    await expect(
      store.transactionThen([lease('a')], () => {
        throw new Error('post failed');
      }),
    ).rejects.toThrow('post failed');
    expect(seenElsewhere('a')).toBe(0);
    // and the store goes on: the next transaction takes the same free slot
    const [row] = await store.transaction([lease('c')]);
    expect(seenElsewhere('c')).toBe(1);
    expect(row.ipv4).toBe(V4);
  });
});
