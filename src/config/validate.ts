// Semantic checks of a configuration that passed the schema: what a shape cannot say
// (mode-dependent keys, EA-length arithmetic, overlaps, port sets vs reserved ports).
// Returns every problem found, each with the key path it belongs to; load.ts turns
// them into "file:line:col: path: reason" lines.
import { BLOB_MAX_RULES } from '../core/abi.js';
import { RFC6052_LENGTHS } from '../map/address.js';
import {
  ipv4HostBitsSet,
  ipv4PrefixesOverlap,
  ipv6HostBitsSet,
  ipv6PrefixesOverlap,
  parseIPv4,
  parseIPv4Prefix,
  parseIPv6,
  parseIPv6Prefix,
  formatIPv4,
  bytesEqual,
  type IPv4Prefix,
  type IPv6Prefix,
} from '../map/ip.js';
import {
  allModulusPortSetsSpan,
  allPortSetsSpan,
  modulusPsidOfPort,
  portSetIntersectsReserved,
  portSetRanges,
  psidOfPort,
  type PortRange,
} from '../map/psid.js';
import type { BindingConfig, RuleConfig, XbrConfig } from './schema.js';

export type ConfigPath = (string | number)[];

export interface ConfigIssue {
  path: ConfigPath;
  message: string;
}

export function formatPath(path: ConfigPath): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? '(top level)' : s;
}

const fmtRange = (r: PortRange) => `${r[0]}-${r[1]}`;

export function validateConfig(config: XbrConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add = (path: ConfigPath, message: string) => issues.push({ path, message });
  checkModeKeys(config, add);
  checkRules(config, add);
  checkBindings(config, add);
  checkDhcp(config, add);
  checkApi(config, add);
  return issues;
}

type Add = (path: ConfigPath, message: string) => void;

function checkModeKeys(config: XbrConfig, add: Add): void {
  const { mode } = config;
  if (mode === 'map-t' && config.dmr === undefined) {
    add(['dmr'], 'required in map-t mode: the Default Mapping Rule, the BR prefix (RFC 7599 section 5)');
  }
  if (mode !== 'map-t' && config.br === undefined) {
    add(['br'], `required in ${mode} mode: the BR's IPv6 tunnel endpoint`);
  }
  if (config.dmr !== undefined) {
    const dmr = parseIPv6Prefix(config.dmr);
    if (!(RFC6052_LENGTHS as readonly number[]).includes(dmr.len)) {
      add(['dmr'], `prefix length /${dmr.len} is not an RFC 6052 length (32, 40, 48, 56, 64 or 96; RFC 6052 section 2.2)`);
    } else if (ipv6HostBitsSet(dmr)) {
      add(['dmr'], `bits beyond /${dmr.len} are set`);
    } else if (dmr.len === 96 && dmr.addr[8] !== 0) {
      add(['dmr'], 'bits 64 to 71 of a /96 prefix must be zero (RFC 6052 section 2.2)');
    }
  }
  const src6 = config.icmp['ipv6-source'];
  if (src6 !== undefined && mode !== 'map-t' && config.br !== undefined && !bytesEqual(parseIPv6(src6), parseIPv6(config.br))) {
    add(['icmp', 'ipv6-source'], `in ${mode} mode the BR's own ICMPv6 comes from br (${config.br}); leave this out or set it to br`);
  }
}

/** Parsed prefixes of the rules, kept for the overlap checks. */
interface RulePrefixes {
  v4: IPv4Prefix;
  v6: IPv6Prefix;
}

function checkRules(config: XbrConfig, add: Add): void {
  if (config.rules.length > BLOB_MAX_RULES) add(['rules'], `${config.rules.length} rules; at most ${BLOB_MAX_RULES}`);
  const parsed: RulePrefixes[] = [];
  config.rules.forEach((rule, i) => {
    const v4 = parseIPv4Prefix(rule['ipv4-prefix']);
    const v6 = parseIPv6Prefix(rule['ipv6-prefix']);
    if (ipv4HostBitsSet(v4)) add(['rules', i, 'ipv4-prefix'], `bits beyond /${v4.len} are set`);
    if (ipv6HostBitsSet(v6)) add(['rules', i, 'ipv6-prefix'], `bits beyond /${v6.len} are set`);
    checkRuleLengths(config, rule, i, v4, v6, add);
    // Overlap: an IPv4 destination or IPv6 source would match two rules.
    parsed.forEach((o, j) => {
      if (ipv4PrefixesOverlap(v4, o.v4)) {
        add(['rules', i, 'ipv4-prefix'], `overlaps rules[${j}].ipv4-prefix ${config.rules[j]['ipv4-prefix']}`);
      }
      if (ipv6PrefixesOverlap(v6, o.v6)) {
        add(['rules', i, 'ipv6-prefix'], `overlaps rules[${j}].ipv6-prefix ${config.rules[j]['ipv6-prefix']}`);
      }
    });
    parsed.push({ v4, v6 });
  });
}

function checkRuleLengths(config: XbrConfig, rule: RuleConfig, i: number, v4: IPv4Prefix, v6: IPv6Prefix, add: Add): void {
  const at = (key: string): ConfigPath => ['rules', i, key];
  const o = rule['ea-len'];
  const k = o - (32 - v4.len); // RFC 7597 5.2: q = o - p, p = 32 - r
  const R = rule['sharing-ratio'];
  const M = rule['contiguous-ports'];
  const modulus = R !== undefined || M !== undefined;
  if (v6.len + o > 128) add(at('ea-len'), `ipv6 prefix length ${v6.len} + ea-len ${o} exceeds 128`);
  if (k > 16) {
    add(at('ea-len'), `PSID length k = ea-len - (32 - ${v4.len}) = ${k} exceeds 16`);
    return;
  }
  if (rule['interface-id'] === 'divi-pd' && config.mode !== 'map-t') {
    add(at('interface-id'), `divi-pd is a translation (map-t) format; mode is ${config.mode}`);
  }
  if (modulus) {
    checkModulusRule(config, rule, i, Math.max(k, 0), add);
    return;
  }
  const a = rule['psid-offset'] ?? 6;
  if (k > 0 && a + k > 16) {
    add(at('ea-len'), `psid-offset ${a} + PSID length ${k} (ea-len ${o} - (32 - ${v4.len})) exceeds 16 (RFC 7597 section 5.1)`);
    return;
  }
  // RFC 7618 section 8: port sets must not contain reserved ports. k = 0 is a
  // complete address (or prefix), which is exempt ("unless ... a full IPv4 address").
  const reserved = config['reserved-ports'];
  if (k > 0 && reserved !== null) {
    const span = allPortSetsSpan(a, k);
    if (portSetIntersectsReserved([span], reserved)) {
      const port = Math.max(span[0], reserved[0]);
      add(
        at('psid-offset'),
        `with psid-offset ${a} and PSID length ${k}, port sets reach into reserved-ports ${fmtRange(reserved)} ` +
          `(port ${port} belongs to PSID ${psidOfPort(port, a, k)}; RFC 7618 section 8)`,
      );
    }
  }
}

function checkModulusRule(config: XbrConfig, rule: RuleConfig, i: number, k: number, add: Add): void {
  const at = (key: string): ConfigPath => ['rules', i, key];
  const R = rule['sharing-ratio'];
  const M = rule['contiguous-ports'];
  if (rule['psid-offset'] !== undefined) {
    add(at('psid-offset'), 'psid-offset and sharing-ratio/contiguous-ports are alternatives; give one');
  }
  if (R === undefined) return add(at('sharing-ratio'), 'required with contiguous-ports');
  if (M === undefined) return add(at('contiguous-ports'), 'required with sharing-ratio');
  if (R * M > 32768) {
    return add(at('contiguous-ports'), `sharing-ratio ${R} * contiguous-ports ${M} = ${R * M} leaves no port range above 1023 (need R*M <= 32768)`);
  }
  // The PSID K = 0 .. R-1 travels in the k PSID bits of the EA field: exactly enough bits.
  const need = Math.ceil(Math.log2(R));
  if (need !== k) {
    return add(at('ea-len'), `sharing-ratio ${R} needs a PSID length of ${need} bits, but ea-len ${rule['ea-len']} gives ${k}`);
  }
  const reserved = config['reserved-ports'];
  const span = allModulusPortSetsSpan(R, M);
  if (k > 0 && reserved !== null && span !== null && portSetIntersectsReserved([span], reserved)) {
    const port = Math.max(span[0], reserved[0]);
    add(
      at('sharing-ratio'),
      `port sets reach into reserved-ports ${fmtRange(reserved)} (port ${port} belongs to PSID ${modulusPsidOfPort(port, R, M)}; RFC 7618 section 8)`,
    );
  }
}

function checkBindings(config: XbrConfig, add: Add): void {
  if (config.bindings.length > config['binding-capacity']) {
    add(['bindings'], `${config.bindings.length} bindings exceed binding-capacity ${config['binding-capacity']}`);
  }
  const byAddress = new Map<number, { index: number; b: BindingConfig }>();
  const seen = new Map<string, number>();
  config.bindings.forEach((b, i) => {
    const at = (key: string): ConfigPath => ['bindings', i, key];
    const k = b['psid-len'];
    const a = b['psid-offset'];
    const v6 = parseIPv6Prefix(b.ipv6, true);
    if (config.mode === 'lw4o6') {
      if (v6.len !== 128) add(at('ipv6'), `lw4o6: the B4's IPv6 address must be a /128, not /${v6.len}`);
    } else if (v6.len > 64) {
      add(at('ipv6'), `${config.mode}: the CE's end-user prefix must be /64 or shorter, not /${v6.len}`);
    } else if (ipv6HostBitsSet(v6)) {
      add(at('ipv6'), `bits beyond /${v6.len} are set`);
    }
    if (k > 0 && a + k > 16) {
      add(at('psid-len'), `psid-offset ${a} + psid-len ${k} exceeds 16 (RFC 7597 section 5.1)`);
      return;
    }
    if (b.psid >= 2 ** k) {
      add(at('psid'), `PSID ${b.psid} does not fit in psid-len ${k} bits (must be < ${2 ** k})`);
      return;
    }
    const reserved = config['reserved-ports'];
    if (k > 0 && reserved !== null) {
      const ranges = portSetRanges(b.psid, a, k);
      const hit = ranges.find((r) => r[0] <= reserved[1] && reserved[0] <= r[1]);
      if (hit) {
        add(at('psid'), `the port set of PSID ${b.psid} (ports ${fmtRange(hit)}, …) reaches into reserved-ports ${fmtRange(reserved)} (RFC 7618 section 8)`);
      }
    }
    // RFC 7597 5.1: 'a' and 'k' MUST be the same for every CE sharing an address.
    const ipv4 = parseIPv4(b.ipv4);
    const first = byAddress.get(ipv4);
    if (first === undefined) {
      byAddress.set(ipv4, { index: i, b });
    } else if (first.b['psid-len'] !== k || first.b['psid-offset'] !== a) {
      const key = first.b['psid-len'] !== k ? 'psid-len' : 'psid-offset';
      add(
        at(key),
        `bindings[${first.index}] shares ${formatIPv4(ipv4)} with psid-len ${first.b['psid-len']} psid-offset ${first.b['psid-offset']}; ` +
          `every binding on one address must use the same (RFC 7597 section 5.1)`,
      );
      return;
    }
    const id = `${ipv4}/${k === 0 ? 0 : b.psid}`;
    const dup = seen.get(id);
    if (dup !== undefined) add(at('psid'), `duplicate of bindings[${dup}] (${formatIPv4(ipv4)} PSID ${b.psid})`);
    else seen.set(id, i);
  });
}

function checkDhcp(config: XbrConfig, add: Add): void {
  const dhcp = config.dhcp4o6;
  if (dhcp === undefined) return;
  const names = new Map<string, number>();
  const prefixes: IPv4Prefix[] = [];
  dhcp.pools.forEach((pool, i) => {
    const at = (key: string): ConfigPath => ['dhcp4o6', 'pools', i, key];
    const dupName = names.get(pool.name);
    if (dupName !== undefined) add(at('name'), `duplicate of dhcp4o6.pools[${dupName}].name`);
    else names.set(pool.name, i);
    const v4 = parseIPv4Prefix(pool.ipv4);
    if (ipv4HostBitsSet(v4)) add(at('ipv4'), `bits beyond /${v4.len} are set`);
    prefixes.forEach((p, j) => {
      if (ipv4PrefixesOverlap(v4, p)) add(at('ipv4'), `overlaps dhcp4o6.pools[${j}].ipv4 ${dhcp.pools[j].ipv4}`);
    });
    prefixes.push(v4);
    if (pool['psid-len'] > 0 && pool['psid-len'] + pool['psid-offset'] > 16) {
      add(at('psid-len'), `psid-offset ${pool['psid-offset']} + psid-len ${pool['psid-len']} exceeds 16 (RFC 7597 section 5.1)`);
    }
  });
}

function isLoopback(endpoint: string): boolean {
  const host = endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, endpoint.lastIndexOf(':'));
  if (host.includes(':')) return bytesEqual(parseIPv6(host), parseIPv6('::1'));
  return parseIPv4(host) >>> 24 === 127;
}

function checkApi(config: XbrConfig, add: Add): void {
  const api = config.api;
  if (api !== undefined && api['token-file'] === undefined && !isLoopback(api.listen)) {
    add(['api', 'token-file'], `required when api.listen (${api.listen}) is not a loopback address`);
  }
}
