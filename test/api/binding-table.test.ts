// The control plane's binding table against a model (a Map): puts, replaces and removes
// in any order keep the key index, the per-address parameters and the sorted order right.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingTable, bindingKey } from '../../src/box/binding-table.js';
import { listBindings } from '../../src/box/bindings.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('put' as const), a: fc.integer({ min: 0, max: 7 }), psid: fc.integer({ min: 0, max: 5 }), tag: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('remove' as const), a: fc.integer({ min: 0, max: 7 }), psid: fc.integer({ min: 0, max: 5 }) }),
);

describe('BindingTable', () => {
  it('matches a Map model under random puts and removes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const t = new BindingTable();
        const model = new Map<number, number>();
        for (const o of ops) {
          const ipv4 = 0xc6336400 + o.a;
          if (o.kind === 'put') {
            const ipv6 = new Uint8Array(16);
            ipv6[0] = o.tag;
            const how = t.put({ ipv4, psid: o.psid, psidLen: 3, psidOffset: 6, prefixLen: 64, ipv6 });
            expect(how).toBe(model.has(bindingKey(ipv4, o.psid)) ? 'replaced' : 'added');
            model.set(bindingKey(ipv4, o.psid), o.tag);
          } else {
            expect(t.remove(ipv4, o.psid) !== undefined).toBe(model.delete(bindingKey(ipv4, o.psid)));
          }
          expect(t.size).toBe(model.size);
        }
        const keys = [...model.keys()].sort((x, y) => x - y);
        expect([...t.sorted()].map((s) => t.keyAt(s))).toEqual(keys);
        for (const k of keys) {
          const b = t.get(Math.floor(k / 65536), k % 65536)!;
          expect(b.ipv6[0]).toBe(model.get(k));
        }
        for (let a = 0; a < 8; a++) {
          const n = keys.filter((k) => Math.floor(k / 65536) === 0xc6336400 + a).length;
          expect(t.params(0xc6336400 + a)?.count ?? 0).toBe(n);
        }
        // paging over the table sees every key once, in order
        const seen: string[] = [];
        for (let off = 0; off < model.size; off += 7) {
          seen.push(...listBindings({ statics: t, leases: new BindingTable() }, {}, off, 7).items.map((v) => `${v.ipv4}/${v.psid}`));
        }
        expect(seen).toHaveLength(model.size);
        expect(new Set(seen).size).toBe(model.size);
      }),
      { numRuns: 200 },
    );
  });

  it('lists a key held by both tables once, as static', () => {
    const s = new BindingTable();
    const l = new BindingTable();
    const b = { ipv4: 1, psid: 2, psidLen: 2, psidOffset: 6, prefixLen: 128, ipv6: new Uint8Array(16) };
    s.put(b);
    l.put(b);
    l.put({ ...b, psid: 3 });
    const p = listBindings({ statics: s, leases: l }, {}, 0, 10);
    expect(p.total).toBe(2);
    expect(p.items.map((v) => `${v.psid} ${v.source}`)).toEqual(['2 static', '3 lease']);
    expect(listBindings({ statics: s, leases: l }, { ipv4: '0.0.0.1' }, 0, 10).total).toBe(2);
    expect(listBindings({ statics: s, leases: l }, { source: 'lease' }, 0, 10).total).toBe(2);
  });
});
