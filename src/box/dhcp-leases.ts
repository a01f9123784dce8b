// The lease side of a box over the real 4o6 server (src/dhcp/server.ts) and its lease
// store: leases listed and released, pool use, the server's message counters as
// "type:result", and the store's transaction latency.
//
// Wiring (what `xbr run` does):
//   const latency = new LatencyHistogram();
//   const store = timedLeaseStore(await openLeaseStore(spec, configDir, origin), latency);
//   const server = await Dhcp4o6Server.create({ config, configDir, store, sink: box.leaseSink });
//   const adapter = new DhcpLeaseAdapter(server, latency);     // then EngineBoxOptions.leases / your box
import { isDeepStrictEqual } from 'node:util';
import type { XbrConfig } from '../config/schema.js';
import { RETIRED_POOL, type LeaseRow, type LeaseStore, type PoolSlots } from '../dhcp/store/types.js';
import { formatIPv4, formatIPv6Prefix, isIPv4, parseIPv4 } from '../map/ip.js';
import type { LatencyHistogram } from '../metrics/histogram.js';
import type { LeaseAdapter } from './box.js';
import type { HistogramSnapshot, LeaseFilter, LeaseView, Page, PoolUse } from './types.js';

/** A LeaseStore whose transactions (commit included) are timed into `h`. */
export function timedLeaseStore(store: LeaseStore, h: LatencyHistogram): LeaseStore {
  const transaction: LeaseStore['transaction'] = (units, lockKeys) => h.time(() => store.transaction(units, lockKeys));
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'transaction') return transaction;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * The 4o6 server's counters (src/dhcp v4.ts, v6.ts, server.ts) as "type:result" message
 * counts for xbr_dhcp4o6_messages_total. Counters that are not about a message
 * (tx, restored bindings, expiry) are left out.
 */
export function messageCounts(counters: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, n: number) => (out[k] = (out[k] ?? 0) + n);
  for (const [name, n] of Object.entries(counters)) {
    let m: RegExpExecArray | null;
    if ((m = /^v4-rx-(.+)$/.exec(name))) add(`${m[1]}:received`, n);
    else if (/^v4-offer-/.test(name)) add('discover:offer', n);
    else if (name === 'v4-ack') add('request:ack', n);
    else if ((m = /^v4-nak-(.+)$/.exec(name))) add(`request:nak_${m[1]}`, n);
    else if (name === 'v4-ack-inform') add('inform:ack', n);
    else if (name === 'v4-released') add('release:released', n);
    else if (name === 'v4-declined') add('decline:declined', n);
    else if ((m = /^v6-rx-(.+)$/.exec(name))) add(`dhcpv6_${m[1]}:received`, n);
    else if ((m = /^drop-(.+)$/.exec(name))) add(`any:drop_${m[1].replace(/-/g, '_')}`, n);
  }
  return out;
}

/**
 * What the adapter uses of the 4o6 server (src/dhcp/server.ts Dhcp4o6Server): its store,
 * pools, binding sink and counters, its lease service where it has one (a release
 * then goes through the server's group commit; else through one store transaction),
 * and its live reconfiguration where it has one.
 */
export interface FourOverSixServer {
  readonly store: LeaseStore;
  /** The pools in force: read at every call, so pool use follows a reload at once. */
  readonly pools: readonly PoolSlots[];
  readonly sink: { remove(ipv4: number, psid: number): void };
  readonly counters: { snapshot(): Record<string, number> };
  readonly leases?: {
    release(client: string, slot: { ipv4: number; psid: number | null }, eligible: readonly string[], now: number): Promise<LeaseRow | null>;
  };
  /** Takes a reloaded config's pools and settings live; throws, changing nothing, to refuse it. */
  reconfigure?(config: XbrConfig): Promise<unknown>;
  /** A lease outside every pool (RETIRED_POOL) was released: the server reshapes the store's slots. */
  retiredEnded?(n: number): void;
}

/** How the API shows a lease a reload left outside every pool (store/types.ts RETIRED_POOL). */
export const RETIRED_POOL_LABEL = '(outside the pools)';
const poolLabel = (pool: string) => (pool === RETIRED_POOL ? RETIRED_POOL_LABEL : pool);

export class DhcpLeaseAdapter implements LeaseAdapter {
  /**
   * `configured`: the dhcp4o6 section the server was started with (only used with a
   * server that cannot reconfigure, see reconfigure); `latency`: the histogram
   * timedLeaseStore records into.
   */
  constructor(
    readonly server: FourOverSixServer,
    private configured: XbrConfig['dhcp4o6'],
    private readonly latency?: LatencyHistogram,
    private readonly now: () => number = Date.now,
  ) {}

  private async held(): Promise<LeaseRow[]> {
    const now = this.now();
    return (await this.server.store.all())
      .filter((r) => (r.state === 'bound' || r.state === 'offered' || r.state === 'declined') && r.expiresAt > now)
      .sort((a, b) => a.ipv4 - b.ipv4 || a.psid - b.psid);
  }

  async list(f: LeaseFilter, offset: number, limit: number): Promise<Page<LeaseView>> {
    const v4 = f.ipv4 !== undefined && isIPv4(f.ipv4) ? parseIPv4(f.ipv4) : undefined;
    if (f.ipv4 !== undefined && v4 === undefined) return { items: [], total: 0, offset, limit };
    const client = f.clientId?.replace(/[:-]/g, '').toLowerCase();
    const rows = (await this.held()).filter(
      (r) =>
        (v4 === undefined || r.ipv4 === v4) &&
        (f.psid === undefined || r.psid === f.psid) &&
        (f.pool === undefined || poolLabel(r.pool) === f.pool) &&
        (client === undefined || (r.client ?? '').toLowerCase() === client),
    );
    return {
      items: rows.slice(offset, offset + limit).map((r) => ({
        ipv4: formatIPv4(r.ipv4),
        psid: r.psid,
        psidLen: r.psidLen,
        psidOffset: r.psidOffset,
        pool: poolLabel(r.pool),
        clientId: r.client ?? '',
        ipv6: r.ipv6 ? formatIPv6Prefix({ addr: r.ipv6, len: r.prefixLen }) : '',
        expiresAt: new Date(r.expiresAt).toISOString(),
        state: r.state,
      })),
      total: rows.length,
      offset,
      limit,
    };
  }

  async poolUse(): Promise<PoolUse[]> {
    const leased = new Map<string, number>();
    for (const r of await this.held()) if (r.state === 'bound') leased.set(r.pool, (leased.get(r.pool) ?? 0) + 1);
    return this.server.pools.map((p) => ({ pool: p.name, leased: leased.get(p.name) ?? 0, total: p.count * p.psids.length }));
  }

  async release(ipv4: number, psid: number): Promise<boolean> {
    const now = this.now();
    const row = (await this.held()).find((r) => r.ipv4 === ipv4 && r.psid === psid && (r.state === 'bound' || r.state === 'offered'));
    if (row === undefined || row.client === null) return false;
    if (this.server.leases) {
      // as if the client had sent a DHCPRELEASE: durable and published before we answer
      await this.server.leases.release(row.client, { ipv4, psid }, [row.pool], now);
    } else {
      await this.server.store.transaction([
        async (tx) => {
          const r = await tx.get(ipv4, psid);
          if (r === undefined || r.client !== row.client || (r.state !== 'bound' && r.state !== 'offered')) return;
          // the client stays recorded as the slot's last holder (RFC 7618 section 8)
          await tx.write({ ...r, state: 'free', expiresAt: 0, freedAt: now });
          if (r.state === 'bound') await tx.publish({ op: 'remove', row: r });
        },
      ]);
    }
    if (row.state === 'bound') this.server.sink.remove(ipv4, psid);
    if (row.pool === RETIRED_POOL) this.server.retiredEnded?.(1);
    return true;
  }

  /**
   * A reload's config for the 4o6 server (RunningBox.reload, after restartOnlyChanges
   * refused what takes a restart): its pools and settings swap in live
   * (Dhcp4o6Server.reconfigure), or the reload is refused with the server's reason and
   * the old pools keep serving. A server that cannot reconfigure refuses any change.
   */
  async reconfigure(config: XbrConfig): Promise<void> {
    if (this.server.reconfigure !== undefined) {
      await this.server.reconfigure(config);
      this.configured = config.dhcp4o6;
    } else if (!isDeepStrictEqual(this.configured, config.dhcp4o6)) {
      throw new Error('dhcp4o6 changed: this 4o6 server takes its pools and settings at start, so this takes a restart');
    }
  }

  stats(): { messages: Record<string, number>; storeLatency: HistogramSnapshot } {
    return {
      messages: messageCounts(this.server.counters.snapshot()),
      storeLatency: this.latency?.snapshot() ?? { bounds: [], counts: [], count: 0, sum: 0 },
    };
  }
}
