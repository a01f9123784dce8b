// `xbr reload`: asks the running box to reload its config file (like SIGHUP, but with
// the answer): in force, or refused with every reason while the running config stays.
import type { Command } from 'commander';
import { apiCall } from '../api/client.js';
import type { ReloadResult } from '../box/types.js';
import { apiOptions, clientOptions, reportErrors, type ApiCliOptions } from './api-common.js';
import { stdio, type CommandIO } from './io.js';

export async function reloadAction(o: ApiCliOptions, io: CommandIO = stdio): Promise<number> {
  return reportErrors('reload', io, async () => {
    const { body } = await apiCall<ReloadResult>(clientOptions(o), 'POST', '/v1/reload', undefined, [422]);
    if (body.ok) {
      io.out(`xbr reload: the new config is in force (generation ${body.generation})`);
      return 0;
    }
    io.err(`xbr reload: refused, the running config stays (generation ${body.generation}):`);
    for (const line of (body.error ?? 'no reason given').split('\n')) io.err(`  ${line}`);
    return 1;
  });
}

export function register(program: Command): void {
  const cmd = program.command('reload').description('reload the config of the running box (through its API; a bad config is refused with the reason)');
  apiOptions(cmd).action(async (o: ApiCliOptions) => {
    process.exitCode = await reloadAction(o);
  });
}
