// The binding table's key index (src/map/slot-index.ts) against the Map it replaced:
// ns per look-up and per insert over 1,000,000 (IPv4, PSID) keys of 16 PSIDs an
// address (keys above 2^31, as every real one is), and the memory each holds after a
// forced GC (needs --expose-gc).
//
//   npm run build:ts && node --expose-gc dist/bench/slot-index.bench.js
import { Bench } from 'tinybench';
import { SlotIndex } from '../src/map/slot-index.js';
import { bindingKey } from '../src/box/binding-table.js';

const N = 1_000_000;
const key = (i: number) => bindingKey(0x64400000 + (i >>> 4), i & 15);

interface IndexLike {
  set(k: number, v: number): unknown;
  get(k: number): number | undefined;
}

const makers: Record<string, () => IndexLike> = { Map: () => new Map<number, number>(), SlotIndex: () => new SlotIndex() };

function filled(make: () => IndexLike): IndexLike {
  const ix = make();
  for (let i = 0; i < N; i++) ix.set(key(i), i);
  return ix;
}

/** Heap and array-buffer bytes a filled index holds. */
function memoryOf(make: () => IndexLike): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return NaN;
  gc();
  const before = process.memoryUsage();
  const ix = filled(make);
  gc();
  const after = process.memoryUsage();
  if (ix.get(key(0)) !== 0) throw new Error('index lost a key');
  return after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
}

async function main(): Promise<void> {
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  let sink = 0;
  for (const [name, make] of Object.entries(makers)) {
    const ix = filled(make);
    let i = 0;
    bench.add(`${name} get`, () => {
      for (let j = 0; j < 1000; j++) sink += ix.get(key((i = (i + 7919) % N)))!;
    });
    bench.add(`${name} set (fill ${N})`, () => {
      filled(make);
    });
  }
  process.stderr.write(`running ${bench.tasks.length} cases…\n`);
  await bench.run();
  const rows = bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
    const ms = r.latency?.mean ?? r.mean ?? NaN;
    const per = t.name.includes(' get') ? 1000 : N;
    return { case: t.name, 'ns per operation': ((ms * 1e6) / per).toFixed(1) };
  });
  console.table(rows);
  console.table(Object.entries(makers).map(([name, make]) => ({ index: name, [`MB for ${N} keys`]: (memoryOf(make) / 1e6).toFixed(1) })));
  if (sink < 0) console.log(sink);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
