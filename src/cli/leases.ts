// `xbr leases`: the 4o6 leases of the running box, filtered and paged, through its API.
import type { Command } from 'commander';
import type { LeaseView } from '../box/types.js';
import { apiOptions, intOption } from './api-common.js';
import { listPage, pageOptions, query, type PageCliOptions } from './api-page.js';
import { stdio, type CommandIO } from './io.js';

export interface LeasesOptions extends PageCliOptions {
  ipv4?: string;
  psid?: number;
  clientId?: string;
  pool?: string;
}

export function leasesAction(o: LeasesOptions, io: CommandIO = stdio): Promise<number> {
  return listPage<LeaseView>(o, io, {
    what: 'leases',
    path: `/v1/leases${query({ ipv4: o.ipv4, psid: o.psid, clientId: o.clientId, pool: o.pool, offset: o.offset, limit: o.limit })}`,
    header: ['ipv4', 'psid', 'pool', 'state', 'expires', 'client-id', 'ipv6'],
    row: (l) => [l.ipv4, String(l.psid), l.pool, l.state, l.expiresAt, l.clientId, l.ipv6],
    right: [false, true],
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('leases')
    .description('list the 4o6 leases of the running box (through its API)')
    .option('--ipv4 <addr>', 'an IPv4 address')
    .option('--psid <n>', 'a PSID', intOption('--psid', 0, 65535))
    .option('--client-id <hex>', 'a client identifier (hex)')
    .option('--pool <name>', 'a pool');
  apiOptions(pageOptions(cmd)).action(async (o: LeasesOptions) => {
    process.exitCode = await leasesAction(o);
  });
}
