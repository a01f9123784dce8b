// The SQLite worker's frames (store/worker-wire.ts): every request and reply read back
// after a structured clone (what postMessage does) equals what was written.
import { describe, expect, it } from 'vitest';
import type { AllocationPlan } from '../../src/dhcp/allocator.js';
import type { AllocateResult, BindResult, Holder } from '../../src/dhcp/leases.js';
import type { LeaseRow } from '../../src/dhcp/store/types.js';
import { readReplies, readRequests, writeAllocate, writeAllocateResult, writeBind, writeBindResult, writeCall, writeError, writeValue, type Frame } from '../../src/dhcp/store/worker-wire.js';

const v6 = Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0xff, 0x80, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1);
const holders: Holder[] = [
  { client: 'id:ff0000000100030001020000000001', site: 'src 2001:1000:1:0:0:0:0:0/48', siteLimit: 4, ipv6: v6, prefixLen: 128 },
  { client: 'hw:1:020000000002', site: 'link 2001:db8:0:0:0:0:0:1/128', siteLimit: 0, ipv6: null, prefixLen: 0 },
];
const plans: AllocationPlan[] = [
  { eligible: ['shared'], order: ['shared'] },
  { eligible: ['a', 'b'], order: ['b', 'a'], requested: { ipv4: 0x64400001, psid: 0 } },
  { eligible: [], order: [] },
];
const row = (over: Partial<LeaseRow>): LeaseRow => ({
  ipv4: 0x64400003,
  psid: 7,
  pool: 'shared',
  psidLen: 4,
  psidOffset: 6,
  state: 'offered',
  client: 'id:ff01',
  expiresAt: 1_763_790_000_123,
  site: 'src 2001:1000:1:0:0:0:0:0/48',
  ipv6: v6,
  prefixLen: 128,
  freedAt: 0,
  ...over,
});

describe('worker frames', () => {
  it('carry allocate, bind and other requests', () => {
    const f: Frame = [];
    const want: { id: number; op: string; args: unknown[] }[] = [];
    let id = 1;
    for (const h of holders) {
      for (const p of plans) {
        writeAllocate(f, id, h, p, 1000, 61000);
        want.push({ id: id++, op: 'allocate', args: [h, p, 1000, 61000] });
      }
      for (const slot of [undefined, { ipv4: 0x64400002, psid: 3 }, { ipv4: 0x64400002, psid: null }, { ipv4: 0x64400002, psid: 0 }]) {
        writeBind(f, id, h, slot, ['shared', 'full'], 'selecting', 2000, 3602000);
        want.push({ id: id++, op: 'bind', args: [h, slot, ['shared', 'full'], 'selecting', 2000, 3602000] });
      }
    }
    writeCall(f, id, 'release', ['id:ff01', { ipv4: 1, psid: null }, ['shared'], 5]);
    want.push({ id: id++, op: 'release', args: ['id:ff01', { ipv4: 1, psid: null }, ['shared'], 5] });
    writeCall(f, id, 'close', []);
    want.push({ id: id++, op: 'close', args: [] });
    expect(readRequests(structuredClone(f))).toEqual(want);
  });

  it('carry every kind of reply, in order', () => {
    const results: [number, boolean, unknown][] = [
      [1, true, { ok: true, row: row({}), how: 'new' } satisfies AllocateResult],
      [2, true, { ok: true, row: row({ ipv6: null, site: null, client: null, prefixLen: 0, psid: 0, psidLen: 0 }), how: 'current' } satisfies AllocateResult],
      [3, true, { ok: false, why: 'site-limit' } satisfies AllocateResult],
      [4, true, { kind: 'ack', row: row({ state: 'bound', freedAt: 17 }) } satisfies BindResult],
      [5, true, { kind: 'nak', why: 'held-by-another' } satisfies BindResult],
      [6, true, { kind: 'silent', why: 'no-record' } satisfies BindResult],
      [7, true, [row({ state: 'free' })]],
      [8, true, null],
      [9, true, undefined],
      [10, false, 'SQLITE_BUSY: database is locked'],
    ];
    const f: Frame = [];
    for (const [id, ok, v] of results) {
      if (!ok) writeError(f, id, v as string);
      else if (id <= 3) writeAllocateResult(f, id, v as AllocateResult);
      else if (id <= 6) writeBindResult(f, id, v as BindResult);
      else writeValue(f, id, v);
    }
    const got: [number, boolean, unknown][] = [];
    expect(readReplies(structuredClone(f), (id, ok, v) => got.push([id, ok, v]))).toBe(results.length);
    expect(got).toEqual(results);
  });

  it('refuse a frame they did not write', () => {
    expect(() => readRequests([9, 1])).toThrow(/bad request frame/);
    expect(() => readReplies([9, 1], () => {})).toThrow(/bad reply frame/);
  });
});
