// xbr status / bindings / leases / reload against a real API server on 127.0.0.1:0
// (fetch over a socket, the token from a file), and their one-line errors.
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/server.js';
import { bindingsAction } from '../../src/cli/bindings.js';
import type { CommandIO } from '../../src/cli/io.js';
import { leasesAction } from '../../src/cli/leases.js';
import { reloadAction } from '../../src/cli/reload.js';
import { statusAction } from '../../src/cli/status.js';
import { registerCommands } from '../../src/cli/commands.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import { BIND4, baseYaml, fixture, forward, MemoryLeases, openBox, server, toSubscriber, type Fixture } from './helpers.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  const cio: CommandIO = { out: (l) => out.push(l), err: (l) => err.push(l) };
  return { out, err, io: cio };
}

let fx: Fixture;
let box: EngineBox;
let api: ApiServer;
let url: string;
let leases: MemoryLeases;

beforeAll(async () => {
  fx = fixture(baseYaml('bindings-file: more.csv\n'));
  const lines = ['ipv4,psid-len,psid,ipv6'];
  for (let i = 0; i < 30; i++) lines.push(`203.0.113.${i},0,0,2001:db8:300:${i.toString(16)}::/64`);
  writeFileSync(join(fx.dir, 'more.csv'), lines.join('\n') + '\n');
  leases = new MemoryLeases();
  box = openBox(fx.configPath, leases);
  leases.box = box;
  leases.grant('192.0.2.200', 20, '2001:db8:500::20', 'c0ffee');
  leases.grant('192.0.2.200', 21, '2001:db8:500::21', 'beef');
  for (let i = 0; i < 3; i++) forward(box, toSubscriber());
  api = server(box);
  url = (await api.listen()).url;
});
afterAll(async () => {
  await api.close();
  fx.cleanup();
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('xbr status', () => {
  it('prints the box and the counters that moved as a table', async () => {
    const t = io();
    expect(await statusAction({ api: url }, t.io)).toBe(0);
    expect(t.err).toEqual([]);
    expect(t.out[0]).toMatch(/^xbr map-t {2}up \d+s {2}config generation 1 {2}\(.*xbr\.yaml\)$/);
    expect(t.out[1]).toMatch(/no data-plane interfaces \(in-process\); workers 1\/1 up, 0 restart\(s\); reloads 0 ok, 0 refused/);
    expect(t.out[2]).toBe('pools: shared-a 2/1008 (0.2%)');
    const header = t.out.findIndex((l) => l.startsWith('counter'));
    expect(t.out[header]).toMatch(/^counter\s+total$/);
    const rows = Object.fromEntries(t.out.slice(header + 1).map((l) => l.trim().split(/\s+/)));
    expect(rows).toMatchObject({ rx4_packets: '3', tx6_packets: '3', xlat_4to6: '3' });
    expect(rows).not.toHaveProperty('drop_not_ip'); // zero: only with --all
    const all = io();
    await statusAction({ api: url, all: true }, all.io);
    expect(all.out.some((l) => l.startsWith('drop_not_ip'))).toBe(true);
  });

  it('--json gives status, counters and pools', async () => {
    const t = io();
    expect(await statusAction({ api: url, json: true }, t.io)).toBe(0);
    const j = JSON.parse(t.out.join('\n'));
    expect(j.status.mode).toBe('map-t');
    expect(j.counters.total.rx4_packets).toBe(3);
    expect(j.pools).toHaveLength(1);
  });

  it('--watch refreshes (clearing the screen) with a rate column until stopped', async () => {
    const t = io();
    let clears = 0;
    const ac = new AbortController();
    const pump = setInterval(() => forward(box, toSubscriber()), 10);
    const code = await statusAction({ api: url, watch: true, count: 3, intervalMs: 100 }, t.io, { signal: ac.signal, clear: () => clears++ });
    clearInterval(pump);
    expect(code).toBe(0);
    expect(clears).toBe(3);
    const headers = t.out.filter((l) => l.startsWith('counter'));
    expect(headers).toHaveLength(3);
    expect(headers[0]).toMatch(/^counter\s+total$/);
    expect(headers[2]).toMatch(/^counter\s+total\s+\/s$/);
    const rate = t.out.filter((l) => l.startsWith('rx4_packets')).at(-1)!.trim().split(/\s+/)[2];
    expect(Number(rate)).toBeGreaterThan(0);
  });

  it('--watch ends on the signal (Ctrl-C)', async () => {
    const t = io();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const t0 = Date.now();
    expect(await statusAction({ api: url, watch: true, intervalMs: 1000 }, t.io, { signal: ac.signal })).toBe(0);
    expect(Date.now() - t0).toBeLessThan(900);
  });

  it('connection refused is one line, exit 1', async () => {
    const t = io();
    const dead = `http://127.0.0.1:${await closedPort()}`;
    expect(await statusAction({ api: dead }, t.io)).toBe(1);
    expect(t.err).toEqual([`xbr status: cannot reach the xbr API at ${dead}: connection refused (is xbr running, with api.listen at this address?)`]);
    expect(t.out).toEqual([]);
  });
});

describe('xbr bindings', () => {
  it('lists a page with the total and the next offset', async () => {
    const t = io();
    expect(await bindingsAction({ api: url, limit: 5 }, t.io)).toBe(0);
    expect(t.out[0]).toMatch(/^ipv4\s+psid\s+psid-len\s+offset\s+ipv6\s+source$/);
    expect(t.out).toHaveLength(7);
    expect(t.out[1]).toMatch(/^192\.0\.2\.200\s+20\s+6\s+6\s+2001:db8:500::20\/128\s+lease$/);
    expect(t.out[6]).toBe('1-5 of 33 bindings; next page: --offset 5');
    const last = io();
    await bindingsAction({ api: url, offset: 30, limit: 5 }, last.io);
    expect(last.out.at(-1)).toBe('31-33 of 33 bindings');
  });

  it('filters', async () => {
    const t = io();
    await bindingsAction({ api: url, ipv4: BIND4 }, t.io);
    expect(t.out[1]).toMatch(/^198\.51\.100\.7\s+12\s+6\s+6\s+2001:db8:100:77::\/64\s+static$/);
    const s = io();
    await bindingsAction({ api: url, source: 'lease', json: true }, s.io);
    expect(JSON.parse(s.out.join('\n')).total).toBe(2);
    const none = io();
    await bindingsAction({ api: url, ipv6: '2001:db8:999::1' }, none.io);
    expect(none.out).toEqual(['no bindings']);
  });

  it('a bad filter is the API reason in one line', async () => {
    const t = io();
    expect(await bindingsAction({ api: url, ipv4: '203.0.113' }, t.io)).toBe(1);
    expect(t.err).toEqual(['xbr bindings: 400 bad request: ipv4: "203.0.113" is not an IPv4 address or prefix']);
  });
});

describe('xbr leases', () => {
  it('lists and filters', async () => {
    const t = io();
    expect(await leasesAction({ api: url }, t.io)).toBe(0);
    expect(t.out[0]).toMatch(/^ipv4\s+psid\s+pool\s+state\s+expires\s+client-id\s+ipv6$/);
    expect(t.out[1]).toMatch(/^192\.0\.2\.200\s+20\s+shared-a\s+bound\s+\S+Z\s+c0ffee\s+2001:db8:500::20$/);
    expect(t.out.at(-1)).toBe('1-2 of 2 leases');
    const c = io();
    await leasesAction({ api: url, clientId: 'beef' }, c.io);
    expect(c.out).toHaveLength(3);
    expect(c.out[1]).toMatch(/\s21\s/);
  });
});

describe('xbr reload', () => {
  it('needs the token: without it, a 401 in one line telling what to do', async () => {
    const t = io();
    expect(await reloadAction({ api: url }, t.io)).toBe(1);
    expect(t.err).toEqual(['xbr reload: 401 unauthorized: a change needs "Authorization: Bearer <token>" (give --token-file with the token of api.token-file)']);
    const wrong = join(fx.dir, 'wrong.token');
    writeFileSync(wrong, 'not-the-right-token-at-all\n');
    const w = io();
    expect(await reloadAction({ api: url, tokenFile: wrong }, w.io)).toBe(1);
    expect(w.err[0]).toBe(`xbr reload: 401 unauthorized: invalid bearer token (the token in ${wrong} was refused)`);
    const missing = io();
    expect(await reloadAction({ api: url, tokenFile: join(fx.dir, 'nope') }, missing.io)).toBe(1);
    expect(missing.err[0]).toMatch(/^xbr reload: cannot read the token file .*nope \(ENOENT\)$/);
    expect(box.status().reloads).toEqual({ ok: 0, failed: 0 });
  });

  it('with the token: in force, or refused with every reason and exit 1', async () => {
    const t = io();
    expect(await reloadAction({ api: url, tokenFile: fx.tokenPath }, t.io)).toBe(0);
    expect(t.out).toEqual(['xbr reload: the new config is in force (generation 2)']);
    fx.write(baseYaml('bindings-file: more.csv\ncolour: blue\n').replace('ea-len: 16', 'ea-len: 99'));
    const bad = io();
    expect(await reloadAction({ api: url, tokenFile: fx.tokenPath }, bad.io)).toBe(1);
    expect(bad.err[0]).toBe('xbr reload: refused, the running config stays (generation 2):');
    expect(bad.err.slice(1)).toEqual([expect.stringMatching(/^ {2}.*xbr\.yaml:\d+:\d+: rules\[0\]\.ea-len: must be <= 48$/), expect.stringMatching(/^ {2}.*colour: unknown key$/)]);
    fx.write(baseYaml('bindings-file: more.csv\n'));
  });
});

describe('the commands are registered', () => {
  it('xbr status, bindings, leases, reload with --api and --token-file', () => {
    const program = new Command();
    registerCommands(program);
    for (const name of ['status', 'bindings', 'leases', 'reload']) {
      const cmd = program.commands.find((c) => c.name() === name);
      expect(cmd, name).toBeDefined();
      const flags = cmd!.options.map((o) => o.long);
      expect(flags).toEqual(expect.arrayContaining(['--api', '--token-file']));
    }
    expect(program.commands.find((c) => c.name() === 'status')!.options.map((o) => o.long)).toEqual(expect.arrayContaining(['--watch', '--all', '--json', '--count']));
    expect(program.commands.find((c) => c.name() === 'bindings')!.options.map((o) => o.long)).toEqual(
      expect.arrayContaining(['--ipv4', '--psid', '--ipv6', '--source', '--offset', '--limit']),
    );
  });
});
