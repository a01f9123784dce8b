// The API's auth rule: a bearer token for every change, and for every call when the API
// listens beyond loopback; 401 without it (and nothing changes); 403 for changes when
// no token is configured. Tested as a pure rule, through every change route, and with
// a non-loopback listen address (through inject: nothing binds to a real interface).
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, isLoopbackHost, parseListen, readTokenFile, sameToken, tokenFilePath } from '../../src/api/auth.js';
import { ApiConfigError, createApiServer, type ApiServer } from '../../src/api/server.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import { auth, BIND4, fixture, MemoryLeases, openBox, server, TOKEN, type Fixture } from './helpers.js';

describe('the rule', () => {
  const T = 'x'.repeat(20);
  const ok = { ok: true };
  it.each([
    // method, loopback, token configured, header presented, outcome
    ['GET', true, undefined, undefined, ok],
    ['GET', true, T, undefined, ok],
    ['HEAD', true, T, undefined, ok],
    ['GET', false, T, undefined, { ok: false, status: 401 }],
    ['GET', false, T, `Bearer ${T}`, ok],
    ['GET', false, T, 'Bearer wrong-token-123456', { ok: false, status: 401 }],
    ['GET', false, undefined, undefined, { ok: false, status: 403 }],
    ['POST', true, T, undefined, { ok: false, status: 401 }],
    ['PUT', true, T, `Basic ${T}`, { ok: false, status: 401 }],
    ['DELETE', true, T, `Bearer ${T}x`, { ok: false, status: 401 }],
    ['DELETE', true, T, `bearer ${T}`, ok],
    ['PUT', false, T, `Bearer ${T}`, ok],
    ['POST', true, undefined, `Bearer ${T}`, { ok: false, status: 403 }],
    ['PATCH', true, T, undefined, { ok: false, status: 401 }],
  ] as const)('%s loopback=%s token=%s header=%s', (method, loopback, token, authorization, want) => {
    expect(authorize({ method, loopback, token, authorization })).toMatchObject(want);
  });

  it('says why', () => {
    expect(authorize({ method: 'POST', loopback: true, token: undefined, authorization: undefined })).toMatchObject({
      error: 'changes through the API need api.token-file in the config (none is configured)',
    });
    expect(authorize({ method: 'GET', loopback: false, token: 'y'.repeat(16), authorization: undefined })).toMatchObject({
      error: expect.stringMatching(/listens beyond loopback: every call needs "Authorization: Bearer <token>"/),
    });
    expect(authorize({ method: 'PUT', loopback: true, token: 'y'.repeat(16), authorization: 'Bearer nope' })).toMatchObject({ error: 'invalid bearer token' });
  });

  it('compares tokens whole, whatever their length', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abc', 'abcd')).toBe(false);
    expect(sameToken('', 'a')).toBe(false);
  });

  it('knows loopback', () => {
    for (const h of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', 'localhost']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.0.2.1', '2001:db8::1', '::ffff:192.0.2.1', 'br1.example']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('parses the listen address', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(() => parseListen('8080')).toThrow(/must be "ipv4:port" or "\[ipv6\]:port"/);
    expect(() => parseListen('127.0.0.1:70000')).toThrow();
  });
});

describe('token files', () => {
  let fx: Fixture;
  beforeAll(() => {
    fx = fixture();
  });
  afterAll(() => fx.cleanup());

  it('reads the first line, trimmed; refuses short or empty tokens; warns when others can read it', () => {
    expect(readTokenFile(fx.tokenPath)).toEqual({ token: TOKEN, warnings: [] });
    const short = join(fx.dir, 'short');
    writeFileSync(short, 'abc\n');
    expect(() => readTokenFile(short)).toThrow(/at least 16 characters/);
    const open = join(fx.dir, 'open');
    writeFileSync(open, TOKEN);
    chmodSync(open, 0o644);
    expect(readTokenFile(open).warnings[0]).toMatch(/readable by group or others: chmod 600/);
    expect(() => readTokenFile(join(fx.dir, 'missing'))).toThrow(/cannot read it \(ENOENT\)/);
  });

  it('resolves api.token-file next to the config file', () => {
    expect(tokenFilePath('./api.token', '/etc/xbr/xbr.yaml')).toBe('/etc/xbr/api.token');
    expect(tokenFilePath('/run/x.token', '/etc/xbr/xbr.yaml')).toBe('/run/x.token');
    expect(tokenFilePath(undefined, '/etc/xbr/xbr.yaml')).toBeUndefined();
  });
});

describe('through the server', () => {
  let fx: Fixture;
  let box: EngineBox;
  let leases: MemoryLeases;
  let api: ApiServer;
  beforeAll(() => {
    fx = fixture();
    leases = new MemoryLeases();
    box = openBox(fx.configPath, leases);
    leases.box = box;
    leases.grant('192.0.2.200', 20, '2001:db8:500::20'); // (not in a pool: the adapter decides)
    api = server(box);
  });
  afterAll(async () => {
    await api.close();
    fx.cleanup();
  });

  const changes: [string, string, unknown?][] = [
    ['POST', '/v1/bindings', { ipv4: '198.51.100.20', ipv6: '2001:db8:600::/64' }],
    ['PUT', '/v1/bindings/198.51.100.20/0', { ipv6: '2001:db8:600::/64' }],
    ['PUT', `/v1/bindings/${BIND4}/12`, { psidLen: 6, ipv6: '2001:db8:600::/64' }],
    ['DELETE', `/v1/bindings/${BIND4}/12`],
    ['DELETE', '/v1/leases/192.0.2.200/20'],
    ['POST', '/v1/reload'],
    ['PUT', `/v1/trace/${BIND4}/12`],
    ['DELETE', `/v1/trace/${BIND4}/12`],
  ];

  const snapshot = async () => ({
    bindings: (await api.app.inject({ url: '/v1/bindings' })).json(),
    leases: (await api.app.inject({ url: '/v1/leases' })).json(),
    status: (await api.app.inject({ url: '/v1/status' })).json().configGeneration,
    trace: box.subscriberCounters().length,
  });

  it.each(changes)('%s %s without a token: 401, WWW-Authenticate, nothing changes', async (method, url, payload) => {
    const before = await snapshot();
    for (const headers of [{}, { authorization: 'Bearer not-the-token-at-all' }, { authorization: TOKEN }]) {
      const r = await api.app.inject({ method: method as 'POST', url, headers, ...(payload ? { payload: payload as object } : {}) });
      expect(r.statusCode).toBe(401);
      expect(r.headers['www-authenticate']).toBe('Bearer realm="xbr"');
      expect(Object.keys(r.json())).toEqual(['error']);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a 401 comes before the schema: an invalid body without a token is 401, not 400', async () => {
    const r = await api.app.inject({ method: 'PUT', url: '/v1/bindings/1.2.3.400/0', payload: { nonsense: true } });
    expect(r.statusCode).toBe(401);
  });

  it('reads on loopback need no token', async () => {
    for (const url of ['/v1/status', '/v1/bindings', '/v1/leases', '/v1/counters', '/v1/rules', '/v1/pools', '/v1/trace', '/metrics', '/openapi.json']) {
      expect((await api.app.inject({ url })).statusCode, url).toBe(200);
    }
  });

  it('with the token, a change goes through', async () => {
    const r = await api.app.inject({ method: 'PUT', url: '/v1/bindings/198.51.100.20/0', headers: auth, payload: { ipv6: '2001:db8:600::/64' } });
    expect(r.statusCode).toBe(201);
  });

  it('without a configured token, changes are 403 with the reason; reads still work on loopback', async () => {
    const open = createApiServer(box, { listen: '127.0.0.1:0' });
    const r = await open.app.inject({ method: 'POST', url: '/v1/reload', headers: auth });
    expect(r.statusCode).toBe(403);
    expect(r.json().error).toMatch(/need api\.token-file/);
    expect((await open.app.inject({ url: '/v1/status' })).statusCode).toBe(200);
    await open.close();
  });

  it('a non-loopback listen needs the token for reads too', async () => {
    const wide = createApiServer(box, { listen: '0.0.0.0:0', token: TOKEN });
    expect(wide.loopback).toBe(false);
    for (const url of ['/v1/status', '/v1/bindings', '/metrics', '/openapi.json', '/']) {
      const r = await wide.app.inject({ url });
      expect(r.statusCode, url).toBe(401);
      expect((await wide.app.inject({ url, headers: auth })).statusCode, url).toBe(200);
    }
    const doc = (await wide.app.inject({ url: '/openapi.json', headers: auth })).json();
    expect(doc.paths['/v1/status'].get.security).toEqual([{ bearer: [] }]);
    const v6 = createApiServer(box, { listen: '[::]:0', token: () => TOKEN });
    expect((await v6.app.inject({ url: '/v1/status' })).statusCode).toBe(401);
    await wide.close();
    await v6.close();
  });

  it('refuses to create a non-loopback API without a token', () => {
    expect(() => createApiServer(box, { listen: '0.0.0.0:8080' })).toThrow(ApiConfigError);
    expect(() => createApiServer(box, { listen: '[2001:db8::1]:8080', token: () => undefined })).toThrow(/not loopback\) only with api\.token-file/);
  });

  it('a token given as a function is read per request (rotation on reload)', async () => {
    let current = TOKEN;
    const rot = createApiServer(box, { listen: '127.0.0.1:0', token: () => current });
    const call = (t: string) => rot.app.inject({ method: 'DELETE', url: '/v1/trace/1.2.3.4/0', headers: { authorization: `Bearer ${t}` } });
    expect((await call(TOKEN)).statusCode).toBe(404); // authorized: there is just nothing traced
    current = 'a-new-token-after-reload-42';
    expect((await call(TOKEN)).statusCode).toBe(401);
    expect((await call(current)).statusCode).toBe(404);
    await rot.close();
  });
});

describe('startApi (what xbr run calls)', () => {
  it('listens on api.listen with the token of api.token-file (relative to the config), and refresh() rotates it', async () => {
    const { startApi } = await import('../../src/api/start.js');
    const { parseConfig } = await import('../../src/config/load.js');
    const { silentLogger } = await import('../../src/log.js');
    const fx = fixture();
    const box = openBox(fx.configPath);
    const config = parseConfig('mode: map-t\ndmr: 2001:db8:ffff::/64\napi: { listen: 127.0.0.1:0, token-file: api.token }\n', fx.configPath);
    const api = await startApi(box, { config, configPath: fx.configPath, logger: silentLogger(), version: '9.9.9' });
    try {
      expect(api.address.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const reload = (t: string) => fetch(`${api.address.url}/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${t}` } });
      expect((await reload(TOKEN)).status).toBe(200);
      expect(await (await fetch(`${api.address.url}/`)).json()).toMatchObject({ version: '9.9.9' });
      writeFileSync(fx.tokenPath, 'rotated-token-0123456789\n');
      api.refresh(config);
      expect((await reload(TOKEN)).status).toBe(401);
      expect((await reload('rotated-token-0123456789')).status).toBe(200);
      writeFileSync(fx.tokenPath, 'short\n');
      api.refresh(config); // refused: the rotated token stays
      expect((await reload('rotated-token-0123456789')).status).toBe(200);
    } finally {
      await api.close();
      fx.cleanup();
    }
  });
});
