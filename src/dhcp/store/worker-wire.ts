// How the two hot lease operations (allocate, bind: two per lease) and their results
// cross between the server's thread and the SQLite worker (sqlite-worker.ts,
// sqlite-worker-main.ts): as plain values, with an IPv6 binding address as a string
// of one character per octet. postMessage's structured clone writes every property
// name of every object and gives every Uint8Array an ArrayBuffer of its own on the
// other side; the same values as arrays took well under half the time to clone, on
// both threads. And a whole message is one flat array (a frame: the requests of one
// event-loop turn, or the replies of one transaction), one record after another: an
// array per request or per row is a header and a length more to write and read for
// each, and one frame of plain values took about 40% less time to clone both ways
// than the same values nested in an array per request and per row. Each pack/unpack
// pair gives back an equal value (same fields, same octets), so leases.ts sees exactly
// what the caller passed (test/dhcp/worker-wire.test.ts).
import type { AllocationPlan } from '../allocator.js';
import type { AllocateResult, BindResult, Holder, RequestKind as RequestKind_ } from '../leases.js';
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

// ---- Frames: flat arrays of records, each led by its kind and the caller's id.

/** A request frame's records. */
export enum RequestKind {
  /** [kind, id, client, site, siteLimit, ipv6, prefixLen, eligible, order, requestedIpv4, requestedPsid, now, offerUntil] */
  Allocate = 1,
  /** [kind, id, client, site, siteLimit, ipv6, prefixLen, slotIpv4, slotPsid, eligible, requestKind, now, leaseUntil] (slotIpv4 null: no slot) */
  Bind = 2,
  /** [kind, id, op, args]: every other operation. */
  Call = 3,
}

/** A reply frame's records. */
export enum ReplyKind {
  /** [kind, id, how, ...row] */
  Allocated = 1,
  /** [kind, id, why] */
  NotAllocated = 2,
  /** [kind, id, ...row] */
  Acked = 3,
  /** [kind, id, 'nak' | 'silent', why] */
  NotAcked = 4,
  /** [kind, id, value] */
  Value = 5,
  /** [kind, id, error message] */
  Error = 6,
}

export type Frame = unknown[];

export function writeAllocate(f: Frame, id: number, h: Holder, plan: AllocationPlan, now: number, offerUntil: number): void {
  f.push(RequestKind.Allocate, id, h.client, h.site, h.siteLimit, packBytes(h.ipv6), h.prefixLen, plan.eligible, plan.order, plan.requested?.ipv4 ?? null, plan.requested?.psid ?? null, now, offerUntil);
}

export function writeBind(
  f: Frame,
  id: number,
  h: Holder,
  slot: { ipv4: number; psid: number | null } | undefined,
  eligible: readonly string[],
  kind: RequestKind_,
  now: number,
  leaseUntil: number,
): void {
  f.push(RequestKind.Bind, id, h.client, h.site, h.siteLimit, packBytes(h.ipv6), h.prefixLen, slot?.ipv4 ?? null, slot?.psid ?? null, eligible, kind, now, leaseUntil);
}

export function writeCall(f: Frame, id: number, op: string, args: unknown[]): void {
  f.push(RequestKind.Call, id, op, args);
}

/** A request as the worker runs it: allocate's and bind's arguments as leases.ts takes them. */
export type Request =
  | { id: number; op: 'allocate'; args: [Holder, AllocationPlan, number, number] }
  | { id: number; op: 'bind'; args: [Holder, { ipv4: number; psid: number | null } | undefined, string[], RequestKind_, number, number] }
  | { id: number; op: string; args: unknown[] };

const holderAt = (f: Frame, i: number): Holder => ({
  client: f[i] as string,
  site: f[i + 1] as string,
  siteLimit: f[i + 2] as number,
  ipv6: unpackBytes(f[i + 3] as string | null),
  prefixLen: f[i + 4] as number,
});

export function readRequests(f: Frame): Request[] {
  const out: Request[] = [];
  let i = 0;
  while (i < f.length) {
    const id = f[i + 1] as number;
    switch (f[i] as RequestKind) {
      case RequestKind.Allocate: {
        const plan: AllocationPlan = { eligible: f[i + 7] as string[], order: f[i + 8] as string[] };
        if (f[i + 9] !== null && f[i + 10] !== null) plan.requested = { ipv4: f[i + 9] as number, psid: f[i + 10] as number };
        out.push({ id, op: 'allocate', args: [holderAt(f, i + 2), plan, f[i + 11] as number, f[i + 12] as number] });
        i += 13;
        break;
      }
      case RequestKind.Bind: {
        const slot = f[i + 7] === null ? undefined : { ipv4: f[i + 7] as number, psid: f[i + 8] as number | null };
        out.push({ id, op: 'bind', args: [holderAt(f, i + 2), slot, f[i + 9] as string[], f[i + 10] as RequestKind_, f[i + 11] as number, f[i + 12] as number] });
        i += 13;
        break;
      }
      case RequestKind.Call:
        out.push({ id, op: f[i + 2] as string, args: f[i + 3] as unknown[] });
        i += 4;
        break;
      default:
        throw new Error(`lease store worker: bad request frame at ${i}`);
    }
  }
  return out;
}

function pushRow(f: Frame, r: LeaseRow): void {
  f.push(r.ipv4, r.psid, r.pool, r.psidLen, r.psidOffset, r.state, r.client, r.expiresAt, r.site, packBytes(r.ipv6), r.prefixLen, r.freedAt);
}

function rowAt(f: Frame, i: number): LeaseRow {
  return {
    ipv4: f[i] as number,
    psid: f[i + 1] as number,
    pool: f[i + 2] as string,
    psidLen: f[i + 3] as number,
    psidOffset: f[i + 4] as number,
    state: f[i + 5] as LeaseState,
    client: f[i + 6] as string | null,
    expiresAt: f[i + 7] as number,
    site: f[i + 8] as string | null,
    ipv6: unpackBytes(f[i + 9] as string | null),
    prefixLen: f[i + 10] as number,
    freedAt: f[i + 11] as number,
  };
}

export function writeAllocateResult(f: Frame, id: number, r: AllocateResult): void {
  if (r.ok) {
    f.push(ReplyKind.Allocated, id, r.how);
    pushRow(f, r.row);
  } else f.push(ReplyKind.NotAllocated, id, r.why);
}

export function writeBindResult(f: Frame, id: number, r: BindResult): void {
  if (r.kind === 'ack') {
    f.push(ReplyKind.Acked, id);
    pushRow(f, r.row);
  } else f.push(ReplyKind.NotAcked, id, r.kind, r.why);
}

export function writeValue(f: Frame, id: number, value: unknown): void {
  f.push(ReplyKind.Value, id, value);
}

export function writeError(f: Frame, id: number, message: string): void {
  f.push(ReplyKind.Error, id, message);
}

/** Calls `each` for every reply of a frame, in order: its id, and its value or its error. */
export function readReplies(f: Frame, each: (id: number, ok: boolean, value: unknown) => void): number {
  let n = 0;
  let i = 0;
  while (i < f.length) {
    const id = f[i + 1] as number;
    n++;
    switch (f[i] as ReplyKind) {
      case ReplyKind.Allocated:
        each(id, true, { ok: true, row: rowAt(f, i + 3), how: f[i + 2] } as AllocateResult);
        i += 15;
        break;
      case ReplyKind.NotAllocated:
        each(id, true, { ok: false, why: f[i + 2] } as AllocateResult);
        i += 3;
        break;
      case ReplyKind.Acked:
        each(id, true, { kind: 'ack', row: rowAt(f, i + 2) } as BindResult);
        i += 14;
        break;
      case ReplyKind.NotAcked:
        each(id, true, { kind: f[i + 2], why: f[i + 3] } as BindResult);
        i += 4;
        break;
      case ReplyKind.Value:
        each(id, true, f[i + 2]);
        i += 3;
        break;
      case ReplyKind.Error:
        each(id, false, f[i + 2]);
        i += 3;
        break;
      default:
        throw new Error(`lease store worker: bad reply frame at ${i}`);
    }
  }
  return n;
}
