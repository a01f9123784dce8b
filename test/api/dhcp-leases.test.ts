// The lease side over the real 4o6 server and SQLite store: a client's lease becomes a
// binding in the EngineBox's core, the API lists and releases it, the pools and the
// message counters and store latency reach /metrics, and a reload swaps the dhcp4o6
// section in live (pools, settings) or refuses it with the reason — a pool that cannot
// be served, or a key that takes a restart — while the running config and pools stay.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DhcpLeaseAdapter, messageCounts, timedLeaseStore } from '../../src/box/dhcp-leases.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import type { ApiServer } from '../../src/api/server.js';
import { simClient } from '../../src/dhcp/client.js';
import { Dhcp4o6Server } from '../../src/dhcp/server.js';
import { openLeaseStore } from '../../src/dhcp/store/open.js';
import { loadConfig } from '../../src/config/load.js';
import { LatencyHistogram } from '../../src/metrics/histogram.js';
import { parseIPv4 } from '../../src/map/ip.js';
import { auth, captureLog, fixture, forward, openBox, server, toSubscriber, type Fixture } from './helpers.js';
import { b4, lease, send } from '../dhcp/server-helpers.js';
import { Dhcp4MessageType as T } from '../../src/dhcp/codec/index.js';

const YAML = `mode: lw4o6
br: 2001:db8:ffff::1
binding-capacity: 1024
fragments: { table-size: 64 }
dhcp4o6:
  listen: ["[::1]:0"]
  lease-store: sqlite:leases.db
  max-leases-per-site: 1000
  pools:
    - { name: shared-a, ipv4: 198.51.100.0/30, psid-len: 2, psid-offset: 6 }
`;

let fx: Fixture;
let box: EngineBox;
let dhcp: Dhcp4o6Server;
let api: ApiServer;

beforeAll(async () => {
  fx = fixture(YAML);
  const config = loadConfig(fx.configPath);
  box = openBox(fx.configPath);
  const latency = new LatencyHistogram();
  const store = timedLeaseStore(await openLeaseStore(config.dhcp4o6!['lease-store'], fx.dir, 'test'), latency);
  dhcp = await Dhcp4o6Server.create({ config, configDir: fx.dir, store, sink: box.leaseSink });
  // the server is built over the box's sink, then handed to the box
  box.attachLeases(new DhcpLeaseAdapter(dhcp, config.dhcp4o6, latency));
  api = server(box);
});
afterAll(async () => {
  await api.close();
  await dhcp.stop();
  fx.cleanup();
});

describe('over the real 4o6 server', () => {
  it('a lease is a live binding, listed by the API', async () => {
    const ack = await lease(dhcp, simClient(1));
    expect(ack?.v4.yiaddr).toBeDefined();
    const leases = (await api.app.inject({ url: '/v1/leases' })).json();
    expect(leases.total).toBe(1);
    const l = leases.items[0];
    expect(l).toMatchObject({ pool: 'shared-a', state: 'bound', psidLen: 2, psidOffset: 6, ipv6: `${b4(1)}/128` });
    expect(box.bindings({ source: 'lease' }, 0, 10).items).toEqual([expect.objectContaining({ ipv4: l.ipv4, psid: l.psid, source: 'lease' })]);
    // a = 6, k = 2: PSID p owns ports A*1024 + p*256 + j
    const out = forward(box, toSubscriber(l.ipv4, 1024 + l.psid * 256 + 5));
    expect(out?.version).toBe(6);
    expect(out?.dst).toBe(b4(1));
    expect((await api.app.inject({ url: '/v1/pools' })).json()).toEqual({ pools: [{ pool: 'shared-a', leased: 1, total: 16 }] });
  });

  it('metrics carry its messages and the store latency', async () => {
    const text = (await api.app.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/^xbr_dhcp4o6_messages_total\{type="request",result="ack"\} 1$/m);
    expect(text).toMatch(/^xbr_dhcp4o6_messages_total\{type="discover",result="offer"\} 1$/m);
    const count = Number(/^xbr_dhcp4o6_store_latency_seconds_count (\d+)$/m.exec(text)?.[1]);
    expect(count).toBeGreaterThanOrEqual(2);
  });

  it('DELETE /v1/leases releases it in the store and takes the binding out', async () => {
    const l = (await api.app.inject({ url: '/v1/leases' })).json().items[0];
    const r = await api.app.inject({ method: 'DELETE', url: `/v1/leases/${l.ipv4}/${l.psid}`, headers: auth });
    expect(r.statusCode).toBe(204);
    expect((await api.app.inject({ url: '/v1/leases' })).json().total).toBe(0);
    expect(box.sizes.lease).toBe(0);
    expect(forward(box, toSubscriber(l.ipv4, 1024 + l.psid * 256 + 5))?.version).not.toBe(6);
    const rows = await dhcp.store.all();
    expect(rows.find((x) => x.ipv4 === parseIPv4(l.ipv4) && x.psid === l.psid)?.state).toBe('free');
    expect((await api.app.inject({ method: 'DELETE', url: `/v1/leases/${l.ipv4}/${l.psid}`, headers: auth })).statusCode).toBe(404);
  });

  it('a reload keeping dhcp4o6 goes through; one changing its settings too', async () => {
    expect((await box.reload()).ok).toBe(true);
    fx.write(YAML.replace('max-leases-per-site: 1000', 'max-leases-per-site: 8'));
    expect(await box.reload()).toMatchObject({ ok: true });
    expect(box.config().dhcp4o6?.['max-leases-per-site']).toBe(8);
    fx.write(YAML);
    expect((await box.reload()).ok).toBe(true);
  });
});

describe('a reload of dhcp4o6 through the box (SIGHUP, POST /v1/reload)', () => {
  const SHARED_B = '    - { name: shared-b, ipv4: 198.51.100.8/30, psid-len: 2, psid-offset: 6 }\n';
  let f: Fixture;
  let b: EngineBox;
  let d: Dhcp4o6Server;
  let a: ApiServer;
  let logged: string[];
  async function open(yaml: string) {
    f = fixture(yaml);
    const config = loadConfig(f.configPath);
    const { logger } = captureLog();
    b = openBox(f.configPath, undefined, logger);
    logged = [];
    d = await Dhcp4o6Server.create({ config, configDir: f.dir, sink: b.leaseSink, log: (l) => logged.push(l) });
    b.attachLeases(new DhcpLeaseAdapter(d, config.dhcp4o6));
    a = server(b);
  }
  afterEach(async () => {
    await a.close();
    await d.stop();
    f.cleanup();
  });
  const reload = async () => (await a.app.inject({ method: 'POST', url: '/v1/reload', headers: auth })).json();
  const pools = async () => (await a.app.inject({ url: '/v1/pools' })).json().pools;

  it('a pool added is leased from at once; /v1/pools and the config generation follow; one log line says what changed', async () => {
    await open(YAML);
    for (let i = 1; i <= 16; i++) expect((await lease(d, simClient(i)))?.v4.options.messageType).toBe(T.ACK);
    expect(await lease(d, simClient(17))).toBeNull(); // exhausted
    logged.length = 0;
    f.write(YAML + SHARED_B);
    expect(await reload()).toEqual({ ok: true, generation: 2 });
    expect(logged).toEqual(['reconfigured: pools added [shared-b], unchanged [shared-a]; no setting changed']);
    expect(await pools()).toEqual([
      { pool: 'shared-a', leased: 16, total: 16 },
      { pool: 'shared-b', leased: 0, total: 16 },
    ]);
    const ack = await lease(d, simClient(17));
    expect(ack?.v4.yiaddr).toMatch(/^198\.51\.100\.(8|9|10|11)$/);
    // its binding is live in the box's core
    expect(forward(b, toSubscriber(ack!.v4.yiaddr, 1024 + ack!.v4.options.portParams!.psid * 256 + 5))?.dst).toBe(b4(17));
    expect(b.status().configGeneration).toBe(2);
    expect(b.config().dhcp4o6?.pools.map((p) => p.name)).toEqual(['shared-a', 'shared-b']);
  });

  it('a pool removed: its leases stay live until their client returns, which is NAKed and loses the binding', async () => {
    await open(YAML + SHARED_B);
    const c1 = simClient(1);
    const ack = await lease(d, c1);
    const port = 1024 + ack!.v4.options.portParams!.psid * 256 + 5;
    expect(ack?.v4.yiaddr).toMatch(/^198\.51\.100\.[0-3]$/);
    f.write(YAML.replace('shared-a, ipv4: 198.51.100.0/30', 'shared-c, ipv4: 198.51.100.4/30') + SHARED_B);
    expect((await reload()).ok).toBe(true);
    expect((await pools()).map((p: { pool: string }) => p.pool)).toEqual(['shared-c', 'shared-b']);
    expect(forward(b, toSubscriber(ack!.v4.yiaddr, port))?.dst).toBe(b4(1)); // still bound
    const leases = (await a.app.inject({ url: '/v1/leases' })).json();
    expect(leases.items).toEqual([expect.objectContaining({ ipv4: ack!.v4.yiaddr, pool: '(outside the pools)', state: 'bound' })]);
    const nak = await send(d, T.REQUEST, c1, { ciaddr: ack!.v4.yiaddr, portParams: ack!.v4.options.portParams }, { unicast: true });
    expect(nak?.v4.options.messageType).toBe(T.NAK);
    expect(b.sizes.lease).toBe(0);
    expect(forward(b, toSubscriber(ack!.v4.yiaddr, port))?.version).not.toBe(6);
    expect((await a.app.inject({ url: '/v1/leases' })).json().total).toBe(0);
  });

  it('a pool that cannot be served is refused, naming it; the running config and pools stay', async () => {
    await open(YAML);
    const bad = '    - { name: bad, ipv4: 198.51.100.8/30, psid-len: 2, psid-offset: 0, reserved-ports: 0-65535 }\n';
    f.write(YAML.replace('max-leases-per-site: 1000', 'max-leases-per-site: 8') + bad);
    const r = await reload();
    expect(r.ok).toBe(false);
    expect(r.generation).toBe(1);
    expect(r.error).toBe('dhcp4o6.pools[1] (bad): every port set of PSID-len 2, offset 0 holds a reserved port');
    expect(b.status()).toMatchObject({ configGeneration: 1, lastReload: { ok: false, error: r.error } });
    expect(b.config().dhcp4o6?.['max-leases-per-site']).toBe(1000);
    expect(await pools()).toEqual([{ pool: 'shared-a', leased: 0, total: 16 }]);
    expect((await lease(d, simClient(1)))?.v4.yiaddr).toMatch(/^198\.51\.100\.[0-3]$/);
  });

  it('dhcp4o6.listen and dhcp4o6.lease-store still take a restart', async () => {
    await open(YAML);
    f.write(YAML.replace('"[::1]:0"', '"[::1]:5470"') + SHARED_B);
    const r1 = await reload();
    expect(r1.ok).toBe(false);
    expect(r1.error).toMatch(/^dhcp4o6\.listen changed \(\["\[::1\]:0"\] -> \["\[::1\]:5470"\]\): it takes a restart, not a reload$/);
    f.write(YAML.replace('sqlite:leases.db', 'sqlite:other.db') + SHARED_B);
    const r2 = await reload();
    expect(r2.ok).toBe(false);
    expect(r2.error).toMatch(/^dhcp4o6\.lease-store changed \("sqlite:leases\.db" -> "sqlite:other\.db"\)/);
    expect(await pools()).toEqual([{ pool: 'shared-a', leased: 0, total: 16 }]);
    expect(b.status().configGeneration).toBe(1);
    expect(logged.filter((l) => l.startsWith('reconfigured'))).toEqual([]);
  });
});

describe('message names', () => {
  it('maps the server counters to type:result', () => {
    expect(
      messageCounts({ 'v4-rx-discover': 3, 'v4-offer-new': 2, 'v4-offer-previous': 1, 'v4-ack': 2, 'v4-nak-exhausted': 1, 'drop-v4-bad-option': 4, tx: 9, 'restored-bindings': 3 }),
    ).toEqual({ 'discover:received': 3, 'discover:offer': 3, 'request:ack': 2, 'request:nak_exhausted': 1, 'any:drop_v4_bad_option': 4 });
  });
});
