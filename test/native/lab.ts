// A two-namespace veth lab for the AF_XDP shim's integration tests.
//
//   netns A (the BR side)                  netns B (the peer)
//   vethA  192.0.2.1/24                    vethB  192.0.2.2/24
//          2001:db8:ffff::1/64                    2001:db8:ffff::2/64
//   XDP xbr_steer + AF_XDP socket          senders / listeners / raw injection
//
// Names are unique per run; down() deletes both namespaces (and so the veths) and
// is safe to call twice. Every command has a time limit.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { addonPath, defaultProgramPath, tryLoadXsk, type XskAddon } from '../../src/dataplane/xsk.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

function which(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why the AF_XDP integration tests cannot run here, or null. Locally a reason
 * means skip; under CI (CI=true) it is a failure: throw it.
 */
export function missingPrerequisite(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not root (AF_XDP, BPF and netns need root)';
  if (!existsSync(addonPath())) return `addon not built (${addonPath()}): npm run build:native`;
  if (!existsSync(defaultProgramPath())) return `BPF object not built (${defaultProgramPath()}): npm run build:native`;
  if (tryLoadXsk() === null) return `addon ${addonPath()} does not load`;
  for (const cmd of ['ip', 'ping', 'python3', 'setpriv', 'prlimit']) if (!which(cmd)) return `${cmd} not installed: scripts/install-deps.sh`;
  return null;
}

/** Skip locally; throw under CI. Returns the addon when the tests can run. */
export function requireLab(): { addon: XskAddon | null; skip: string | null } {
  const reason = missingPrerequisite();
  if (reason !== null && process.env.CI === 'true') {
    throw new Error(`AF_XDP integration tests cannot run under CI: ${reason}`);
  }
  return { addon: reason === null ? tryLoadXsk() : null, skip: reason };
}

export function sh(cmd: string, args: string[], timeoutMs = 10_000): string {
  return execFileSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface Proc {
  /** Resolves with stdout when the process exits (rejects on non-zero exit or time-out). */
  done: Promise<string>;
  /** Resolves once stdout contains `marker`. */
  waitFor(marker: string): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
  pid: number | undefined;
}

/** Runs a command with a hard time limit (SIGKILL). */
export function run(cmd: string, args: string[], timeoutMs = 10_000): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { marker: string; resolve: () => void }[] = [];
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiters.splice(0)) {
      if (out.includes(w.marker)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<string>((resolve, reject) => {
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')}: exit ${code ?? signal}\n${out}\n${err}`));
    });
  });
  done.catch(() => undefined); // observed by whoever awaits it
  return {
    done,
    pid: child.pid,
    kill: (s = 'SIGTERM') => child.kill(s),
    waitFor: (marker) =>
      new Promise<void>((resolve, reject) => {
        if (out.includes(marker)) return resolve();
        waiters.push({ marker, resolve });
        done.then(
          () => (out.includes(marker) ? resolve() : reject(new Error(`exited before "${marker}": ${out}${err}`))),
          reject,
        );
      }),
  };
}

export function parseMac(s: string): Uint8Array {
  return Uint8Array.from(s.split(':').map((h) => parseInt(h, 16)));
}

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  readonly nsA = `xbrA-${this.id}`;
  readonly nsB = `xbrB-${this.id}`;
  readonly vethA = `xa${this.id}`;
  readonly vethB = `xb${this.id}`;
  readonly ip4A = '192.0.2.1';
  readonly ip4B = '192.0.2.2';
  readonly ip6A = '2001:db8:ffff::1';
  readonly ip6B = '2001:db8:ffff::2';
  macA: Uint8Array = new Uint8Array(6);
  macB: Uint8Array = new Uint8Array(6);
  private extra: string[] = [];

  up(): this {
    sh('ip', ['netns', 'add', this.nsA]);
    sh('ip', ['netns', 'add', this.nsB]);
    sh('ip', ['link', 'add', this.vethA, 'type', 'veth', 'peer', 'name', this.vethB]);
    sh('ip', ['link', 'set', this.vethA, 'netns', this.nsA]);
    sh('ip', ['link', 'set', this.vethB, 'netns', this.nsB]);
    for (const [ns, dev, v4, v6] of [
      [this.nsA, this.vethA, this.ip4A, this.ip6A],
      [this.nsB, this.vethB, this.ip4B, this.ip6B],
    ] as const) {
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'addr', 'add', `${v4}/24`, 'dev', dev]);
      sh('ip', ['-n', ns, 'addr', 'add', `${v6}/64`, 'dev', dev, 'nodad']);
      sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    this.macA = this.mac(this.nsA, this.vethA);
    this.macB = this.mac(this.nsB, this.vethB);
    return this;
  }

  /** A second veth pair between the same namespaces (shared-UMEM tests). */
  addPair(suffix: string): { a: string; b: string } {
    const a = `xa${this.id}${suffix}`;
    const b = `xb${this.id}${suffix}`;
    sh('ip', ['link', 'add', a, 'type', 'veth', 'peer', 'name', b]);
    this.extra.push(a);
    sh('ip', ['link', 'set', a, 'netns', this.nsA]);
    sh('ip', ['link', 'set', b, 'netns', this.nsB]);
    sh('ip', ['-n', this.nsA, 'link', 'set', a, 'up']);
    sh('ip', ['-n', this.nsB, 'link', 'set', b, 'up']);
    return { a, b };
  }

  mac(ns: string, dev: string): Uint8Array {
    const j = JSON.parse(sh('ip', ['-n', ns, '-j', 'link', 'show', 'dev', dev])) as { address: string }[];
    return parseMac(j[0]!.address);
  }

  linkShow(ns: string, dev: string): string {
    return sh('ip', ['-n', ns, 'link', 'show', 'dev', dev]);
  }

  down(): void {
    for (const ns of [this.nsA, this.nsB]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
    for (const dev of [this.vethA, ...this.extra]) {
      try {
        sh('ip', ['link', 'del', dev]); // if it never made it into a namespace
      } catch {
        // gone with its namespace
      }
    }
  }

  /** Runs test/native/fixtures/udp.mjs in a namespace. */
  udp(ns: string, args: string[], timeoutMs = 8000): Proc {
    return run('ip', ['netns', 'exec', ns, process.execPath, join(FIXTURES, 'udp.mjs'), ...args], timeoutMs);
  }

  /** Sends raw Ethernet frames out of `dev` in namespace `ns` (AF_PACKET, python3). */
  inject(ns: string, dev: string, frames: Uint8Array[]): void {
    sh(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'python3',
        join(FIXTURES, 'inject.py'),
        dev,
        ...frames.map((f) => Buffer.from(f).toString('hex')),
      ],
      10_000,
    );
  }
}
