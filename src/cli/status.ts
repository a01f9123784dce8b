// `xbr status [--watch]`: the running box through its API — mode, uptime, config
// generation, workers, pools, and the core counters as a table (total and per worker;
// with --watch, refreshed every second with a per-second rate, until Ctrl-C).
import type { Command } from 'commander';
import { apiCall } from '../api/client.js';
import type { BoxStatus, CounterSnapshot, PoolUse } from '../box/types.js';
import { apiOptions, clientOptions, duration, grid, intOption, reportErrors, type ApiCliOptions } from './api-common.js';
import { stdio, type CommandIO } from './io.js';

export interface StatusOptions extends ApiCliOptions {
  watch?: boolean;
  /** Counters that never moved too. */
  all?: boolean;
  json?: boolean;
  /** With --watch: stop after this many refreshes. */
  count?: number;
  /** With --watch: ms between refreshes (default 1000). */
  intervalMs?: number;
}

export interface StatusControl {
  /** Ends --watch (Ctrl-C). */
  signal?: AbortSignal;
  /** Clears the screen before each refresh (a terminal); else refreshes are separated by a blank line. */
  clear?: () => void;
}

interface Frame {
  status: BoxStatus;
  counters: CounterSnapshot;
  pools: PoolUse[];
  at: number;
}

async function fetchFrame(o: StatusOptions): Promise<Frame> {
  const c = clientOptions(o);
  const [status, counters, pools] = await Promise.all([
    apiCall<BoxStatus>(c, 'GET', '/v1/status'),
    apiCall<CounterSnapshot>(c, 'GET', `/v1/counters${o.all ? '' : '?nonzero=true'}`),
    apiCall<{ pools: PoolUse[] }>(c, 'GET', '/v1/pools'),
  ]);
  return { status: status.body, counters: counters.body, pools: pools.body.pools, at: Date.now() };
}

/** The lines of one screen; `prev` (watch) adds a per-second rate column. */
export function renderStatus(f: Frame, prev?: Frame): string[] {
  const s = f.status;
  const out: string[] = [];
  const reload = s.lastReload ? `, last reload ${s.lastReload.ok ? 'ok' : 'REFUSED'} at ${s.lastReload.at}` : '';
  out.push(`xbr ${s.mode}  up ${duration(s.uptimeSeconds)}  config generation ${s.configGeneration}${reload}  (${s.configPath})`);
  const up = s.workers.filter((w) => w.alive).length;
  const ifs = s.interfaces ? `${s.interfaces.ipv4} (IPv4) / ${s.interfaces.ipv6} (IPv6), ${s.bindMode}` : `no data-plane interfaces (${s.bindMode})`;
  out.push(`${ifs}; workers ${up}/${s.workers.length} up, ${s.workerRestarts} restart(s); reloads ${s.reloads.ok} ok, ${s.reloads.failed} refused`);
  if (s.lastReload && !s.lastReload.ok && s.lastReload.error) out.push(`last reload refused: ${s.lastReload.error.split('\n')[0]}`);
  if (f.pools.length > 0) {
    out.push(
      'pools: ' +
        f.pools.map((p) => `${p.pool} ${p.leased}/${p.total}${p.total > 0 ? ` (${((100 * p.leased) / p.total).toFixed(1)}%)` : ''}`).join(', '),
    );
  }
  out.push('');
  const names = Object.keys(f.counters.total);
  if (names.length === 0) {
    out.push('(no counter has moved yet)');
    return out;
  }
  const workers = f.counters.perWorker.length > 1 ? f.counters.perWorker : [];
  const dt = prev ? (f.at - prev.at) / 1000 : 0;
  const headers = ['counter', 'total', ...(prev ? ['/s'] : []), ...workers.map((_, i) => `w${i}`)];
  const rows = names.map((n) => {
    const rate = prev && dt > 0 ? Math.max(0, (f.counters.total[n] - (prev.counters.total[n] ?? 0)) / dt) : 0;
    return [n, String(f.counters.total[n]), ...(prev ? [rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)] : []), ...workers.map((w) => String(w[n] ?? 0))];
  });
  out.push(...grid(headers, rows, headers.map((_, i) => i > 0)));
  return out;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res) => {
    if (signal?.aborted) return res();
    const t = setTimeout(res, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        res();
      },
      { once: true },
    );
  });

export async function statusAction(o: StatusOptions, io: CommandIO = stdio, ctl: StatusControl = {}): Promise<number> {
  if (!o.watch) {
    return reportErrors('status', io, async () => {
      const f = await fetchFrame(o);
      if (o.json) io.out(JSON.stringify({ status: f.status, counters: f.counters, pools: f.pools }, null, 2));
      else renderStatus(f).forEach((l) => io.out(l));
      return 0;
    });
  }
  let prev: Frame | undefined;
  let shown = 0;
  let failed = false;
  while (!ctl.signal?.aborted) {
    let lines: string[];
    try {
      const f = await fetchFrame(o);
      lines = o.json ? [JSON.stringify({ status: f.status, counters: f.counters, pools: f.pools })] : renderStatus(f, prev);
      prev = f;
      failed = false;
    } catch (e) {
      // keep watching: the box may be restarting
      lines = [`xbr status: ${e instanceof Error ? e.message : String(e)} (retrying every second)`];
      failed = true;
    }
    if (ctl.clear) ctl.clear();
    else if (shown > 0 && !o.json) io.out('');
    lines.forEach((l) => (failed ? io.err(l) : io.out(l)));
    shown++;
    if (o.count !== undefined && shown >= o.count) break;
    await sleep(o.intervalMs ?? 1000, ctl.signal);
  }
  return failed ? 1 : 0;
}

export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description('show the running box (through its API): mode, uptime, workers, pools, counters as a table')
    .option('-w, --watch', 'refresh every second (Ctrl-C ends it)')
    .option('-a, --all', 'also counters that are still zero')
    .option('--json', 'JSON instead of the table')
    .option('--count <n>', 'with --watch: stop after n refreshes', intOption('--count', 1, 1e9));
  apiOptions(cmd).action(async (o: StatusOptions) => {
    const ac = new AbortController();
    const onInt = () => ac.abort();
    process.once('SIGINT', onInt);
    try {
      const clear = process.stdout.isTTY && !o.json ? () => void process.stdout.write('\x1b[H\x1b[2J') : undefined;
      process.exitCode = await statusAction(o, stdio, { signal: ac.signal, clear });
    } finally {
      process.off('SIGINT', onInt);
    }
  });
}
