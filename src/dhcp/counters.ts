// Named counters of the 4o6 server: every dropped message is counted under a reason
// (DESIGN.md: "a malformed packet is dropped and counted under a named reason").
export class Counters {
  private readonly m = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.m.set(name, (this.m.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.m.get(name) ?? 0;
  }

  /** Every counter, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** The sum of the counters whose name starts with `prefix`. */
  sum(prefix: string): number {
    let n = 0;
    for (const [k, v] of this.m) if (k.startsWith(prefix)) n += v;
    return n;
  }
}
