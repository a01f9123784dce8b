// Running `xbr dhcp` as a child process (the compiled CLI in dist/, which `npm ci`
// builds through `prepare`; rebuilt here when older than the sources).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = process.cwd();

function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Compiles the TypeScript when dist/ is missing or older than src/. */
export function ensureBuilt(): void {
  const out = join(ROOT, 'dist', 'src', 'cli', 'dhcp.js');
  if (existsSync(out) && statSync(out).mtimeMs >= newest(join(ROOT, 'src'))) return;
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'ignore', timeout: 180_000 });
  } catch {
    // tsc still emits when some other file has a type error; what matters is that ours is fresh.
  }
  if (!existsSync(out)) throw new Error(`${out} missing after tsc: run npm run build:ts`);
}

export interface Child {
  proc: ChildProcess;
  port: number;
  stdout: () => string;
  stderr: () => string;
}

/** Starts `xbr dhcp …` and resolves once it printed "ready <port>". */
export function startDhcp(args: string[], timeoutMs = 30_000): Promise<Child> {
  const proc = spawn(process.execPath, [join(ROOT, 'bin', 'xbr.js'), 'dhcp', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`xbr dhcp not ready after ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    const onData = () => {
      const m = /^ready (\d+)/m.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        resolve({ proc, port: Number(m[1]), stdout: () => out, stderr: () => err });
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`xbr dhcp exited (${code}) before ready: ${err}`));
    });
  });
}

/** Stops a child (SIGTERM, then SIGKILL after 5 s); resolves when it exited. */
export async function stopChild(c: Child | undefined): Promise<void> {
  if (c === undefined || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
    c.proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.proc.kill('SIGTERM');
  });
}
