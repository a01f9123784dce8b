// A latency histogram a producer records into (the 4o6 server times each lease-store
// transaction) and the metrics registry reads at scrape time: fixed buckets, counts
// since start, no allocation per observation. Its snapshot is the BoxSource's
// HistogramSnapshot, so the box can hand it over without knowing prom-client.
import type { HistogramSnapshot } from '../box/types.js';

/** 100 µs .. 2.5 s: a local SQLite commit to a remote PostgreSQL under load. */
export const STORE_LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class LatencyHistogram {
  private readonly bounds: number[];
  /** Non-cumulative: counts[i] observations fell in (bounds[i-1], bounds[i]]. */
  private readonly counts: Float64Array;
  private count = 0;
  private sum = 0;

  constructor(bounds: readonly number[] = STORE_LATENCY_BUCKETS) {
    if (bounds.length === 0 || bounds.some((b, i) => !(b > 0) || (i > 0 && b <= bounds[i - 1]))) {
      throw new RangeError('histogram bounds must be positive and strictly increasing');
    }
    this.bounds = [...bounds];
    this.counts = new Float64Array(bounds.length);
  }

  /** Records one observation, in seconds. */
  observe(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) return;
    this.count++;
    this.sum += seconds;
    // a handful of buckets: a linear scan beats a binary search
    for (let i = 0; i < this.bounds.length; i++) {
      if (seconds <= this.bounds[i]) {
        this.counts[i]++;
        return;
      }
    }
  }

  /** Times `fn` (resolved or rejected) and records it. */
  async time<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    }
  }

  snapshot(): HistogramSnapshot {
    const counts: number[] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i];
      counts.push(acc);
    }
    return { bounds: [...this.bounds], counts, count: this.count, sum: this.sum };
  }
}
