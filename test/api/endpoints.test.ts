// Every endpoint of the API through fastify's inject (the same routing, hooks, schema
// validation and serialization as a socket): answers, paging, schema errors with their
// reason, and the changes visible in GET and in the core.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/server.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import {
  auth,
  BIND4,
  BIND6,
  BIND_PORT,
  baseYaml,
  fixture,
  forward,
  fromSubscriber,
  MemoryLeases,
  openBox,
  server,
  toSubscriber,
  type Fixture,
} from './helpers.js';

/** 250 full-address bindings 203.0.113.0 … 203.0.113.249 (bindings file) besides the YAML one. */
function bindingsCsv(): string {
  const lines = ['ipv4,psid-len,psid,ipv6'];
  for (let i = 0; i < 250; i++) lines.push(`203.0.113.${i},0,0,2001:db8:300:${i.toString(16)}::/64`);
  return lines.join('\n') + '\n';
}

let fx: Fixture;
let box: EngineBox;
let leases: MemoryLeases;
let api: ApiServer;

beforeAll(() => {
  fx = fixture(baseYaml('bindings-file: bindings.csv\ndhcp4o6:\n  pools:\n    - { name: shared-a, ipv4: 192.0.2.128/28, psid-len: 6 }\n'));
  writeFileSync(join(fx.dir, 'bindings.csv'), bindingsCsv());
  leases = new MemoryLeases();
  box = openBox(fx.configPath, leases);
  leases.box = box;
  api = server(box);
});
afterAll(async () => {
  await api.close();
  fx.cleanup();
});

const get = (url: string, headers: Record<string, string> = {}) => api.app.inject({ method: 'GET', url, headers });
const send = (method: 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = auth) =>
  api.app.inject({ method, url, headers, ...(payload !== undefined ? { payload: payload as object } : {}) });

describe('reads', () => {
  it('GET / names the places', async () => {
    const r = await get('/');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ name: 'xbr', version: 'test', api: '/v1', openapi: '/openapi.json', metrics: '/metrics' });
  });

  it('GET /v1/status: mode, uptime, generation, workers', async () => {
    const r = await get('/v1/status');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    const s = r.json();
    expect(s).toMatchObject({ mode: 'map-t', configGeneration: 1, lastReload: null, interfaces: null, bindMode: 'in-process', workerRestarts: 0, reloads: { ok: 0, failed: 0 } });
    expect(s.configPath).toBe(fx.configPath);
    expect(s.workers).toEqual([{ worker: 0, queue: 0, alive: true, heartbeat: expect.any(Number) }]);
    expect(Date.parse(s.startedAt)).not.toBeNaN();
  });

  it('GET /v1/rules: the rules as configured, with their PSID length', async () => {
    const r = await get('/v1/rules');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      mode: 'map-t',
      dmr: '2001:db8:ffff::/64',
      rules: [{ 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16, 'psid-offset': 6, 'interface-id': 'rfc7597', fmr: false, 'psid-len': 8 }],
    });
  });

  it('GET /v1/counters: total and per worker, every core counter; ?nonzero=true only those that moved', async () => {
    forward(box, toSubscriber());
    const all = (await get('/v1/counters')).json();
    expect(Object.keys(all.total).length).toBeGreaterThan(30);
    expect(all.total.rx4_packets).toBeGreaterThanOrEqual(1);
    expect(all.perWorker).toHaveLength(1);
    expect(all.perWorker[0]).toEqual(all.total);
    const moved = (await get('/v1/counters?nonzero=true')).json();
    expect(Object.keys(moved.total)).toContain('xlat_4to6');
    expect(Object.values(moved.total).every((v) => v !== 0)).toBe(true);
    expect(Object.keys(moved.total).length).toBeLessThan(Object.keys(all.total).length);
  });

  it('GET /v1/pools: leased and leasable per pool', async () => {
    const r = await get('/v1/pools');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ pools: [{ pool: 'shared-a', leased: 0, total: 1008 }] });
  });

  it('GET /openapi.json describes every route with its schemas and the bearer scheme', async () => {
    const r = await get('/openapi.json');
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/status',
        '/v1/rules',
        '/v1/counters',
        '/v1/pools',
        '/v1/bindings',
        '/v1/bindings/{ipv4}/{psid}',
        '/v1/leases',
        '/v1/leases/{ipv4}/{psid}',
        '/v1/reload',
        '/v1/trace',
        '/v1/trace/{ipv4}/{psid}',
        '/metrics',
        '/openapi.json',
      ]),
    );
    expect(Object.keys(doc.paths['/v1/bindings/{ipv4}/{psid}']).sort()).toEqual(['delete', 'get', 'put']);
    const put = doc.paths['/v1/bindings/{ipv4}/{psid}'].put;
    expect(put.security).toEqual([{ bearer: [] }]);
    expect(put.requestBody.content['application/json'].schema.required).toEqual(['ipv6']);
    expect(put.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toEqual(['path:ipv4', 'path:psid']);
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '409']));
    expect(doc.paths['/v1/status'].get.security).toEqual([{}, { bearer: [] }]);
    expect(doc.paths['/metrics'].get.responses['200'].content).toHaveProperty(['text/plain; version=0.0.4']);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    const ids = Object.values(doc.paths).flatMap((p) => Object.values(p as Record<string, { operationId: string }>).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('an unknown endpoint is 404 with a reason', async () => {
    const r = await get('/v1/nope');
    expect(r.statusCode).toBe(404);
    expect(r.json().error).toMatch(/no such endpoint: GET \/v1\/nope/);
  });
});

describe('bindings: list, filter, page', () => {
  it('pages in (IPv4, PSID) order with the total', async () => {
    const p1 = (await get('/v1/bindings?limit=100')).json();
    expect(p1.total).toBe(251);
    expect(p1.items).toHaveLength(100);
    expect(p1.offset).toBe(0);
    expect(p1.limit).toBe(100);
    expect(p1.items[0]).toEqual({ ipv4: BIND4, psid: 12, psidLen: 6, psidOffset: 6, ipv6: BIND6, source: 'static' });
    expect(p1.items[1].ipv4).toBe('203.0.113.0');
    const p3 = (await get('/v1/bindings?offset=200&limit=100')).json();
    expect(p3.items).toHaveLength(51);
    expect(p3.items.at(-1).ipv4).toBe('203.0.113.249');
    const keys = new Set<string>();
    for (let off = 0; off < 251; off += 37) {
      for (const b of (await get(`/v1/bindings?offset=${off}&limit=37`)).json().items) keys.add(`${b.ipv4}/${b.psid}`);
    }
    expect(keys.size).toBe(251);
    const past = (await get('/v1/bindings?offset=1000')).json();
    expect(past).toMatchObject({ items: [], total: 251, offset: 1000 });
    expect((await get('/v1/bindings')).json().limit).toBe(100); // the default
  });

  it('filters by IPv4 address or prefix, PSID, IPv6 address or prefix, and source', async () => {
    expect((await get('/v1/bindings?ipv4=203.0.113.7')).json().items.map((b: { ipv4: string }) => b.ipv4)).toEqual(['203.0.113.7']);
    expect((await get('/v1/bindings?ipv4=203.0.113.0/28&limit=0')).json().total).toBe(16);
    expect((await get('/v1/bindings?psid=12')).json().items.map((b: { ipv4: string }) => b.ipv4)).toEqual([BIND4]);
    expect((await get('/v1/bindings?ipv6=2001:db8:300:a::1')).json().items.map((b: { ipv4: string }) => b.ipv4)).toEqual(['203.0.113.10']);
    expect((await get('/v1/bindings?ipv6=2001:db8:300::/56&limit=0')).json().total).toBe(250);
    expect((await get('/v1/bindings?source=lease')).json().total).toBe(0);
    expect((await get('/v1/bindings?source=static&limit=1')).json().total).toBe(251);
  });

  it('GET one binding, 404 for none', async () => {
    const r = await get(`/v1/bindings/${BIND4}/12`);
    expect(r.statusCode).toBe(200);
    expect(r.json().ipv6).toBe(BIND6);
    const none = await get(`/v1/bindings/${BIND4}/13`);
    expect(none.statusCode).toBe(404);
    expect(none.json()).toEqual({ error: `no binding for ${BIND4} PSID 13` });
  });
});

describe('schema errors: 400 with the reason', () => {
  const cases: [string, () => ReturnType<typeof get>, RegExp][] = [
    ['a bad IPv4 in the path', () => get('/v1/bindings/198.51.100.300/1'), /params\/ipv4 must match format "ipv4"/],
    ['a PSID out of range', () => get(`/v1/bindings/${BIND4}/70000`), /params\/psid must be <= 65535/],
    ['a PSID that is not a number', () => get(`/v1/bindings/${BIND4}/abc`), /params\/psid must be integer/],
    ['a limit over 1000', () => get('/v1/bindings?limit=5000'), /querystring\/limit must be <= 1000/],
    ['a negative offset', () => get('/v1/bindings?offset=-1'), /querystring\/offset must be >= 0/],
    ['an unknown query parameter', () => get('/v1/bindings?ipv44=1.2.3.4'), /querystring: unknown field "ipv44"/],
    ['a bad source', () => get('/v1/bindings?source=dynamic'), /querystring\/source must be equal to one of the allowed values: "static", "lease"/],
    ['a filter the box refuses', () => get('/v1/bindings?ipv4=203.0.113'), /ipv4: "203.0.113" is not an IPv4 address or prefix/],
    ['an unknown body field', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::/64', color: 'red' }), /body: unknown field "color"/],
    ['a missing ipv6', () => send('PUT', '/v1/bindings/198.51.100.8/0', { psidLen: 0 }), /body: "ipv6" is required/],
    ['a psidLen of the wrong type', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::/64', psidLen: 'six' }), /body\/psidLen must be integer/],
    ['a psidLen over 16', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::/64', psidLen: 17 }), /body\/psidLen must be <= 16/],
    ['not JSON', () => api.app.inject({ method: 'PUT', url: '/v1/bindings/198.51.100.8/0', headers: { ...auth, 'content-type': 'application/json' }, payload: '{"ipv6":' }), /not valid JSON/],
    ['an IPv6 that is not one', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: 'fe80::zz/64' }), /ipv6: "fe80::zz\/64" is not an IPv6 prefix or address/],
    ['a CE prefix longer than /64 in map-t', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::/80' }), /must be \/64 or shorter, not \/80/],
    ['host bits after the prefix', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::1/64' }), /bits beyond \/64 are set/],
    ['a PSID that does not fit psidLen', () => send('PUT', '/v1/bindings/198.51.100.8/64', { ipv6: '2001:db8:1::/64', psidLen: 6 }), /PSID 64 does not fit in psidLen 6 bits/],
    ['a port set in reserved-ports', () => send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:1::/64', psidLen: 6, psidOffset: 0 }), /reaches into reserved-ports 0-1023/],
    ['a lease filter of the wrong shape', () => get('/v1/leases?clientId=xyz'), /querystring\/clientId must match pattern/],
    ['counters ?nonzero=maybe', () => get('/v1/counters?nonzero=maybe'), /querystring\/nonzero must be boolean/],
  ];
  it.each(cases)('%s', async (_what, call, reason) => {
    const r = await call();
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toMatch(/application\/json/);
    expect(Object.keys(r.json())).toEqual(['error']);
    expect(r.json().error).toMatch(reason);
    // nothing was added by a refused request
    expect((await get('/v1/bindings/198.51.100.8/0')).statusCode).toBe(404);
  });
});

describe('bindings: add, replace, remove — in the API and in the core', () => {
  it('PUT adds (201) a binding that is live in the core, then replaces it (200)', async () => {
    // no binding for 198.51.100.8 yet: an IPv4 packet to it goes nowhere
    expect(forward(box, toSubscriber('198.51.100.8', 5000))).toBeNull();
    const r = await send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:400:8::/64' });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toEqual({ ipv4: '198.51.100.8', psid: 0, psidLen: 0, psidOffset: 6, ipv6: '2001:db8:400:8::/64', source: 'static' });
    expect((await get('/v1/bindings/198.51.100.8/0')).json().ipv6).toBe('2001:db8:400:8::/64');
    const out = forward(box, toSubscriber('198.51.100.8', 5000));
    expect(out?.version).toBe(6);
    expect(out?.dst.startsWith('2001:db8:400:8:')).toBe(true);

    const rep = await send('PUT', '/v1/bindings/198.51.100.8/0', { ipv6: '2001:db8:400:9::/64' });
    expect(rep.statusCode).toBe(200);
    expect(rep.json().ipv6).toBe('2001:db8:400:9::/64');
    expect(forward(box, toSubscriber('198.51.100.8', 5000))?.dst.startsWith('2001:db8:400:9:')).toBe(true);
    expect((await get('/v1/bindings?limit=0')).json().total).toBe(252);
  });

  it('POST adds a new binding (201) and refuses a taken key (409)', async () => {
    const r = await send('POST', '/v1/bindings', { ipv4: '198.51.100.9', psid: 3, psidLen: 4, psidOffset: 6, ipv6: '2001:db8:400:10::/64' });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ ipv4: '198.51.100.9', psid: 3, psidLen: 4 });
    // PSID 3 with a = 6, k = 4: ports A*1024 + 3*64 + j, e.g. 1024 + 192 = 1216
    expect(forward(box, toSubscriber('198.51.100.9', 1216))?.dst.startsWith('2001:db8:400:10:')).toBe(true);
    expect(forward(box, toSubscriber('198.51.100.9', 1024 + 4 * 64))?.version).not.toBe(6); // PSID 4: none (an ICMP error at most)
    const again = await send('POST', '/v1/bindings', { ipv4: '198.51.100.9', psid: 3, psidLen: 4, ipv6: '2001:db8:400:11::/64' });
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatch(/already has a binding/);
  });

  it('refuses a binding whose port-set parameters differ from its address neighbours (409)', async () => {
    const r = await send('PUT', '/v1/bindings/198.51.100.9/1', { psidLen: 6, ipv6: '2001:db8:400:12::/64' });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatch(/198\.51\.100\.9 has static bindings with psidLen 4 psidOffset 6/);
  });

  it('refuses a static binding inside a 4o6 pool (409)', async () => {
    const r = await send('PUT', '/v1/bindings/192.0.2.130/0', { ipv6: '2001:db8:400:13::/64' });
    expect(r.statusCode).toBe(409);
    expect(r.json().error).toMatch(/is in dhcp4o6 pool shared-a/);
  });

  it('DELETE removes it (204) from the API and the core; 404 when there is none', async () => {
    const r = await send('DELETE', '/v1/bindings/198.51.100.8/0');
    expect(r.statusCode).toBe(204);
    expect(r.body).toBe('');
    expect((await get('/v1/bindings/198.51.100.8/0')).statusCode).toBe(404);
    expect(forward(box, toSubscriber('198.51.100.8', 5000))).toBeNull();
    const again = await send('DELETE', '/v1/bindings/198.51.100.8/0');
    expect(again.statusCode).toBe(404);
    expect(again.json().error).toMatch(/no static binding for 198\.51\.100\.8 PSID 0/);
  });
});

describe('leases', () => {
  it('GET /v1/leases pages and filters; the lease bindings are listed as source lease', async () => {
    for (let psid = 16; psid < 26; psid++) leases.grant('192.0.2.129', psid, `2001:db8:500::${psid.toString(16)}`, psid % 2 ? 'aa01' : 'bb02');
    const p = (await get('/v1/leases?limit=4&offset=2')).json();
    expect(p.total).toBe(10);
    expect(p.items.map((l: { psid: number }) => l.psid)).toEqual([18, 19, 20, 21]);
    expect(p.items[0]).toMatchObject({ ipv4: '192.0.2.129', pool: 'shared-a', state: 'bound', clientId: 'bb02' });
    expect((await get('/v1/leases?clientId=aa01')).json().total).toBe(5);
    expect((await get('/v1/leases?ipv4=192.0.2.129&psid=20')).json().items).toHaveLength(1);
    expect((await get('/v1/bindings?source=lease')).json().total).toBe(10);
    expect((await get('/v1/pools')).json().pools[0].leased).toBe(10);
  });

  it('a static binding over a lease is refused (409), and so is removing a lease binding as if static', async () => {
    const put = await send('PUT', '/v1/bindings/192.0.2.129/16', { psidLen: 6, ipv6: '2001:db8:400:20::/64' });
    expect(put.statusCode).toBe(409);
    expect(put.json().error).toMatch(/leased by the 4o6 server/);
    const del = await send('DELETE', '/v1/bindings/192.0.2.129/16');
    expect(del.statusCode).toBe(409);
    expect(del.json().error).toMatch(/DELETE \/v1\/leases\/192\.0\.2\.129\/16/);
  });

  it('DELETE /v1/leases/{ipv4}/{psid} releases it and its binding (204), then 404', async () => {
    expect(box.sizes.lease).toBe(10);
    const r = await send('DELETE', '/v1/leases/192.0.2.129/16');
    expect(r.statusCode).toBe(204);
    expect(leases.rows.has('192.0.2.129/16')).toBe(false);
    expect(box.sizes.lease).toBe(9);
    expect((await get('/v1/bindings/192.0.2.129/16')).statusCode).toBe(404);
    const again = await send('DELETE', '/v1/leases/192.0.2.129/16');
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'no lease for 192.0.2.129 PSID 16' });
  });
});

describe('trace', () => {
  it('PUT /v1/trace starts per-subscriber counters, GET reads them, DELETE stops', async () => {
    expect((await get('/v1/trace')).json()).toEqual({ subscribers: [] });
    expect((await send('PUT', `/v1/trace/${BIND4}/12`)).statusCode).toBe(204);
    forward(box, toSubscriber(BIND4, BIND_PORT, 'abc'));
    forward(box, toSubscriber(BIND4, BIND_PORT, 'abcdef'));
    forward(box, fromSubscriber());
    forward(box, toSubscriber('203.0.113.5', 7000)); // someone else: not counted
    const t = (await get('/v1/trace')).json().subscribers;
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ ipv4: BIND4, psid: 12, txPackets: 2, rxPackets: 1 });
    expect(t[0].txBytes).toBe(2 * 48 + 3 + 6); // IPv6 + UDP headers + payloads
    expect(t[0].rxBytes).toBe(20 + 8 + 5);
    const none = await send('PUT', `/v1/trace/${BIND4}/13`);
    expect(none.statusCode).toBe(404);
    expect(none.json().error).toMatch(/no binding for 198\.51\.100\.7 PSID 13/);
    expect((await send('DELETE', `/v1/trace/${BIND4}/12`)).statusCode).toBe(204);
    expect((await send('DELETE', `/v1/trace/${BIND4}/12`)).statusCode).toBe(404);
  });
});

describe('reload', () => {
  it('POST /v1/reload with a good config: 200, the next generation', async () => {
    const r = await send('POST', '/v1/reload');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ok: true, generation: 2 });
    expect((await get('/v1/status')).json()).toMatchObject({ configGeneration: 2, lastReload: { ok: true }, reloads: { ok: 1, failed: 0 } });
    expect(leases.reconfigured).toBe(1);
  });

  it('POST /v1/reload with a bad config: 422 with the reason, the running config stays', async () => {
    const good = baseYaml('bindings-file: bindings.csv\ndhcp4o6:\n  pools:\n    - { name: shared-a, ipv4: 192.0.2.128/28, psid-len: 6 }\n');
    fx.write(good.replace('ea-len: 16', 'ea-len: 60'));
    const r = await send('POST', '/v1/reload', undefined, { ...auth, 'content-type': 'application/json' });
    expect(r.statusCode).toBe(422);
    expect(r.json().ok).toBe(false);
    expect(r.json().generation).toBe(2);
    expect(r.json().error).toMatch(/xbr\.yaml:\d+:\d+: rules\[0\]\.ea-len: must be <= 48/);
    const s = (await get('/v1/status')).json();
    expect(s).toMatchObject({ configGeneration: 2, lastReload: { ok: false }, reloads: { ok: 1, failed: 1 } });
    expect(s.lastReload.error).toMatch(/ea-len/);
    // the old rules still translate
    expect(forward(box, toSubscriber())?.dst.startsWith('2001:db8:100:77:')).toBe(true);
    fx.write(good);
  });
});

describe('metrics', () => {
  it('GET /metrics is the Prometheus text format', async () => {
    const r = await get('/metrics');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(r.body).toMatch(/^# HELP xbr_/m);
    expect(r.body).toMatch(/^xbr_packets_total\{mode="map-t",side="ipv4",direction="rx",worker="0"\} \d+$/m);
  });
});
