// `xbr translate --config F --in in.pcap --out out.pcap [--stats stats.json]`
//
// The offline contract of DESIGN.md: read a pcap (link type 1 Ethernet or 101 raw
// IP), run every packet through the same wasm core in order, in batches, and write
// every packet the BR would send, in order, with the input's link type and the
// timestamp of the input packet that caused it. A dropped packet writes nothing and
// is counted. The non-zero counters are printed as a table at the end; `--stats`
// writes all of them as JSON. Exit 0 unless the input or the config is unusable:
// then one line naming the problem, and exit 2.
//
// The core's clock is the capture's: a batch runs at the timestamp of its first
// packet, so fragment timeouts and ICMP rate limits replay as they were captured,
// and the output does not depend on how fast this machine is.
import { resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { BindingsFileError, type PackedBindings } from '../config/bindings-file.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { collectBindings } from '../core/bindings.js';
import { compileRules } from '../core/blob.js';
import { Engine, FRAME_HEADROOM, type EngineOptions } from '../core/engine.js';
import { PcapError, PcapReader, timestampMs, type PcapRecord } from '../pcap/reader.js';
import { PcapWriter, writerOptionsFrom } from '../pcap/writer.js';
import { stdio, type CommandIO } from './io.js';

export interface TranslateOptions {
  config: string;
  in: string;
  out: string;
  stats?: string;
}

/** The part of the Engine (src/core/engine.ts) this command uses. */
export interface TranslateEngine {
  loadRules(blob: Uint8Array): void;
  putBinding(b: { ipv4: number; psidLen: number; psidOffset: number; psid: number; ipv6: Uint8Array; prefixLen: number }): void;
  /** Many bindings at once (used when present). */
  putBindings?(p: PackedBindings): void;
  setLinkType(linktype: 1 | 101): void;
  processBatch(packets: Uint8Array[], nowMs: number): { data: Uint8Array; port: 0 | 1 }[];
  counters(): Record<string, number>;
  readonly batch: number;
}

/** An output packet; `index` (the input packet's position in its batch) is used when the engine provides it. */
type Output = { data: Uint8Array; port: 0 | 1; index?: number };

export interface TranslateDeps {
  /** Builds the engine (default: Engine.create of src/core/engine.ts). */
  createEngine?: (opts: EngineOptions) => Promise<TranslateEngine>;
  /** Where the progress bar is drawn (default: process.stderr). */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Inputs at least this large (bytes) get a progress bar or progress lines (default 16 MiB). */
  progressThreshold?: number;
  /** Interval of progress lines when the stream is not a terminal (default 2000 ms). */
  progressIntervalMs?: number;
  /** Bytes per read of the input (default 1 MiB). */
  chunkSize?: number;
}

export interface TranslateSummary {
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  /** Records captured shorter than they were on the wire. */
  truncatedRecords: number;
  /** Records longer than a frame of the core (cut to fit). */
  oversizeRecords: number;
  /** Every counter of the core, by name. */
  counters: Record<string, number>;
}

/** A problem that makes the input, the config or an output file unusable (exit 2). */
export class TranslateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranslateError';
  }
}

const DEFAULT_PROGRESS_THRESHOLD = 16 * 1024 * 1024;
/** Frames of 4 KiB: packets up to 3840 bytes fit (jumbo-ish captures included). */
const FRAME_SIZE = 4096;
const MAX_PACKET = FRAME_SIZE - FRAME_HEADROOM;

function errnoText(e: unknown): string {
  // "ENOENT: no such file or directory, open '/x'" -> "ENOENT: no such file or directory"
  const err = e as NodeJS.ErrnoException;
  const msg = e instanceof Error ? e.message : String(e);
  if (err && typeof err.code === 'string') return msg.startsWith(`${err.code}:`) ? msg.split(', ')[0] : `${err.code}: ${msg}`;
  return msg;
}

function humanBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** The counters as an aligned two-column table: only the non-zero ones, sorted by name. */
export function formatCounters(counters: Record<string, number>): string[] {
  const rows = Object.entries(counters)
    .filter(([, v]) => v !== 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (rows.length === 0) return [];
  const w = Math.max(...rows.map(([k]) => k.length));
  const vw = Math.max(...rows.map(([, v]) => String(v).length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${String(v).padStart(vw)}`);
}

/** One-line text of a refused configuration (ConfigError lists every issue, one per line). */
function configProblem(e: ConfigError, file: string): string {
  const lines = e.message.split('\n').filter((l) => l.length > 0);
  if (lines.length <= 1) return lines[0] ?? `${file}: invalid configuration`;
  return `${lines[0]} (and ${lines.length - 1} more problem${lines.length > 2 ? 's' : ''}; see xbr check --config ${file})`;
}

async function defaultEngine(opts: EngineOptions): Promise<TranslateEngine> {
  return Engine.create(opts);
}

/** Progress on stderr: a bar on a terminal, otherwise a line every interval. */
class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly name: string,
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly io: CommandIO,
    private readonly intervalMs: number,
  ) {
    if (stream.isTTY) {
      this.bar = new cliProgress.SingleBar(
        {
          stream,
          format: 'translating [{bar}] {percentage}% | {read} of {size} | {packets} packets | ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: true,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { read: humanBytes(0), size: humanBytes(total), packets: 0 });
    } else {
      this.lastLine = this.started;
    }
  }

  update(bytes: number, packets: number): void {
    if (this.bar) {
      this.bar.update(bytes, { read: humanBytes(bytes), packets });
      return;
    }
    const now = Date.now();
    if (now - this.lastLine >= this.intervalMs) {
      this.lastLine = now;
      const pct = this.total > 0 ? Math.floor((100 * bytes) / this.total) : 100;
      this.io.err(`${this.name}: ${pct}% (${humanBytes(bytes)} of ${humanBytes(this.total)}), ${packets} packets, ${Math.round((now - this.started) / 1000)} s`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/**
 * Runs the translation. Returns the summary; throws TranslateError for an unusable
 * input, config or output (after writing what was translated before the problem, if
 * the input turned out to be damaged part way).
 */
export async function translate(opts: TranslateOptions, io: CommandIO = stdio, deps: TranslateDeps = {}): Promise<TranslateSummary> {
  if (resolve(opts.in) === resolve(opts.out)) {
    throw new TranslateError(`${opts.out}: the output would overwrite the input`);
  }

  // The configuration, its compiled form and its static bindings (YAML list and bindings-file).
  let blob: Uint8Array;
  let bindings: PackedBindings;
  let engineOptions: EngineOptions;
  try {
    const config = loadConfig(opts.config);
    blob = compileRules(config);
    bindings = collectBindings(config, opts.config);
    engineOptions = {
      bindingCapacity: Math.max(config['binding-capacity'], bindings.count),
      fragmentSlots: config.fragments['table-size'],
      frameSize: FRAME_SIZE,
    };
  } catch (e) {
    if (e instanceof ConfigError) throw new TranslateError(configProblem(e, opts.config));
    if (e instanceof BindingsFileError) throw new TranslateError(e.message);
    throw new TranslateError(`${opts.config}: ${e instanceof Error ? e.message : String(e)}`);
  }

  // The input.
  let reader: PcapReader;
  try {
    reader = await PcapReader.open(opts.in, { chunkSize: deps.chunkSize });
  } catch (e) {
    if (e instanceof PcapError) throw new TranslateError(e.message);
    throw new TranslateError(`${opts.in}: cannot open (${errnoText(e)})`);
  }
  const header = reader.header;
  if (header.linktype !== 1 && header.linktype !== 101) {
    await reader.close();
    throw new TranslateError(
      `${opts.in}: link type ${header.linktype} is not supported; xbr translates link types 1 (Ethernet) and 101 (raw IP)`,
    );
  }
  const linktype = header.linktype;

  // The core.
  let engine: TranslateEngine;
  try {
    engine = await (deps.createEngine ?? defaultEngine)(engineOptions);
    try {
      engine.loadRules(blob);
    } catch (e) {
      throw new TranslateError(`${opts.config}: the core refused the compiled rules (${e instanceof Error ? e.message : String(e)})`);
    }
    try {
      if (engine.putBindings) engine.putBindings(bindings);
      else for (let i = 0; i < bindings.count; i++) engine.putBinding(bindings.get(i));
    } catch (e) {
      throw new TranslateError(`${opts.config}: the core refused a binding (${e instanceof Error ? e.message : String(e)})`);
    }
    engine.setLinkType(linktype);
  } catch (e) {
    await reader.close();
    throw e;
  }

  // The output.
  let writer: PcapWriter;
  try {
    writer = PcapWriter.create(opts.out, writerOptionsFrom(header));
  } catch (e) {
    await reader.close();
    throw new TranslateError(`${opts.out}: cannot create (${errnoText(e)})`);
  }

  const summary: TranslateSummary = { packetsIn: 0, packetsOut: 0, bytesIn: 0, truncatedRecords: 0, oversizeRecords: 0, counters: {} };
  const batchSize = Math.max(1, engine.batch);
  const pending: PcapRecord[] = [];
  // Without per-output indexes every packet of a batch must share a timestamp, so that
  // each output packet gets the timestamp of the packet that caused it; as soon as the
  // engine is seen to return indexes, batches are cut by size only.
  let engineGivesIndex = false;

  const runBatch = () => {
    if (pending.length === 0) return;
    const first = pending[0];
    const out = engine.processBatch(
      pending.map((r) => r.data),
      timestampMs(first, header.nanosecond),
    ) as Output[];
    if (out.length > 0 && out.every((o) => typeof o.index === 'number')) engineGivesIndex = true;
    try {
      for (const o of out) {
        const src = typeof o.index === 'number' && o.index >= 0 && o.index < pending.length ? pending[o.index] : first;
        writer.write(o.data, src.tsSec, src.tsFrac);
      }
    } catch (e) {
      throw new TranslateError(`${opts.out}: cannot write (${errnoText(e)})`);
    }
    summary.packetsOut += out.length;
    pending.length = 0;
  };

  const progressThreshold = deps.progressThreshold ?? DEFAULT_PROGRESS_THRESHOLD;
  const progress =
    reader.size >= progressThreshold
      ? new Progress(reader.size, opts.in, deps.progressStream ?? process.stderr, io, deps.progressIntervalMs ?? 2000)
      : null;

  let damaged: PcapError | null = null;
  let writeProblem: string | null = null;
  try {
    try {
      for (;;) {
        const rec = await reader.next();
        if (rec === null) break;
        summary.packetsIn++;
        summary.bytesIn += rec.data.length;
        if (rec.data.length < rec.origLen) summary.truncatedRecords++;
        if (rec.data.length > MAX_PACKET) summary.oversizeRecords++;
        if (
          pending.length > 0 &&
          (pending.length >= batchSize ||
            (!engineGivesIndex && (rec.tsSec !== pending[0].tsSec || rec.tsFrac !== pending[0].tsFrac)))
        ) {
          runBatch();
          progress?.update(reader.bytesRead, summary.packetsIn);
        }
        pending.push(rec);
      }
    } catch (e) {
      if (!(e instanceof PcapError)) throw e;
      damaged = e;
    }
    runBatch();
    progress?.update(reader.bytesRead, summary.packetsIn);
  } finally {
    progress?.stop();
    await reader.close();
    try {
      writer.close();
    } catch (e) {
      writeProblem = `${opts.out}: cannot write (${errnoText(e)})`;
    }
  }
  if (writeProblem) throw new TranslateError(writeProblem);

  summary.counters = engine.counters();
  if (opts.stats !== undefined) {
    const sorted = Object.fromEntries(Object.entries(summary.counters).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    try {
      writeFileSync(opts.stats, JSON.stringify(sorted, null, 2) + '\n');
    } catch (e) {
      throw new TranslateError(`${opts.stats}: cannot write the stats (${errnoText(e)})`);
    }
  }

  io.out(`${opts.in}: ${summary.packetsIn} packets read, ${summary.packetsOut} written to ${opts.out}`);
  for (const line of formatCounters(summary.counters)) io.out(line);
  if (summary.truncatedRecords > 0) {
    io.err(
      `${opts.in}: warning: ${summary.truncatedRecords} packet${summary.truncatedRecords > 1 ? 's were' : ' was'} captured shorter than on the wire (snaplen ${header.snaplen}); the core saw ${summary.truncatedRecords > 1 ? 'them' : 'it'} cut short`,
    );
  }
  if (summary.oversizeRecords > 0) {
    io.err(
      `${opts.in}: warning: ${summary.oversizeRecords} packet${summary.oversizeRecords > 1 ? 's were' : ' was'} longer than the core's ${MAX_PACKET}-byte frames and cut to fit`,
    );
  }
  if (damaged) throw new TranslateError(damaged.message);
  return summary;
}

/** The command's action: runs `translate` and returns the exit code (0, or 2 with one line on stderr). */
export async function translateAction(opts: TranslateOptions, io: CommandIO = stdio, deps: TranslateDeps = {}): Promise<number> {
  try {
    await translate(opts, io, deps);
    return 0;
  } catch (e) {
    if (e instanceof TranslateError) {
      io.err(e.message);
      return 2;
    }
    throw e;
  }
}

export function register(program: Command): void {
  program
    .command('translate')
    .description('run a pcap through the data plane offline and write what the BR would send')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .requiredOption('-i, --in <file>', 'input pcap (link type 1 Ethernet or 101 raw IP)')
    .requiredOption('-o, --out <file>', 'output pcap (same link type and timestamps as the input)')
    .option('-s, --stats <file>', 'write the counters as JSON')
    .action(async (opts: TranslateOptions) => {
      process.exitCode = await translateAction(opts);
    });
}
