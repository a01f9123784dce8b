// `xbr run --config F [--stats FILE]`: the Border Relay in the foreground — the
// AF_XDP data plane (one worker per queue) on the configured interfaces. SIGINT /
// SIGTERM stop it cleanly (sockets closed, XDP program detached) and, with --stats,
// write the summed counters as JSON (the core's, worker_restarts, and the AF_XDP
// sockets' statistics as xsk4_* / xsk6_*); SIGHUP reloads the config: a bad one is refused
// with its reason and the running one stays.
//
// Test hook: with XBR_DEBUG_HOOKS=1 in the environment, SIGUSR2 makes a worker thread
// exit abruptly (the n-th signal: worker n mod workers), as a crash would; the
// runtime restarts it (runtime.ts). Without the variable SIGUSR2 is not handled.

import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { XbrConfig } from '../config/schema.js';
import { collectBindings } from '../core/bindings.js';
import { coreCounterNames } from '../core/engine.js';
import { Dataplane, DataplaneError } from '../dataplane/runtime.js';
import type { SocketMode } from '../dataplane/xsk.js';
import { stdio, type CommandIO } from './io.js';

export interface RunOptions {
  config: string;
  mode: SocketMode;
  batch: number;
  cpus?: number[];
  /** Frames kept on each socket's fill ring. */
  fill?: number;
  /** Write the summed counters as JSON here on stop. */
  stats?: string;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

export async function runAction(opts: RunOptions, io: CommandIO = stdio): Promise<number> {
  let config: XbrConfig;
  try {
    config = loadConfig(opts.config);
  } catch (e) {
    io.err(`xbr run: ${firstLine(e)}`);
    return 2;
  }
  let dp: Dataplane;
  try {
    const bindings = collectBindings(config, opts.config);
    dp = await Dataplane.start(config, bindings, {
      mode: opts.mode,
      batch: opts.batch,
      cpus: opts.cpus,
      fill: opts.fill,
      onEvent: (event, detail) => io.err(`xbr run: ${event} ${JSON.stringify(detail)}`),
    });
  } catch (e) {
    io.err(`xbr run: ${firstLine(e)}`);
    return e instanceof DataplaneError ? 2 : 1;
  }
  const dpc = config.dataplane!;
  io.out(`xbr run: ${config.mode} on ${dpc['ipv4-interface']} (IPv4) / ${dpc['ipv6-interface']} (IPv6), ${dp.workers} worker(s), AF_XDP ${opts.mode} mode requested`);
  const names = coreCounterNames();
  return await new Promise<number>((resolve) => {
    let reloading = false;
    const onHup = async () => {
      if (reloading) return;
      reloading = true;
      try {
        const next = loadConfig(opts.config);
        await dp.reload(next, collectBindings(next, opts.config));
        io.out(`xbr run: reloaded ${opts.config} (rules generation ${dp.control.rulesGeneration()})`);
      } catch (e) {
        io.err(`xbr run: reload refused, the running config stays: ${firstLine(e)}`);
      } finally {
        reloading = false;
      }
    };
    let debugKills = 0;
    const onUsr2 = () => {
      const w = debugKills++ % dp.workers;
      dp.control.requestDebugExit(w);
      io.err(`xbr run: debug: worker ${w} asked to exit`);
    };
    const debugHooks = process.env.XBR_DEBUG_HOOKS === '1';
    const onStop = async (sig: string) => {
      process.off('SIGHUP', onHup);
      if (debugHooks) process.off('SIGUSR2', onUsr2);
      await dp.stop();
      // after stop: the workers published their final counters
      const { total } = dp.counters(names);
      let code = 0;
      if (opts.stats) {
        try {
          writeFileSync(opts.stats, `${JSON.stringify({ ...total, worker_restarts: dp.restarts, ...dp.xskStats }, null, 1)}\n`);
        } catch (e) {
          io.err(`xbr run: cannot write --stats ${opts.stats}: ${firstLine(e)}`);
          code = 1;
        }
      }
      io.out(`xbr run: ${sig}: stopped; rx ${total.rx4_packets + total.rx6_packets}, tx ${total.tx4_packets + total.tx6_packets} packets, ${dp.restarts} worker restart(s)`);
      resolve(code);
    };
    process.on('SIGHUP', onHup);
    if (debugHooks) process.on('SIGUSR2', onUsr2);
    process.once('SIGINT', () => void onStop('SIGINT'));
    process.once('SIGTERM', () => void onStop('SIGTERM'));
  });
}

export function register(program: Command): void {
  program
    .command('run')
    .description('run the Border Relay in the foreground (AF_XDP data plane on the configured interfaces)')
    .requiredOption('--config <file>', 'xbr.yaml')
    .option('--mode <mode>', 'AF_XDP bind mode: copy, zerocopy or auto', 'auto')
    .option('--batch <n>', 'packets per batch (1..256)', (v) => Number.parseInt(v, 10), 64)
    .option('--cpus <list>', 'pin workers to these CPUs (comma-separated)', (v) => v.split(',').map((x) => Number.parseInt(x, 10)))
    .option('--fill <n>', 'frames kept on each AF_XDP fill ring (batch..2048)', (v) => Number.parseInt(v, 10))
    .option('--stats <file>', 'on stop, write the summed counters as JSON')
    .action(async (o: { config: string; mode: string; batch: number; cpus?: number[]; fill?: number; stats?: string }) => {
      if (!['copy', 'zerocopy', 'auto'].includes(o.mode)) {
        stdio.err('xbr run: --mode must be copy, zerocopy or auto');
        process.exit(2);
      }
      if (o.fill !== undefined && !(Number.isInteger(o.fill) && o.fill >= 1 && o.fill <= 2048)) {
        stdio.err('xbr run: --fill must be an integer in 1..2048');
        process.exit(2);
      }
      process.exitCode = await runAction({ config: o.config, mode: o.mode as SocketMode, batch: o.batch, cpus: o.cpus, fill: o.fill, stats: o.stats });
    });
}
