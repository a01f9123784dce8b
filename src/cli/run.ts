// `xbr run --config F [--stats FILE]`: the Border Relay in the foreground — the
// AF_XDP data plane (one worker per queue) on the configured interfaces, the 4o6
// server when the config has a dhcp4o6 section (its restored leases are bindings
// before the first packet is served), and the HTTP API with /metrics. SIGINT /
// SIGTERM stop it cleanly (sockets closed, XDP program detached) and, with --stats,
// write the summed counters as JSON (the core's, worker_restarts, and the AF_XDP
// sockets' statistics as xsk4_* / xsk6_*); SIGHUP reloads the config: a bad one is refused
// with its reason and the running one stays.
//
// Test hook: with XBR_DEBUG_HOOKS=1 in the environment, SIGUSR2 makes a worker thread
// exit abruptly (the n-th signal: worker n mod workers), as a crash would; the
// runtime restarts it (runtime.ts). Without the variable SIGUSR2 is not handled.

import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import type { XbrConfig } from '../config/schema.js';
import { PackedBindings } from '../config/bindings-file.js';
import { collectBindings } from '../core/bindings.js';
import { coreCounterNames, type BindingSpec } from '../core/engine.js';
import { Dataplane, DataplaneError } from '../dataplane/runtime.js';
import type { SocketMode } from '../dataplane/xsk.js';
import { DataplaneBox } from '../box/dataplane-box.js';
import { DhcpLeaseAdapter, timedLeaseStore } from '../box/dhcp-leases.js';
import { LatencyHistogram } from '../metrics/histogram.js';
import { Dhcp4o6Server } from '../dhcp/server.js';
import { TableBindingSink, type BindingSink } from '../dhcp/bindings.js';
import { openLeaseStore } from '../dhcp/store/open.js';
import { startApi, type RunningApi } from '../api/start.js';
import { createLogger, parseLogLevel, LOG_LEVEL_HELP, type LogLevel, type Logger } from '../log.js';
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
  logLevel?: LogLevel;
  /** Don't serve the HTTP API (api.listen). */
  noApi?: boolean;
}

/**
 * The 4o6 server's binding sink: at start it collects the restored leases (so they
 * are loaded into the workers with the static bindings, before any packet), then it
 * forwards every change to the running box.
 */
class SwitchSink implements BindingSink {
  readonly early = new TableBindingSink();
  target: BindingSink = this.early;
  put(b: BindingSpec): void {
    this.target.put(b);
  }
  remove(ipv4: number, psid: number): void {
    this.target.remove(ipv4, psid);
  }
}

function withLeases(statics: PackedBindings, leases: Iterable<BindingSpec>): PackedBindings {
  const list = [...leases];
  if (list.length === 0) return statics;
  const keys = new Set<number>();
  for (let i = 0; i < statics.count; i++) keys.add(statics.ipv4[i] * 65536 + statics.psid[i]);
  const p = new PackedBindings(statics.count + list.length);
  for (let i = 0; i < statics.count; i++) p.push(statics.get(i));
  // a static binding shadows a lease on the same (IPv4, PSID), as in the box
  for (const b of list) if (!keys.has((b.ipv4 >>> 0) * 65536 + b.psid)) p.push(b);
  return p;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e ?? '')).split('\n')[0];
}

export async function runAction(opts: RunOptions, io: CommandIO = stdio): Promise<number> {
  const log: Logger = createLogger({ level: opts.logLevel ?? 'info' });
  let config: XbrConfig;
  try {
    config = loadConfig(opts.config);
  } catch (e) {
    io.err(`xbr run: ${firstLine(e)}`);
    return 2;
  }
  let dp: Dataplane | undefined;
  let dhcp: Dhcp4o6Server | undefined;
  let api: RunningApi | undefined;
  let box: DataplaneBox;
  const stopAll = async () => {
    await api?.close().catch(() => undefined);
    await dhcp?.stop().catch(() => undefined);
    await dp?.stop();
  };
  try {
    const statics = collectBindings(config, opts.config);
    // 4o6 leases first: every unexpired lease is a binding before traffic is served
    const sink = new SwitchSink();
    const latency = new LatencyHistogram();
    if (config.dhcp4o6) {
      const store = timedLeaseStore(await openLeaseStore(config.dhcp4o6['lease-store'], dirname(opts.config), `xbr-run-${process.pid}`, true), latency);
      dhcp = await Dhcp4o6Server.create({ config, configDir: dirname(opts.config), store, sink, log: (line) => log.info({ event: 'dhcp4o6' }, line) });
    }
    dp = await Dataplane.start(config, withLeases(statics, sink.early.table.values()), {
      mode: opts.mode,
      batch: opts.batch,
      cpus: opts.cpus,
      fill: opts.fill,
      onEvent: (event, detail) => {
        log.warn({ event, ...detail }, `${event}`);
        io.err(`xbr run: ${event} ${JSON.stringify(detail)}`);
      },
    });
    if (dp.housekeeping) log.info({ event: 'cpus', workers: opts.cpus, others: dp.housekeeping }, `workers on CPUs ${opts.cpus!.join(',')}; the other threads on CPUs ${dp.housekeeping.join(',')}`);
    box = DataplaneBox.create(opts.config, config, statics, dp, { logger: log });
    for (const b of sink.early.table.values()) box.leaseSink.put(b);
    sink.target = box.leaseSink;
    if (dhcp) {
      box.attachLeases(new DhcpLeaseAdapter(dhcp, config.dhcp4o6, latency));
      await dhcp.listen();
    }
    if (!opts.noApi) api = await startApi(box, { config, configPath: opts.config, logger: log });
  } catch (e) {
    await stopAll();
    io.err(`xbr run: ${firstLine(e)}`);
    return e instanceof DataplaneError ? 2 : 1;
  }
  const running = dp;
  const dpc = config.dataplane!;
  io.out(`xbr run: ${config.mode} on ${dpc['ipv4-interface']} (IPv4) / ${dpc['ipv6-interface']} (IPv6), ${running.workers} worker(s), AF_XDP ${opts.mode} mode requested`);
  if (api) io.out(`xbr run: API on http://${api.address.host.includes(':') ? `[${api.address.host}]` : api.address.host}:${api.address.port}`);
  if (dhcp) io.out(`xbr run: 4o6 server on ${dhcp.addresses().map((a) => `[${a.address}]:${a.port}`).join(' ')}`);
  const names = coreCounterNames();
  return await new Promise<number>((resolve) => {
    let reloading = false;
    const onHup = async () => {
      if (reloading) return;
      reloading = true;
      try {
        const r = await box.reload();
        if (r.ok) {
          api?.refresh(box.config());
          io.out(`xbr run: reloaded ${opts.config} (config generation ${r.generation})`);
        } else {
          io.err(`xbr run: reload refused, the running config stays: ${firstLine(r.error)}`);
        }
      } finally {
        reloading = false;
      }
    };
    let debugKills = 0;
    const onUsr2 = () => {
      const w = debugKills++ % running.workers;
      running.control.requestDebugExit(w);
      io.err(`xbr run: debug: worker ${w} asked to exit`);
    };
    const debugHooks = process.env.XBR_DEBUG_HOOKS === '1';
    const onStop = async (sig: string) => {
      process.off('SIGHUP', onHup);
      if (debugHooks) process.off('SIGUSR2', onUsr2);
      await stopAll();
      // after stop: the workers published their final counters
      const { total } = running.counters(names);
      let code = 0;
      if (opts.stats) {
        try {
          writeFileSync(opts.stats, `${JSON.stringify({ ...total, worker_restarts: running.restarts, ...running.xskStats }, null, 1)}\n`);
        } catch (e) {
          io.err(`xbr run: cannot write --stats ${opts.stats}: ${firstLine(e)}`);
          code = 1;
        }
      }
      log.info({ event: 'stop', signal: sig }, 'stopped');
      io.out(`xbr run: ${sig}: stopped; rx ${total.rx4_packets + total.rx6_packets}, tx ${total.tx4_packets + total.tx6_packets} packets, ${running.restarts} worker restart(s)`);
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
    .option('--fill <n>', 'frames kept on each AF_XDP fill ring (batch..8192)', (v) => Number.parseInt(v, 10))
    .option('--stats <file>', 'on stop, write the summed counters as JSON')
    .option('--log-level <level>', LOG_LEVEL_HELP, parseLogLevel, 'info')
    .option('--no-api', 'do not serve the HTTP API')
    .action(async (o: { config: string; mode: string; batch: number; cpus?: number[]; fill?: number; stats?: string; logLevel: LogLevel; api: boolean }) => {
      if (!['copy', 'zerocopy', 'auto'].includes(o.mode)) {
        stdio.err('xbr run: --mode must be copy, zerocopy or auto');
        process.exit(2);
      }
      if (o.fill !== undefined && !(Number.isInteger(o.fill) && o.fill >= 1 && o.fill <= 8192)) {
        stdio.err('xbr run: --fill must be an integer in 1..8192');
        process.exit(2);
      }
      process.exitCode = await runAction({ config: o.config, mode: o.mode as SocketMode, batch: o.batch, cpus: o.cpus, fill: o.fill, stats: o.stats, logLevel: o.logLevel, noApi: !o.api });
    });
}
