// A MAP rule (RFC 7597 section 5: Basic / Forwarding Mapping Rule) in numeric form,
// its derived lengths, and its port sets (bit layout or the dIVI-pd modulus form).
import {
  modulusPortInSet,
  modulusPortSetRanges,
  modulusPsidOfPort,
  portInSet,
  portSetRanges,
  psidOfPort,
  type PortRange,
} from './psid.js';

export type InterfaceIdFormat = 'rfc7597' | 'divi-pd';

export interface MapRule {
  /** Rule IPv6 prefix, 16 bytes, bits past ipv6PrefixLen zero. */
  ipv6Prefix: Uint8Array;
  ipv6PrefixLen: number; // n
  /** Rule IPv4 prefix, numeric, bits past ipv4PrefixLen zero. */
  ipv4Prefix: number;
  ipv4PrefixLen: number; // r
  eaLen: number; // o
  /** 'a' (RFC 7597 5.1). Ignored for ports when `modulus` is set. */
  psidOffset: number;
  interfaceId: InterfaceIdFormat;
  /** The dIVI-pd draft's generalized modulus form (section 4.1) instead of the bit layout. */
  modulus?: { sharingRatio: number; contiguousPorts: number };
  /**
   * When the CE gets an IPv4 prefix (o + r < 32), whether the interface identifier
   * carries the complete IPv4 address: true for MAP-T (RFC 7599 erratum 5225: each
   * address of the prefix is translated to its own IPv6 address), false for MAP-E
   * (RFC 7597 section 6: the prefix, right-padded with zeros).
   */
  fullIPv4InIid: boolean;
}

/** PSID length k = o - (32 - r) (RFC 7597 5.2 "q = o - p"), 0 when not shared. */
export function psidLength(rule: MapRule): number {
  return Math.max(0, rule.eaLen - (32 - rule.ipv4PrefixLen));
}

/** p: the IPv4 suffix bits carried in the EA bits. */
export function ipv4SuffixLength(rule: MapRule): number {
  return Math.min(rule.eaLen, 32 - rule.ipv4PrefixLen);
}

/** Length of the IPv4 prefix or address a CE gets: r + p (32 for an address). */
export function ceIPv4PrefixLength(rule: MapRule): number {
  return rule.ipv4PrefixLen + ipv4SuffixLength(rule);
}

/** End-user IPv6 prefix length n + o. */
export function endUserPrefixLength(rule: MapRule): number {
  return rule.ipv6PrefixLen + rule.eaLen;
}

/** The PSID a port belongs to under this rule. */
export function rulePsidOfPort(rule: MapRule, port: number): number {
  const k = psidLength(rule);
  if (k === 0) return 0;
  if (rule.modulus) return modulusPsidOfPort(port, rule.modulus.sharingRatio, rule.modulus.contiguousPorts);
  return psidOfPort(port, rule.psidOffset, k);
}

/** The port set of `psid` under this rule. */
export function rulePortSet(rule: MapRule, psid: number): PortRange[] {
  const k = psidLength(rule);
  if (k === 0) return [[0, 65535]];
  if (rule.modulus) return modulusPortSetRanges(psid, rule.modulus.sharingRatio, rule.modulus.contiguousPorts);
  return portSetRanges(psid, rule.psidOffset, k);
}

export function rulePortInSet(rule: MapRule, port: number, psid: number): boolean {
  const k = psidLength(rule);
  if (k === 0) return true;
  if (rule.modulus) return modulusPortInSet(port, psid, rule.modulus.sharingRatio, rule.modulus.contiguousPorts);
  return portInSet(port, psid, rule.psidOffset, k);
}
