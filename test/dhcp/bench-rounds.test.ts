// The DHCP 4o6 bench's --rounds summary (bench/rounds.ts): each round's ratio is the
// xbr figure over the Kea figure of the same round, and the summary's ratio is the
// median of those, not a ratio of the medians.
import { describe, expect, it } from 'vitest';
import { median, roundsTable } from '../../bench/rounds.js';

describe('bench rounds', () => {
  it('takes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/nothing/);
  });

  it("reports each round's ratio and the median of the ratios", () => {
    const round = (xbr: number, kea: number, pg = 0) => [
      { target: 'xbr-sqlite', leasesPerSecond: xbr, serverCpuUs: 40 },
      { target: 'xbr-postgres', leasesPerSecond: pg },
      { target: 'kea-2.2', leasesPerSecond: kea, serverCpuUs: 90 },
    ];
    // ratios 2.0, 1.5, 1.8: median 1.8; a ratio of the medians (30,000 / 20,000) would say 1.5
    const t = roundsTable([round(40_000, 20_000), round(30_000, 20_000), round(27_000, 15_000)], 5, 10_000).split('\n');
    expect(t[0]).toBe('| round | xbr-sqlite leases/s (CPU per lease) | xbr-postgres leases/s (CPU per lease) | kea-2.2 leases/s (CPU per lease) | xbr-sqlite / Kea | xbr-postgres / Kea |');
    expect(t[2]).toBe('| 1 | 40,000 (40 µs) | 0 (-) | 20,000 (90 µs) | 2.00x | - |');
    expect(t[4]).toBe('| 3 | 27,000 (40 µs) | 0 (-) | 15,000 (90 µs) | 1.80x | - |');
    expect(t[5]).toBe('| median | **30,000** (40 µs) | **0** (-) | **20,000** (90 µs) | **1.80x** | - |');
    expect(t[6]).toBe('(each figure: the median of 5 runs of 10,000 clients; 3 rounds, every target in turn)');
  });
});
