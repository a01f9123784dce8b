// Source validation at the BR for packets from CEs (RFC 7599 section 8.3, RFC 7597
// section 8.1): the source must be a MAP address of a rule or binding, exactly as
// its EA bits (or its binding) define it, and the port must lie in its port set.

import { C } from '../counters';
import { portReserved } from '../params';
import { addrParams, bPsidLen, bOffset, lookup, slotPrefixLen, slotUsed } from '../map/bindings';
import { noteLookup, noteRule } from '../map/trace';
import { findRule6, rule, rulePsid, sourceOfRule, srcV4, srcPsid, psidOf, bindingAddress, RULE_FLAG_MODULUS } from '../map/rules';
import { loadHi, loadLo, outHi, outLo } from '../map/addr';

export let vV4: u32 = 0;
export let vPsid: u32 = 0;

/** -1 when (hi, lo) with `port` is a valid CE source (vV4, vPsid set), else a drop. */
export function validateSource(hi: u64, lo: u64, port: u32, hasPort: bool): i32 {
  // EA-len-0 bindings first (RFC 7599 section 12.1): the interface identifier holds
  // the IPv4 address and PSID (RFC 7597 section 6), the binding the prefix.
  const bv4 = <u32>(lo >> 16);
  const bpsid = <u32>(lo & 0xffff);
  if ((lo >> 48) == 0 && addrParams(bv4)) {
    const s = lookup(bv4, bpsid);
    if (s != 0) {
      bindingAddress(loadHi(s + 8), loadLo(s + 8), slotPrefixLen(s), bv4, bpsid);
      if (outHi != hi || outLo != lo) return C.drop_ipv6_src_spoofed;
      if (bPsidLen > 0) {
        if (!hasPort) return C.drop_ipv6_no_port;
        if (portReserved(port) || psidOf(port, bOffset, bPsidLen) != <i32>bpsid) return C.drop_ipv6_port_outside_psid;
      }
      vV4 = bv4;
      vPsid = bpsid;
      noteLookup(slotUsed(s));
      return -1;
    }
  }
  const ri = findRule6(hi, lo);
  if (ri < 0) return C.drop_ipv6_src_no_rule;
  const r = rule(<u32>ri);
  if (!sourceOfRule(r, hi, lo)) return C.drop_ipv6_src_spoofed;
  // An address with bindings belongs to them, the covering rule notwithstanding
  // (RFC 7599 section 12.1; mapV4 looks bindings up first): the rule's CE for it
  // receives nothing, so it may not send as it either.
  if (addrParams(srcV4)) return C.drop_ipv6_src_spoofed;
  if (r.k > 0 || (r.flags & RULE_FLAG_MODULUS)) {
    if (!hasPort) return C.drop_ipv6_no_port;
    if (portReserved(port) || rulePsid(r, port) != <i32>srcPsid) return C.drop_ipv6_port_outside_psid;
  }
  vV4 = srcV4;
  vPsid = srcPsid;
  noteRule();
  return -1;
}
