// What the XDP program steers to the BR (DESIGN.md "steer, don't steal"): IPv4 to
// the rules' prefixes and the bindings' addresses; IPv6 to the DMR (map-t) or the BR
// address (map-e, lw4o6). Binding addresses are merged into the fewest covering
// CIDR blocks, since the program's LPM maps are bounded.

import type { XbrConfig } from '../config/schema.js';
import { prefix, type Prefix } from './xsk.js';

/** The program's map size (native/bpf/xbr_steer.bpf.c PREFIX_MAX_ENTRIES). */
export const PREFIX_MAX_ENTRIES = 16384;

/** Sorted, de-duplicated IPv4 addresses merged into aligned CIDR blocks. */
export function mergeAddresses(addrs: Iterable<number>): Prefix[] {
  const sorted = [...new Set(Array.from(addrs, (a) => a >>> 0))].sort((a, b) => a - b);
  const out: Prefix[] = [];
  let i = 0;
  while (i < sorted.length) {
    let start = sorted[i];
    let end = start; // inclusive
    while (i + 1 < sorted.length && sorted[i + 1] === end + 1) {
      end++;
      i++;
    }
    i++;
    // cover [start, end] with the largest aligned blocks
    while (start <= end) {
      let len = 32;
      while (len > 0) {
        const size = 2 ** (32 - (len - 1));
        if (start % size !== 0 || start + size - 1 > end) break;
        len--;
      }
      out.push({ addr: Uint8Array.from([start >>> 24, (start >>> 16) & 255, (start >>> 8) & 255, start & 255]), len });
      start += 2 ** (32 - len);
    }
  }
  return out;
}

export interface SteeringSets {
  v4: Prefix[];
  v6: Prefix[];
}

/** The IPv4 prefixes a config steers whatever its bindings: rules (not lw4o6) and 4o6 pools. */
function configPrefixes4(config: XbrConfig): Prefix[] {
  const v4: Prefix[] = config.mode === 'lw4o6' ? [] : config.rules.map((r) => prefix(r['ipv4-prefix']));
  // addresses the 4o6 server leases become bindings at run time
  for (const pool of config.dhcp4o6?.pools ?? []) v4.push(prefix(pool.ipv4));
  return v4;
}

/**
 * Whether an IPv4 address is steered by the config's own prefixes: a binding there
 * needs no entry of its own, so a lease or an API binding on it changes nothing in
 * the XDP maps.
 */
export function coveredBy(config: XbrConfig): (ipv4: number) => boolean {
  const nets = configPrefixes4(config).map((p) => {
    const net = ((p.addr[0] << 24) | (p.addr[1] << 16) | (p.addr[2] << 8) | p.addr[3]) >>> 0;
    const mask = p.len === 0 ? 0 : (0xffffffff << (32 - p.len)) >>> 0;
    return [net, mask] as const;
  });
  return (ipv4) => nets.some(([net, mask]) => ((ipv4 & mask) >>> 0) === net);
}

/** The prefixes for a config whose bindings are on `addresses` (IPv4 numbers). */
export function steeringFor(config: XbrConfig, addresses: Iterable<number>): SteeringSets {
  const v4 = configPrefixes4(config);
  const covered = coveredBy(config);
  v4.push(...mergeAddresses([...addresses].filter((a) => !covered(a))));
  const v6: Prefix[] = [];
  if (config.mode === 'map-t' && config.dmr) v6.push(prefix(config.dmr));
  if (config.br) v6.push(prefix(`${config.br}/128`));
  if (v4.length > PREFIX_MAX_ENTRIES || v6.length > PREFIX_MAX_ENTRIES) {
    throw new Error(`steering needs ${v4.length} IPv4 prefixes, the XDP program holds ${PREFIX_MAX_ENTRIES}`);
  }
  return { v4, v6 };
}
