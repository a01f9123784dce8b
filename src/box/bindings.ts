// Binding rules and views shared by every BoxSource: a static binding given through the
// API is checked like one in the config (validate.ts checkBindings, the same reasons)
// and against what the box already holds; bindings are listed from the box's tables
// in (IPv4, PSID) order, filtered and paged.
import type { XbrConfig } from '../config/schema.js';
import type { ResolvedBinding } from '../config/rules.js';
import {
  formatIPv4,
  formatIPv6Prefix,
  ipv4InPrefix,
  ipv4Mask,
  ipv6HostBitsSet,
  ipv6InPrefix,
  ipv6PrefixesOverlap,
  isIPv4,
  isIPv4Prefix,
  isIPv6Prefix,
  parseIPv4,
  parseIPv4Prefix,
  parseIPv6Prefix,
  type IPv6Prefix,
} from '../map/ip.js';
import { portSetRanges } from '../map/psid.js';
import { bindingKey, type BindingTable } from './binding-table.js';
import { BoxError, type BindingFilter, type BindingView, type Page } from './types.js';

const int = (v: unknown, lo: number, hi: number) => typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;

/** An API binding in numeric form, checked on its own (mode, lengths, reserved ports). */
export function resolveApiBinding(b: Omit<BindingView, 'source'>, config: XbrConfig): ResolvedBinding {
  const bad = (m: string): never => {
    throw new BoxError('invalid', m);
  };
  if (typeof b.ipv4 !== 'string' || !isIPv4(b.ipv4)) bad(`ipv4: ${JSON.stringify(b.ipv4)} is not an IPv4 address`);
  if (!int(b.psidLen, 0, 16)) bad('psidLen: must be an integer 0..16');
  if (!int(b.psidOffset, 0, 15)) bad('psidOffset: must be an integer 0..15');
  if (!int(b.psid, 0, 65535)) bad('psid: must be an integer 0..65535');
  if (typeof b.ipv6 !== 'string' || !isIPv6Prefix(b.ipv6, true)) bad(`ipv6: ${JSON.stringify(b.ipv6)} is not an IPv6 prefix or address`);
  const k = b.psidLen;
  const a = b.psidOffset;
  const v6 = parseIPv6Prefix(b.ipv6, true);
  if (config.mode === 'lw4o6') {
    if (v6.len !== 128) bad(`ipv6: lw4o6: the B4's IPv6 address must be a /128, not /${v6.len}`);
  } else if (v6.len > 64) {
    bad(`ipv6: ${config.mode}: the CE's end-user prefix must be /64 or shorter, not /${v6.len}`);
  } else if (ipv6HostBitsSet(v6)) {
    bad(`ipv6: bits beyond /${v6.len} are set`);
  }
  if (k > 0 && a + k > 16) bad(`psidLen: psidOffset ${a} + psidLen ${k} exceeds 16 (RFC 7597 section 5.1)`);
  if (b.psid >= 2 ** k) bad(`psid: PSID ${b.psid} does not fit in psidLen ${k} bits (must be < ${2 ** k})`);
  const reserved = config['reserved-ports'];
  if (k > 0 && reserved !== null) {
    const hit = portSetRanges(b.psid, a, k).find((r) => r[0] <= reserved[1] && reserved[0] <= r[1]);
    if (hit) bad(`psid: the port set of PSID ${b.psid} (ports ${hit[0]}-${hit[1]}, …) reaches into reserved-ports ${reserved[0]}-${reserved[1]} (RFC 7618 section 8)`);
  }
  return { ipv4: parseIPv4(b.ipv4), psidLen: k, psidOffset: a, psid: b.psid, ipv6: v6.addr, prefixLen: v6.len };
}

/**
 * Whether a static binding may go into the box next to what it holds: not over a
 * lease, not inside a 4o6 pool (its port sets are the server's to lease), the same
 * port-set parameters as every other binding on the address (RFC 7597 5.1), and room
 * in the table. Throws BoxError conflict with the reason.
 */
export function checkStaticPlacement(b: ResolvedBinding, config: XbrConfig, statics: BindingTable, leases: BindingTable): void {
  const addr = formatIPv4(b.ipv4);
  const conflict = (m: string): never => {
    throw new BoxError('conflict', m);
  };
  if (leases.has(b.ipv4, b.psid)) conflict(`${addr} PSID ${b.psid} is leased by the 4o6 server: release the lease instead`);
  for (const pool of config.dhcp4o6?.pools ?? []) {
    if (ipv4InPrefix(b.ipv4, parseIPv4Prefix(pool.ipv4))) conflict(`${addr} is in dhcp4o6 pool ${pool.name} (${pool.ipv4}): its port sets are leased, not static`);
  }
  const replacing = statics.has(b.ipv4, b.psid);
  for (const [table, what] of [
    [statics, 'static bindings'],
    [leases, 'leases'],
  ] as const) {
    const p = table.params(b.ipv4);
    if (p === undefined || (table === statics && replacing && p.count === 1)) continue;
    if (p.psidLen !== b.psidLen || p.psidOffset !== b.psidOffset) {
      conflict(
        `${addr} has ${what} with psidLen ${p.psidLen} psidOffset ${p.psidOffset}; every binding on one address must use the same (RFC 7597 section 5.1)`,
      );
    }
  }
  const capacity = config['binding-capacity'];
  if (!replacing && statics.size + leases.size >= capacity) conflict(`the binding table is full (binding-capacity ${capacity})`);
}

export function bindingView(b: ResolvedBinding, source: BindingView['source']): BindingView {
  return {
    ipv4: formatIPv4(b.ipv4),
    psidLen: b.psidLen,
    psidOffset: b.psidOffset,
    psid: b.psid,
    ipv6: formatIPv6Prefix({ addr: b.ipv6, len: b.prefixLen }),
    source,
  };
}

interface CompiledFilter {
  keyLo: number;
  keyHi: number;
  psid?: number;
  v6?: IPv6Prefix;
  /** A bare address: the bindings whose prefix holds it. */
  v6Host: boolean;
  source?: BindingView['source'];
}

function compileFilter(f: BindingFilter): CompiledFilter {
  let lo = 0;
  let hi = 0xffffffff;
  if (f.ipv4 !== undefined) {
    if (isIPv4(f.ipv4)) lo = hi = parseIPv4(f.ipv4);
    else if (isIPv4Prefix(f.ipv4)) {
      const p = parseIPv4Prefix(f.ipv4);
      lo = (p.addr & ipv4Mask(p.len)) >>> 0;
      hi = (lo | ~ipv4Mask(p.len)) >>> 0;
    } else throw new BoxError('invalid', `ipv4: ${JSON.stringify(f.ipv4)} is not an IPv4 address or prefix`);
  }
  let v6: IPv6Prefix | undefined;
  let v6Host = false;
  if (f.ipv6 !== undefined) {
    if (!isIPv6Prefix(f.ipv6, true)) throw new BoxError('invalid', `ipv6: ${JSON.stringify(f.ipv6)} is not an IPv6 address or prefix`);
    v6Host = !f.ipv6.includes('/');
    v6 = parseIPv6Prefix(f.ipv6, true);
  }
  if (f.psid !== undefined && !int(f.psid, 0, 65535)) throw new BoxError('invalid', 'psid: must be an integer 0..65535');
  return { keyLo: bindingKey(lo, 0), keyHi: bindingKey(hi, 65535), psid: f.psid, v6, v6Host, source: f.source };
}

function matches(t: BindingTable, slot: number, f: CompiledFilter): boolean {
  if (f.psid !== undefined && t.psidAt(slot) !== f.psid) return false;
  if (f.v6 !== undefined) {
    const mine = { addr: t.ipv6At(slot), len: t.prefixLenAt(slot) };
    if (f.v6Host ? !ipv6InPrefix(f.v6.addr, mine) : !ipv6PrefixesOverlap(mine, f.v6)) return false;
  }
  return true;
}

/**
 * One page of the bindings of both tables, in (IPv4, PSID) order (a key held by both
 * is listed once, as the static binding the data plane uses), and the number matching.
 */
export function listBindings(
  tables: { statics: BindingTable; leases: BindingTable },
  filter: BindingFilter,
  offset: number,
  limit: number,
): Page<BindingView> {
  const f = compileFilter(filter);
  // No filter but the source: the total is known without walking the tables, and the
  // walk stops at the end of the page (a scrape asks for limit 0 on a million bindings).
  let known: number | undefined;
  if (filter.ipv4 === undefined && filter.ipv6 === undefined && filter.psid === undefined) {
    if (f.source === 'static') known = tables.statics.size;
    else if (f.source === 'lease') known = overlapFreeLeases(tables, false);
    else known = tables.statics.size + overlapFreeLeases(tables, true);
  }
  const sources: [BindingTable, BindingView['source']][] = [];
  if (f.source !== 'lease') sources.push([tables.statics, 'static']);
  if (f.source !== 'static') sources.push([tables.leases, 'lease']);
  const cursors = sources.map(([t]) => ({ pos: t.lowerBound(f.keyLo), order: t.sorted() }));
  const items: BindingView[] = [];
  let total = 0;
  for (;;) {
    // the smallest key among the cursors
    let best = -1;
    let bestKey = Infinity;
    for (let s = 0; s < sources.length; s++) {
      const c = cursors[s];
      if (c.pos >= c.order.length) continue;
      const k = sources[s][0].keyAt(c.order[c.pos]);
      if (k < bestKey) {
        bestKey = k;
        best = s;
      }
    }
    if (best < 0 || bestKey > f.keyHi) break;
    if (known !== undefined && items.length >= limit) break;
    const [t, source] = sources[best];
    const slot = cursors[best].order[cursors[best].pos];
    // skip the same key in the other tables (static first: it is the one in effect)
    for (let s = 0; s < sources.length; s++) {
      const c = cursors[s];
      while (c.pos < c.order.length && sources[s][0].keyAt(c.order[c.pos]) === bestKey) c.pos++;
    }
    if (!matches(t, slot, f)) continue;
    if (total >= offset && items.length < limit) items.push(bindingView(t.at(slot), source));
    total++;
  }
  return { items, total: known ?? total, offset, limit };
}

/** Lease bindings, less those a static binding shadows when `lessShadowed` (listed as static). */
function overlapFreeLeases(tables: { statics: BindingTable; leases: BindingTable }, lessShadowed: boolean): number {
  const { statics, leases } = tables;
  if (!lessShadowed) return leases.size;
  let n = leases.size;
  for (let slot = 0; slot < leases.size; slot++) if (statics.has(leases.ipv4At(slot), leases.psidAt(slot))) n--;
  return n;
}
