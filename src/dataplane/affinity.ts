// Keeping the workers' CPUs for the workers. A worker pinned to a CPU (`xbr run
// --cpus`) busy-polls its rings; any other thread the scheduler puts on that CPU
// takes it away for a whole time slice. In the lab that was the cause of the
// worker's 1-4 ms gaps (perf sched timehist): V8's platform threads (garbage
// collection and compilation jobs, one pool per process) ran 2-5 ms at a time on the
// worker's CPU. So before the workers start, every thread of the process (the main
// thread, V8's and libuv's) is pinned to the CPUs no worker uses; threads created
// later by the main thread inherit that, and each worker pins itself to its own CPU
// (run-worker.ts). The housekeeping, isolcpus-style, that DPDK and VPP deployments do.
import { existsSync, readdirSync } from 'node:fs';
import { cpus as osCpus } from 'node:os';
import { loadXsk } from './xsk.js';

/** The CPUs (0..online-1) no worker is pinned to; empty when the workers take them all. */
export function housekeepingCpus(workerCpus: readonly number[], online: number): number[] {
  const taken = new Set(workerCpus);
  return Array.from({ length: online }, (_, i) => i).filter((c) => !taken.has(c));
}

/**
 * Pins every thread of this process to `cpus`; returns how many threads were moved.
 * A thread that ended meanwhile is skipped; any other refusal (e.g. a cpuset that
 * excludes those CPUs) is returned as the first error, the rest are still tried.
 */
export function pinProcessThreads(cpus: readonly number[]): number {
  const addon = loadXsk();
  let moved = 0;
  let refused: Error | undefined;
  for (const name of readdirSync('/proc/self/task')) {
    try {
      addon.setAffinity([...cpus], Number(name));
      moved++;
    } catch (e) {
      if (!existsSync(`/proc/self/task/${name}`)) continue; // the thread is gone
      refused ??= e as Error;
    }
  }
  if (refused) throw new Error(`cannot move xbr's other threads to CPUs ${cpus.join(',')}: ${refused.message}`);
  return moved;
}

/**
 * With workers pinned to `workerCpus`: moves the process's other threads to the
 * remaining CPUs. Returns those CPUs, or null when there are none (the workers take
 * every CPU: nothing is moved). Throws (naming the CPUs and the reason) when the
 * kernel refuses the move.
 */
export function reserveWorkerCpus(workerCpus: readonly number[], online = osCpus().length): number[] | null {
  const rest = housekeepingCpus(workerCpus, online);
  if (rest.length === 0) return null;
  pinProcessThreads(rest);
  return rest;
}
