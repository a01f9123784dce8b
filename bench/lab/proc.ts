// Process helpers of the netns lab: every command has a time limit, every spawned
// process is remembered so that a teardown (or an exit of the lab's own process)
// can end it, and nothing here is killed by name.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/core/engine.js';

/** Runs a command, returns stdout; throws with stderr on failure or time-out. */
export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(err.stderr ?? '').trim() || err.message}`);
  }
}

/** sh() that returns null instead of throwing. */
export function trySh(cmd: string, args: string[], timeoutMs = 10_000): string | null {
  try {
    return sh(cmd, args, timeoutMs);
  } catch {
    return null;
  }
}

/** True when `cmd` is on PATH. */
export function have(cmd: string): boolean {
  return trySh('sh', ['-c', `command -v ${cmd}`], 5000) !== null;
}

export interface Proc {
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  readonly out: () => string;
  readonly err: () => string;
  /** Resolves with {code, signal} when the process exits (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with stdout on exit 0; rejects (with stdout and stderr) otherwise. */
  readonly done: Promise<string>;
  /** Resolves once stdout (after `from` characters) contains `marker`; rejects if it exits first or after timeoutMs. */
  waitFor(marker: string | RegExp, timeoutMs?: number, from?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  readonly alive: () => boolean;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort: whatever the lab started dies with it.
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

/** Spawns a command with a hard time limit (SIGKILL when it is reached). */
export function spawnProc(cmd: string, args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Proc {
  installExitHook();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  live.add(child);
  let out = '';
  let err = '';
  let exitedFlag = false;
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of [...listeners]) l();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  timer.unref();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      err += String(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      exitedFlag = true;
      live.delete(child);
      for (const l of [...listeners]) l();
      resolve({ code, signal });
    });
  });
  const done = exited.then(({ code, signal }) => {
    if (code === 0) return out;
    throw new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}\n--- stdout\n${out}--- stderr\n${err}`);
  });
  done.catch(() => undefined);
  return {
    pid: child.pid,
    child,
    out: () => out,
    err: () => err,
    exited,
    done,
    alive: () => !exitedFlag,
    kill: (s: NodeJS.Signals = 'SIGTERM') => {
      if (!exitedFlag) child.kill(s);
    },
    waitFor: (marker, ms = 10_000, from = 0) =>
      new Promise<void>((resolve, reject) => {
        const hit = () => (typeof marker === 'string' ? out.includes(marker, from) : marker.test(out.slice(from)));
        if (hit()) return resolve();
        const t = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${cmd}: no "${String(marker)}" within ${ms} ms\n--- stdout\n${out}--- stderr\n${err}`));
        }, ms);
        const check = () => {
          if (hit()) {
            clearTimeout(t);
            listeners.delete(check);
            resolve();
          } else if (exitedFlag) {
            clearTimeout(t);
            listeners.delete(check);
            reject(new Error(`${cmd} exited before "${String(marker)}"\n--- stdout\n${out}--- stderr\n${err}`));
          }
        };
        listeners.add(check);
      }),
  };
}

/** Ends a process: `signal`, then SIGKILL after graceMs. Resolves when it is gone. */
export async function stopProc(p: Proc, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (!p.alive()) return;
  p.kill(signal);
  const t = setTimeout(() => p.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(t);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The package root (package.json next to asconfig.json). */
export function root(): string {
  return packageRoot();
}

/** A compiled script of the lab (dist/bench/lab/NAME.js): the lab runs them inside namespaces. */
export function labScript(name: string): string {
  const file = join(packageRoot(), 'dist', 'bench', 'lab', `${name}.js`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run \`npm run build:ts\``);
  return file;
}

/** A non-TypeScript file shipped in bench/lab/ (the B4 helper, the XDP sink). */
export function labAsset(name: string): string {
  return join(packageRoot(), 'bench', 'lab', name);
}
