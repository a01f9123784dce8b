// The running data plane, main-thread side: checks what the box needs, attaches the
// steering program, resolves next-hop MACs, starts one worker per queue, replaces a
// worker that dies, swaps rules and bindings live, sums counters, and tears it all
// down on stop.

import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import type { Piscina } from 'piscina';
import type { XbrConfig } from '../config/schema.js';
import { PackedBindings } from '../config/bindings-file.js';
import { compileRules, parseMac, type RuntimeMacs } from '../core/blob.js';
import type { BindingSpec } from '../core/engine.js';
import { ControlBlock, COUNTERS_MAX } from './control.js';
import { BindingRing, OP_PUT, OP_REMOVE, OP_TRACE } from './binding-ring.js';
import { TRACE_SLOTS } from '../core/abi.js';
import { createPool } from './pool.js';
import { tryLoadXsk, loadXsk, attachSteering, type XdpProgram, type SocketMode } from './xsk.js';
import { steeringFor } from './steering.js';
import { reserveWorkerCpus } from './affinity.js';
import type { RunResult, RunTask } from './run-worker.js';

export class DataplaneError extends Error {}

const RING_CAPACITY = 65536;

/** The one line that says what the box lacks for the data plane, or null. */
export function missingForDataplane(config: XbrConfig): string | null {
  if (!config.dataplane) return 'the config has no dataplane section (ipv4-interface, ipv6-interface)';
  if (process.platform !== 'linux') return 'AF_XDP needs Linux';
  if (process.getuid?.() !== 0) return 'xbr run needs root (CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF for AF_XDP and XDP)';
  for (const name of new Set([config.dataplane['ipv4-interface'], config.dataplane['ipv6-interface']])) {
    if (!existsSync(`/sys/class/net/${name}`)) return `interface ${name} does not exist`;
  }
  if (tryLoadXsk() === null) return 'the AF_XDP shim is not built or does not load: run scripts/install-deps.sh, then npm run build:native';
  return null;
}

function interfaceMac(name: string): Uint8Array {
  return parseMac(readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim());
}

/**
 * The MAC of a next hop from the kernel's neighbour table (the kernel keeps doing
 * ARP/ND: the XDP program passes them). An unresolved neighbour is prodded with a
 * datagram to the discard port, then looked up again.
 */
export async function resolveNeighbour(addr: string, dev: string, timeoutMs = 3000): Promise<Uint8Array> {
  const v6 = addr.includes(':');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = execFileSync('ip', ['-j', v6 ? '-6' : '-4', 'neigh', 'show', addr, 'dev', dev], { encoding: 'utf8', timeout: 5000 });
    const entries = JSON.parse(out || '[]') as { lladdr?: string; state?: string[] }[];
    const e = entries.find((x) => x.lladdr && !(x.state ?? []).includes('FAILED') && !(x.state ?? []).includes('INCOMPLETE'));
    if (e?.lladdr) return parseMac(e.lladdr);
    if (Date.now() > deadline) throw new DataplaneError(`next hop ${addr} on ${dev} does not resolve (no neighbour entry)`);
    await new Promise<void>((res) => {
      const s = createSocket(v6 ? 'udp6' : 'udp4');
      const target = v6 && addr.toLowerCase().startsWith('fe80') ? `${addr}%${dev}` : addr;
      s.send(Buffer.alloc(1), 9, target, () => {
        s.close();
        setTimeout(res, 200);
      });
    });
  }
}

export async function runtimeMacs(config: XbrConfig): Promise<RuntimeMacs> {
  const dp = config.dataplane!;
  const macs: RuntimeMacs = {
    ipv4Mac: dp['ipv4-mac'] ? parseMac(dp['ipv4-mac']) : interfaceMac(dp['ipv4-interface']),
    ipv6Mac: dp['ipv6-mac'] ? parseMac(dp['ipv6-mac']) : interfaceMac(dp['ipv6-interface']),
  };
  if (dp['ipv4-next-hop-mac']) macs.ipv4NextHopMac = parseMac(dp['ipv4-next-hop-mac']);
  else if (dp['ipv4-next-hop']) macs.ipv4NextHopMac = await resolveNeighbour(dp['ipv4-next-hop'], dp['ipv4-interface']);
  if (dp['ipv6-next-hop-mac']) macs.ipv6NextHopMac = parseMac(dp['ipv6-next-hop-mac']);
  else if (dp['ipv6-next-hop']) macs.ipv6NextHopMac = await resolveNeighbour(dp['ipv6-next-hop'], dp['ipv6-interface']);
  return macs;
}

export interface DataplaneOptions {
  mode?: SocketMode;
  batch?: number;
  /** Pin worker i to CPU cpus[i % cpus.length]. */
  cpus?: number[];
  /** Frames each worker keeps on each socket's fill ring (run-worker.ts DEFAULT_FILL). */
  fill?: number;
  onEvent?: (event: string, detail: Record<string, unknown>) => void;
}

export class Dataplane {
  readonly control: ControlBlock;
  readonly rings: BindingRing[];
  readonly workers: number;
  private pool: Piscina;
  private programs: XdpProgram[] = [];
  private running: Promise<void>[] = [];
  private stopping = false;
  /**
   * Binding changes made at run time (leases, the API, reloads), by (ipv4, psid):
   * a put, or null for a removal. A restarted worker loads the start-time bindings
   * with these applied over them.
   */
  private dynamic = new Map<number, BindingSpec | null>();
  /** Heartbeats last seen, for liveness. */
  private seen: { beat: number; at: number }[];
  /** Per worker: the counters of its dead predecessors (a restarted worker counts from zero). */
  private counterBase: Float64Array[];
  /** Trace counters of dead workers, per worker (TRACE_SLOTS x 4). */
  private traceBase: Float64Array[];
  /** Traced keys -> trace slot, replayed into a restarted worker. */
  private traces = new Map<number, { ipv4: number; psid: number; slot: number }>();
  restarts = 0;
  bindMode = 'unknown';
  /** With --cpus: the CPUs the process's other threads were moved to (affinity.ts); null: not moved. */
  housekeeping: number[] | null = null;
  /** The AF_XDP sockets' statistics each worker returned at stop (summed). */
  xskStats: Record<string, number> = {};

  private constructor(
    private config: XbrConfig,
    private bindings: PackedBindings,
    private opts: DataplaneOptions,
  ) {
    this.workers = config.dataplane!.queues;
    this.control = new ControlBlock(this.workers);
    this.rings = Array.from({ length: this.workers }, () => new BindingRing(RING_CAPACITY));
    this.pool = createPool(this.workers);
    this.counterBase = Array.from({ length: this.workers }, () => new Float64Array(COUNTERS_MAX));
    this.traceBase = Array.from({ length: this.workers }, () => new Float64Array(TRACE_SLOTS * 4));
    this.seen = Array.from({ length: this.workers }, () => ({ beat: 0, at: Date.now() }));
  }

  static async start(config: XbrConfig, bindings: PackedBindings, opts: DataplaneOptions = {}): Promise<Dataplane> {
    const missing = missingForDataplane(config);
    if (missing) throw new DataplaneError(missing);
    const dp = new Dataplane(config, bindings, opts);
    try {
      // before any worker runs: the workers' CPUs are theirs alone (affinity.ts)
      if (opts.cpus?.length) {
        try {
          dp.housekeeping = reserveWorkerCpus(opts.cpus.slice(0, dp.workers));
        } catch (e) {
          // the workers still run pinned; only the rest of the process is not kept away
          opts.onEvent?.('cpus-shared', { error: (e as Error).message });
        }
      }
      await dp.attach();
      dp.control.publishRules(compileRules(config, await runtimeMacs(config)));
      for (let w = 0; w < dp.workers; w++) dp.running.push(dp.keepRunning(w));
      await dp.waitForWorkers(10_000);
    } catch (e) {
      await dp.stop();
      throw e;
    }
    return dp;
  }

  private async attach(): Promise<void> {
    const addon = loadXsk();
    const sets = steeringFor(this.config, this.bindings.ipv4.subarray(0, this.bindings.count));
    const dpc = this.config.dataplane!;
    for (const name of new Set([dpc['ipv4-interface'], dpc['ipv6-interface']])) {
      const prog = attachSteering(name, 'auto');
      this.programs.push(prog);
      addon.setPrefixes4(prog, sets.v4);
      addon.setPrefixes6(prog, sets.v6);
    }
  }

  /** The static bindings plus those pushed at run time (what a (re)started worker loads). */
  private allBindings(): PackedBindings {
    if (this.dynamic.size === 0) return this.bindings;
    const s = this.bindings;
    const p = new PackedBindings(s.count + this.dynamic.size);
    for (let i = 0; i < s.count; i++) if (!this.dynamic.has(s.ipv4[i] * 65536 + s.psid[i])) p.push(s.get(i));
    for (const b of this.dynamic.values()) if (b) p.push(b);
    return p;
  }

  private task(w: number): RunTask {
    const dpc = this.config.dataplane!;
    const b = this.allBindings();
    return {
      kind: 'run',
      worker: w,
      control: this.control.sab,
      ring: this.rings[w].sab,
      queue: w,
      ipv4Interface: dpc['ipv4-interface'],
      ipv6Interface: dpc['ipv6-interface'],
      mode: this.opts.mode ?? 'auto',
      batch: this.opts.batch ?? 64,
      bindingCapacity: this.config['binding-capacity'],
      fragmentSlots: this.config.fragments['table-size'],
      bindings: { count: b.count, ipv4: b.ipv4, psid: b.psid, psidLen: b.psidLen, psidOffset: b.psidOffset, prefixLen: b.prefixLen, ipv6: b.ipv6 },
      traces: [...this.traces.values()],
      cpu: this.opts.cpus?.length ? this.opts.cpus[w % this.opts.cpus.length] : undefined,
      fill: this.opts.fill,
    };
  }

  /** Runs worker w's task; when the worker dies, reports it and starts it again. */
  private async keepRunning(w: number): Promise<void> {
    while (!this.stopping) {
      try {
        const r = (await this.pool.run(this.task(w))) as RunResult;
        this.bindMode = r.bindMode;
        for (const [k, v] of Object.entries(r.xsk ?? {})) this.xskStats[k] = (this.xskStats[k] ?? 0) + v;
        return;
      } catch (e) {
        if (this.stopping) return;
        this.restarts++;
        // keep what the dead worker counted (up to its last publication)
        const last = this.control.counters(w);
        for (let i = 0; i < COUNTERS_MAX; i++) this.counterBase[w][i] += last[i];
        const lastTrace = this.control.traceCounters(w);
        for (let i = 0; i < lastTrace.length; i++) this.traceBase[w][i] += lastTrace[i];
        this.control.clearCounters(w);
        this.opts.onEvent?.('worker-died', { worker: w, error: e instanceof Error ? e.message : String(e) });
        await new Promise((res) => setTimeout(res, 200));
      }
    }
  }

  /** Resolves when every worker has published counters once (its loop is up). */
  async waitForWorkers(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let up = 0;
      for (let w = 0; w < this.workers; w++) if (this.control.heartbeat(w) > 0) up++;
      if (up === this.workers) return;
      await new Promise((res) => setTimeout(res, 20));
    }
    throw new DataplaneError(`workers did not start within ${timeoutMs} ms`);
  }

  /**
   * Queues a binding change made at run time (a lease) to every worker, and keeps
   * it, so that a worker that dies and is restarted loads it again.
   */
  pushBinding(op: typeof OP_PUT | typeof OP_REMOVE, b: BindingSpec): void {
    const k = (b.ipv4 >>> 0) * 65536 + b.psid;
    this.dynamic.set(k, op === OP_PUT ? { ...b, ipv6: Uint8Array.from(b.ipv6) } : null);
    this.pushToRings(op, b);
  }

  /**
   * Traces (ipv4, psid) in trace slot `slot` (1..TRACE_SLOTS) on every worker, or
   * stops (slot 0); kept for restarted workers. The slot's counters start from zero.
   */
  pushTrace(ipv4: number, psid: number, slot: number): void {
    const k = (ipv4 >>> 0) * 65536 + psid;
    const was = this.traces.get(k);
    if (slot === 0) this.traces.delete(k);
    else this.traces.set(k, { ipv4: ipv4 >>> 0, psid, slot });
    const cleared = slot || was?.slot;
    if (cleared) {
      for (const base of this.traceBase) base.fill(0, (cleared - 1) * 4, cleared * 4);
      this.control.clearTrace(cleared);
    }
    this.pushToRings(OP_TRACE, { ipv4, psid, psidLen: 0, psidOffset: 0, prefixLen: slot, ipv6: new Uint8Array(16) });
  }

  /** The trace counters (TRACE_SLOTS x 4) summed over workers, dead ones included. */
  traceCounters(): Float64Array {
    const sum = new Float64Array(TRACE_SLOTS * 4);
    for (let w = 0; w < this.workers; w++) {
      const v = this.control.traceCounters(w);
      for (let i = 0; i < sum.length; i++) sum[i] += v[i] + this.traceBase[w][i];
    }
    return sum;
  }

  private pushToRings(op: typeof OP_PUT | typeof OP_REMOVE | typeof OP_TRACE, b: BindingSpec): void {
    for (const ring of this.rings) {
      const deadline = Date.now() + 1000;
      while (!ring.push(op, b)) {
        if (Date.now() > deadline) throw new DataplaneError('a worker does not drain its binding ring');
      }
    }
  }

  /**
   * Swaps a new rule blob in (a reload driven by the box, which sends the binding
   * changes itself): the new prefixes are steered first, then the workers take the
   * blob at their next batch boundary.
   */
  swapRules(config: XbrConfig, blob: Uint8Array, addresses: Iterable<number>): void {
    this.steer(config, addresses);
    this.control.publishRules(blob);
    this.config = config;
  }

  /** Sets what the XDP programs steer: the config's prefixes and these binding addresses. */
  steer(config: XbrConfig, addresses: Iterable<number>): void {
    const addon = loadXsk();
    const sets = steeringFor(config, addresses);
    for (const prog of this.programs) {
      addon.setPrefixes4(prog, sets.v4);
      addon.setPrefixes6(prog, sets.v6);
    }
  }

  /** A worker is alive when its heartbeat moved in the last 2 s. */
  alive(w: number): boolean {
    const beat = this.control.heartbeat(w);
    const now = Date.now();
    if (beat !== this.seen[w].beat) this.seen[w] = { beat, at: now };
    return now - this.seen[w].at < 2000;
  }

  /** Counters per worker (names from the core) and their sum. */
  counters(names: readonly string[]): { total: Record<string, number>; perWorker: Record<string, number>[] } {
    const perWorker: Record<string, number>[] = [];
    const total: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
    for (let w = 0; w < this.workers; w++) {
      const v = this.control.counters(w);
      for (let i = 0; i < v.length; i++) v[i] += this.counterBase[w][i];
      const row: Record<string, number> = {};
      names.forEach((n, i) => {
        row[n] = v[i];
        total[n] += v[i];
      });
      perWorker.push(row);
    }
    return { total, perWorker };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.control.stop();
    // a worker stuck in a batch gets 5 s; the timer must not outlive the wait (it
    // kept `xbr run` alive 5 s after every stop)
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(this.running), new Promise((res) => (timer = setTimeout(res, 5000)))]);
    clearTimeout(timer);
    await this.pool.destroy();
    const addon = tryLoadXsk();
    for (const prog of this.programs) {
      try {
        addon?.detachProgram(prog);
      } catch {
        /* already gone */
      }
    }
    this.programs = [];
  }
}
