// The rule compiler: a validated configuration → the binary rule blob of abi.ts that
// workers swap in at a batch boundary, and the static bindings as a typed list for
// bindingPut. The layout is abi.ts's, byte for byte; little-endian throughout.
import { mapRuleFromConfig, resolveBinding, type ResolvedBinding } from '../config/rules.js';
import type { XbrConfig } from '../config/schema.js';
import { ipv6Mask, ipv6ToBigInt, bigIntToIPv6, parseIPv4, parseIPv6, parseIPv6Prefix } from '../map/ip.js';
import { psidLength, type MapRule } from '../map/rule.js';
import { BLOB_MAGIC, FLAG, HDR, MODE, RULE, RULE_FLAG, RULE_SIZE } from './abi.js';

/**
 * MAC addresses found at run time (the interface's own, the neighbour table's), which
 * fill in what the config leaves out. A side's MAC flag is set only when both its
 * source and destination MAC are known.
 */
export interface RuntimeMacs {
  ipv4Mac?: Uint8Array;
  ipv4NextHopMac?: Uint8Array;
  ipv6Mac?: Uint8Array;
  ipv6NextHopMac?: Uint8Array;
}

export function parseMac(text: string): Uint8Array {
  return Uint8Array.from(text.split(/[:-]/).map((h) => parseInt(h, 16)));
}

/**
 * Source of the BR's own ICMPv6: icmp.ipv6-source, else `br`, else the DMR prefix
 * with interface id ::1; all-zero if none is configured.
 */
export function icmpIPv6Source(config: XbrConfig): Uint8Array {
  if (config.icmp['ipv6-source'] !== undefined) return parseIPv6(config.icmp['ipv6-source']);
  if (config.br !== undefined) return parseIPv6(config.br);
  if (config.dmr !== undefined) {
    const dmr = parseIPv6Prefix(config.dmr);
    return bigIntToIPv6((ipv6ToBigInt(dmr.addr) & ipv6Mask(dmr.len)) | 1n);
  }
  return new Uint8Array(16);
}

/** Lookup order of the data plane: longest IPv4 prefix first, then longest IPv6 prefix; stable. */
export function sortRules(rules: { rule: MapRule; fmr: boolean }[]): { rule: MapRule; fmr: boolean }[] {
  return rules
    .map((r, i) => ({ r, i }))
    .sort((x, y) => y.r.rule.ipv4PrefixLen - x.r.rule.ipv4PrefixLen || y.r.rule.ipv6PrefixLen - x.r.rule.ipv6PrefixLen || x.i - y.i)
    .map(({ r }) => r);
}

/** Compiles a validated configuration into the rule blob (abi.ts HDR + RULE records). */
export function compileRules(config: XbrConfig, runtime: RuntimeMacs = {}): Uint8Array {
  const rules = sortRules(config.rules.map((r) => ({ rule: mapRuleFromConfig(r, config.mode), fmr: r.fmr })));
  const blob = new Uint8Array(HDR.RULES + RULE_SIZE * rules.length);
  const view = new DataView(blob.buffer);
  const mode = config.mode;
  const encap = mode === 'map-e' || mode === 'lw4o6';

  const dp = config.dataplane;
  const mac = (given: string | undefined, found: Uint8Array | undefined) => (given !== undefined ? parseMac(given) : found);
  const mac4Src = mac(dp?.['ipv4-mac'], runtime.ipv4Mac);
  const mac4Dst = mac(dp?.['ipv4-next-hop-mac'], runtime.ipv4NextHopMac);
  const mac6Src = mac(dp?.['ipv6-mac'], runtime.ipv6Mac);
  const mac6Dst = mac(dp?.['ipv6-next-hop-mac'], runtime.ipv6NextHopMac);

  let flags = 0;
  if (config.icmp.errors) flags |= FLAG.ICMP_ERRORS;
  if (mac4Src && mac4Dst) flags |= FLAG.MAC4;
  if (mac6Src && mac6Dst) flags |= FLAG.MAC6;
  if (mode === 'lw4o6' && config.lw4o6['unreachable-on-miss']) flags |= FLAG.LW_UNREACH;
  if (encap && config['encap-fragment']) flags |= FLAG.FRAGMENT_ENCAP;
  if (!config.hairpinning) flags |= FLAG.NO_HAIRPIN;

  view.setUint32(HDR.MAGIC, BLOB_MAGIC, true);
  view.setUint8(HDR.MODE, MODE[mode]);
  view.setUint8(HDR.FLAGS, flags);
  view.setUint16(HDR.MTU4, config.mtu.ipv4, true);
  view.setUint16(HDR.MTU6, config.mtu.ipv6, true);
  const reserved = config['reserved-ports'];
  // abi.ts: lo > hi means no reserved ports.
  view.setUint16(HDR.RESERVED_LO, reserved ? reserved[0] : 1, true);
  view.setUint16(HDR.RESERVED_HI, reserved ? reserved[1] : 0, true);
  if (config.dmr !== undefined) {
    const dmr = parseIPv6Prefix(config.dmr);
    view.setUint8(HDR.DMR_LEN, dmr.len);
    blob.set(bigIntToIPv6(ipv6ToBigInt(dmr.addr) & ipv6Mask(dmr.len)), HDR.DMR);
  }
  // map-e / lw4o6: the tunnel endpoint; map-t: the source of the BR's own ICMPv6.
  blob.set(encap ? parseIPv6(config.br!) : icmpIPv6Source(config), HDR.BR);
  view.setUint32(HDR.ICMP_RATE, config.icmp.rate, true);
  view.setUint32(HDR.ICMP_SRC4, parseIPv4(config.icmp['ipv4-source']), true);
  if (mac4Src) blob.set(mac4Src, HDR.MAC4_SRC);
  if (mac4Dst) blob.set(mac4Dst, HDR.MAC4_DST);
  if (mac6Src) blob.set(mac6Src, HDR.MAC6_SRC);
  if (mac6Dst) blob.set(mac6Dst, HDR.MAC6_DST);
  view.setUint32(HDR.FRAG_TIMEOUT_MS, config.fragments['timeout-ms'], true);
  view.setUint32(HDR.RULE_COUNT, rules.length, true);

  rules.forEach(({ rule, fmr }, i) => writeRule(blob, view, HDR.RULES + i * RULE_SIZE, rule, fmr));
  return blob;
}

function writeRule(blob: Uint8Array, view: DataView, at: number, rule: MapRule, fmr: boolean): void {
  blob.set(rule.ipv6Prefix, at + RULE.IPV6);
  view.setUint8(at + RULE.IPV6_LEN, rule.ipv6PrefixLen);
  view.setUint8(at + RULE.IPV4_LEN, rule.ipv4PrefixLen);
  view.setUint8(at + RULE.EA_LEN, rule.eaLen);
  // For a modulus rule with power-of-two R and M this is the equivalent 'a' (rules.ts).
  view.setUint8(at + RULE.PSID_OFFSET, rule.psidOffset);
  view.setUint8(at + RULE.PSID_LEN, psidLength(rule));
  let flags = 0;
  if (fmr) flags |= RULE_FLAG.FMR;
  if (rule.interfaceId === 'divi-pd') flags |= RULE_FLAG.DIVI_PD;
  if (rule.modulus) flags |= RULE_FLAG.MODULUS;
  view.setUint8(at + RULE.FLAGS, flags);
  view.setUint32(at + RULE.IPV4, rule.ipv4Prefix, true);
  if (rule.modulus) {
    view.setUint16(at + RULE.SHARING_RATIO, rule.modulus.sharingRatio, true);
    view.setUint16(at + RULE.CONTIGUOUS, rule.modulus.contiguousPorts, true);
  }
}

export type CompiledBinding = ResolvedBinding;

/**
 * The static bindings, in config order, for bindingPut: ipv6 is the CE's end-user
 * prefix (map-t, map-e) or the B4 address (lw4o6, prefixLen 128), host bits cleared.
 */
export function compileBindings(config: XbrConfig): CompiledBinding[] {
  return config.bindings.map(resolveBinding);
}
