// `xbr check --config F`: load, validate and compile a configuration without running
// anything. Exit 0 with a short summary, or 2 with every problem on stderr, one per
// line (no stack: the lines are the answer).
import type { Command } from 'commander';
import { compileBindings, compileRules } from '../core/blob.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { stdio, table, type CommandIO } from './io.js';

export interface CheckOptions {
  config: string;
}

export function checkAction(opts: CheckOptions, io: CommandIO = stdio): number {
  try {
    const config = loadConfig(opts.config);
    const blob = compileRules(config);
    const bindings = compileBindings(config);
    const fmr = config.rules.filter((r) => r.fmr).length;
    io.out(`${opts.config}: ok`);
    for (const line of table([
      ['mode', config.mode],
      ['rules', `${config.rules.length}${fmr > 0 ? ` (${fmr} FMR)` : ''}`],
      ['bindings', String(bindings.length)],
      ['rule blob', `${blob.length} bytes`],
    ])) {
      io.out(line);
    }
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.message.split('\n')) io.err(line);
    } else {
      io.err(`${opts.config}: ${e instanceof Error ? e.message : String(e)}`);
    }
    return 2;
  }
}

export function register(program: Command): void {
  program
    .command('check')
    .description('validate a configuration and compile its rules, without running anything')
    .requiredOption('-c, --config <file>', 'configuration file (YAML)')
    .action((opts: CheckOptions) => {
      process.exitCode = checkAction(opts);
    });
}
