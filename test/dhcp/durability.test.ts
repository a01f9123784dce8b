// "A lease is durable before its ACK leaves": a lease storm against `xbr dhcp`
// (SQLite), SIGKILL in the middle of it, restart: every lease whose ACK reached the
// client is in the store and back in the data plane's binding table (the wasm core,
// looked up by the restarted process itself).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runLoad, type Ack } from '../../src/dhcp/loadgen.js';
import { ensureBuilt, startDhcp, stopChild, type Child } from './cli-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-durable-'));
const children: Child[] = [];

beforeAll(() => {
  ensureBuilt();
  writeFileSync(
    join(dir, 'xbr.yaml'),
    `mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  lease-store: sqlite:./leases.db
  pools:
    - name: shared
      ipv4: 100.64.0.0/22
      psid-len: 4
      psid-offset: 6
`,
  );
});

afterAll(async () => {
  for (const c of children) await stopChild(c);
  rmSync(dir, { recursive: true, force: true });
});

it('SIGKILL during a lease storm loses no ACKed lease; restart restores every one as a binding', async () => {
  const cfg = join(dir, 'xbr.yaml');
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

  // Every ACKed lease is in the file (read directly, before the server opens it again).
  const db = new Database(join(dir, 'leases.db'));
  const rows = db.prepare("SELECT ipv4, psid, client, state FROM leases WHERE state = 'bound'").all() as { ipv4: number; psid: number; state: string }[];
  db.close();
  const bound = new Set(rows.map((x) => `${x.ipv4}/${x.psid}`));
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
});
