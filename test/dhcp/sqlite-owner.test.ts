// One server per SQLite lease file (sqlite.ts claimOwnership): the store decides from
// its rows in memory, so a second server on the same file would lease slots twice.
// It is refused by name, in the same process and from another; the lock goes with its
// holder (a SIGKILLed holder: durability.test.ts restarts on the same file).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocate, bind } from '../../src/dhcp/leases.js';
import { runLoad } from '../../src/dhcp/loadgen.js';
import { SqliteLeaseStore } from '../../src/dhcp/store/sqlite.js';
import { ensureBuilt, startDhcp, stopChild, type Child } from './cli-helpers.js';

const V4 = 0x64400000;
const POOLS = [{ name: 'p', first: V4, count: 4, psidLen: 2, psidOffset: 6, psids: [1, 2, 3] }];

describe('SQLite lease file ownership', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbr-owner-'));
  const children: Child[] = [];
  beforeAll(() => ensureBuilt());
  afterAll(async () => {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a second store on the file while the first is open, and lets it in once the first closed', async () => {
    const path = join(dir, 'in-process.db');
    const first = new SqliteLeaseStore(path, 'full');
    await first.init(POOLS);
    const h = { client: 'a', site: 's', siteLimit: 4, ipv6: null, prefixLen: 0 };
    const [offer] = await first.transaction([(tx) => allocate(tx, h, { eligible: ['p'], order: ['p'] }, 1000, 2000)]);
    if (!offer.ok) throw new Error('no offer');
    const [ack] = await first.transaction([(tx) => bind(tx, h, offer.row, ['p'], 'selecting', 1000, 1e12)]);
    expect(ack.kind).toBe('ack');
    expect(() => new SqliteLeaseStore(path, 'full')).toThrow(`lease store ${path}: in use by another xbr server`);
    await first.close();
    const second = new SqliteLeaseStore(path, 'full');
    try {
      expect((await second.active(1000)).map((r) => [r.client, r.ipv4, r.psid])).toEqual([['a', offer.row.ipv4, offer.row.psid]]);
    } finally {
      await second.close();
    }
  });

  it('a second `xbr dhcp` on the same file exits naming it; the first serves on, and the file is free once it stopped', async () => {
    const cfg = join(dir, 'x.yaml');
    writeFileSync(
      cfg,
      `mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  lease-store: sqlite:./cli.db
  pools:
    - name: shared
      ipv4: 100.64.0.0/24
      psid-len: 4
      psid-offset: 6
`,
    );
    const a = await startDhcp(['-c', cfg]);
    children.push(a);
    const second = spawn(process.execPath, [join(process.cwd(), 'bin', 'xbr.js'), 'dhcp', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    second.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => second.kill('SIGKILL'), 20_000);
      second.once('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull(); // it exited on its own, not by the timeout's kill
    expect(err).toContain(`lease store ${join(dir, 'cli.db')}: in use by another xbr server`);
    const r = await runLoad({ host: '::1', port: a.port, clients: 5, inFlight: 5, deadlineMs: 10_000, portAware: true });
    expect(r.acked).toHaveLength(5);
    await stopChild(a);
    const b = await startDhcp(['-c', cfg]);
    children.push(b);
    expect(b.stderr()).toMatch(/restored 5 bindings/);
  }, 60_000);
});
