// Entry point of the `xbr` command. Every sub-command lives in its own module and
// registers itself on the program; this file only wires them together.
import { Command } from 'commander';
import { registerCommands } from './commands.js';

export async function main(argv: string[]): Promise<void> {
  const program = new Command();
  program
    .name('xbr')
    .description('xbr: a MAP-T / MAP-E / lw4o6 Border Relay with a DHCP 4o6 server')
    .showHelpAfterError()
    .exitOverride((err) => {
      // commander's own usage errors exit 2, like a bad config.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
      process.exit(err.exitCode === 0 ? 0 : 2);
    });
  registerCommands(program);
  await program.parseAsync(argv);
}
