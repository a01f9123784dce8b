// `xbr bench --workers N`: the wasm core over synthetic traffic in the worker pool,
// no NIC — the in-memory figure the line-rate (AF_XDP) figure is compared with.
// Progress while it runs; Mpps per worker and in total at the end.

import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createPool } from '../dataplane/pool.js';
import { ControlBlock } from '../dataplane/control.js';
import { SCENARIOS, SCENARIO_TITLES, type Scenario } from '../dataplane/synthetic.js';
import type { BenchResult, BenchTask } from '../dataplane/worker.js';
import { stdio, type CommandIO } from './io.js';

export interface BenchOptions {
  workers: number;
  seconds: number;
  scenario: Scenario;
  batch: number;
}

export interface BenchSummary {
  scenario: Scenario;
  rows: { worker: number; packets: number; seconds: number; mpps: number }[];
  totalMpps: number;
}

/** tx packet counters of the published snapshots (index of tx4_packets / tx6_packets). */
const TX4 = 4;
const TX6 = 6;

export async function benchAction(opts: BenchOptions, io: CommandIO = stdio, stream: NodeJS.WriteStream = process.stderr): Promise<BenchSummary> {
  const control = new ControlBlock(opts.workers);
  const pool = createPool(opts.workers);
  const tty = Boolean(stream.isTTY);
  const bar = tty ? new cliProgress.SingleBar({ format: 'bench [{bar}] {value}/{total} s | {mpps} Mpps', stream }, cliProgress.Presets.shades_classic) : null;
  bar?.start(opts.seconds, 0, { mpps: '0.00' });
  const started = Date.now();
  let lastPackets = 0;
  let lastAt = started;
  let lastLine = started;
  const timer = setInterval(() => {
    let packets = 0;
    for (let w = 0; w < opts.workers; w++) {
      const c = control.counters(w);
      packets += c[TX4] + c[TX6];
    }
    const now = Date.now();
    const mpps = ((packets - lastPackets) / ((now - lastAt) / 1000) / 1e6).toFixed(2);
    lastPackets = packets;
    lastAt = now;
    const elapsed = Math.min(opts.seconds, Math.round((now - started) / 1000));
    if (bar) bar.update(elapsed, { mpps });
    else if (now - lastLine >= 2000) {
      io.err(`bench: ${elapsed}/${opts.seconds} s, ${mpps} Mpps`);
      lastLine = now;
    }
  }, 500);
  try {
    const tasks: Promise<BenchResult>[] = [];
    for (let w = 0; w < opts.workers; w++) {
      const task: BenchTask = { kind: 'bench', worker: w, control: control.sab, scenario: opts.scenario, seconds: opts.seconds, batch: opts.batch, seed: w + 1 };
      tasks.push(pool.run(task));
    }
    const results = await Promise.all(tasks);
    const rows = results.map((r) => ({ ...r, mpps: r.packets / r.seconds / 1e6 }));
    const totalMpps = rows.reduce((s, r) => s + r.mpps, 0);
    return { scenario: opts.scenario, rows, totalMpps };
  } finally {
    clearInterval(timer);
    bar?.stop();
    await pool.destroy();
  }
}

export function printSummary(s: BenchSummary, io: CommandIO = stdio): void {
  io.out(`scenario: ${SCENARIO_TITLES[s.scenario]} (in memory, no NIC)`);
  const lines = [['worker', 'packets', 'seconds', 'Mpps'], ...s.rows.map((r) => [String(r.worker), String(r.packets), r.seconds.toFixed(2), r.mpps.toFixed(2)]), ['total', String(s.rows.reduce((a, r) => a + r.packets, 0)), '', s.totalMpps.toFixed(2)]];
  const w = lines[0].map((_, i) => Math.max(...lines.map((l) => l[i].length)));
  for (const l of lines) io.out(l.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  '));
}

export function register(program: Command): void {
  program
    .command('bench')
    .description('run the wasm core over synthetic traffic in the worker pool (no NIC) and print Mpps per worker and in total')
    .option('--workers <n>', 'workers (threads)', (v) => Number.parseInt(v, 10), 1)
    .option('--seconds <s>', 'how long to run', (v) => Number.parseFloat(v), 5)
    .option('--batch <n>', 'packets per batch (1..256)', (v) => Number.parseInt(v, 10), 64)
    .option('--scenario <name>', `one of: ${SCENARIOS.join(', ')}`, 'map-t-4to6-udp')
    .action(async (o: { workers: number; seconds: number; batch: number; scenario: string }) => {
      if (!(SCENARIOS as readonly string[]).includes(o.scenario)) {
        stdio.err(`xbr bench: unknown scenario "${o.scenario}" (one of: ${SCENARIOS.join(', ')})`);
        process.exit(2);
      }
      if (!(o.workers >= 1 && o.workers <= 64) || !(o.seconds > 0) || !(o.batch >= 1 && o.batch <= 256)) {
        stdio.err('xbr bench: --workers 1..64, --seconds > 0, --batch 1..256');
        process.exit(2);
      }
      const s = await benchAction({ workers: o.workers, seconds: o.seconds, batch: o.batch, scenario: o.scenario as Scenario });
      printSummary(s);
    });
}
