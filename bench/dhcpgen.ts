// The native engine of the DHCP 4o6 load generator (bench/dhcpgen.c): built on demand
// with the system's C compiler, fed the codec's query templates, run as a child
// process. The same clients, the same bytes on the wire and the same state machine as
// src/dhcp/loadgen.ts, for a fraction of its CPU (why: dhcpgen.c's header).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/core/engine.js';
import { QueryFactory, type OfferShape, type Template } from '../src/dhcp/loadgen-wire.js';
import { sh } from './lab/proc.js';

export interface NativeLoadOptions {
  /** IPv6 address literal of the server. */
  host: string;
  port: number;
  localPort?: number;
  clients: number;
  inFlight: number;
  firstClient?: number;
  /** Relay-forward with a per-client peer-address (true) or direct queries. */
  relay: boolean;
  /** List OPTION_V4_PORTPARAMS (RFC 7618). */
  portAware: boolean;
  /** The OFFERs the server will make (the REQUEST template answers only these). */
  offers: OfferShape;
  timeoutMs?: number;
  tries?: number;
  deadlineMs?: number;
  linkAddress?: string;
}

export interface NativeLoadResult {
  acked: number;
  failed: number;
  naks: number;
  timeouts: number;
  /** OFFERs of another shape than `offers` (each fails its client). */
  unexpected: number;
  elapsedMs: number;
  rate: number;
  /** The generator's own CPU time (user + system). */
  cpuMs: number;
}

let built: string | undefined;

/** Compiles dhcpgen.c once per process (into a temporary directory); returns the binary. */
export function buildDhcpgen(): string {
  if (built !== undefined && statSync(built, { throwIfNoEntry: false }) !== undefined) return built;
  const dir = mkdtempSync(join(tmpdir(), 'xbr-dhcpgen-'));
  const bin = join(dir, 'dhcpgen');
  sh('cc', ['-O2', '-Wall', '-o', bin, join(packageRoot(), 'bench', 'dhcpgen.c')], 60_000);
  built = bin;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return bin;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The template file dhcpgen.c reads (its read_templates says the format). */
export function templateFile(portAware: boolean, relayLink: string | null, offers: OfferShape): string {
  const f = new QueryFactory(portAware, relayLink);
  const lines = (name: string, t: Template) => [
    `${name} ${hex(t.buf)}`,
    ...(['xid', 'mac', 'iaid', 'peer', 'req', 'sid'] as const).filter((k) => t[k].length > 0).map((k) => `${name}.${k} ${t[k].join(' ')}`),
    ...(t.psid >= 0 ? [`${name}.psid ${t.psid} ${t.psidLen}`] : []),
  ];
  return [
    ...lines('discover', f.discoverTemplate()),
    ...lines('request', f.requestTemplate(offers)),
    `offer ${offers.pp?.offset ?? -1} ${offers.pp?.psidLen ?? -1} ${offers.serverId ? 1 : 0}`,
    '',
  ].join('\n');
}

/** Runs the native generator to the end; rejects if it fails to start or reports nothing. */
export async function runNativeLoad(o: NativeLoadOptions): Promise<NativeLoadResult> {
  const bin = buildDhcpgen();
  const dir = mkdtempSync(join(tmpdir(), 'xbr-dhcpgen-run-'));
  try {
    const file = join(dir, 'templates');
    writeFileSync(file, templateFile(o.portAware, o.relay ? (o.linkAddress ?? '::') : null, o.offers));
    const args = ['--templates', file, '--host', o.host, '--port', String(o.port), '--clients', String(o.clients), '--in-flight', String(o.inFlight)];
    const opt = (name: string, v: number | undefined) => (v === undefined ? [] : [`--${name}`, String(v)]);
    args.push(...opt('local-port', o.localPort), ...opt('first', o.firstClient), ...opt('timeout-ms', o.timeoutMs), ...opt('tries', o.tries), ...opt('deadline-ms', o.deadlineMs));
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve, reject) => {
      p.once('error', reject);
      p.once('exit', resolve);
    });
    if (code !== 0) throw new Error(`dhcpgen exited ${code}: ${err.trim()}`);
    return JSON.parse(out) as NativeLoadResult;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
