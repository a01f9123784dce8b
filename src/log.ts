// Logging: pino JSON lines on stdout (journald and every log shipper read them as
// they are). Events, not packets: an info line per reload, per lease event and per
// change made through the API; nothing per packet, and API reads and scrapes at
// debug only. `--log-level` picks the threshold.
import { hostname } from 'node:os';
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** For commander: `.option('--log-level <level>', LOG_LEVEL_HELP, parseLogLevel, 'info')`. */
export const LOG_LEVEL_HELP = `log threshold: ${LOG_LEVELS.join(', ')}`;

export function parseLogLevel(s: string): LogLevel {
  const v = s.trim().toLowerCase();
  if (!isLogLevel(v)) throw new Error(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${s}"`);
  return v;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where the JSON lines go (tests); stdout by default. */
  destination?: DestinationStream;
  /** Fields on every line (e.g. { component: 'api' }). */
  base?: Record<string, unknown>;
}

/**
 * The process logger. Lines look like
 * {"level":"info","time":"2026-…Z","pid":1,"hostname":"br1","msg":"reload ok","generation":2}
 * — the level as a name and the time as ISO 8601, which journald, Loki and Elastic read
 * without a parser of pino's numeric levels.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid, hostname: hostname(), ...opts.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    // synchronous: a few lines a minute at most, and none lost when the process dies
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** A logger that drops everything (library defaults, tests that don't look). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
