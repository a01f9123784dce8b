// deploy/: the systemd unit says what the brief and the data plane need, and the Grafana
// dashboard is valid JSON whose every query uses metrics /metrics really exports.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/registry.js';
import { fixture, MemoryLeases, openBox } from './helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('deploy/xbr.service', () => {
  const unit = readFileSync(`${root}deploy/xbr.service`, 'utf8');
  const directives = Object.fromEntries(
    unit
      .split('\n')
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  it('runs xbr in the foreground, reloads with SIGHUP, restarts on failure, unlimited memlock', () => {
    expect(directives).toMatchObject({
      Type: 'simple',
      ExecStart: '/usr/bin/env xbr run --config /etc/xbr/xbr.yaml',
      ExecReload: '/bin/kill -HUP $MAINPID',
      Restart: 'on-failure',
      LimitMEMLOCK: 'infinity',
      WantedBy: 'multi-user.target',
    });
    for (const cap of ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_BPF', 'CAP_IPC_LOCK', 'CAP_NET_BIND_SERVICE']) {
      expect(directives.AmbientCapabilities).toContain(cap);
      expect(directives.CapabilityBoundingSet).toContain(cap);
    }
    expect(unit).toMatch(/^\[Unit\]$/m);
    expect(unit).toMatch(/^\[Service\]$/m);
    expect(unit).toMatch(/^\[Install\]$/m);
  });
});

describe('deploy/grafana-dashboard.json', () => {
  const dash = JSON.parse(readFileSync(`${root}deploy/grafana-dashboard.json`, 'utf8'));
  const panels: { id: number; type: string; title: string; gridPos: { x: number; w: number }; targets?: { expr: string }[] }[] = dash.panels;

  it('is a dashboard: uid, title, schema version, unique panel ids inside 24 columns', () => {
    expect(dash.uid).toBe('xbr-border-relay');
    expect(dash.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    expect(dash.templating.list.map((v: { name: string }) => v.name)).toEqual(['datasource', 'instance']);
  });

  it('shows packets per direction, drops by reason, pool use, 4o6 messages, reloads and worker restarts', () => {
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const m of ['xbr_packets_total', 'xbr_bytes_total', 'xbr_drops_total', 'xbr_pool_utilization_ratio', 'xbr_dhcp4o6_messages_total', 'xbr_reloads_total', 'xbr_worker_restarts_total', 'xbr_dhcp4o6_store_latency_seconds_bucket']) {
      expect(exprs, m).toContain(m);
    }
    expect(exprs).toMatch(/sum by \(reason\) \(rate\(xbr_drops_total/);
    expect(exprs).toMatch(/sum by \(side, direction\) \(rate\(xbr_packets_total/);
  });

  it('uses only metrics that /metrics exports', async () => {
    const fx = fixture();
    try {
      const leases = new MemoryLeases();
      const box = openBox(fx.configPath, leases);
      const names = new Set(createMetrics(box).families().map((f) => f.name));
      const used = new Set<string>();
      const texts = [...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dash.annotations.list.map((a: { expr?: string }) => a.expr ?? ''), ...dash.templating.list.map((v: { definition?: string }) => v.definition ?? '')];
      for (const t of texts) for (const m of t.match(/xbr_[a-z0-9_]+/g) ?? []) used.add(m.replace(/_(bucket|sum|count)$/, (s: string) => (names.has(m) ? s : '')));
      expect(used.size).toBeGreaterThan(15);
      for (const m of used) expect(names.has(m), m).toBe(true);
    } finally {
      fx.cleanup();
    }
  });
});
