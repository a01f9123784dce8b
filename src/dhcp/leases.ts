// The lease operations the DHCPv4 state machine needs, each one unit of work run
// inside a store transaction (store/types.ts) — so each is atomic, and with group
// commit durable before its caller builds a reply. Written over LeaseTx, so every store
// behaves the same; the PostgreSQL store runs the two hot ones (allocate, bind) as one
// SQL function call each (store/postgres.ts), step for step the same, checked by
// running the whole server suite over both stores (server.test.ts, server-pg.test.ts).
import type { AllocationPlan } from './allocator.js';
import { RETIRED_POOL, type LeaseRow, type LeaseTx } from './store/types.js';

export interface Holder {
  /** Client key (v4.ts clientKey). */
  client: string;
  /** Per-site key (allocator.ts siteOf) and its limit (RFC 7618 section 10). */
  site: string;
  siteLimit: number;
  /** The data-plane binding for a lease of this client (bindings.ts), or null. */
  ipv6: Uint8Array | null;
  prefixLen: number;
}

export type AllocateResult =
  | { ok: true; row: LeaseRow; how: 'current' | 'previous' | 'requested' | 'new' }
  | { ok: false; why: 'site-limit' | 'exhausted' };

const held = (r: LeaseRow, now: number) => (r.state === 'offered' || r.state === 'bound') && r.expiresAt > now;
const isFree = (r: LeaseRow, now: number) => r.state === 'free' || ((r.state === 'offered' || r.state === 'declined') && r.expiresAt <= now);

async function siteFull(tx: LeaseTx, h: Holder, now: number): Promise<boolean> {
  return (await tx.countSite(h.site, h.client, now, h.siteLimit)) >= h.siteLimit;
}

function take(row: LeaseRow, h: Holder, state: 'offered' | 'bound', until: number): LeaseRow {
  return { ...row, state, client: h.client, expiresAt: until, site: h.site, ipv6: h.ipv6, prefixLen: h.prefixLen };
}

/**
 * DHCPDISCOVER: RFC 7618 section 8's order. A current lease is returned as it is (a
 * bound one stays bound; an offer is extended); any other slot becomes an offer
 * until `offerUntil`.
 */
export async function allocate(tx: LeaseTx, h: Holder, plan: AllocationPlan, now: number, offerUntil: number): Promise<AllocateResult> {
  // A store may do the whole operation in one statement (PostgreSQL: xbr_allocate(),
  // which mirrors this function step for step; server-pg.test.ts runs the same suite).
  if (tx.allocateOne !== undefined) return tx.allocateOne(h, plan, now, offerUntil);
  const mine = await tx.byClient(h.client, plan.eligible);
  // 1. "The client's current address with the PSID, as recorded in the client's current lease binding"
  const current = mine.find((r) => r.state === 'bound' && r.expiresAt > now) ?? mine.find((r) => held(r, now));
  if (current !== undefined) {
    if (current.state === 'offered') {
      const row = take(current, h, 'offered', offerUntil);
      await tx.write(row);
      return { ok: true, row, how: 'current' };
    }
    return { ok: true, row: current, how: 'current' };
  }
  // RFC 7618 section 10: a limit on simultaneously active leases per site.
  if (await siteFull(tx, h, now)) return { ok: false, why: 'site-limit' };
  // 2. "The client's previous address with the PSID ... (expired or released) binding,
  //     if that address with PSID is in the server's pool of available addresses and PSIDs"
  const previous = mine.filter((r) => isFree(r, now) && r.state !== 'declined').sort((a, b) => b.freedAt - a.freedAt)[0];
  if (previous !== undefined) {
    const row = take(previous, h, 'offered', offerUntil);
    await tx.write(row);
    return { ok: true, row, how: 'previous' };
  }
  // 3. "The address requested ... along with the PSID parameters requested ... if that
  //     pair of address and PSID is valid and not already allocated"
  if (plan.requested !== undefined) {
    const r = await tx.get(plan.requested.ipv4, plan.requested.psid);
    if (r !== undefined && plan.eligible.includes(r.pool) && isFree(r, now)) {
      const row = take(r, h, 'offered', offerUntil);
      await tx.write(row);
      return { ok: true, row, how: 'requested' };
    }
  }
  // 4. "A new address with a PSID allocated from the server's pool"
  for (const pool of plan.order) {
    const r = await tx.claimFree(pool, now);
    if (r !== undefined) {
      const row = take(r, h, 'offered', offerUntil);
      await tx.write(row);
      return { ok: true, row, how: 'new' };
    }
  }
  return { ok: false, why: 'exhausted' };
}

/** The client's states of RFC 2131 section 4.3.2 a DHCPREQUEST can come from. */
export type RequestKind = 'selecting' | 'init-reboot' | 'renewing' | 'rebinding';

export type BindResult =
  | { kind: 'ack'; row: LeaseRow }
  | { kind: 'nak'; why: string }
  | { kind: 'silent'; why: string };

/**
 * DHCPREQUEST: make the named slot the client's bound lease until `leaseUntil`.
 * `psid` null: the client sent no port parameters for a shared slot; its slot on
 * that address is found by client.
 */
export async function bind(
  tx: LeaseTx,
  h: Holder,
  slot: { ipv4: number; psid: number | null } | undefined,
  eligible: readonly string[],
  kind: RequestKind,
  now: number,
  leaseUntil: number,
): Promise<BindResult> {
  // RFC 2131 4.3.2: a REBINDING client broadcast to any server; one with no record stays silent.
  const unknown = (why: string): BindResult => (kind === 'rebinding' || kind === 'init-reboot' ? { kind: 'silent', why } : { kind: 'nak', why });
  if (slot === undefined) return kind === 'rebinding' ? { kind: 'silent', why: 'not-our-address' } : { kind: 'nak', why: 'not-our-address' };
  // PostgreSQL: xbr_bind(), the steps below in one statement (it also publishes the change).
  if (tx.bindOne !== undefined) return tx.bindOne(h, slot, eligible, kind, now, leaseUntil);
  let row: LeaseRow | undefined;
  if (slot.psid !== null) row = await tx.get(slot.ipv4, slot.psid);
  else row = (await tx.byClient(h.client, eligible)).find((r) => r.ipv4 === slot.ipv4);
  if (row === undefined || !eligible.includes(row.pool)) return unknown('no-record');
  if (row.client === h.client && (row.state === 'bound' || row.state === 'offered') && (row.expiresAt > now || row.state === 'bound')) {
    // Its own offer or lease (a bound lease past its time that expiry has not swept yet is still its).
    const next = take(row, h, 'bound', leaseUntil);
    await tx.write(next);
    return { kind: 'ack', row: next };
  }
  if (held(row, now) || (row.state === 'declined' && row.expiresAt > now)) return { kind: 'nak', why: 'held-by-another' };
  // Free. Its previous holder may take it back (RFC 2131 4.3.1/4.3.2: the client's
  // previous address); anyone else asked for a slot nobody offered them.
  if (row.client !== h.client) return kind === 'selecting' || kind === 'renewing' ? { kind: 'nak', why: 'not-offered' } : unknown('no-record');
  if (await siteFull(tx, h, now)) return { kind: 'nak', why: 'site-limit' };
  const next = take(row, h, 'bound', leaseUntil);
  await tx.write(next);
  return { kind: 'ack', row: next };
}

/**
 * DHCPRELEASE (RFC 7618 section 8: found "using the address in the ciaddr field and
 * the PSID information in the OPTION_V4_PORTPARAMS", released "if a record (matching
 * that PSID) is maintained by the server for that client"). Returns the row as it was
 * when it was bound (its binding must go), or null.
 */
export async function release(
  tx: LeaseTx,
  client: string,
  slot: { ipv4: number; psid: number | null } | undefined,
  eligible: readonly string[],
  now: number,
): Promise<LeaseRow | null> {
  if (slot === undefined) return null;
  const row =
    slot.psid !== null ? await tx.get(slot.ipv4, slot.psid) : (await tx.byClient(client, eligible)).find((r) => r.ipv4 === slot.ipv4);
  if (row === undefined || row.client !== client || (row.state !== 'bound' && row.state !== 'offered')) return null;
  // The client stays recorded as the last holder: its "previous binding" (section 8).
  await tx.write({ ...row, state: 'free', expiresAt: 0, freedAt: now });
  return row.state === 'bound' ? row : null;
}

/** DHCPDECLINE (RFC 2131 4.3.3): the slot is out of use until `until`. Returns the row if it was bound. */
export async function decline(
  tx: LeaseTx,
  client: string,
  slot: { ipv4: number; psid: number | null } | undefined,
  eligible: readonly string[],
  until: number,
): Promise<LeaseRow | null | 'ignored'> {
  if (slot === undefined) return 'ignored';
  const row =
    slot.psid !== null ? await tx.get(slot.ipv4, slot.psid) : (await tx.byClient(client, eligible)).find((r) => r.ipv4 === slot.ipv4);
  if (row === undefined || row.client !== client || (row.state !== 'bound' && row.state !== 'offered')) return 'ignored';
  // Not kept as the client's previous binding: it told us the slot is unusable.
  await tx.write({ ...row, state: 'declined', client: null, expiresAt: until, site: null, ipv6: null });
  return row.state === 'bound' ? row : null;
}

/** A SELECTING DHCPREQUEST for another server: our offers to that client end (RFC 2131 4.3.2). */
export async function withdrawOffers(tx: LeaseTx, client: string, pools: readonly string[], now: number): Promise<number> {
  let n = 0;
  for (const r of await tx.byClient(client, pools)) {
    if (r.state === 'offered') {
      await tx.write({ ...r, state: 'free', expiresAt: 0, freedAt: now });
      n++;
    }
  }
  return n;
}

/**
 * The client's leases that a reload left outside every pool (store/types.ts
 * RETIRED_POOL) end: those on `ipv4`, or all of them when `ipv4` is undefined. Called
 * when the client comes back — a REQUEST for such an address (which is then NAKed,
 * RFC 2131 4.3.2), a RELEASE or DECLINE of it, or a new lease ACKed in SELECTING (a
 * client in INIT has given up its old address, RFC 2131 4.4.1). Returns the rows as
 * they were; their bindings must go. The freed rows leave at the store's next init.
 */
export async function dropRetired(tx: LeaseTx, client: string, ipv4: number | undefined, now: number): Promise<LeaseRow[]> {
  const out: LeaseRow[] = [];
  for (const r of await tx.byClient(client, [RETIRED_POOL])) {
    if (r.state !== 'bound' || (ipv4 !== undefined && r.ipv4 !== ipv4)) continue;
    await tx.write({ ...r, state: 'free', expiresAt: 0, freedAt: now });
    out.push(r);
  }
  return out;
}
