// Shared by the API tests: a config on disk, an EngineBox over it (the real wasm core),
// an API server over the box, an in-memory lease adapter, and packets.
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { EngineBox, type LeaseAdapter } from '../../src/box/engine-box.js';
import type { LeaseFilter, LeaseView, Page, PoolUse } from '../../src/box/types.js';
import type { ResolvedBinding } from '../../src/config/rules.js';
import { createApiServer, type ApiServer, type ApiServerOptions } from '../../src/api/server.js';
import { createLogger, type Logger } from '../../src/log.js';
import { LatencyHistogram } from '../../src/metrics/histogram.js';
import { formatIPv4, parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { ipv4, ipv6, parsePacket, udp } from '../../src/packets/index.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const HOST4 = '10.2.3.4';
/** 10.2.3.4 under the DMR 2001:db8:ffff::/64. */
export const HOST6 = '2001:db8:ffff:0:a:203:400:0';
/** The static binding of the base config: 198.51.100.7 PSID 12 (a = 6, k = 6: ports 1216-1231, …). */
export const BIND4 = '198.51.100.7';
export const BIND_PORT = 1216;
export const BIND6 = '2001:db8:100:77::/64';
/** The MAP address of 198.51.100.7 PSID 12 in 2001:db8:100:77::/64 (RFC 7597 IID). */
export const BIND_CE6 = '2001:db8:100:77:0:c633:6407:c';

/** The base config; `extra` goes at the end, `moreBindings` (YAML list items) after the binding. */
export function baseYaml(extra = '', moreBindings = ''): string {
  return `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
bindings:
  - ipv4: ${BIND4}
    psid-len: 6
    psid: 12
    psid-offset: 6
    ipv6: ${BIND6}
${moreBindings}reserved-ports: 0-1023
binding-capacity: 1024
fragments: { table-size: 64 }
${extra}`;
}

export interface Fixture {
  dir: string;
  configPath: string;
  tokenPath: string;
  write(yaml: string): void;
  cleanup(): void;
}

export function fixture(yaml = baseYaml()): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'xbr-api-'));
  const configPath = join(dir, 'xbr.yaml');
  const tokenPath = join(dir, 'api.token');
  writeFileSync(tokenPath, TOKEN + '\n');
  chmodSync(tokenPath, 0o600);
  writeFileSync(configPath, yaml);
  return {
    dir,
    configPath,
    tokenPath,
    write: (y) => writeFileSync(configPath, y),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Log lines captured as objects. */
export function captureLog(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: dest }), lines };
}

export function openBox(configPath: string, leases?: LeaseAdapter, logger?: Logger): EngineBox {
  return EngineBox.open(configPath, { leases, logger, engine: { frames: 256, batch: 64 } });
}

export function server(box: EngineBox, opts: Partial<ApiServerOptions> = {}): ApiServer {
  return createApiServer(box, { listen: '127.0.0.1:0', token: TOKEN, version: 'test', ...opts });
}

export const auth = { authorization: `Bearer ${TOKEN}` };

// ---- packets ------------------------------------------------------------------------

/** IPv4 UDP from the Internet host to an IPv4 address and port. */
export function toSubscriber(dst = BIND4, dport = BIND_PORT, payload = 'hello'): Uint8Array {
  return ipv4({ src: HOST4, dst, payload: udp({ sport: 53000, dport, payload }) });
}

/** IPv6 UDP from a CE (MAP address) to the Internet host. */
export function fromSubscriber(src = BIND_CE6, sport = BIND_PORT, payload = 'hello'): Uint8Array {
  return ipv6({ src, dst: HOST6, payload: udp({ sport, dport: 53000, payload }) });
}

/** Where the box sent one packet: the parsed packet, or null when it dropped it. */
export function forward(box: EngineBox, pkt: Uint8Array) {
  const out = box.process([pkt]);
  return out.length === 0 ? null : parsePacket(out[0].data);
}

// ---- an in-memory lease side ---------------------------------------------------------

interface MemLease extends LeaseView {
  binding: ResolvedBinding;
}

/**
 * A lease adapter over a list in memory, with the EngineBox fed like a 4o6 server
 * feeds it: grant() pushes the binding after "committing" the lease.
 */
export class MemoryLeases implements LeaseAdapter {
  box: EngineBox | undefined;
  readonly rows = new Map<string, MemLease>();
  readonly latency = new LatencyHistogram();
  messages: Record<string, number> = {};
  pools: PoolUse[] = [{ pool: 'shared-a', leased: 0, total: 16 * 63 }];
  reconfigured = 0;

  grant(ipv4Text: string, psid: number, b4: string, clientId = 'aabbcc'): void {
    const binding: ResolvedBinding = { ipv4: parseIPv4(ipv4Text), psid, psidLen: 6, psidOffset: 6, ipv6: parseIPv6(b4), prefixLen: 128 };
    this.latency.observe(0.0007);
    this.rows.set(`${ipv4Text}/${psid}`, {
      ipv4: ipv4Text,
      psid,
      psidLen: 6,
      psidOffset: 6,
      pool: 'shared-a',
      clientId,
      ipv6: b4,
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      state: 'bound',
      binding,
    });
    this.messages['request:ack'] = (this.messages['request:ack'] ?? 0) + 1;
    this.pools[0].leased = this.rows.size;
    this.box?.leaseBound(binding);
  }

  async list(f: LeaseFilter, offset: number, limit: number): Promise<Page<LeaseView>> {
    const all = [...this.rows.values()]
      .filter((r) => (f.ipv4 === undefined || r.ipv4 === f.ipv4) && (f.psid === undefined || r.psid === f.psid))
      .filter((r) => (f.clientId === undefined || r.clientId === f.clientId) && (f.pool === undefined || r.pool === f.pool))
      .sort((a, b) => parseIPv4(a.ipv4) - parseIPv4(b.ipv4) || a.psid - b.psid);
    return {
      items: all.slice(offset, offset + limit).map(({ binding: _b, ...v }) => v),
      total: all.length,
      offset,
      limit,
    };
  }

  async poolUse(): Promise<PoolUse[]> {
    return this.pools.map((p) => ({ ...p }));
  }

  async release(ipv4n: number, psid: number): Promise<boolean> {
    const key = `${formatIPv4(ipv4n)}/${psid}`;
    const had = this.rows.delete(key);
    if (had) this.messages['release:ok'] = (this.messages['release:ok'] ?? 0) + 1;
    this.pools[0].leased = this.rows.size;
    return had;
  }

  async reconfigure(): Promise<void> {
    this.reconfigured++;
  }

  stats() {
    return { messages: { ...this.messages }, storeLatency: this.latency.snapshot() };
  }
}
