// Logs: pino JSON lines, an info line per lease event, per reload and per change made
// through the API; reads at debug; never a line per packet; --log-level.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, LOG_LEVELS, parseLogLevel } from '../../src/log.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import { parseIPv4 } from '../../src/map/ip.js';
import { auth, captureLog, fixture, forward, fromSubscriber, MemoryLeases, openBox, server, toSubscriber, type Fixture } from './helpers.js';

describe('the logger', () => {
  it('writes JSON lines with the level as a name and an ISO time', () => {
    const chunks: string[] = [];
    const dest = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
    const log = createLogger({ level: 'info', destination: dest });
    log.info({ event: 'x', n: 1 }, 'hello');
    log.debug('not shown');
    const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', event: 'x', n: 1, pid: process.pid });
    expect(lines[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[0].hostname).toEqual(expect.any(String));
  });

  it('--log-level takes the pino levels and refuses others', () => {
    for (const l of LOG_LEVELS) expect(parseLogLevel(l)).toBe(l);
    expect(parseLogLevel(' WARN ')).toBe('warn');
    expect(() => parseLogLevel('verbose')).toThrow(/--log-level must be one of fatal, error, warn, info, debug, trace, silent, not "verbose"/);
  });
});

describe('what the box logs', () => {
  let fx: Fixture;
  let box: EngineBox;
  let leases: MemoryLeases;
  let lines: Record<string, unknown>[];
  beforeAll(() => {
    fx = fixture();
    const cap = captureLog();
    lines = cap.lines;
    leases = new MemoryLeases();
    box = openBox(fx.configPath, leases, cap.logger);
    leases.box = box;
  });
  afterAll(() => fx.cleanup());

  const since = (n: number) => lines.slice(n);

  it('one info line when it starts', () => {
    expect(lines.filter((l) => l.event === 'start')).toEqual([expect.objectContaining({ level: 'info', mode: 'map-t', bindings: 1 })]);
  });

  it('never a line per packet', () => {
    const n = lines.length;
    const pkts = Array.from({ length: 500 }, (_, i) => (i % 2 ? toSubscriber() : fromSubscriber()));
    box.process(pkts);
    box.process([Uint8Array.from([1, 2, 3])]);
    forward(box, toSubscriber('203.0.113.1', 1));
    expect(since(n)).toEqual([]);
  });

  it('an info line per lease event', () => {
    const n = lines.length;
    leases.grant('192.0.2.200', 20, '2001:db8:500::20');
    leases.grant('192.0.2.200', 20, '2001:db8:500::20');
    box.leaseGone(parseIPv4('192.0.2.200'), 20, 'expired');
    const got = since(n);
    expect(got.map((l) => [l.level, l.event])).toEqual([
      ['info', 'lease-binding-added'],
      ['info', 'lease-binding-updated'],
      ['info', 'lease-binding-removed'],
    ]);
    expect(got[0]).toMatchObject({ ipv4: '192.0.2.200', psid: 20, ipv6: '2001:db8:500::20/128' });
    expect(got[2]).toMatchObject({ why: 'expired' });
  });

  it('an info line per reload', async () => {
    const n = lines.length;
    await box.reload();
    expect(since(n)).toEqual([expect.objectContaining({ level: 'info', event: 'reload', result: 'ok', generation: 2 })]);
  });

  it('API changes at info, reads at debug', async () => {
    const api = server(box, { logger: (captureLogInto(lines)) });
    const n = lines.length;
    await api.app.inject({ url: '/v1/status' });
    await api.app.inject({ url: '/metrics' });
    await api.app.inject({ method: 'PUT', url: '/v1/bindings/198.51.100.40/0', headers: auth, payload: { ipv6: '2001:db8:100:40::/64' } });
    await api.app.inject({ method: 'POST', url: '/v1/reload' }); // no token: a warning
    const got = since(n);
    expect(got.filter((l) => l.level === 'debug').map((l) => l.url)).toEqual(['/v1/status', '/metrics']);
    const info = got.filter((l) => l.level === 'info');
    expect(info.map((l) => l.event ?? l.msg)).toEqual(['binding-added', 'API PUT /v1/bindings/198.51.100.40/0 -> 201']);
    const warn = got.filter((l) => l.level === 'warn');
    expect(warn).toEqual([expect.objectContaining({ status: 401, url: '/v1/reload' })]);
    await api.close();
  });
});

/** A logger writing into the same captured list (the API's own lines). */
function captureLogInto(into: Record<string, unknown>[]) {
  const dest = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) into.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return createLogger({ level: 'debug', destination: dest });
}
