// Prometheus metrics of the box: a prom-client Registry whose values are read from the
// BoxSource when Prometheus scrapes (one snapshot per scrape, shared by every metric),
// so the data plane does nothing per packet for them: the workers' counters already
// live in shared memory and are summed here, at scrape time.
//
// Naming follows Prometheus conventions: the `xbr_` prefix, `_total` on counters, base
// units in names (`_bytes`, `_seconds`, `_ratio`), and one metric per thing measured
// with labels for its dimensions. Per-worker series carry `worker`; the total is
// `sum without (worker) (...)` in PromQL — never exported next to its parts.
//
// The core's counters (assembly/counters.ts, names read at run time) map to families
// by name (mapCoreCounter below); a counter added to the core later shows up under
// xbr_core_events_total{event=<name>} until it is given a family here.
import { collectDefaultMetrics, Registry, type Metric } from 'prom-client';
import type { BoxSource, BoxStatus, CounterSnapshot, HistogramSnapshot, PoolUse, SubscriberCounters } from '../box/types.js';

type Labels = Record<string, string>;

export interface MappedCounter {
  metric: string;
  labels: Labels;
}

/** The families core counters go to: name → help. */
export const CORE_FAMILIES: Record<string, string> = {
  xbr_packets_total: 'Packets received (rx) and sent (tx) by the data plane, per interface side (ipv4 = Internet, ipv6 = access).',
  xbr_bytes_total: 'Bytes received (rx) and sent (tx) by the data plane, per interface side, link headers included.',
  xbr_forwarded_packets_total:
    'Packets forwarded by path (4to6 = to subscribers, 6to4 = from subscribers, 6to6 = hairpinned between subscribers) and action (translate, encapsulate, decapsulate, hairpin).',
  xbr_drops_total: 'Packets dropped, by reason (the core counter drop_<reason>). Every received packet ends sent, dropped once, or held as a fragment.',
  xbr_fragments_sent_total: 'Fragments the BR generated, by the side they were sent to.',
  xbr_fragments_held_total: 'IPv4 fragments held until their first fragment arrived (translation needs its ports).',
  xbr_fragments_released_total: 'Held IPv4 fragments released once their first fragment arrived.',
  xbr_tunnel_fragments_held_total: 'Outer IPv6 fragments held for reassembly before decapsulation.',
  xbr_tunnel_reassembled_total: 'Tunnelled IPv6 packets reassembled from fragments.',
  xbr_tunnel_icmp_relayed_total: 'ICMPv6 errors about tunnelled packets relayed to the IPv4 host as ICMPv4.',
  xbr_icmp_sent_total: 'ICMP errors the BR generated, by the side they were sent to.',
  xbr_icmp_rate_limited_total: 'ICMP errors not sent because of icmp.rate.',
  xbr_core_events_total: 'Core counters without a family of their own, by core counter name.',
};

const SIMPLE: Record<string, MappedCounter> = {
  xlat_4to6: { metric: 'xbr_forwarded_packets_total', labels: { path: '4to6', action: 'translate' } },
  xlat_6to4: { metric: 'xbr_forwarded_packets_total', labels: { path: '6to4', action: 'translate' } },
  encap_4in6: { metric: 'xbr_forwarded_packets_total', labels: { path: '4to6', action: 'encapsulate' } },
  decap_4in6: { metric: 'xbr_forwarded_packets_total', labels: { path: '6to4', action: 'decapsulate' } },
  hairpin: { metric: 'xbr_forwarded_packets_total', labels: { path: '6to6', action: 'hairpin' } },
  frag_out4: { metric: 'xbr_fragments_sent_total', labels: { side: 'ipv4' } },
  frag_out6: { metric: 'xbr_fragments_sent_total', labels: { side: 'ipv6' } },
  frag_held: { metric: 'xbr_fragments_held_total', labels: {} },
  frag_released: { metric: 'xbr_fragments_released_total', labels: {} },
  tunnel_frag_held: { metric: 'xbr_tunnel_fragments_held_total', labels: {} },
  tunnel_reassembled: { metric: 'xbr_tunnel_reassembled_total', labels: {} },
  tunnel_icmp_relayed: { metric: 'xbr_tunnel_icmp_relayed_total', labels: {} },
  icmp4_sent: { metric: 'xbr_icmp_sent_total', labels: { side: 'ipv4' } },
  icmp6_sent: { metric: 'xbr_icmp_sent_total', labels: { side: 'ipv6' } },
  icmp_rate_limited: { metric: 'xbr_icmp_rate_limited_total', labels: {} },
};

/**
 * The metric family and labels of a core counter:
 *   rx4_packets / rx6_bytes / tx4_… → xbr_packets_total / xbr_bytes_total {side, direction}
 *   xlat_4to6, xlat_6to4, encap_4in6, decap_4in6, hairpin → xbr_forwarded_packets_total {path, action}
 *   drop_<reason> → xbr_drops_total {reason}
 *   frag_*, icmp*_sent, tunnel_* → their own families (CORE_FAMILIES)
 *   anything else → xbr_core_events_total {event}
 */
export function mapCoreCounter(name: string): MappedCounter {
  const io = /^(rx|tx)(4|6)_(packets|bytes)$/.exec(name);
  if (io) return { metric: `xbr_${io[3]}_total`, labels: { side: `ipv${io[2]}`, direction: io[1] } };
  if (name.startsWith('drop_')) return { metric: 'xbr_drops_total', labels: { reason: name.slice(5) } };
  return SIMPLE[name] ?? { metric: 'xbr_core_events_total', labels: { event: name } };
}

/** What one scrape reads from the box. */
interface Snapshot {
  status: BoxStatus;
  counters: CounterSnapshot;
  pools: PoolUse[] | null;
  dhcp: ReturnType<BoxSource['dhcpStats']>;
  subscribers: SubscriberCounters[];
  bindings: { static: number; lease: number };
}

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** A metric family whose samples come from the scrape's snapshot. */
class SnapshotMetric {
  readonly aggregator = 'sum';
  readonly labelNames: string[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly snapshot: () => Promise<Snapshot>,
    private readonly samples: (s: Snapshot) => Sample[],
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: string }> {
    const s = await this.snapshot();
    return { name: this.name, help: this.help, type: this.type, values: this.samples(s), aggregator: this.aggregator };
  }

  reset(): void {}
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event-loop lag, GC) as xbr_process_* / xbr_nodejs_*. Default true. */
  processMetrics?: boolean;
  version?: string;
}

export interface XbrMetrics {
  registry: Registry;
  contentType: string;
  /** The text exposition of every metric (one snapshot of the box). */
  metrics(): Promise<string>;
  /** The families and help texts (docs, tests). */
  families(): { name: string; type: string; help: string }[];
}

export function createMetrics(box: BoxSource, opts: MetricsOptions = {}): XbrMetrics {
  const registry = new Registry();
  /** Scrapes in which a source failed, by source (read by the scrape that failed too). */
  const collectErrors: Record<string, number> = { pools: 0 };

  // one snapshot per scrape: the metrics of one scrape start their get() together
  let pending: Promise<Snapshot> | null = null;
  const take = async (): Promise<Snapshot> => {
    // the synchronous reads first, together: one consistent picture of the counters
    const status = box.status();
    const counters = box.counters();
    const dhcp = box.dhcpStats();
    const subscribers = box.subscriberCounters();
    const bindings = {
      static: box.bindings({ source: 'static' }, 0, 0).total,
      lease: box.bindings({ source: 'lease' }, 0, 0).total,
    };
    let pools: PoolUse[] | null = null;
    try {
      pools = await box.poolUse();
    } catch {
      collectErrors.pools++;
    }
    return { status, counters, pools, dhcp, subscribers, bindings };
  };
  const snapshot = (): Promise<Snapshot> => {
    if (pending === null) {
      const p = take();
      pending = p;
      const clear = () => {
        if (pending === p) pending = null;
      };
      p.then(clear, clear);
    }
    return pending;
  };

  const add = (name: string, help: string, type: SnapshotMetric['type'], samples: (s: Snapshot) => Sample[]) => {
    registry.registerMetric(new SnapshotMetric(name, help, type, snapshot, samples) as unknown as Metric);
  };
  const one = (value: number, labels: Sample['labels'] = {}): Sample[] => [{ labels, value }];

  add('xbr_metrics_collect_errors_total', 'Scrapes in which a source of metrics failed (its metrics are missing from that scrape), by source.', 'counter', () =>
    Object.entries(collectErrors).map(([source, n]) => ({ labels: { source }, value: n })),
  );

  // ---- the box ------------------------------------------------------------------------
  add('xbr_info', 'Constant 1, labelled with the running mode and the xbr version.', 'gauge', (s) =>
    one(1, { mode: s.status.mode, version: opts.version ?? 'unknown' }),
  );
  add('xbr_start_time_seconds', 'When the box started, seconds since the epoch.', 'gauge', (s) => one(Date.parse(s.status.startedAt) / 1000));
  add('xbr_config_generation', 'Generation of the running config: 1 at start, +1 per successful reload.', 'gauge', (s) => one(s.status.configGeneration));
  add('xbr_reloads_total', 'Config reloads (SIGHUP or API) by result: success, or failure (refused; the running config stayed).', 'counter', (s) => [
    { labels: { result: 'success' }, value: s.status.reloads.ok },
    { labels: { result: 'failure' }, value: s.status.reloads.failed },
  ]);
  add('xbr_last_reload_timestamp_seconds', 'Time of the last reload attempt (or of the start, when none), seconds since the epoch.', 'gauge', (s) =>
    one(Date.parse(s.status.lastReload?.at ?? s.status.startedAt) / 1000),
  );
  add('xbr_last_reload_success', '1 when the last reload succeeded (or none was tried), 0 when it was refused.', 'gauge', (s) =>
    one(s.status.lastReload === null || s.status.lastReload.ok ? 1 : 0),
  );
  add('xbr_worker_up', '1 for a data-plane worker that is running, 0 for one that is down (being restarted).', 'gauge', (s) =>
    s.status.workers.map((w) => ({ labels: { worker: String(w.worker), queue: String(w.queue) }, value: w.alive ? 1 : 0 })),
  );
  add('xbr_worker_restarts_total', 'Data-plane workers that died and were started again.', 'counter', (s) => one(s.status.workerRestarts));
  add('xbr_bindings', 'Bindings in the data plane, by source (static: config and API; lease: the 4o6 server).', 'gauge', (s) => [
    { labels: { source: 'static' }, value: s.bindings.static },
    { labels: { source: 'lease' }, value: s.bindings.lease },
  ]);

  // ---- the core's counters, per worker --------------------------------------------------
  const mapped = new Map<string, MappedCounter>();
  const mapOf = (name: string) => {
    let m = mapped.get(name);
    if (!m) mapped.set(name, (m = mapCoreCounter(name)));
    return m;
  };
  for (const [family, help] of Object.entries(CORE_FAMILIES)) {
    const withMode = family === 'xbr_packets_total' || family === 'xbr_bytes_total';
    add(family, help, 'counter', (s) => {
      const rows = s.counters.perWorker.length > 0 ? s.counters.perWorker : [s.counters.total];
      const out: Sample[] = [];
      rows.forEach((row, w) => {
        for (const name in row) {
          const m = mapOf(name);
          if (m.metric !== family) continue;
          const labels: Sample['labels'] = withMode ? { mode: s.status.mode, ...m.labels, worker: String(w) } : { ...m.labels, worker: String(w) };
          out.push({ labels, value: row[name] });
        }
      });
      return out;
    });
  }

  // ---- 4o6 pools and messages ------------------------------------------------------------
  add('xbr_pool_port_sets', 'Leasable (IPv4 address, PSID) pairs of a 4o6 pool (addresses x PSIDs, reserved port sets excluded).', 'gauge', (s) =>
    (s.pools ?? []).map((p) => ({ labels: { pool: p.pool }, value: p.total })),
  );
  add('xbr_pool_port_sets_leased', '(IPv4 address, PSID) pairs of a 4o6 pool currently leased.', 'gauge', (s) =>
    (s.pools ?? []).map((p) => ({ labels: { pool: p.pool }, value: p.leased })),
  );
  add('xbr_pool_utilization_ratio', 'Leased / leasable port sets of a 4o6 pool (0..1).', 'gauge', (s) =>
    (s.pools ?? []).map((p) => ({ labels: { pool: p.pool }, value: p.total > 0 ? p.leased / p.total : 0 })),
  );
  add('xbr_dhcp4o6_messages_total', 'DHCPv4-over-DHCPv6 messages by type (discover, request, release, …) and result (offer, ack, nak, drop, …).', 'counter', (s) =>
    Object.entries(s.dhcp?.messages ?? {}).map(([key, value]) => {
      const i = key.indexOf(':');
      return { labels: { type: i < 0 ? key : key.slice(0, i), result: i < 0 ? '' : key.slice(i + 1) }, value };
    }),
  );
  add('xbr_dhcp4o6_store_latency_seconds', 'Lease-store transaction latency (commit included), seconds.', 'histogram', (s) =>
    s.dhcp ? histogramSamples('xbr_dhcp4o6_store_latency_seconds', s.dhcp.storeLatency) : [],
  );

  // ---- traced subscribers ---------------------------------------------------------------
  const sub = (s: Snapshot, rx: keyof SubscriberCounters, tx: keyof SubscriberCounters): Sample[] =>
    s.subscribers.flatMap((c) => [
      { labels: { ipv4: c.ipv4, psid: String(c.psid), direction: 'rx' }, value: c[rx] as number },
      { labels: { ipv4: c.ipv4, psid: String(c.psid), direction: 'tx' }, value: c[tx] as number },
    ]);
  add('xbr_subscriber_packets_total', 'Packets of a traced subscriber (PUT /v1/trace/{ipv4}/{psid}): rx = from it, tx = to it.', 'counter', (s) =>
    sub(s, 'rxPackets', 'txPackets'),
  );
  add('xbr_subscriber_bytes_total', 'IP bytes of a traced subscriber: rx = from it, tx = to it.', 'counter', (s) => sub(s, 'rxBytes', 'txBytes'));

  if (opts.processMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: 'xbr_' });
    // gauges named like counters (the same counts as xbr_nodejs_active_*, summed): out
    for (const n of ['resources', 'handles', 'requests']) registry.removeSingleMetric(`xbr_nodejs_active_${n}_total`);
  }

  return {
    registry,
    contentType: registry.contentType,
    metrics: () => registry.metrics(),
    families: () =>
      registry.getMetricsAsArray().map((m) => {
        const x = m as unknown as { name: string; type: string; help: string };
        return { name: x.name, type: x.type, help: x.help };
      }),
  };
}

function histogramSamples(name: string, h: HistogramSnapshot): Sample[] {
  const out: Sample[] = h.bounds.map((b, i) => ({ metricName: `${name}_bucket`, labels: { le: String(b) }, value: h.counts[i] }));
  out.push({ metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels: {}, value: h.sum });
  out.push({ metricName: `${name}_count`, labels: {}, value: h.count });
  return out;
}
