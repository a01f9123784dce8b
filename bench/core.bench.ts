// The wasm core on one thread, no NIC: Mpps per case, batches of 64. Each task runs
// BATCHES_PER_TASK batches; a batch is staged by the core's benchStage (a memcpy of
// each packet into its frame, standing in for the NIC's DMA, and counted in the
// time), then translated in place. Templates are thousands of distinct packets, so
// look-ups hit random rules/bindings, not one hot entry.
//
//   npm run bench            (node dist/bench/core.bench.js [--quick] [--only TEXT])

import { Bench } from 'tinybench';
import { SCENARIOS, SCENARIO_TITLES, scenario, stage, batchRunner } from '../src/dataplane/synthetic.js';
import { writeResults, machineLine, type ResultRow } from './report.js';

const BATCH = 64;
const BATCHES_PER_TASK = 64;
const TEMPLATES = 4096;

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  const names = SCENARIOS.filter((s) => !only || SCENARIO_TITLES[s].includes(only));
  const bench = new Bench({ time: quick ? 300 : 2000, warmupTime: quick ? 100 : 500 });
  for (const name of names) {
    const t = scenario(name, TEMPLATES, BATCH);
    const run = batchRunner(t.engine, stage(t.engine, t.templates));
    let now = 1;
    bench.add(SCENARIO_TITLES[name], () => {
      run(BATCHES_PER_TASK, now++);
    });
  }
  process.stderr.write(`running ${names.length} cases (${quick ? 'quick' : 'full'})…\n`);
  bench.addEventListener('cycle', (e) => process.stderr.write(`  done: ${(e as unknown as { task: { name: string } }).task.name}\n`));
  await bench.run();
  const rows: ResultRow[] = bench.tasks.map((t) => {
    const r = t.result as unknown as { latency?: { mean: number }; mean?: number };
    const meanMs = r.latency?.mean ?? r.mean ?? NaN;
    const pkts = BATCH * BATCHES_PER_TASK;
    return { case: t.name, mpps: pkts / (meanMs / 1000) / 1e6, nsPerPacket: (meanMs * 1e6) / pkts };
  });
  console.table(rows.map((r) => ({ case: r.case, Mpps: r.mpps.toFixed(2), 'ns/packet': r.nsPerPacket.toFixed(1) })));
  writeResults('core', rows, machineLine());
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
