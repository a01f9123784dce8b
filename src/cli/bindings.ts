// `xbr bindings`: the bindings of the running box (static and leased), filtered and
// paged, through its API.
import type { Command } from 'commander';
import { apiCall } from '../api/client.js';
import type { BindingView, Page } from '../box/types.js';
import { apiOptions, clientOptions, grid, intOption, reportErrors, type ApiCliOptions } from './api-common.js';
import { stdio, type CommandIO } from './io.js';

export interface BindingsOptions extends ApiCliOptions {
  ipv4?: string;
  psid?: number;
  ipv6?: string;
  source?: string;
  offset?: number;
  limit?: number;
  json?: boolean;
}

export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** "shown 1-50 of 1234; next: --offset 50" */
export function pageLine(p: Page<unknown>, what: string): string {
  if (p.total === 0) return `no ${what}`;
  if (p.items.length === 0) return `none on this page (offset ${p.offset}); ${p.total} ${what} in all`;
  const last = p.offset + p.items.length;
  return `${p.offset + 1}-${last} of ${p.total} ${what}${last < p.total ? `; next page: --offset ${last}` : ''}`;
}

export async function bindingsAction(o: BindingsOptions, io: CommandIO = stdio): Promise<number> {
  return reportErrors('bindings', io, async () => {
    const path = `/v1/bindings${query({ ipv4: o.ipv4, psid: o.psid, ipv6: o.ipv6, source: o.source, offset: o.offset, limit: o.limit })}`;
    const { body } = await apiCall<Page<BindingView>>(clientOptions(o), 'GET', path);
    if (o.json) {
      io.out(JSON.stringify(body, null, 2));
      return 0;
    }
    if (body.items.length > 0) {
      const rows = body.items.map((b) => [b.ipv4, String(b.psid), String(b.psidLen), String(b.psidOffset), b.ipv6, b.source]);
      grid(['ipv4', 'psid', 'psid-len', 'offset', 'ipv6', 'source'], rows, [false, true, true, true]).forEach((l) => io.out(l));
    }
    io.out(pageLine(body, 'bindings'));
    return 0;
  });
}

export function register(program: Command): void {
  const cmd = program
    .command('bindings')
    .description('list the bindings of the running box (through its API)')
    .option('--ipv4 <addr>', 'an IPv4 address or prefix (a.b.c.d/len)')
    .option('--psid <n>', 'a PSID', intOption('--psid', 0, 65535))
    .option('--ipv6 <addr>', 'an IPv6 address (the binding that holds it) or prefix')
    .option('--source <s>', 'static or lease')
    .option('--offset <n>', 'skip this many', intOption('--offset', 0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'show at most this many (0..1000, default 100)', intOption('--limit', 0, 1000))
    .option('--json', 'the page as JSON');
  apiOptions(cmd).action(async (o: BindingsOptions) => {
    process.exitCode = await bindingsAction(o);
  });
}
