// "A lease is durable before its ACK leaves": a lease storm against `xbr dhcp`
// (SQLite, and PostgreSQL, where a batch of leases is one statement committed before
// its rows return), SIGKILL in the middle of it, restart: every lease whose ACK reached
// the client is in the store and back in the data plane's binding table (the wasm
// core, looked up by the restarted process itself). PostgreSQL is needed for the
// second (scripts/start-postgres.sh): skipped without it, except in CI (CI=true).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runLoad, type Ack } from '../../src/dhcp/loadgen.js';
import { ensureBuilt, startDhcp, stopChild, type Child } from './cli-helpers.js';
import { PG_URL, pgUnavailable, withPg } from './server-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-durable-'));
const children: Child[] = [];
const pgMissing = await pgUnavailable();
const CI = process.env.CI === 'true';
const pgDb = `xbr_d_${process.pid}_${Date.now()}`;
const pgUrl = PG_URL.replace(/\/[^/?]*(\?|$)/, `/${pgDb}$1`);

const yaml = (store: string) => `mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  lease-store: ${store}
  pools:
    - name: shared
      ipv4: 100.64.0.0/22
      psid-len: 4
      psid-offset: 6
`;

beforeAll(() => {
  ensureBuilt();
  writeFileSync(join(dir, 'sqlite.yaml'), yaml('sqlite:./leases.db'));
  writeFileSync(join(dir, 'postgres.yaml'), yaml(pgUrl));
});

afterAll(async () => {
  for (const c of children) await stopChild(c);
  if (pgMissing === null) await withPg((c) => c.query(`DROP DATABASE IF EXISTS ${pgDb} WITH (FORCE)`));
  rmSync(dir, { recursive: true, force: true });
});

/** The bound slots in the store, read directly (before a server opens it again), as "ipv4/psid". */
async function boundSlots(kind: 'sqlite' | 'postgres'): Promise<Set<string>> {
  let rows: { ipv4: number | string; psid: number }[];
  if (kind === 'sqlite') {
    const db = new Database(join(dir, 'leases.db'));
    rows = db.prepare("SELECT ipv4, psid FROM leases WHERE state = 'bound'").all() as { ipv4: number; psid: number }[];
    db.close();
  } else {
    rows = await withPg(async (c) => (await c.query<{ ipv4: string; psid: number }>("SELECT ipv4, psid FROM xbr_leases WHERE state = 'bound'")).rows, pgUrl);
  }
  return new Set(rows.map((x) => `${Number(x.ipv4)}/${x.psid}`));
}

it('SIGKILL during a lease storm loses no ACKed lease; restart restores every one as a binding (SQLite)', () => storm('sqlite'));

it.skipIf(pgMissing !== null && !CI)('the same over PostgreSQL', async () => {
  if (pgMissing !== null) throw new Error(`PostgreSQL at ${PG_URL} is required in CI (scripts/start-postgres.sh): ${pgMissing}`);
  await withPg((c) => c.query(`CREATE DATABASE ${pgDb}`));
  await storm('postgres');
});

async function storm(kind: 'sqlite' | 'postgres'): Promise<void> {
  const cfg = join(dir, `${kind}.yaml`);
  const a = await startDhcp(['-c', cfg, '--engine']);
  children.push(a);
  const acked: Ack[] = [];
  let killedAt = 0;
  const r = await runLoad({
    host: '::1',
    port: a.port,
    clients: 20000,
    inFlight: 256,
    timeoutMs: 300,
    tries: 1,
    deadlineMs: 30_000,
    onAck: (x) => {
      acked.push(x);
      if (acked.length === 1500 && killedAt === 0) {
        a.proc.kill('SIGKILL');
        killedAt = performance.now();
      }
    },
    stop: () => killedAt > 0 && performance.now() - killedAt > 300,
  });
  expect(killedAt).toBeGreaterThan(0);
  expect(r.acked.length).toBeGreaterThanOrEqual(1500);
  await new Promise<void>((resolve) => (a.proc.exitCode !== null || a.proc.signalCode !== null ? resolve() : a.proc.once('exit', () => resolve())));
  expect(a.proc.signalCode).toBe('SIGKILL');

  // Every ACKed lease is in the store (read directly, before the server opens it again).
  const bound = await boundSlots(kind);
  const key = (x: Ack) => {
    const [p, q, s, t] = x.yiaddr.split('.').map(Number);
    return `${((p << 24) | (q << 16) | (s << 8) | t) >>> 0}/${x.psid}`;
  };
  const missing = acked.filter((x) => !bound.has(key(x)));
  expect(missing).toEqual([]);

  // Restart: the restored bindings are in the wasm core's table before it serves.
  const dump = join(dir, 'dump.json');
  const b = await startDhcp(['-c', cfg, '--engine', '--dump-bindings', dump]);
  children.push(b);
  const table = JSON.parse(readFileSync(dump, 'utf8')) as { ipv4: string; psid: number; found: boolean; ipv6?: string }[];
  const byKey = new Map(table.map((x) => [`${x.ipv4}/${x.psid}`, x]));
  for (const x of acked) {
    const e = byKey.get(`${x.yiaddr}/${x.psid}`);
    expect(e, `${x.yiaddr}/${x.psid}`).toBeDefined();
    expect(e!.found).toBe(true);
    expect(e!.ipv6).toBe(x.b4);
  }
  expect(b.stderr()).toMatch(/restored \d+ bindings/);
  // and the restarted server serves: a new client gets a lease
  const more = await runLoad({ host: '::1', port: b.port, clients: 10, inFlight: 10, firstClient: 900000, deadlineMs: 10_000 });
  expect(more.acked).toHaveLength(10);
}
