// `xbr run` inside the lab's BR namespace, as a child process: start (returns once
// the workers are up), reload (SIGHUP, resolves on the "reloaded" line), stop
// (SIGTERM, then SIGKILL), and the debug hook that ends a worker thread
// (XBR_DEBUG_HOOKS=1 + SIGUSR2, see src/cli/run.ts).

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { spawnProc, stopProc, root, sleep, type Proc } from './proc.js';
import type { Topology } from './topology.js';

export interface XbrOptions {
  /** Extra `xbr run` arguments (e.g. ['--cpus', '1']). */
  args?: string[];
  /** Enable the debug hooks (worker kill on SIGUSR2). */
  debugHooks?: boolean;
  /** Time limit of the whole process (SIGKILL). Default 10 minutes. */
  timeoutMs?: number;
  /** Extra node options (e.g. ['--trace-gc']; the workers inherit them). */
  nodeArgs?: string[];
}

export class Xbr {
  private constructor(
    readonly proc: Proc,
    readonly configPath: string,
  ) {}

  static async start(topo: Topology, configPath: string, opts: XbrOptions = {}): Promise<Xbr> {
    const env = { ...process.env };
    if (opts.debugHooks) env.XBR_DEBUG_HOOKS = '1';
    const bin = join(root(), 'bin', 'xbr.js');
    const proc = spawnProc(
      'ip',
      ['netns', 'exec', topo.ns.br, process.execPath, ...(opts.nodeArgs ?? []), bin, 'run', '--config', configPath, ...(opts.args ?? [])],
      opts.timeoutMs ?? 600_000,
      env,
    );
    const x = new Xbr(proc, configPath);
    try {
      await proc.waitFor(/xbr run: \S+ on /, 20_000);
    } catch (e) {
      await stopProc(proc, 'SIGKILL');
      throw e;
    }
    return x;
  }

  get output(): string {
    return this.proc.out() + this.proc.err();
  }

  /** Writes a new config to the same file, SIGHUPs, resolves when xbr says it reloaded. */
  async reload(yamlText?: string): Promise<void> {
    if (yamlText !== undefined) writeFileSync(this.configPath, yamlText);
    const from = this.proc.out().length;
    this.proc.kill('SIGHUP');
    await this.proc.waitFor('xbr run: reloaded', 10_000, from);
  }

  /** Writes a config xbr must refuse, SIGHUPs, resolves with xbr's refusal line. */
  async reloadRefused(yamlText: string, timeoutMs = 10_000): Promise<string> {
    writeFileSync(this.configPath, yamlText);
    const from = this.proc.err().length;
    this.proc.kill('SIGHUP');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /xbr run: reload refused.*/.exec(this.proc.err().slice(from));
      if (m) return m[0];
      if (Date.now() > deadline || !this.proc.alive()) throw new Error(`xbr did not refuse the config:\n${this.output}`);
      await sleep(20);
    }
  }

  /**
   * Ends a worker thread abruptly (needs debugHooks): the n-th call ends worker
   * n mod workers (src/cli/run.ts).
   */
  killWorker(): void {
    this.proc.kill('SIGUSR2');
  }

  /** How many times the runtime reported a dead worker (stderr "worker-died"). */
  workerDeaths(): number {
    return (this.proc.err().match(/worker-died/g) ?? []).length;
  }

  /** SIGTERM, wait (SIGKILL after graceMs); returns xbr's output. */
  async stop(graceMs = 8000): Promise<string> {
    await stopProc(this.proc, 'SIGTERM', graceMs);
    return this.output;
  }
}
