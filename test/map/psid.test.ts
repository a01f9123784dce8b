import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  allModulusPortSetsSpan,
  allPortSetsSpan,
  countPorts,
  modulusIndexRange,
  modulusPort,
  modulusPortInSet,
  modulusPortSetRanges,
  modulusPsidOfPort,
  modulusToBitLayout,
  portInSet,
  portSetIntersectsReserved,
  portSetRanges,
  portSetSize,
  psidOfPort,
  type PortRange,
} from '../../src/map/psid.js';

describe('RFC 7597 section 5.1 bit layout', () => {
  it('reproduces RFC 7597 / RFC 7599 Appendix A example 1: PSID 0x34, a = 6, k = 8', () => {
    const ranges = portSetRanges(0x34, 6, 8);
    expect(ranges).toHaveLength(63); // "Available ports (63 ranges)"
    expect(ranges.slice(0, 2)).toEqual([
      [1232, 1235],
      [2256, 2259],
    ]);
    expect(ranges.slice(-2)).toEqual([
      [63696, 63699],
      [64720, 64723],
    ]);
    expect(countPorts(ranges)).toBe(portSetSize(6, 8));
    expect(portSetSize(6, 8)).toBe(2 ** 8 - 2 ** 2); // 2^(16-k) - 2^m
  });

  it('finds the PSID of a port (Appendix A example 2: port 1232 → 0x34)', () => {
    expect(psidOfPort(1232, 6, 8)).toBe(0x34);
    expect(psidOfPort(64723, 6, 8)).toBe(0x34);
    expect(psidOfPort(1236, 6, 8)).toBe(0x35);
  });

  it('excludes A = 0 when a > 0 (RFC 7597 5.1 "A MUST be larger than 0")', () => {
    // Port 208 = 0x34 << 2 carries PSID 0x34 in its bits but has A = 0.
    expect(psidOfPort(208, 6, 8)).toBe(0x34);
    expect(portInSet(208, 0x34, 6, 8)).toBe(false);
    expect(portInSet(1232, 0x34, 6, 8)).toBe(true);
    expect(portInSet(1236, 0x34, 6, 8)).toBe(false);
  });

  it('has one contiguous range per PSID when a = 0, and the whole space when k = 0', () => {
    expect(portSetRanges(1, 0, 4)).toEqual([[4096, 8191]]);
    expect(portSetRanges(0, 0, 6)).toEqual([[0, 1023]]);
    expect(portSetRanges(0, 6, 0)).toEqual([[0, 65535]]);
    expect(portInSet(80, 0, 6, 0)).toBe(true);
  });

  it('gives single ports when m = 0', () => {
    const r = portSetRanges(3, 4, 12);
    expect(r).toHaveLength(15);
    expect(r[0]).toEqual([4096 + 3, 4096 + 3]);
  });

  it('rejects impossible layouts and PSIDs', () => {
    expect(() => portSetRanges(0, 16, 0)).toThrow(RangeError);
    expect(() => portSetRanges(0, 6, 11)).toThrow(RangeError);
    expect(() => portSetRanges(256, 6, 8)).toThrow(RangeError);
    expect(() => psidOfPort(65536, 6, 8)).toThrow(RangeError);
  });

  it('partitions the ports with A > 0 among the PSIDs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 15 }).chain((a) => fc.tuple(fc.constant(a), fc.integer({ min: 1, max: 16 - a }))),
        fc.integer({ min: 0, max: 65535 }),
        ([a, k], port) => {
          const psid = psidOfPort(port, a, k);
          const excluded = a > 0 && port < 2 ** (16 - a);
          expect(portInSet(port, psid, a, k)).toBe(!excluded);
          // the port is in the ranges of its PSID iff it is not excluded
          const inRanges = portSetRanges(psid, a, k).some(([lo, hi]) => port >= lo && port <= hi);
          expect(inRanges).toBe(!excluded);
        },
      ),
    );
  });

  it('allPortSetsSpan is exactly the union of all port sets', () => {
    for (const [a, k] of [
      [6, 8],
      [0, 6],
      [4, 4],
      [10, 6],
      [1, 1],
    ]) {
      const seen = new Set<number>();
      for (let psid = 0; psid < 2 ** k; psid++) for (const [lo, hi] of portSetRanges(psid, a, k)) for (let p = lo; p <= hi; p++) seen.add(p);
      const [lo, hi] = allPortSetsSpan(a, k);
      expect(seen.size).toBe(hi - lo + 1);
      expect(seen.has(lo) && seen.has(hi) && !seen.has(lo - 1)).toBe(true);
    }
  });
});

describe('dIVI-pd generalized modulus form (draft section 4.1)', () => {
  it('P = R*M*j + M*K + i and K = floor(P/M) % R are inverse', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 100 }), fc.nat(), fc.nat(), fc.nat(), (R, M, jr, kr, ir) => {
        fc.pre(R * M <= 32768);
        const j = jr % Math.floor(65536 / (R * M));
        const K = kr % R;
        const i = ir % M;
        const P = modulusPort(K, j, i, R, M);
        expect(P).toBeLessThan(65536);
        expect(modulusPsidOfPort(P, R, M)).toBe(K);
      }),
    );
  });

  it("excludes the well-known ports through j's lower bound (1024/M)/R", () => {
    // R*M = 1024 divides 1024: jMin = 1, the first range starts at 1024 + M*K.
    expect(modulusIndexRange(64, 16)).toEqual({ jMin: 1, jMax: 63 });
    expect(modulusPortSetRanges(5, 64, 16)[0]).toEqual([1024 + 80, 1024 + 95]);
    // R = 3, M = 4: 1024/12 is not whole; rounding up keeps 1020-1023 out of K = 0.
    expect(modulusIndexRange(3, 4).jMin).toBe(86);
    expect(modulusPortSetRanges(0, 3, 4)[0]).toEqual([1032, 1035]);
    for (let K = 0; K < 3; K++) expect(modulusPortSetRanges(K, 3, 4).every(([lo]) => lo >= 1024)).toBe(true);
    // without the exclusion j starts at 0
    expect(modulusPortSetRanges(0, 3, 4, false)[0]).toEqual([0, 3]);
  });

  it('partitions the covered ports among K = 0..R-1 for R, M not powers of two', () => {
    const R = 3;
    const M = 5;
    const owner = new Map<number, number>();
    const bad: string[] = [];
    for (let K = 0; K < R; K++) {
      for (const [lo, hi] of modulusPortSetRanges(K, R, M)) {
        for (let p = lo; p <= hi; p++) {
          if (owner.has(p)) bad.push(`${p} in two sets`);
          owner.set(p, K);
          if (!modulusPortInSet(p, K, R, M) || modulusPsidOfPort(p, R, M) !== K) bad.push(`${p} not K=${K}'s`);
        }
      }
    }
    expect(bad).toEqual([]);
    const span = allModulusPortSetsSpan(R, M)!;
    expect(owner.size).toBe(span[1] - span[0] + 1);
    expect(modulusPortInSet(1000, modulusPsidOfPort(1000, R, M), R, M)).toBe(false);
  });

  it('modulusToBitLayout: k = log2 R, a = 16 - k - log2 M for powers of two, else null', () => {
    expect(modulusToBitLayout(256, 4)).toEqual({ a: 6, k: 8 });
    expect(modulusToBitLayout(64, 16)).toEqual({ a: 6, k: 6 });
    expect(modulusToBitLayout(1, 1024)).toEqual({ a: 6, k: 0 });
    expect(modulusToBitLayout(3, 4)).toBeNull();
    expect(modulusToBitLayout(256, 6)).toBeNull();
    expect(modulusToBitLayout(1, 1)).toBeNull(); // a would be 16
  });

  it('coincides with the bit layout for powers of two with 1 <= a <= 6: same PSID for every port, same port sets', () => {
    for (let k = 1; k <= 15; k++) {
      for (let m = 0; m + k <= 15; m++) {
        const a = 16 - k - m;
        if (a > 6) continue;
        const R = 2 ** k;
        const M = 2 ** m;
        expect(modulusToBitLayout(R, M)).toEqual({ a, k });
        for (const K of [0, 1, R >> 1, R - 1]) {
          expect(modulusPortSetRanges(K, R, M)).toEqual(portSetRanges(K, a, k));
        }
        for (let p = 0; p < 65536; p += 997) expect(modulusPsidOfPort(p, R, M)).toBe(psidOfPort(p, a, k));
      }
    }
  });

  it('differs (documented) where the exclusions differ: a > 6 and a = 0', () => {
    // a = 8 (R = 16, M = 16): the bit layout only excludes A = 0 (ports 0-255), the
    // draft excludes 0-1023, so the bit layout has 3 more ranges per PSID.
    const bit = portSetRanges(2, 8, 4);
    const mod = modulusPortSetRanges(2, 16, 16);
    expect(bit[0]).toEqual([256 + 32, 256 + 47]);
    expect(mod[0]).toEqual([1024 + 32, 1024 + 47]);
    expect(bit.length - mod.length).toBe(3);
    expect(bit.slice(3)).toEqual(mod);
    // PSIDs still agree for every port.
    for (let p = 0; p < 65536; p += 101) expect(modulusPsidOfPort(p, 16, 16)).toBe(psidOfPort(p, 8, 4));
    // a = 0 (R*M = 65536): one range per PSID in the bit layout, none in the draft's j range.
    expect(portSetRanges(1, 0, 8)).toEqual([[256, 511]]);
    expect(modulusPortSetRanges(1, 256, 256)).toEqual([]);
  });
});

describe('reserved ports (RFC 7618 section 8)', () => {
  const reserved: PortRange = [0, 1023];
  it('detects a port set reaching into the reserved range', () => {
    expect(portSetIntersectsReserved(portSetRanges(0, 0, 6), reserved)).toBe(true);
    expect(portSetIntersectsReserved(portSetRanges(1, 0, 6), reserved)).toBe(false);
    expect(portSetIntersectsReserved(portSetRanges(0, 6, 6), reserved)).toBe(false);
    expect(portSetIntersectsReserved(portSetRanges(0, 7, 6), reserved)).toBe(true); // A=1 is 512..
    expect(portSetIntersectsReserved(portSetRanges(0, 0, 6), null)).toBe(false);
    expect(portSetIntersectsReserved([[1024, 2000]], [2000, 2000])).toBe(true);
  });
});
