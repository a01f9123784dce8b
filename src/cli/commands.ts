// The list of sub-commands. Each module exports `register(program)`.
import type { Command } from 'commander';
import { register as registerCalc } from './calc.js';
import { register as registerCheck } from './check.js';
import { register as registerTranslate } from './translate.js';
import { register as registerBench } from './bench.js';
import { register as registerRun } from './run.js';
import { register as registerDhcp } from './dhcp.js';
import { register as registerStatus } from './status.js';
import { register as registerBindings } from './bindings.js';
import { register as registerLeases } from './leases.js';
import { register as registerReload } from './reload.js';

export function registerCommands(program: Command): void {
  // Sub-commands register here (check, calc, translate, run, bench, …).
  registerCheck(program);
  registerCalc(program);
  registerTranslate(program);
  registerBench(program);
  registerRun(program);
  registerStatus(program);
  registerBindings(program);
  registerLeases(program);
  registerReload(program);
  registerDhcp(program);
}
