// `xbr run --config F`: the Border Relay in the foreground — the AF_XDP data plane
// (one worker per queue) on the configured interfaces. SIGINT / SIGTERM stop it
// cleanly (sockets closed, XDP program detached); SIGHUP reloads the config: a bad
// one is refused with its reason and the running one stays.

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
    const onStop = async (sig: string) => {
      process.off('SIGHUP', onHup);
      const { total } = dp.counters(names);
      await dp.stop();
      io.out(`xbr run: ${sig}: stopped; rx ${total.rx4_packets + total.rx6_packets}, tx ${total.tx4_packets + total.tx6_packets} packets`);
      resolve(0);
    };
    process.on('SIGHUP', onHup);
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
    .action(async (o: { config: string; mode: string; batch: number; cpus?: number[] }) => {
      if (!['copy', 'zerocopy', 'auto'].includes(o.mode)) {
        stdio.err('xbr run: --mode must be copy, zerocopy or auto');
        process.exit(2);
      }
      process.exitCode = await runAction({ config: o.config, mode: o.mode as SocketMode, batch: o.batch, cpus: o.cpus });
    });
}
