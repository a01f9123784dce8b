// The piscina pool: one long-lived worker per (interface, queue), each running one
// task that only ends on stop. piscina replaces a worker that dies; the pool reports
// it and starts the task again.

import { Piscina } from 'piscina';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { packageRoot } from '../core/engine.js';

export function workerFile(): string {
  const file = join(packageRoot(), 'dist', 'src', 'dataplane', 'worker.js');
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\``);
  return file;
}

export function createPool(workers: number): Piscina {
  return new Piscina({
    filename: workerFile(),
    minThreads: workers,
    maxThreads: workers,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    concurrentTasksPerWorker: 1,
    maxQueue: workers,
  });
}
