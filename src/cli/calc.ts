// `xbr calc`: the operator's MAP calculator. Forward: an IPv4 address and port (or
// PSID) → PSID, port set, the CE's end-user prefix and MAP IPv6 address. Reverse: a
// MAP IPv6 address → IPv4 address, PSID, rule, port set. Rules come from a config
// (--config, optionally --rule N) or inline (--ipv6-prefix --ipv4-prefix --ea-len …).
// Exit 0 with an answer, 1 when no rule or binding covers the input or the address
// is not a valid MAP address, 2 for a usage or config error.
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { mapRuleFromConfig, resolveBinding, type ResolvedBinding } from '../config/rules.js';
import { configSchema, type XbrConfig } from '../config/schema.js';
import { formatPath, validateConfig } from '../config/validate.js';
import { bindingCeAddress, endUserPrefix, extractMapAddress, mapCeAddress } from '../map/address.js';
import {
  formatIPv4,
  formatIPv4Prefix,
  formatIPv6,
  formatIPv6Prefix,
  ipv4InPrefix,
  ipv6InPrefix,
  bytesEqual,
  isIPv4,
  isIPv6,
  parseIPv4,
  parseIPv6,
} from '../map/ip.js';
import { countPorts, portInSet, portSetRanges, type PortRange } from '../map/psid.js';
import { psidLength, rulePortInSet, rulePortSet, rulePsidOfPort, type MapRule } from '../map/rule.js';
import { stdio, table, type CommandIO } from './io.js';

export interface CalcOptions {
  config?: string;
  rule?: string;
  ipv4?: string;
  port?: string;
  psid?: string;
  ipv6?: string;
  ipv6Prefix?: string;
  ipv4Prefix?: string;
  eaLen?: string;
  psidOffset?: string;
  sharingRatio?: string;
  contiguousPorts?: string;
  interfaceId?: string;
  mode?: string;
}

/** A usage problem: printed as one line, exit 2. */
class UsageError extends Error {}
/** No answer for this input: printed as one line, exit 1. */
class NotFound extends Error {}

interface Candidate {
  index: number; // config order, -1 inline
  rule: MapRule;
}

export function calcAction(opts: CalcOptions, io: CommandIO = stdio): number {
  try {
    if ((opts.ipv4 === undefined) === (opts.ipv6 === undefined)) throw new UsageError('give either --ipv4 (with --port or --psid) or --ipv6');
    const { config, candidates } = rulesFrom(opts);
    const rows = opts.ipv4 !== undefined ? forward(opts, config, candidates) : reverse(opts, config, candidates);
    for (const line of table(rows)) io.out(line);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.message.split('\n')) io.err(line);
      return 2;
    }
    if (e instanceof NotFound) {
      io.err(e.message);
      return 1;
    }
    io.err(e instanceof Error ? e.message : String(e));
    return 2;
  }
}

function integer(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^(0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer in ${min}..${max}, not ${JSON.stringify(text)}`);
  return n;
}

/** The rules to work with: the config's (or its --rule N), or one given inline. */
function rulesFrom(opts: CalcOptions): { config: XbrConfig | null; candidates: Candidate[] } {
  const inline = opts.ipv6Prefix !== undefined || opts.ipv4Prefix !== undefined || opts.eaLen !== undefined;
  if (opts.config !== undefined) {
    if (inline) throw new UsageError('give either --config or an inline rule (--ipv6-prefix --ipv4-prefix --ea-len), not both');
    const config = loadConfig(opts.config);
    const all = config.rules.map((r, index) => ({ index, rule: mapRuleFromConfig(r, config.mode) }));
    const n = integer('--rule', opts.rule, 0, Math.max(0, all.length - 1));
    if (n !== undefined) {
      if (all.length === 0) throw new UsageError(`${opts.config} has no rules`);
      return { config, candidates: [all[n]] };
    }
    return { config, candidates: all };
  }
  if (!inline) throw new UsageError('give --config FILE, or a rule inline: --ipv6-prefix P --ipv4-prefix P --ea-len N [--psid-offset A]');
  const rule: Record<string, unknown> = {
    'ipv6-prefix': opts.ipv6Prefix,
    'ipv4-prefix': opts.ipv4Prefix,
    'ea-len': integer('--ea-len', opts.eaLen, 0, 48),
    'psid-offset': integer('--psid-offset', opts.psidOffset, 0, 15),
    'sharing-ratio': integer('--sharing-ratio', opts.sharingRatio, 1, 32768),
    'contiguous-ports': integer('--contiguous-ports', opts.contiguousPorts, 1, 32768),
    'interface-id': opts.interfaceId,
  };
  for (const k of Object.keys(rule)) if (rule[k] === undefined) delete rule[k];
  // Reuse the config checks on a one-rule config; reserved ports are the operator's
  // business here, so none are assumed.
  const mode = opts.mode ?? 'map-t';
  const parsed = configSchema.safeParse({ mode, dmr: '64:ff9b::/96', br: '::1', rules: [rule], 'reserved-ports': 'none' });
  const option = (path: PropertyKey[]) => (path.length >= 3 ? `--${String(path[2])}` : formatPath(path.filter((p): p is string | number => typeof p !== 'symbol')));
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new UsageError(`${option(i.path)}: ${i.message}`);
  }
  const issues = validateConfig(parsed.data);
  if (issues.length > 0) throw new UsageError(`${option(issues[0].path)}: ${issues[0].message}`);
  return { config: null, candidates: [{ index: -1, rule: mapRuleFromConfig(parsed.data.rules[0], parsed.data.mode) }] };
}

function describeRule(c: Candidate): string {
  const r = c.rule;
  const k = psidLength(r);
  const ports = r.modulus
    ? `sharing-ratio ${r.modulus.sharingRatio}, contiguous-ports ${r.modulus.contiguousPorts}`
    : `psid-offset ${r.psidOffset}`;
  const head = c.index >= 0 ? `rules[${c.index}] ` : '';
  return (
    `${head}${formatIPv6Prefix({ addr: r.ipv6Prefix, len: r.ipv6PrefixLen })} ↔ ` +
    `${formatIPv4Prefix({ addr: r.ipv4Prefix, len: r.ipv4PrefixLen })}, ea-len ${r.eaLen}, ${ports}, PSID length ${k}` +
    (r.interfaceId !== 'rfc7597' ? `, interface-id ${r.interfaceId}` : '')
  );
}

/** First three ranges, …, the last; then the counts. */
export function formatPortSet(ranges: PortRange[]): string {
  const fmt = ([lo, hi]: PortRange) => (lo === hi ? `${lo}` : `${lo}-${hi}`);
  const shown = ranges.length <= 5 ? ranges.map(fmt) : [...ranges.slice(0, 3).map(fmt), '…', fmt(ranges[ranges.length - 1])];
  const n = ranges.length;
  return `${shown.join(', ')} (${n} range${n === 1 ? '' : 's'}, ${countPorts(ranges)} ports)`;
}

const psidText = (psid: number, k: number) => (k === 0 ? '- (PSID length 0: all ports)' : `${psid} (0x${psid.toString(16)})`);

function forward(opts: CalcOptions, config: XbrConfig | null, candidates: Candidate[]): [string, string][] {
  if (!isIPv4(opts.ipv4!)) throw new UsageError(`--ipv4: not an IPv4 address: ${JSON.stringify(opts.ipv4)}`);
  const ipv4 = parseIPv4(opts.ipv4!);
  const port = integer('--port', opts.port, 0, 65535);
  const givenPsid = integer('--psid', opts.psid, 0, 65535);

  // A binding for the address wins over a rule (RFC 7599 section 12.1).
  if (config !== null && opts.rule === undefined) {
    const bindings = config.bindings.map(resolveBinding).filter((b) => b.ipv4 === ipv4);
    if (bindings.length > 0) return forwardBinding(bindings, ipv4, port, givenPsid, config.mode);
  }
  // The data plane's order (blob.ts): longest IPv4 prefix, then longest IPv6 prefix.
  const c = [...candidates]
    .sort((x, y) => y.rule.ipv4PrefixLen - x.rule.ipv4PrefixLen || y.rule.ipv6PrefixLen - x.rule.ipv6PrefixLen || x.index - y.index)
    .find((c) => ipv4InPrefix(ipv4, { addr: c.rule.ipv4Prefix, len: c.rule.ipv4PrefixLen }));
  if (c === undefined) throw new NotFound(`no ${opts.rule !== undefined ? 'such ' : ''}rule or binding covers ${opts.ipv4}`);
  const rule = c.rule;
  const k = psidLength(rule);
  let psid = 0;
  if (k > 0) {
    if (givenPsid !== undefined) psid = givenPsid;
    else if (port !== undefined) psid = rulePsidOfPort(rule, port);
    else throw new UsageError(`the rule shares addresses (PSID length ${k}): give --port or --psid`);
    const max = rule.modulus ? rule.modulus.sharingRatio : 2 ** k;
    if (psid >= max) throw new UsageError(`--psid ${psid} is out of range (0..${max - 1})`);
  }
  const rows: [string, string][] = [
    ['rule', describeRule(c)],
    ['ipv4', formatIPv4(ipv4)],
  ];
  if (port !== undefined) {
    rows.push(['port', `${port}${rulePortInSet(rule, port, psid) ? '' : ` (in no port set: excluded by the port mapping, or not PSID ${psid}'s)`}`]);
  }
  const eu = endUserPrefix(rule, ipv4, psid);
  rows.push(
    ['psid', psidText(psid, k)],
    ['ports', formatPortSet(rulePortSet(rule, psid))],
    ['end-user prefix', `${formatIPv6(eu.prefix)}/${eu.length}`],
    ['map address', formatIPv6(mapCeAddress(rule, ipv4, psid))],
  );
  return rows;
}

function forwardBinding(
  bindings: ResolvedBinding[],
  ipv4: number,
  port: number | undefined,
  givenPsid: number | undefined,
  mode: string,
): [string, string][] {
  const b =
    bindings.length === 1 && bindings[0].psidLen === 0
      ? bindings[0]
      : givenPsid !== undefined
        ? bindings.find((x) => x.psid === givenPsid)
        : port !== undefined
          ? bindings.find((x) => x.psidLen === 0 || portInSet(port, x.psid, x.psidOffset, x.psidLen))
          : undefined;
  if (b === undefined) {
    if (port === undefined && givenPsid === undefined) throw new UsageError(`${formatIPv4(ipv4)} is shared by bindings: give --port or --psid`);
    throw new NotFound(`no binding on ${formatIPv4(ipv4)} has ${givenPsid !== undefined ? `PSID ${givenPsid}` : `port ${port}`}`);
  }
  return bindingRows(b, mode, port);
}

function bindingRows(b: ResolvedBinding, mode: string, port?: number): [string, string][] {
  const rows: [string, string][] = [
    ['binding', `${formatIPv4(b.ipv4)} psid-len ${b.psidLen} psid-offset ${b.psidOffset} psid ${b.psid} → ${formatIPv6Prefix({ addr: b.ipv6, len: b.prefixLen })}`],
    ['ipv4', formatIPv4(b.ipv4)],
  ];
  if (port !== undefined) rows.push(['port', String(port)]);
  rows.push(
    ['psid', psidText(b.psid, b.psidLen)],
    ['ports', formatPortSet(b.psidLen === 0 ? [[0, 65535]] : portSetRanges(b.psid, b.psidOffset, b.psidLen))],
  );
  if (b.prefixLen < 128) rows.push(['end-user prefix', formatIPv6Prefix({ addr: b.ipv6, len: b.prefixLen })]);
  rows.push([mode === 'lw4o6' ? 'b4 address' : 'map address', formatIPv6(bindingCeAddress({ ...b, ipv6Prefix: b.ipv6 }))]);
  return rows;
}

function reverse(opts: CalcOptions, config: XbrConfig | null, candidates: Candidate[]): [string, string][] {
  if (!isIPv6(opts.ipv6!)) throw new UsageError(`--ipv6: not an IPv6 address: ${JSON.stringify(opts.ipv6)}`);
  const addr = parseIPv6(opts.ipv6!);
  // Longest rule IPv6 prefix first: the most specific rule describes the address.
  const sorted = [...candidates].sort((x, y) => y.rule.ipv6PrefixLen - x.rule.ipv6PrefixLen || x.index - y.index);
  for (const c of sorted) {
    const info = extractMapAddress(c.rule, addr);
    if (info === null) continue;
    const rule = c.rule;
    const rows: [string, string][] = [
      ['rule', describeRule(c)],
      ['ipv4', formatIPv4(info.ipv4)],
      ['psid', psidText(info.psid, info.psidLen)],
    ];
    const psidOk = !(rule.modulus && info.psidLen > 0 && info.psid >= rule.modulus.sharingRatio);
    if (psidOk) {
      const eu = endUserPrefix(rule, info.ipv4, info.psid);
      rows.push(['ports', formatPortSet(rulePortSet(rule, info.psid))], ['end-user prefix', `${formatIPv6(eu.prefix)}/${eu.length}`]);
    }
    if (info.valid) {
      rows.push(['valid', 'yes']);
      return rows;
    }
    const expected = psidOk ? ` (the MAP address would be ${formatIPv6(mapCeAddress(rule, info.ipv4, info.psid))})` : ` (PSID >= sharing ratio)`;
    throw new NotFound([...table(rows), `not a valid MAP address under this rule${expected}`].join('\n'));
  }
  if (config !== null && opts.rule === undefined) {
    for (const b of config.bindings.map(resolveBinding)) {
      const ce = bindingCeAddress({ ...b, ipv6Prefix: b.ipv6 });
      if (bytesEqual(ce, addr) || (b.prefixLen < 128 && ipv6InPrefix(addr, { addr: b.ipv6, len: b.prefixLen }))) {
        const rows = bindingRows(b, config.mode);
        if (bytesEqual(ce, addr)) return [...rows, ['valid', 'yes']];
        throw new NotFound([...table(rows), `inside the binding's prefix but not its MAP address`].join('\n'));
      }
    }
  }
  throw new NotFound(`no ${opts.rule !== undefined ? 'such ' : ''}rule or binding covers ${opts.ipv6}`);
}

export function register(program: Command): void {
  program
    .command('calc')
    .description('MAP calculator: IPv4 address + port → PSID, port set, CE prefix and address; or a MAP IPv6 address → IPv4 address and PSID')
    .option('-c, --config <file>', 'take the rules and bindings from this configuration')
    .option('--rule <n>', "use the config's rule n (0-based, config order)")
    .option('--ipv4 <addr>', 'IPv4 address (forward)')
    .option('--port <port>', 'transport port, to find the PSID')
    .option('--psid <psid>', 'PSID, instead of a port')
    .option('--ipv6 <addr>', 'MAP IPv6 address (reverse)')
    .option('--ipv6-prefix <prefix>', 'inline rule: rule IPv6 prefix')
    .option('--ipv4-prefix <prefix>', 'inline rule: rule IPv4 prefix')
    .option('--ea-len <n>', 'inline rule: EA-bit length')
    .option('--psid-offset <a>', 'inline rule: PSID offset (default 6)')
    .option('--sharing-ratio <R>', 'inline rule: dIVI-pd modulus form, instead of --psid-offset')
    .option('--contiguous-ports <M>', 'inline rule: dIVI-pd modulus form')
    .option('--interface-id <format>', 'inline rule: rfc7597 (default) or divi-pd')
    .option('--mode <mode>', 'inline rule: map-t (default) or map-e')
    .action((opts: CalcOptions) => {
      process.exitCode = calcAction(opts);
    });
}
