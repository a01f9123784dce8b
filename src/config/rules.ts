// From configuration entries to the numeric forms the address math (src/map) and the
// rule compiler (src/core/blob.ts) work on. Inputs are assumed to have passed the
// schema (syntax); the callers in validate.ts check semantics before relying on them.
import { ipv4Mask, ipv6Mask, ipv6ToBigInt, bigIntToIPv6, parseIPv4, parseIPv4Prefix, parseIPv6Prefix } from '../map/ip.js';
import { modulusToBitLayout } from '../map/psid.js';
import type { MapRule } from '../map/rule.js';
import type { BindingConfig, Mode, RuleConfig } from './schema.js';

/** A rule's numeric form. Prefix host bits are cleared (validate.ts reports them). */
export function mapRuleFromConfig(rule: RuleConfig, mode: Mode): MapRule {
  const v6 = parseIPv6Prefix(rule['ipv6-prefix']);
  const v4 = parseIPv4Prefix(rule['ipv4-prefix']);
  const R = rule['sharing-ratio'];
  const M = rule['contiguous-ports'];
  const modulus = R !== undefined && M !== undefined ? { sharingRatio: R, contiguousPorts: M } : undefined;
  // For a modulus rule whose R and M are powers of two, the equivalent bit layout's
  // 'a' is recorded too, so that a consumer that only knows the bit layout agrees.
  const psidOffset = rule['psid-offset'] ?? (modulus ? (modulusToBitLayout(R!, M!)?.a ?? 0) : 6);
  return {
    ipv6Prefix: bigIntToIPv6(ipv6ToBigInt(v6.addr) & ipv6Mask(v6.len)),
    ipv6PrefixLen: v6.len,
    ipv4Prefix: (v4.addr & ipv4Mask(v4.len)) >>> 0,
    ipv4PrefixLen: v4.len,
    eaLen: rule['ea-len'],
    psidOffset,
    interfaceId: rule['interface-id'],
    modulus,
    // RFC 7599 erratum 5225 applies to translation only (see MapRule.fullIPv4InIid).
    fullIPv4InIid: mode === 'map-t',
  };
}

export interface ResolvedBinding {
  ipv4: number;
  psidLen: number;
  psidOffset: number;
  psid: number;
  /** map-t, map-e: the CE's end-user prefix; lw4o6: the B4 address (prefixLen 128). */
  ipv6: Uint8Array;
  prefixLen: number;
}

export function resolveBinding(b: BindingConfig): ResolvedBinding {
  const v6 = parseIPv6Prefix(b.ipv6, true);
  return {
    ipv4: parseIPv4(b.ipv4),
    psidLen: b['psid-len'],
    psidOffset: b['psid-offset'],
    psid: b.psid,
    ipv6: bigIntToIPv6(ipv6ToBigInt(v6.addr) & ipv6Mask(v6.len)),
    prefixLen: v6.len,
  };
}
