// The control plane's copy of a binding table (static bindings, or lease bindings):
// PackedBindings' columns (no object per binding, so a million cost tens of
// MB, not hundreds), a key index for (IPv4, PSID), the port-set parameters per IPv4
// address (RFC 7597 5.1: one psid-len and psid-offset per shared address), and a key
// order built on demand for listing and paging.
import type { ResolvedBinding } from '../config/rules.js';
import { PackedBindings } from '../config/bindings-file.js';
import { SlotIndex } from '../map/slot-index.js';

export const bindingKey = (ipv4: number, psid: number): number => (ipv4 >>> 0) * 65536 + psid;

export interface AddressParams {
  psidLen: number;
  psidOffset: number;
  /** Bindings on the address. */
  count: number;
}

export class BindingTable {
  /** The bindings, in slots 0 .. size-1 (PackedBindings' columns). */
  private readonly cols = new PackedBindings(16);
  /** bindingKey -> slot (a typed-array hash: no heap object per binding, slot-index.ts). */
  private readonly index = new SlotIndex();
  private readonly perAddress = new Map<number, AddressParams>();
  /** Slots in key order; null after a change. */
  private order: Uint32Array | null = null;

  static from(p: PackedBindings): BindingTable {
    const t = new BindingTable();
    for (let i = 0; i < p.count; i++) t.put(p.get(i));
    return t;
  }

  get size(): number {
    return this.cols.count;
  }

  has(ipv4: number, psid: number): boolean {
    return this.index.has(bindingKey(ipv4, psid));
  }

  get(ipv4: number, psid: number): ResolvedBinding | undefined {
    const i = this.index.get(bindingKey(ipv4, psid));
    return i === undefined ? undefined : this.at(i);
  }

  /** Binding in slot i (a copy of its IPv6 bytes). */
  at(i: number): ResolvedBinding {
    const b = this.cols.get(i);
    b.ipv6 = b.ipv6.slice();
    return b;
  }

  /** Every binding (copies), in slot order. */
  *values(): IterableIterator<ResolvedBinding> {
    for (let i = 0; i < this.cols.count; i++) yield this.at(i);
  }

  /** Key of slot i, without building the binding. */
  keyAt(i: number): number {
    return bindingKey(this.cols.ipv4[i], this.cols.psid[i]);
  }

  params(ipv4: number): AddressParams | undefined {
    return this.perAddress.get(ipv4 >>> 0);
  }

  /** Adds or replaces; the caller has checked the per-address parameters. */
  put(b: ResolvedBinding): 'added' | 'replaced' {
    const key = bindingKey(b.ipv4, b.psid);
    let i = this.index.get(key);
    const replaced = i !== undefined;
    if (i === undefined) {
      if (this.cols.count === this.cols.capacity) this.cols.grow(this.cols.capacity * 2);
      i = this.cols.count++;
      this.index.set(key, i);
      const p = this.perAddress.get(b.ipv4 >>> 0);
      if (p) p.count++;
      else this.perAddress.set(b.ipv4 >>> 0, { psidLen: b.psidLen, psidOffset: b.psidOffset, count: 1 });
      this.order = null;
    } else {
      const p = this.perAddress.get(b.ipv4 >>> 0)!;
      p.psidLen = b.psidLen;
      p.psidOffset = b.psidOffset;
    }
    this.cols.set(i, b);
    return replaced ? 'replaced' : 'added';
  }

  /** Removes a binding; returns it, or undefined when there was none. */
  remove(ipv4: number, psid: number): ResolvedBinding | undefined {
    const key = bindingKey(ipv4, psid);
    const i = this.index.get(key);
    if (i === undefined) return undefined;
    const gone = this.at(i);
    const last = this.cols.count - 1;
    if (i !== last) {
      // move the last slot into the hole
      this.cols.move(last, i);
      this.index.set(this.keyAt(i), i);
    }
    this.index.delete(key);
    this.cols.count--;
    const p = this.perAddress.get(ipv4 >>> 0)!;
    if (--p.count === 0) this.perAddress.delete(ipv4 >>> 0);
    this.order = null;
    return gone;
  }

  /** Slots in (IPv4, PSID) order; rebuilt after a change (O(n log n), only when listed). */
  sorted(): Uint32Array {
    if (this.order === null) {
      const n = this.cols.count;
      const keys = new Float64Array(n);
      for (let i = 0; i < n; i++) keys[i] = this.keyAt(i);
      keys.sort();
      const order = new Uint32Array(n);
      for (let i = 0; i < n; i++) order[i] = this.index.get(keys[i])!;
      this.order = order;
    }
    return this.order;
  }

  /** First position in sorted() whose key is >= `key`. */
  lowerBound(key: number): number {
    const order = this.sorted();
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.keyAt(order[mid]) < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** IPv6 bytes of slot i (a view: do not keep it across a change). */
  ipv6At(i: number): Uint8Array {
    return this.cols.ipv6.subarray(i * 16, i * 16 + 16);
  }

  prefixLenAt(i: number): number {
    return this.cols.prefixLen[i];
  }

  psidAt(i: number): number {
    return this.cols.psid[i];
  }

  ipv4At(i: number): number {
    return this.cols.ipv4[i];
  }
}
