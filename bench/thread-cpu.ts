// CPU time of every thread of some processes, from /proc/<pid>/task/<tid>/stat
// (proc(5)), so a benchmark can say which thread bounds a server: a thread busy for
// the whole run is a ceiling that more CPUs do not lift (Kea's kea-dhcp4 is one).
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** utime + stime of a stat line, in ms; the fields after "(comm) " start with state (proc(5)). */
function statMs(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** CPU time (user + system, every thread) of the processes, in ms; processes gone count 0. */
export function cpuMsOf(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      ms += statMs(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      /* exited */
    }
  }
  return ms;
}

export interface ThreadCpu {
  /** The thread's name (comm): "node", "kea-dhcp4", "postgres", ... */
  name: string;
  ms: number;
}

/** Every thread of the processes, keyed "pid/tid"; processes or threads gone are left out. */
export function threadCpuOf(pids: readonly number[]): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>();
  for (const pid of pids) {
    let tids: string[];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        out.set(`${pid}/${tid}`, { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms: statMs(stat) });
      } catch {
        /* exited */
      }
    }
  }
  return out;
}

/** CPU each thread used between two snapshots, in ms, busiest first (a thread born in between counts from 0). */
export function threadDeltas(before: Map<string, ThreadCpu>, after: Map<string, ThreadCpu>): { key: string; name: string; ms: number }[] {
  return [...after].map(([key, t]) => ({ key, name: t.name, ms: t.ms - (before.get(key)?.ms ?? 0) })).sort((a, b) => b.ms - a.ms);
}

/** The thread that used the most CPU between two snapshots, and its share of `wallMs` (1 = busy the whole time). */
export function busiestThread(before: Map<string, ThreadCpu>, after: Map<string, ThreadCpu>, wallMs: number): { name: string; share: number } | undefined {
  const best = threadDeltas(before, after)[0];
  return best === undefined || wallMs <= 0 ? undefined : { name: best.name, share: best.ms / wallMs };
}
