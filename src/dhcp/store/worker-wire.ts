// How the two hot lease operations (allocate, bind: two per lease) and their results
// cross between the server's thread and the SQLite worker (sqlite-worker.ts,
// sqlite-worker-main.ts): as arrays of plain values, with an IPv6 binding address as
// a string of one character per octet. postMessage's structured clone writes every
// property name of every object and gives every Uint8Array an ArrayBuffer of its own
// on the other side; the same values as flat arrays took well under half the time to
// clone, on both threads. Each pack/unpack pair gives back an equal value (same
// fields, same octets), so leases.ts sees exactly what the caller passed.
import type { AllocationPlan } from '../allocator.js';
import type { AllocateResult, BindResult, Holder } from '../leases.js';
import type { LeaseRow, LeaseState } from './types.js';

/** Octets as a string of char codes 0..255. */
export function packBytes(b: Uint8Array | null): string | null {
  if (b === null) return null;
  // One call for a short array (an IPv6 address: every allocate and bind), not a string per octet.
  if (b.length <= 64) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

export function unpackBytes(s: string | null): Uint8Array | null {
  if (s === null) return null;
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

export type PackedHolder = [client: string, site: string, siteLimit: number, ipv6: string | null, prefixLen: number];

export function packHolder(h: Holder): PackedHolder {
  return [h.client, h.site, h.siteLimit, packBytes(h.ipv6), h.prefixLen];
}

export function unpackHolder(p: PackedHolder): Holder {
  return { client: p[0], site: p[1], siteLimit: p[2], ipv6: unpackBytes(p[3]), prefixLen: p[4] };
}

export type PackedPlan = [eligible: string[], order: string[], requestedIpv4: number | null, requestedPsid: number | null];

export function packPlan(p: AllocationPlan): PackedPlan {
  return [p.eligible, p.order, p.requested?.ipv4 ?? null, p.requested?.psid ?? null];
}

export function unpackPlan(p: PackedPlan): AllocationPlan {
  const plan: AllocationPlan = { eligible: p[0], order: p[1] };
  if (p[2] !== null && p[3] !== null) plan.requested = { ipv4: p[2], psid: p[3] };
  return plan;
}

export type PackedRow = [
  ipv4: number,
  psid: number,
  pool: string,
  psidLen: number,
  psidOffset: number,
  state: LeaseState,
  client: string | null,
  expiresAt: number,
  site: string | null,
  ipv6: string | null,
  prefixLen: number,
  freedAt: number,
];

export function packRow(r: LeaseRow): PackedRow {
  return [r.ipv4, r.psid, r.pool, r.psidLen, r.psidOffset, r.state, r.client, r.expiresAt, r.site, packBytes(r.ipv6), r.prefixLen, r.freedAt];
}

export function unpackRow(p: PackedRow): LeaseRow {
  return {
    ipv4: p[0],
    psid: p[1],
    pool: p[2],
    psidLen: p[3],
    psidOffset: p[4],
    state: p[5],
    client: p[6],
    expiresAt: p[7],
    site: p[8],
    ipv6: unpackBytes(p[9]),
    prefixLen: p[10],
    freedAt: p[11],
  };
}

/** [true, how, row] or [false, why]. */
export type PackedAllocateResult = [true, 'current' | 'previous' | 'requested' | 'new', PackedRow] | [false, 'site-limit' | 'exhausted'];

export function packAllocateResult(r: AllocateResult): PackedAllocateResult {
  return r.ok ? [true, r.how, packRow(r.row)] : [false, r.why];
}

export function unpackAllocateResult(p: PackedAllocateResult): AllocateResult {
  return p[0] ? { ok: true, row: unpackRow(p[2]), how: p[1] } : { ok: false, why: p[1] };
}

/** ['ack', row] or ['nak' | 'silent', why]. */
export type PackedBindResult = ['ack', PackedRow] | ['nak' | 'silent', string];

export function packBindResult(r: BindResult): PackedBindResult {
  return r.kind === 'ack' ? ['ack', packRow(r.row)] : [r.kind, r.why];
}

export function unpackBindResult(p: PackedBindResult): BindResult {
  return p[0] === 'ack' ? { kind: 'ack', row: unpackRow(p[1]) } : { kind: p[0], why: p[1] };
}
