// What the API commands (status, bindings, leases, reload) share: the --api and
// --token-file options, integer options, tables, and turning a failure into one line.
import { InvalidArgumentError, type Command } from 'commander';
import { ApiClientError, type ClientOptions } from '../api/client.js';
import type { CommandIO } from './io.js';

export const DEFAULT_API = 'http://127.0.0.1:8080';

export interface ApiCliOptions {
  api: string;
  tokenFile?: string;
}

/** Adds --api (default $XBR_API or http://127.0.0.1:8080) and --token-file (default $XBR_API_TOKEN_FILE). */
export function apiOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', 'the xbr API (api.listen of the running box); env XBR_API', process.env.XBR_API ?? DEFAULT_API)
    .option('--token-file <file>', 'file holding the bearer token (api.token-file); env XBR_API_TOKEN_FILE', process.env.XBR_API_TOKEN_FILE);
}

export function clientOptions(o: ApiCliOptions): ClientOptions {
  return { api: o.api, tokenFile: o.tokenFile };
}

/** A commander parser for an integer in [lo, hi]. */
export function intOption(name: string, lo: number, hi: number): (v: string) => number {
  return (v) => {
    if (!/^\d+$/.test(v.trim()) || Number(v) < lo || Number(v) > hi) throw new InvalidArgumentError(`${name} must be an integer ${lo}..${hi}`);
    return Number(v);
  };
}

/** Columns padded to their widest cell; `right` aligns numeric columns. */
export function grid(headers: string[], rows: string[][], right: boolean[] = []): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m ${s}s`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** Runs a command body; an API failure is one line on stderr and exit code 1. */
export async function reportErrors(cmd: string, io: CommandIO, fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    io.err(`xbr ${cmd}: ${e instanceof ApiClientError ? e.message : e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return 1;
  }
}
