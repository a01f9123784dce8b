// Shared output of the benchmarks: a JSON file per suite under bench/out/ (for
// comparing runs) and a one-line description of the machine, which every result in
// bench/RESULTS.md carries next to its command.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';

export interface ResultRow {
  case: string;
  mpps: number;
  nsPerPacket: number;
}

export function machineLine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${release()}, Node ${process.version}`;
}

export function writeResults(suite: string, rows: unknown[], machine: string): string {
  const dir = join(process.cwd(), 'bench', 'out');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${suite}.json`);
  writeFileSync(file, JSON.stringify({ suite, machine, date: new Date().toISOString(), command: process.argv.slice(1).join(' '), rows }, null, 2));
  process.stderr.write(`results: ${file}\nmachine: ${machine}\n`);
  return file;
}
