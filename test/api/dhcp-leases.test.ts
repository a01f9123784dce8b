// The lease side over the real 4o6 server and SQLite store: a client's lease becomes a
// binding in the EngineBox's core, the API lists and releases it, the pools and the
// message counters and store latency reach /metrics, and a reload that changes
// dhcp4o6 is refused while one that keeps it goes through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhcpLeaseAdapter, messageCounts, timedLeaseStore } from '../../src/box/dhcp-leases.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import type { ApiServer } from '../../src/api/server.js';
import { simClient } from '../../src/dhcp/client.js';
import { Dhcp4o6Server } from '../../src/dhcp/server.js';
import { openLeaseStore } from '../../src/dhcp/store/open.js';
import { loadConfig } from '../../src/config/load.js';
import { LatencyHistogram } from '../../src/metrics/histogram.js';
import { parseIPv4 } from '../../src/map/ip.js';
import { auth, fixture, forward, openBox, server, toSubscriber, type Fixture } from './helpers.js';
import { b4, lease } from '../dhcp/server-helpers.js';

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

  it('a reload keeping dhcp4o6 goes through; one changing it is refused with the reason', async () => {
    expect((await box.reload()).ok).toBe(true);
    fx.write(YAML.replace('max-leases-per-site: 1000', 'max-leases-per-site: 8'));
    const r = await box.reload();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/dhcp4o6 changed: the 4o6 server takes its pools and settings at start/);
    fx.write(YAML);
  });
});

describe('message names', () => {
  it('maps the server counters to type:result', () => {
    expect(
      messageCounts({ 'v4-rx-discover': 3, 'v4-offer-new': 2, 'v4-offer-previous': 1, 'v4-ack': 2, 'v4-nak-exhausted': 1, 'drop-v4-bad-option': 4, tx: 9, 'restored-bindings': 3 }),
    ).toEqual({ 'discover:received': 3, 'discover:offer': 3, 'request:ack': 2, 'request:nak_exhausted': 1, 'any:drop_v4_bad_option': 4 });
  });
});
