// From a lease to the data plane's binding (IPv4 address, PSID) -> IPv6.
//
// The binding's IPv6 side comes from the client's 4o6 source address: the UDP source
// of a direct DHCPv4-query, or the innermost Relay-forward's peer-address (RFC 8415
// section 9.1: "the address of the client or relay agent from which the message to
// be relayed was received").
//  - lw4o6: that address itself, /128 — the B4's softwire address (RFC 7596 section
//    5.1; RFC 7618 section 6: the lease is tied to "the client's source IPv6 address
//    for DHCP 4o6").
//  - map-t, map-e (EA-len 0 bindings, RFC 7597 section 5.2 / RFC 7599 section 12.1):
//    the CE's end-user prefix = that address truncated to `dhcp4o6.ce-prefix-length`
//    bits (default 64). This is the documented, configurable rule: it is right when the
//    CE sources its DHCP 4o6 traffic from an address inside the prefix its MAP
//    addresses are built from, which an operator sets with this length (e.g. 56 for a
//    CE that numbers its 4o6 source out of its delegated /56).
//  - An address that cannot be a tunnel endpoint or CE prefix (unspecified, loopback
//    when not allowed, link-local, multicast) gives no binding: the lease is granted
//    but the data plane learns nothing, counted as `binding-unroutable-source`. ISC
//    dhclient sends its queries from its link-local address; behind a relay the
//    peer-address is still the link-local one, so such a client needs a source of
//    global scope for its binding (RFC 7341 section 9: "an address of appropriate scope").
import type { Mode } from '../config/schema.js';
import type { Engine, BindingSpec } from '../core/engine.js';
import type { LeaseRow } from './store/types.js';
import { BindingTable, bindingKey } from '../box/binding-table.js';

export type { BindingSpec } from '../core/engine.js';

/** Where lease changes go: the core's live-update functions, a worker pool, a test. */
export interface BindingSink {
  put(b: BindingSpec): void;
  remove(ipv4: number, psid: number): void;
}

/** A BindingSink over an in-process Engine (Engine.putBinding / removeBinding). */
export class EngineBindingSink implements BindingSink {
  refused = 0;
  constructor(readonly engine: Engine) {}
  put(b: BindingSpec): void {
    // A full table is reported, not thrown: the lease stands, the operator raises binding-capacity.
    if (this.engine.tryPutBinding(b) !== 0) this.refused++;
  }
  remove(ipv4: number, psid: number): void {
    this.engine.removeBinding(ipv4, psid);
  }
}

/**
 * The key of an (IPv4, PSID) slot as one number: ipv4 * 65536 + psid (a PSID is at
 * most 16 bits, RFC 7597 section 5.1), exact below 2^48. A number, not a string such
 * as `${ipv4}/${psid}`: one put per ACK, and building the string and hashing it showed
 * in the datagram thread's profile (a few % with 100k+ bindings). The box's binding
 * table keys its slots the same way (box/binding-table.ts bindingKey).
 */
export const slotKey = bindingKey;

/** The (IPv4, PSID) of a slotKey. */
export const slotOfKey = (key: number): { ipv4: number; psid: number } => ({ ipv4: Math.floor(key / 65536), psid: key % 65536 });

/**
 * A BindingSink that keeps the table itself (tests, `xbr dhcp` without --engine, `xbr
 * run` before its data plane starts), in packed columns (box/binding-table.ts): no
 * object per binding. With a Map of binding objects, every lease left an object and
 * its IPv6 array on the heap for as long as it lasted; the datagram thread's
 * collector then copied and marked them again and again, which cost `xbr dhcp` a
 * fifth of its rate by 200,000 leases (bench/dhcp4o6-results.md, tenth session).
 */
export class TableBindingSink implements BindingSink {
  readonly table = new BindingTable();
  put(b: BindingSpec): void {
    this.table.put(b);
  }
  remove(ipv4: number, psid: number): void {
    this.table.remove(ipv4, psid);
  }
  get(ipv4: number, psid: number): BindingSpec | undefined {
    return this.table.get(ipv4, psid);
  }
}

/** Forwards to another sink and remembers which (IPv4, PSID) it holds there. */
export class TrackingSink implements BindingSink {
  /** By slotKey. */
  readonly keys = new Set<number>();
  constructor(readonly inner: BindingSink) {}
  put(b: BindingSpec): void {
    this.inner.put(b);
    this.keys.add(slotKey(b.ipv4, b.psid));
  }
  remove(ipv4: number, psid: number): void {
    this.inner.remove(ipv4, psid);
    this.keys.delete(slotKey(ipv4, psid));
  }
}

export interface BindingRule {
  mode: Mode;
  cePrefixLength: number;
  /** Accept ::1 as a source (tests and benchmarks on loopback). */
  allowLoopback?: boolean;
}

function unroutable(a: Uint8Array, allowLoopback: boolean): boolean {
  // Loops, not every() over a subarray: this runs for every DHCPv4 message.
  let first15 = 0;
  for (let i = 0; i < 15; i++) first15 |= a[i];
  if (first15 === 0 && a[15] === 0) return true; // ::
  if (a[0] === 0xff) return true; // multicast
  if (a[0] === 0xfe && (a[1] & 0xc0) === 0x80) return true; // fe80::/10 link-local
  const loop = first15 === 0 && a[15] === 1;
  return loop && !allowLoopback;
}

/** The binding's IPv6 side for a client 4o6 address, or null when it can have none. */
export function bindingAddress(clientAddress: Uint8Array, rule: BindingRule): { ipv6: Uint8Array; prefixLen: number } | null {
  if (clientAddress.length !== 16 || unroutable(clientAddress, rule.allowLoopback ?? false)) return null;
  if (rule.mode === 'lw4o6') return { ipv6: clientAddress.slice(), prefixLen: 128 };
  const len = rule.cePrefixLength;
  const ipv6 = clientAddress.slice();
  for (let i = 0; i < 16; i++) {
    const keep = len - i * 8;
    if (keep >= 8) continue;
    ipv6[i] = keep <= 0 ? 0 : ipv6[i] & (0xff << (8 - keep)) & 0xff;
  }
  return { ipv6, prefixLen: len };
}

/** The binding of a lease row, or null when it has none. */
export function bindingOf(row: LeaseRow): BindingSpec | null {
  if (row.ipv6 === null) return null;
  return { ipv4: row.ipv4 >>> 0, psidLen: row.psidLen, psidOffset: row.psidOffset, psid: row.psid, ipv6: row.ipv6, prefixLen: row.prefixLen };
}
