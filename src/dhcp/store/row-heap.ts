// A binary min-heap of (key, row index) pairs, ordered by key then row index: the
// ordered queues of the in-memory lease table (lease-table.ts) — free slots by when
// they were freed, offers and leases by when they end. Entries are never updated in
// place: the table pushes a new one when a row changes and skips the ones that no
// longer describe their row when they reach the top (lazy deletion), and rebuilds the
// heap when more than half of it is such dead entries.

export class RowHeap {
  private keys: number[] = [];
  private rows: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  /** The smallest entry's key and row, or -1 as row when empty. */
  topKey(): number {
    return this.keys[0];
  }
  topRow(): number {
    return this.keys.length === 0 ? -1 : this.rows[0];
  }

  push(key: number, row: number): void {
    const k = this.keys;
    const r = this.rows;
    let i = k.length;
    k.push(key);
    r.push(row);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(key, row, k[parent], r[parent])) break;
      k[i] = k[parent];
      r[i] = r[parent];
      i = parent;
    }
    k[i] = key;
    r[i] = row;
  }

  pop(): void {
    const k = this.keys;
    const r = this.rows;
    const lastKey = k.pop()!;
    const lastRow = r.pop()!;
    const n = k.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && less(k[c + 1], r[c + 1], k[c], r[c])) c++;
      if (!less(k[c], r[c], lastKey, lastRow)) break;
      k[i] = k[c];
      r[i] = r[c];
      i = c;
    }
    k[i] = lastKey;
    r[i] = lastRow;
  }

  /** Keeps only the entries `live` accepts (a rebuild, O(n log n)). */
  retain(live: (key: number, row: number) => boolean): void {
    const k = this.keys;
    const r = this.rows;
    this.keys = [];
    this.rows = [];
    for (let i = 0; i < k.length; i++) if (live(k[i], r[i])) this.push(k[i], r[i]);
  }
}

function less(ka: number, ra: number, kb: number, rb: number): boolean {
  return ka < kb || (ka === kb && ra < rb);
}
