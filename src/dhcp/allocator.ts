// What may be leased to whom, and in which order (RFC 7618 sections 8, 8.1 and 10).
// Pure functions over the configured pools; lease-engine.ts carries a plan out
// atomically inside the store.
//
// - Pools kept apart (section 8.1): a client that does not list OPTION_V4_PORTPARAMS
//   in its Parameter Request List is only ever matched against full-address pools;
//   if there are none, its request is discarded ("MUST discard"). A client that lists
//   it is matched against the shared pools; only a server with no shared pool at all
//   serves it a full address (section 8.1, last paragraph: a server "can be
//   instructed to honor" such requests with non-shared addresses).
// - Reserved ports (sections 8 and 9): a PSID whose port set holds a reserved port is
//   never a slot. Full-address pools are exempt ("unless ... a full IPv4 address").
// - Selection order (section 8): current binding, previous binding if still free,
//   the requested address with the requested PSID if valid and free, a new slot.
// - Per-site limit (section 10): the site is the innermost relay's link-address when
//   the query was relayed with a non-zero link-address, else the client's 4o6 source
//   address truncated to site-prefix-length bits.
import type { XbrConfig } from '../config/schema.js';
import { parseIPv4, parseIPv4Prefix } from '../map/ip.js';
import { portSetIntersectsReserved, portSetRanges, type PortRange } from '../map/psid.js';
import type { PortParams } from './codec/index.js';
import type { PoolSlots } from './store/types.js';

export type Dhcp4o6Config = NonNullable<XbrConfig['dhcp4o6']>;

export interface Pool extends PoolSlots {
  shared: boolean;
  /** Quick membership test for PSIDs (psids as a set). */
  allowed: ReadonlySet<number>;
}

/** The configured pools with their leasable PSIDs (reserved port sets removed). */
export function buildPools(config: XbrConfig): Pool[] {
  const dhcp = config.dhcp4o6;
  if (dhcp === undefined) return [];
  return dhcp.pools.map((p) => {
    const prefix = parseIPv4Prefix(p.ipv4);
    const count = 2 ** (32 - prefix.len);
    const first = (prefix.addr & (prefix.len === 0 ? 0 : (0xffffffff << (32 - prefix.len)) >>> 0)) >>> 0;
    const k = p['psid-len'];
    const a = p['psid-offset'];
    const reserved: PortRange | null = p['reserved-ports'] !== undefined ? p['reserved-ports'] : config['reserved-ports'];
    const psids: number[] = [];
    if (k === 0) psids.push(0);
    else for (let psid = 0; psid < 2 ** k; psid++) if (!portSetIntersectsReserved(portSetRanges(psid, a, k), reserved)) psids.push(psid);
    return { name: p.name, first, count, psidLen: k, psidOffset: a, psids, shared: k > 0, allowed: new Set(psids) };
  });
}

/**
 * The checks a server makes of its pools before it serves them (at start and before a
 * reload swaps them in): throws naming the pool, as `dhcp4o6.pools[i] (name): why`.
 */
export function checkPools(pools: readonly Pool[]): void {
  pools.forEach((p, i) => {
    // RFC 7618 section 8: reserved ports are never leased; a pool left with nothing to lease is a configuration error.
    if (p.psids.length === 0) {
      throw new Error(`dhcp4o6.pools[${i}] (${p.name}): every port set of PSID-len ${p.psidLen}, offset ${p.psidOffset} holds a reserved port`);
    }
  });
}

/** Two pools lease the same slots (same addresses, PSID-len, offset and leasable PSIDs). */
export function samePool(a: Pool, b: Pool): boolean {
  return (
    a.first === b.first &&
    a.count === b.count &&
    a.psidLen === b.psidLen &&
    a.psidOffset === b.psidOffset &&
    a.psids.length === b.psids.length &&
    a.psids.every((x, i) => x === b.psids[i])
  );
}

/** What a reload does to the pools, by name (server.ts logs it). */
export interface PoolChanges {
  added: string[];
  removed: string[];
  /** Same name, other slots (addresses, PSID-len, offset or reserved ports). */
  changed: string[];
  unchanged: string[];
  /** The order changed (it is the allocation order, section 8). */
  reordered: boolean;
}

export function poolChanges(before: readonly Pool[], after: readonly Pool[]): PoolChanges {
  const old = new Map(before.map((p) => [p.name, p]));
  const names = new Set(after.map((p) => p.name));
  const out: PoolChanges = { added: [], removed: before.filter((p) => !names.has(p.name)).map((p) => p.name), changed: [], unchanged: [], reordered: false };
  for (const p of after) {
    const was = old.get(p.name);
    if (was === undefined) out.added.push(p.name);
    else (samePool(was, p) ? out.unchanged : out.changed).push(p.name);
  }
  const kept = (ps: readonly Pool[]) => ps.map((p) => p.name).filter((n) => old.has(n) && names.has(n));
  out.reordered = kept(before).join('\0') !== kept(after).join('\0');
  return out;
}

/**
 * The pools a client may be served from (section 8.1), or 'discard' when the server
 * must drop its request.
 */
export function eligiblePools(pools: readonly Pool[], wantsPortParams: boolean): Pool[] | 'discard' {
  const shared = pools.filter((p) => p.shared);
  const full = pools.filter((p) => !p.shared);
  if (wantsPortParams) return shared.length > 0 ? shared : full;
  return full.length > 0 ? full : 'discard';
}

/** The pool (of `pools`) holding an address, or undefined. */
export function poolOf(pools: readonly Pool[], ipv4: number): Pool | undefined {
  return pools.find((p) => ipv4 >= p.first && ipv4 < p.first + p.count);
}

/**
 * The slot a client names by address (+ OPTION_V4_PORTPARAMS), if it is a valid slot
 * of `pools`: in a pool, and for a shared pool a PSID with the pool's PSID-len and
 * offset that is not reserved. `psid: null` when a shared pool's client sent no
 * port parameters (the caller then looks the slot up by client).
 */
export function slotOf(
  pools: readonly Pool[],
  address: string | number,
  pp: PortParams | undefined,
): { pool: Pool; ipv4: number; psid: number | null } | undefined {
  const ipv4 = typeof address === 'number' ? address : parseIPv4(address);
  const pool = poolOf(pools, ipv4);
  if (pool === undefined) return undefined;
  if (!pool.shared) return { pool, ipv4, psid: 0 };
  if (pp === undefined || pp.psidLen === 0) return { pool, ipv4, psid: null };
  if (pp.psidLen !== pool.psidLen || pp.offset !== pool.psidOffset || !pool.allowed.has(pp.psid)) return undefined;
  return { pool, ipv4, psid: pp.psid };
}

export interface AllocationPlan {
  /** Pool names the client may hold a slot in (for the current / previous binding). */
  eligible: string[];
  /** The requested slot, already validated (section 8, third choice). */
  requested?: { ipv4: number; psid: number };
  /** Pools to take a new slot from, in order (section 8, last choice). */
  order: string[];
}

export type PsidLenHintPolicy = 'prefer' | 'ignore';

/**
 * The plan for a DHCPDISCOVER. `requestedAddress` is option 50; `pp` the client's
 * OPTION_V4_PORTPARAMS. RFC 7618 section 7: with a requested address, the option
 * names the PSID too; without one, only its PSID-len counts, as a size hint, which
 * the `hint` policy honours by trying pools of that PSID-len first (section 6 item 2).
 */
export function planAllocation(
  eligible: readonly Pool[],
  requestedAddress: string | undefined,
  pp: PortParams | undefined,
  hint: PsidLenHintPolicy,
): AllocationPlan {
  const plan: AllocationPlan = { eligible: eligible.map((p) => p.name), order: eligible.map((p) => p.name) };
  if (requestedAddress !== undefined) {
    const slot = slotOf(eligible, requestedAddress, pp);
    if (slot !== undefined && slot.psid !== null) plan.requested = { ipv4: slot.ipv4, psid: slot.psid };
  }
  if (hint === 'prefer' && pp !== undefined && pp.psidLen > 0) {
    const first = eligible.filter((p) => p.shared && p.psidLen === pp.psidLen).map((p) => p.name);
    plan.order = [...first, ...plan.order.filter((n) => !first.includes(n))];
  }
  return plan;
}

/** Text form of an IPv6 prefix key ("2001:db8:1::/56" style, hex, no compression needed). */
function prefixKey(addr: Uint8Array, len: number): string {
  let s = '';
  for (let i = 0; i < 16; i += 2) s += (i ? ':' : '') + ((maskedOctet(addr, i, len) << 8) | maskedOctet(addr, i + 1, len)).toString(16);
  return `${s}/${len}`;
}

/** Octet `i` of `addr` with the bits after the first `len` of the address cleared (no masked copy: every DHCPv4 message builds a key). */
function maskedOctet(addr: Uint8Array, i: number, len: number): number {
  const keep = len - i * 8;
  const b = i < addr.length ? addr[i] : 0;
  if (keep >= 8) return b;
  return keep <= 0 ? 0 : b & (0xff << (8 - keep)) & 0xff;
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * The site a query counts against (section 10). `linkAddress`: the innermost
 * Relay-forward's link-address (16 octets) or undefined when not relayed; an all-zero
 * link-address (a relay that leaves it unspecified, RFC 8415 section 19.1.1) falls
 * back to the client's address.
 */
export function siteOf(clientAddress: Uint8Array, linkAddress: Uint8Array | undefined, sitePrefixLength: number): string {
  if (linkAddress !== undefined && !allZero(linkAddress)) return `link ${prefixKey(linkAddress, 128)}`;
  return `src ${prefixKey(clientAddress, sitePrefixLength)}`;
}
