// /metrics scraped and parsed as the Prometheus text format (0.0.4): every line is a
// HELP, a TYPE or `name{labels} value`; every family has HELP and TYPE; every name has
// the xbr_ prefix; counters end in _total; histograms have their buckets, sum and count.
// Then the values: the core's counters per worker, drops by reason, pools, 4o6
// messages, store latency, reloads, worker restarts, traced subscribers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServer } from '../../src/api/server.js';
import type { EngineBox } from '../../src/box/engine-box.js';
import type { BoxSource } from '../../src/box/types.js';
import { coreCounterNames } from '../../src/core/engine.js';
import { CORE_FAMILIES, createMetrics, mapCoreCounter } from '../../src/metrics/registry.js';
import { LatencyHistogram } from '../../src/metrics/histogram.js';
import { BIND4, BIND_PORT, fixture, forward, fromSubscriber, MemoryLeases, openBox, server, toSubscriber, type Fixture } from './helpers.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  name: string;
  help?: string;
  type?: string;
  samples: Sample[];
}

/** A strict parser of the text exposition format; throws on any line it does not know. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, samples: [] }));
    return f;
  };
  const familyOf = (sample: string) => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sample.slice(0, -suffix.length);
      if (sample.endsWith(suffix) && families.get(base)?.type === 'histogram') return base;
    }
    return sample;
  };
  text.split('\n').forEach((line, i) => {
    if (line === '') return;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
    if (m) {
      const f = family(m[1]);
      if (f.help !== undefined) throw new Error(`line ${i + 1}: second HELP for ${m[1]}`);
      f.help = m[2];
      return;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m) {
      const f = family(m[1]);
      if (f.type !== undefined || f.samples.length > 0) throw new Error(`line ${i + 1}: TYPE for ${m[1]} twice or after its samples`);
      f.type = m[2];
      return;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`line ${i + 1} is not HELP, TYPE or a sample: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2] !== undefined && m[2] !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
      let pos = 0;
      while (pos < m[2].length) {
        re.lastIndex = pos;
        const l = re.exec(m[2]);
        if (!l) throw new Error(`line ${i + 1}: bad labels {${m[2]}}`);
        if (l[1] in labels) throw new Error(`line ${i + 1}: label ${l[1]} twice`);
        labels[l[1]] = l[2].replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
    }
    // Prometheus reads values with Go's ParseFloat: NaN in any case (prom-client writes "Nan")
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : /^nan$/i.test(m[3]) ? NaN : Number(m[3]);
    if (Number.isNaN(value) && !/^nan$/i.test(m[3])) throw new Error(`line ${i + 1}: value ${m[3]} is not a number`);
    const fam = families.get(familyOf(m[1]));
    if (!fam || fam.help === undefined || fam.type === undefined) throw new Error(`line ${i + 1}: sample ${m[1]} before its HELP and TYPE`);
    fam.samples.push({ name: m[1], labels, value });
  });
  return families;
}

const pick = (f: Family | undefined, labels: Record<string, string>) =>
  (f?.samples ?? []).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
const value = (f: Family | undefined, labels: Record<string, string> = {}, name?: string) => {
  const s = pick(f, labels).filter((x) => name === undefined || x.name === name);
  if (s.length !== 1) throw new Error(`${s.length} samples of ${f?.name} match ${JSON.stringify(labels)}`);
  return s[0].value;
};

describe('the core counter mapping', () => {
  it('maps rx/tx, forwarding, drops and the rest to their families', () => {
    expect(mapCoreCounter('rx4_packets')).toEqual({ metric: 'xbr_packets_total', labels: { side: 'ipv4', direction: 'rx' } });
    expect(mapCoreCounter('tx6_bytes')).toEqual({ metric: 'xbr_bytes_total', labels: { side: 'ipv6', direction: 'tx' } });
    expect(mapCoreCounter('xlat_6to4')).toEqual({ metric: 'xbr_forwarded_packets_total', labels: { path: '6to4', action: 'translate' } });
    expect(mapCoreCounter('encap_4in6')).toEqual({ metric: 'xbr_forwarded_packets_total', labels: { path: '4to6', action: 'encapsulate' } });
    expect(mapCoreCounter('drop_ipv6_src_spoofed')).toEqual({ metric: 'xbr_drops_total', labels: { reason: 'ipv6_src_spoofed' } });
    expect(mapCoreCounter('some_new_counter')).toEqual({ metric: 'xbr_core_events_total', labels: { event: 'some_new_counter' } });
  });

  it('every core counter lands in a declared family, every drop_ in xbr_drops_total', () => {
    for (const name of coreCounterNames()) {
      const m = mapCoreCounter(name);
      expect(Object.keys(CORE_FAMILIES), name).toContain(m.metric);
      if (name.startsWith('drop_')) expect(m.metric).toBe('xbr_drops_total');
    }
  });
});

describe('a scrape', () => {
  let fx: Fixture;
  let box: EngineBox;
  let leases: MemoryLeases;
  let api: ApiServer;
  let fams: Map<string, Family>;

  beforeAll(async () => {
    fx = fixture();
    leases = new MemoryLeases();
    box = openBox(fx.configPath, leases);
    leases.box = box;
    leases.grant('192.0.2.200', 20, '2001:db8:500::20');
    leases.grant('192.0.2.200', 21, '2001:db8:500::21');
    leases.messages['discover:offer'] = 7;
    leases.messages['malformed'] = 2;
    box.traceSubscriber(BIND4, 12, true);
    for (let i = 0; i < 5; i++) forward(box, toSubscriber());
    for (let i = 0; i < 3; i++) forward(box, fromSubscriber());
    forward(box, toSubscriber('203.0.113.99', 4000)); // no rule, no binding: dropped
    forward(box, Uint8Array.from([0x45, 0, 0])); // truncated
    fx.write('mode: map-t\nrules: nope\n');
    await box.reload();
    api = server(box);
    const r = await api.app.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    fams = parseExposition(r.body);
  });
  afterAll(async () => {
    await api.close();
    fx.cleanup();
  });

  it('is well formed: HELP and TYPE for every family, xbr_ names, _total counters, complete histograms', () => {
    expect(fams.size).toBeGreaterThan(25);
    for (const f of fams.values()) {
      expect(f.name, f.name).toMatch(/^xbr_[a-z0-9_]+$/);
      expect(f.help, f.name).toBeTruthy();
      if (f.type === 'counter') expect(f.name, f.name).toMatch(/_total$/);
      else expect(f.name, f.name).not.toMatch(/_total$/);
      if (f.type === 'histogram' && f.samples.length > 0) {
        const buckets = f.samples.filter((s) => s.name === `${f.name}_bucket`);
        expect(buckets.at(-1)?.labels.le).toBe('+Inf');
        const counts = buckets.map((b) => b.value);
        expect([...counts].sort((a, b) => a - b)).toEqual(counts); // cumulative
        expect(value(f, {}, `${f.name}_count`)).toBe(counts.at(-1));
        expect(f.samples.some((s) => s.name === `${f.name}_sum`)).toBe(true);
      }
    }
  });

  it('packets and bytes per side, direction, mode and worker match the core', () => {
    const c = box.counters().total;
    const p = fams.get('xbr_packets_total');
    expect(p?.type).toBe('counter');
    expect(value(p, { side: 'ipv4', direction: 'rx', worker: '0', mode: 'map-t' })).toBe(c.rx4_packets);
    expect(value(p, { side: 'ipv6', direction: 'tx', worker: '0' })).toBe(5);
    expect(value(p, { side: 'ipv4', direction: 'tx', worker: '0' })).toBe(3);
    expect(value(fams.get('xbr_bytes_total'), { side: 'ipv6', direction: 'tx', worker: '0' })).toBe(c.tx6_bytes);
    expect(value(fams.get('xbr_forwarded_packets_total'), { path: '4to6', action: 'translate' })).toBe(5);
    expect(value(fams.get('xbr_forwarded_packets_total'), { path: '6to4', action: 'translate' })).toBe(3);
  });

  it('every drop reason is there, per worker, with the core value', () => {
    const drops = fams.get('xbr_drops_total');
    const c = box.counters().total;
    const reasons = Object.keys(c).filter((k) => k.startsWith('drop_'));
    expect(drops?.samples).toHaveLength(reasons.length);
    for (const r of reasons) expect(value(drops, { reason: r.slice(5), worker: '0' }), r).toBe(c[r]);
    expect(pick(drops, {}).reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(2);
  });

  it('pool use, 4o6 messages and store latency', () => {
    expect(value(fams.get('xbr_pool_port_sets'), { pool: 'shared-a' })).toBe(1008);
    expect(value(fams.get('xbr_pool_port_sets_leased'), { pool: 'shared-a' })).toBe(2);
    expect(value(fams.get('xbr_pool_utilization_ratio'), { pool: 'shared-a' })).toBeCloseTo(2 / 1008);
    const msgs = fams.get('xbr_dhcp4o6_messages_total');
    expect(value(msgs, { type: 'request', result: 'ack' })).toBe(2);
    expect(value(msgs, { type: 'discover', result: 'offer' })).toBe(7);
    expect(value(msgs, { type: 'malformed', result: '' })).toBe(2);
    const lat = fams.get('xbr_dhcp4o6_store_latency_seconds');
    expect(lat?.type).toBe('histogram');
    expect(value(lat, {}, 'xbr_dhcp4o6_store_latency_seconds_count')).toBe(2);
    expect(value(lat, { le: '0.001' }, 'xbr_dhcp4o6_store_latency_seconds_bucket')).toBe(2);
    expect(value(lat, { le: '0.0005' }, 'xbr_dhcp4o6_store_latency_seconds_bucket')).toBe(0);
    expect(value(fams.get('xbr_bindings'), { source: 'lease' })).toBe(2);
    expect(value(fams.get('xbr_bindings'), { source: 'static' })).toBe(1);
  });

  it('reloads by result, the last reload, worker state and restarts', () => {
    expect(value(fams.get('xbr_reloads_total'), { result: 'failure' })).toBe(1);
    expect(value(fams.get('xbr_reloads_total'), { result: 'success' })).toBe(0);
    expect(value(fams.get('xbr_last_reload_success'))).toBe(0);
    expect(Math.abs(value(fams.get('xbr_last_reload_timestamp_seconds')) - Date.now() / 1000)).toBeLessThan(60);
    expect(value(fams.get('xbr_config_generation'))).toBe(1);
    expect(value(fams.get('xbr_worker_restarts_total'))).toBe(0);
    expect(value(fams.get('xbr_worker_up'), { worker: '0', queue: '0' })).toBe(1);
    expect(value(fams.get('xbr_info'), { mode: 'map-t', version: 'test' })).toBe(1);
  });

  it('per-subscriber counters for the traced binding only', () => {
    const p = fams.get('xbr_subscriber_packets_total');
    expect(p?.samples).toHaveLength(2);
    expect(value(p, { ipv4: BIND4, psid: '12', direction: 'tx' })).toBe(5);
    expect(value(p, { ipv4: BIND4, psid: '12', direction: 'rx' })).toBe(3);
    expect(value(fams.get('xbr_subscriber_bytes_total'), { ipv4: BIND4, psid: '12', direction: 'rx' })).toBe(3 * (20 + 8 + 5));
    expect(BIND_PORT).toBe(1216);
  });

  it('process metrics carry the prefix too', () => {
    expect(fams.get('xbr_process_cpu_seconds_total')?.type).toBe('counter');
    expect(fams.has('xbr_nodejs_eventloop_lag_seconds')).toBe(true);
  });
});

describe('scrape behaviour', () => {
  /** A box whose pieces count how often they are read. */
  function countingBox(): { box: BoxSource; reads: Record<string, number>; fail: { pools: boolean } } {
    const reads: Record<string, number> = {};
    const fail = { pools: false };
    const hit = (k: string) => (reads[k] = (reads[k] ?? 0) + 1);
    const h = new LatencyHistogram([0.01, 0.1]);
    h.observe(0.05);
    h.observe(5);
    const box = {
      status: () => (hit('status'), {
        mode: 'lw4o6', startedAt: new Date(0).toISOString(), uptimeSeconds: 1, configPath: '/x', configGeneration: 3,
        lastReload: { at: new Date(1000).toISOString(), ok: true }, interfaces: { ipv4: 'eth0', ipv6: 'eth1' }, bindMode: 'zerocopy',
        workers: [{ worker: 0, queue: 0, alive: true, heartbeat: 1 }, { worker: 1, queue: 1, alive: false, heartbeat: 0 }],
        workerRestarts: 4, reloads: { ok: 2, failed: 0 },
      }),
      counters: () => (hit('counters'), { total: { rx4_packets: 30, drop_ipv4_no_binding: 3 }, perWorker: [{ rx4_packets: 10, drop_ipv4_no_binding: 1 }, { rx4_packets: 20, drop_ipv4_no_binding: 2 }] }),
      bindings: () => (hit('bindings'), { items: [], total: 5, offset: 0, limit: 0 }),
      poolUse: async () => {
        hit('pools');
        if (fail.pools) throw new Error('store down');
        return [{ pool: 'p', leased: 0, total: 0 }];
      },
      dhcpStats: () => (hit('dhcp'), { messages: {}, storeLatency: h.snapshot() }),
      subscriberCounters: () => (hit('subscribers'), []),
    } as unknown as BoxSource;
    return { box, reads, fail };
  }

  it('reads the box once per scrape, and sums nothing itself: one series per worker', async () => {
    const { box, reads } = countingBox();
    const m = createMetrics(box, { processMetrics: false });
    const fams = parseExposition(await m.metrics());
    expect(reads).toMatchObject({ status: 1, counters: 1, pools: 1, dhcp: 1, subscribers: 1 });
    expect(value(fams.get('xbr_packets_total'), { worker: '0' })).toBe(10);
    expect(value(fams.get('xbr_packets_total'), { worker: '1' })).toBe(20);
    expect(pick(fams.get('xbr_packets_total'), {}).length).toBe(2);
    expect(value(fams.get('xbr_worker_up'), { worker: '1' })).toBe(0);
    expect(value(fams.get('xbr_worker_restarts_total'))).toBe(4);
    expect(value(fams.get('xbr_pool_utilization_ratio'), { pool: 'p' })).toBe(0);
    const lat = fams.get('xbr_dhcp4o6_store_latency_seconds');
    expect(value(lat, { le: '0.1' }, 'xbr_dhcp4o6_store_latency_seconds_bucket')).toBe(1);
    expect(value(lat, { le: '+Inf' }, 'xbr_dhcp4o6_store_latency_seconds_bucket')).toBe(2);
    expect(value(lat, {}, 'xbr_dhcp4o6_store_latency_seconds_sum')).toBeCloseTo(5.05);
    await m.metrics();
    expect(reads.counters).toBe(2);
  });

  it('a failing pool source leaves its metrics out and counts the failure; the scrape still works', async () => {
    const { box, fail } = countingBox();
    fail.pools = true;
    const m = createMetrics(box, { processMetrics: false });
    const fams = parseExposition(await m.metrics());
    expect(fams.get('xbr_pool_port_sets')?.samples).toEqual([]);
    expect(value(fams.get('xbr_metrics_collect_errors_total'), { source: 'pools' })).toBe(1);
    expect(value(fams.get('xbr_packets_total'), { worker: '1' })).toBe(20);
  });
});
