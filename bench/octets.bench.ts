// What a 128-octet array costs to make (the 'file' field of every DHCPv4 message the
// 4o6 server decodes or builds): a plain `new Uint8Array(128)` (V8 gives it a buffer of
// its own outside its heap, past 64 octets) against octets() (src/dhcp/codec/bytes.ts:
// storage from Node's Buffer pool), with 64 octets (kept on V8's heap) for scale.
//
//   npm run build:ts && node dist/bench/octets.bench.js
import { Bench } from 'tinybench';
import { octets } from '../src/dhcp/codec/bytes.js';

const PER_TASK = 1000;

async function main(): Promise<void> {
  const bench = new Bench({ time: 1000, warmupTime: 200 });
  let sink = 0;
  const cases: [string, () => Uint8Array][] = [
    ['new Uint8Array(64)', () => new Uint8Array(64)],
    ['new Uint8Array(128)', () => new Uint8Array(128)],
    ['octets(128)', () => octets(128)],
  ];
  for (const [name, make] of cases) {
    bench.add(name, () => {
      for (let i = 0; i < PER_TASK; i++) sink += make().length;
    });
  }
  process.stderr.write(`running ${cases.length} cases…\n`);
  await bench.run();
  console.table(
    bench.tasks.map((t) => {
      const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
      const ms = r.latency?.mean ?? r.mean ?? NaN;
      return { case: t.name, 'ns per array': ((ms * 1e6) / PER_TASK).toFixed(0) };
    }),
  );
  if (sink < 0) console.log(sink);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
