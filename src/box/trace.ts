// Per-subscriber counters for a few chosen bindings (debugging one customer). The rest
// pay nothing: with no binding traced, `active` is false and the caller does not call
// account() at all. With some traced, account() reads two or three header fields of
// each packet the BR *sends*:
//   - to the IPv4 side: the IPv4 source and the transport source port (ICMP echo: its
//     identifier), i.e. the subscriber's (IPv4, PSID) — traffic *from* the subscriber;
//   - to the IPv6 side: the IPv6 destination inside the binding's prefix (map-t,
//     map-e) or equal to the B4 address (lw4o6) — traffic *to* the subscriber.
// Bytes are IP bytes (from the IP header on, no link header).
import type { ResolvedBinding } from '../config/rules.js';
import { formatIPv4, ipv6InPrefix } from '../map/ip.js';
import { psidOfPort } from '../map/psid.js';
import { bindingKey } from './binding-table.js';
import type { SubscriberCounters } from './types.js';

/** A bound on the traced set: labels on a metric, and a check per sent packet. */
export const MAX_TRACED = 64;

interface Traced {
  b: ResolvedBinding;
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

export class SubscriberTrace {
  private readonly byKey = new Map<number, Traced>();
  /** Traced bindings by IPv4 address, for the IPv4-side check. */
  private readonly byIPv4 = new Map<number, Traced[]>();
  private list: Traced[] = [];

  get active(): boolean {
    return this.list.length > 0;
  }

  get size(): number {
    return this.list.length;
  }

  has(ipv4: number, psid: number): boolean {
    return this.byKey.has(bindingKey(ipv4, psid));
  }

  /** Starts tracing (counters from zero); false when the set is full. Re-adding keeps the counters. */
  add(b: ResolvedBinding): boolean {
    const key = bindingKey(b.ipv4, b.psid);
    const had = this.byKey.get(key);
    if (had) {
      had.b = { ...b, ipv6: b.ipv6.slice() };
      return true;
    }
    if (this.list.length >= MAX_TRACED) return false;
    const t: Traced = { b: { ...b, ipv6: b.ipv6.slice() }, rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 };
    this.byKey.set(key, t);
    this.rebuild();
    return true;
  }

  remove(ipv4: number, psid: number): boolean {
    if (!this.byKey.delete(bindingKey(ipv4, psid))) return false;
    this.rebuild();
    return true;
  }

  private rebuild(): void {
    this.list = [...this.byKey.values()];
    this.byIPv4.clear();
    for (const t of this.list) {
      const a = this.byIPv4.get(t.b.ipv4);
      if (a) a.push(t);
      else this.byIPv4.set(t.b.ipv4, [t]);
    }
  }

  /** Counts the packets the BR sent; `l3` is where the IP header starts in each. */
  account(packets: readonly { data: Uint8Array }[], l3: (data: Uint8Array) => number): void {
    for (const { data } of packets) {
      const o = l3(data);
      if (o < 0 || data.length < o + 20) continue;
      const version = data[o] >> 4;
      if (version === 4) this.fromSubscriber(data, o);
      else if (version === 6 && data.length >= o + 40) this.toSubscriber(data, o);
    }
  }

  private fromSubscriber(d: Uint8Array, o: number): void {
    const src = ((d[o + 12] << 24) | (d[o + 13] << 16) | (d[o + 14] << 8) | d[o + 15]) >>> 0;
    const cands = this.byIPv4.get(src);
    if (!cands) return;
    const bytes = (d[o + 2] << 8) | d[o + 3];
    let port = -1;
    const ihl = (d[o] & 15) * 4;
    const fragOffset = ((d[o + 6] << 8) | d[o + 7]) & 0x1fff;
    const l4 = o + ihl;
    if (fragOffset === 0 && d.length >= l4 + 8) {
      const proto = d[o + 9];
      if (proto === 6 || proto === 17) port = (d[l4] << 8) | d[l4 + 1];
      else if (proto === 1 && (d[l4] === 8 || d[l4] === 0)) port = (d[l4 + 4] << 8) | d[l4 + 5];
    }
    for (const t of cands) {
      const k = t.b.psidLen;
      if (k > 0 && (port < 0 || psidOfPort(port, t.b.psidOffset, k) !== t.b.psid)) continue;
      t.rxPackets++;
      t.rxBytes += bytes;
      return;
    }
  }

  private toSubscriber(d: Uint8Array, o: number): void {
    const dst = d.subarray(o + 24, o + 40);
    for (const t of this.list) {
      if (ipv6InPrefix(dst, { addr: t.b.ipv6, len: t.b.prefixLen })) {
        t.txPackets++;
        t.txBytes += 40 + ((d[o + 4] << 8) | d[o + 5]);
        return;
      }
    }
  }

  snapshot(): SubscriberCounters[] {
    return this.list.map((t) => ({
      ipv4: formatIPv4(t.b.ipv4),
      psid: t.b.psid,
      rxPackets: t.rxPackets,
      rxBytes: t.rxBytes,
      txPackets: t.txPackets,
      txBytes: t.txBytes,
    }));
  }
}
