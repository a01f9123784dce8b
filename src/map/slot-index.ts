// A map from (IPv4, PSID) slot keys (ipv4 * 65536 + psid, below 2^48) to small
// non-negative integers (a binding's position in box/binding-table.ts's columns; a
// bindings file's keys seen, config/bindings-file.ts), in two typed arrays: open
// addressing, linear probing, deletion by backward shift.
//
// Why not a Map<number, number>: a key above 2^31 is no small integer to V8, so each
// entry keeps a heap number of its own alive as long as its binding lasts, for the
// collector to trace. For a million keys (bench/slot-index.bench.ts): 45 MB for a
// Map against 25 MB here, a look-up in random order ~3x faster (294 against 98 ns),
// an insert ~3x (246 against 87 ns). The 4o6 server's rate did
// not move measurably with it: what cost the server was the object per binding
// (dhcp/bindings.ts TableBindingSink), not this index.

/** Lowest capacity (a power of two). */
const MIN_CAPACITY = 16;

export class SlotIndex {
  /** key + 1 per cell; 0 marks an empty cell (key 0, 0.0.0.0 PSID 0, is a valid key). */
  private keys = new Float64Array(MIN_CAPACITY);
  private values = new Int32Array(MIN_CAPACITY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The cell where `key` is, or the empty cell where it would go. */
  private cell(key: number): number {
    const stored = key + 1;
    let i = hash(key) & this.mask;
    for (;;) {
      const k = this.keys[i];
      if (k === 0 || k === stored) return i;
      i = (i + 1) & this.mask;
    }
  }

  get(key: number): number | undefined {
    const i = this.cell(key);
    return this.keys[i] === 0 ? undefined : this.values[i];
  }

  has(key: number): boolean {
    return this.keys[this.cell(key)] !== 0;
  }

  set(key: number, value: number): void {
    let i = this.cell(key);
    if (this.keys[i] === 0) {
      // Grown at half full: a probe then stays short.
      if ((this.count + 1) * 2 > this.keys.length) {
        this.resize(this.keys.length * 2);
        i = this.cell(key);
      }
      this.keys[i] = key + 1;
      this.count++;
    }
    this.values[i] = value;
  }

  /** Removes `key`; false when it was not there. */
  delete(key: number): boolean {
    let hole = this.cell(key);
    if (this.keys[hole] === 0) return false;
    this.keys[hole] = 0;
    this.count--;
    // Backward shift: every entry of the run after the hole whose home is not between
    // the hole and itself moves into the hole, so no look-up stops at an empty cell
    // before finding its key (no tombstones).
    let i = (hole + 1) & this.mask;
    while (this.keys[i] !== 0) {
      const home = hash(this.keys[i] - 1) & this.mask;
      // distance from home to i, and from home to the hole, along the probe direction
      if (((i - home) & this.mask) >= ((hole - home) & this.mask)) {
        this.keys[hole] = this.keys[i];
        this.values[hole] = this.values[i];
        this.keys[i] = 0;
        hole = i;
      }
      i = (i + 1) & this.mask;
    }
    if (this.keys.length > MIN_CAPACITY && this.count * 8 < this.keys.length) this.resize(this.keys.length / 2);
    return true;
  }

  private resize(capacity: number): void {
    const keys = this.keys;
    const values = this.values;
    this.keys = new Float64Array(capacity);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === 0) continue;
      const i = this.cell(keys[j] - 1);
      this.keys[i] = keys[j];
      this.values[i] = values[j];
    }
  }
}

/** 32 bits of a key below 2^48, mixed (the low bits of an (IPv4, PSID) key alone repeat across addresses). */
function hash(key: number): number {
  const lo = key >>> 0;
  const hi = (key / 4294967296) >>> 0;
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
