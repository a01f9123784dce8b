// A data-plane worker (piscina): one long-lived task per (interface, queue). It owns
// one wasm instance and one memory; it loops batch after batch and reads the control
// block only at batch boundaries.

import { ControlBlock, PUBLISH_MS } from './control.js';
import { scenario, stage, batchRunner, type Scenario } from './synthetic.js';
import { runWorker, type RunTask, type RunResult } from './run-worker.js';

export interface BenchTask {
  kind: 'bench';
  worker: number;
  control: SharedArrayBuffer;
  scenario: Scenario;
  seconds: number;
  batch: number;
  seed: number;
}

export interface BenchResult {
  worker: number;
  packets: number;
  seconds: number;
}

const BATCHES_PER_CHECK = 16;

/** `xbr bench`: the core over synthetic traffic, no NIC, until time is up or stop. */
function bench(task: BenchTask): BenchResult {
  const control = new ControlBlock(task.control);
  const t = scenario(task.scenario, 4096, task.batch, task.seed);
  const run = batchRunner(t.engine, stage(t.engine, t.templates));
  const counterView = () => new BigUint64Array(t.engine.memory.buffer, t.engine.core.countersPtr(), t.engine.core.counterCount());
  const start = performance.now();
  const end = start + task.seconds * 1000;
  let nextPublish = start;
  let packets = 0;
  let now = performance.now();
  while (now < end && !control.stopping()) {
    packets += run(BATCHES_PER_CHECK, now);
    now = performance.now();
    if (now >= nextPublish) {
      control.publishCounters(task.worker, counterView());
      nextPublish = now + PUBLISH_MS;
    }
  }
  control.publishCounters(task.worker, counterView());
  return { worker: task.worker, packets, seconds: (now - start) / 1000 };
}

export default function handle(task: BenchTask | RunTask): BenchResult | RunResult {
  switch (task.kind) {
    case 'bench':
      return bench(task);
    case 'run':
      return runWorker(task);
    default:
      throw new Error(`unknown worker task ${(task as { kind: string }).kind}`);
  }
}
