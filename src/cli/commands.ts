// The list of sub-commands. Each module exports `register(program)`.
import type { Command } from 'commander';

export function registerCommands(_program: Command): void {
  // Sub-commands register here (check, calc, translate, run, bench, …).
}
