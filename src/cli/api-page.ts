// A paged list from the running box's API, as `xbr bindings` and `xbr leases` show it:
// the filter as a query string, the page as a table (or JSON), and a line saying which
// part of how many it was and how to get the next.
import type { Command } from 'commander';
import { apiCall } from '../api/client.js';
import type { Page } from '../box/types.js';
import { clientOptions, grid, intOption, reportErrors, type ApiCliOptions } from './api-common.js';
import type { CommandIO } from './io.js';

export interface PageCliOptions extends ApiCliOptions {
  offset?: number;
  limit?: number;
  json?: boolean;
}

/** "?a=1&b=x" of the parameters that are set ("" when none is). */
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

/** What one list command shows: its name (also the word in the page line), the API path, the columns. */
export interface Listing<T> {
  what: string;
  /** The API path with its query (query()). */
  path: string;
  header: string[];
  row: (item: T) => string[];
  /** Columns aligned right (numbers), by position. */
  right: boolean[];
}

/** Fetches one page and prints it; the exit code (reportErrors: 1 with the reason on failure). */
export function listPage<T>(o: PageCliOptions, io: CommandIO, l: Listing<T>): Promise<number> {
  return reportErrors(l.what, io, async () => {
    const { body } = await apiCall<Page<T>>(clientOptions(o), 'GET', l.path);
    if (o.json) {
      io.out(JSON.stringify(body, null, 2));
      return 0;
    }
    if (body.items.length > 0) grid(l.header, body.items.map(l.row), l.right).forEach((x) => io.out(x));
    io.out(pageLine(body, l.what));
    return 0;
  });
}

/** The paging options every list command takes: --offset, --limit, --json. */
export function pageOptions(cmd: Command): Command {
  return cmd
    .option('--offset <n>', 'skip this many', intOption('--offset', 0, Number.MAX_SAFE_INTEGER))
    .option('--limit <n>', 'show at most this many (0..1000, default 100)', intOption('--limit', 0, 1000))
    .option('--json', 'the page as JSON');
}
