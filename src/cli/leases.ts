// `xbr leases`: the 4o6 leases of the running box, filtered and paged, through its API.
import type { Command } from 'commander';
import { apiCall } from '../api/client.js';
import type { LeaseView, Page } from '../box/types.js';
import { apiOptions, clientOptions, grid, intOption, reportErrors, type ApiCliOptions } from './api-common.js';
import { pageLine, query } from './bindings.js';
import { stdio, type CommandIO } from './io.js';

export interface LeasesOptions extends ApiCliOptions {
  ipv4?: string;
  psid?: number;
  clientId?: string;
  pool?: string;
  offset?: number;
  limit?: number;
  json?: boolean;
}

export async function leasesAction(o: LeasesOptions, io: CommandIO = stdio): Promise<number> {
  return reportErrors('leases', io, async () => {
    const path = `/v1/leases${query({ ipv4: o.ipv4, psid: o.psid, clientId: o.clientId, pool: o.pool, offset: o.offset, limit: o.limit })}`;
    const { body } = await apiCall<Page<LeaseView>>(clientOptions(o), 'GET', path);
    if (o.json) {
      io.out(JSON.stringify(body, null, 2));
      return 0;
    }
    if (body.items.length > 0) {
      const rows = body.items.map((l) => [l.ipv4, String(l.psid), l.pool, l.state, l.expiresAt, l.clientId, l.ipv6]);
      grid(['ipv4', 'psid', 'pool', 'state', 'expires', 'client-id', 'ipv6'], rows, [false, true]).forEach((x) => io.out(x));
    }
    io.out(pageLine(body, 'leases'));
    return 0;
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('leases')
    .description('list the 4o6 leases of the running box (through its API)')
    .option('--ipv4 <addr>', 'an IPv4 address')
    .option('--psid <n>', 'a PSID', intOption('--psid', 0, 65535))
    .option('--client-id <hex>', 'a client identifier (hex)')
    .option('--pool <name>', 'a pool')
    .option('--offset <n>', 'skip this many', intOption('--offset', 0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'show at most this many (0..1000, default 100)', intOption('--limit', 0, 1000))
    .option('--json', 'the page as JSON');
  apiOptions(cmd).action(async (o: LeasesOptions) => {
    process.exitCode = await leasesAction(o);
  });
}
