// `xbr bindings`: the bindings of the running box (static and leased), filtered and
// paged, through its API.
import type { Command } from 'commander';
import type { BindingView } from '../box/types.js';
import { apiOptions, intOption } from './api-common.js';
import { listPage, pageOptions, query, type PageCliOptions } from './api-page.js';
import { stdio, type CommandIO } from './io.js';

export interface BindingsOptions extends PageCliOptions {
  ipv4?: string;
  psid?: number;
  ipv6?: string;
  source?: string;
}

export function bindingsAction(o: BindingsOptions, io: CommandIO = stdio): Promise<number> {
  return listPage<BindingView>(o, io, {
    what: 'bindings',
    path: `/v1/bindings${query({ ipv4: o.ipv4, psid: o.psid, ipv6: o.ipv6, source: o.source, offset: o.offset, limit: o.limit })}`,
    header: ['ipv4', 'psid', 'psid-len', 'offset', 'ipv6', 'source'],
    row: (b) => [b.ipv4, String(b.psid), String(b.psidLen), String(b.psidOffset), b.ipv6, b.source],
    right: [false, true, true, true],
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('bindings')
    .description('list the bindings of the running box (through its API)')
    .option('--ipv4 <addr>', 'an IPv4 address or prefix (a.b.c.d/len)')
    .option('--psid <n>', 'a PSID', intOption('--psid', 0, 65535))
    .option('--ipv6 <addr>', 'an IPv6 address (the binding that holds it) or prefix')
    .option('--source <s>', 'static or lease');
  apiOptions(pageOptions(cmd)).action(async (o: BindingsOptions) => {
    process.exitCode = await bindingsAction(o);
  });
}
