// The list of sub-commands. Each module exports `register(program)`.
import type { Command } from 'commander';
import { register as registerCalc } from './calc.js';
import { register as registerCheck } from './check.js';
import { register as registerTranslate } from './translate.js';
import { register as registerBench } from './bench.js';
import { register as registerRun } from './run.js';
import { register as registerDhcp } from './dhcp.js';

export function registerCommands(program: Command): void {
  // Sub-commands register here (check, calc, translate, run, bench, …).
  registerCheck(program);
  registerCalc(program);
  registerTranslate(program);
  registerBench(program);
  registerRun(program);
  registerDhcp(program);
}
