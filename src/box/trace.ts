// Per-subscriber counters for a few chosen bindings (debugging one customer). The
// counting is the core's (assembly/map/trace.ts): each traced binding has a trace slot
// whose number is kept in its binding-table slot, so a look-up learns it for free and
// the untraced traffic pays nothing measurable. This class only hands out the slots
// and turns the core's counters (summed over workers by the target) into views.
//
// What counts (the core's rule): a packet the BR sends to the IPv4 side for a traced
// subscriber's source binding is `rx` (from the subscriber); a packet it sends to the
// IPv6 side for a traced destination binding is `tx` (to the subscriber). Bytes are
// IP bytes (from the IP header on, no link header).
import { TRACE_COUNTER, TRACE_SLOTS } from '../core/abi.js';
import { formatIPv4 } from '../map/ip.js';
import { bindingKey } from './binding-table.js';
import type { SubscriberCounters } from './types.js';

/** A bound on the traced set: labels on a metric, and the core's trace slots. */
export const MAX_TRACED = TRACE_SLOTS;

interface Traced {
  ipv4: number;
  psid: number;
  /** 1..MAX_TRACED */
  slot: number;
}

export class SubscriberTrace {
  private readonly byKey = new Map<number, Traced>();
  private readonly free: number[] = Array.from({ length: MAX_TRACED }, (_, i) => MAX_TRACED - i);

  get size(): number {
    return this.byKey.size;
  }

  has(ipv4: number, psid: number): boolean {
    return this.byKey.has(bindingKey(ipv4, psid));
  }

  /** Every traced key with its slot (to replay into a new core). */
  entries(): Traced[] {
    return [...this.byKey.values()];
  }

  /**
   * A trace slot for (ipv4, psid): `fresh` when it was not traced (the caller tells
   * the core), or null when every slot is taken.
   */
  add(ipv4: number, psid: number): { slot: number; fresh: boolean } | null {
    const had = this.byKey.get(bindingKey(ipv4, psid));
    if (had) return { slot: had.slot, fresh: false };
    const slot = this.free.pop();
    if (slot === undefined) return null;
    this.byKey.set(bindingKey(ipv4, psid), { ipv4, psid, slot });
    return { slot, fresh: true };
  }

  /** Frees the key's slot; false when it was not traced. */
  remove(ipv4: number, psid: number): boolean {
    const key = bindingKey(ipv4, psid);
    const t = this.byKey.get(key);
    if (!t) return false;
    this.byKey.delete(key);
    this.free.push(t.slot);
    return true;
  }

  /** The traced subscribers in (IPv4, PSID) order, from the core's counters (TRACE_SLOTS x 4). */
  snapshot(counters: ArrayLike<number>): SubscriberCounters[] {
    return [...this.byKey.values()]
      .sort((a, b) => a.ipv4 - b.ipv4 || a.psid - b.psid)
      .map((t) => {
        const at = (t.slot - 1) * 4;
        return {
          ipv4: formatIPv4(t.ipv4),
          psid: t.psid,
          rxPackets: counters[at + TRACE_COUNTER.FROM_PACKETS],
          rxBytes: counters[at + TRACE_COUNTER.FROM_BYTES],
          txPackets: counters[at + TRACE_COUNTER.TO_PACKETS],
          txBytes: counters[at + TRACE_COUNTER.TO_BYTES],
        };
      });
  }
}
