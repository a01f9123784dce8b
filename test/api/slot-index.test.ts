// SlotIndex (the binding table's key index) against a Map under random sets and
// deletes: keys crowded into a few addresses and the extremes of the key range, so
// probe runs collide, wrap around the end of the arrays and are cut by deletions; the
// table grows and shrinks as it fills and empties.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SlotIndex } from '../../src/map/slot-index.js';
import { bindingKey } from '../../src/box/binding-table.js';

const key = fc.oneof(
  fc.record({ a: fc.integer({ min: 0, max: 3 }), psid: fc.integer({ min: 0, max: 40 }) }).map(({ a, psid }) => bindingKey(0x64400000 + a, psid)),
  fc.constantFrom(0, bindingKey(0xffffffff, 0xffff), bindingKey(0, 1), bindingKey(0x80000000, 0)),
);
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, value: fc.integer({ min: 0, max: 1 << 30 }) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
);

describe('SlotIndex', () => {
  it('answers as a Map does under random sets and deletes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const ix = new SlotIndex();
        const model = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            ix.set(o.key, o.value);
            model.set(o.key, o.value);
          } else {
            expect(ix.delete(o.key)).toBe(model.delete(o.key));
          }
          expect(ix.size).toBe(model.size);
        }
        for (const [k, v] of model) expect(ix.get(k)).toBe(v);
        // every key the ops named and the model lacks is absent
        for (const o of ops) if (!model.has(o.key)) expect([ix.get(o.key), ix.has(o.key)]).toEqual([undefined, false]);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps every entry through growth to 100,000 and back to empty', () => {
    const ix = new SlotIndex();
    const k = (i: number) => bindingKey(0x64400000 + (i >>> 4), i & 15);
    for (let i = 0; i < 100_000; i++) ix.set(k(i), i);
    expect(ix.size).toBe(100_000);
    for (let i = 0; i < 100_000; i += 7) expect(ix.get(k(i))).toBe(i);
    // delete the even ones, then check both halves
    for (let i = 0; i < 100_000; i += 2) expect(ix.delete(k(i))).toBe(true);
    for (let i = 0; i < 100_000; i++) expect(ix.get(k(i))).toBe(i % 2 === 0 ? undefined : i);
    for (let i = 1; i < 100_000; i += 2) ix.delete(k(i));
    expect(ix.size).toBe(0);
    expect(ix.get(k(1))).toBeUndefined();
  });
});
