// The IPv4 side's look-up (RFC 7599 section 8.4, RFC 7597 section 5.3, RFC 7596
// section 6.1): an IPv4 destination and port -> the CE's IPv6 address. Bindings
// first (EA-len 0, RFC 7599 section 12.1; lw4o6's binding table), then the longest
// matching rule. The result is in outHi / outLo (map/addr.ts).

import { C } from '../counters';
import { mode, MODE_LW4O6, portReserved } from '../params';
import { addrParams, bPsidLen, bOffset, lookup, slotPrefixLen, slotUsed, uniform, uLen, uOff } from '../map/bindings';
import { noteLookup, noteRule } from '../map/trace';
import { findRule4, rule, rulePsid, mapAddress, bindingAddress, psidOf, RULE_FLAG_MODULUS } from '../map/rules';
import { loadHi, loadLo } from '../map/addr';

/**
 * lw4o6 with one port-set layout (map/bindings.ts): bindings are looked up straight
 * from the port, without the address entry (mapV4; the batch pass, encap/prefetch.ts).
 * Not in the modes with rules: there most addresses have no binding, and the address
 * entry, usually cached, says so without a look-up in the big table.
 */
@inline export function directLookup(): bool {
  return mode == MODE_LW4O6 && uniform;
}

/** The CE address of binding slot s (outHi/outLo), noted for per-subscriber counters. */
@inline function found(s: usize, v4: u32, psid: u32): i32 {
  bindingAddress(loadHi(s + 8), loadLo(s + 8), slotPrefixLen(s), v4, psid);
  noteLookup(slotUsed(s));
  return -1;
}

/** -1 when the address is mapped (outHi/outLo set), else the drop counter. */
export function mapV4(v4: u32, port: u32, hasPort: bool): i32 {
  // A miss of the direct look-up goes the general way, which says why.
  if (directLookup() && (uLen == 0 || (hasPort && !portReserved(port)))) {
    const psid = uLen == 0 ? 0 : psidOf(port, uOff, uLen);
    if (psid >= 0) {
      const s = lookup(v4, <u32>psid);
      if (s != 0) return found(s, v4, <u32>psid);
    }
  }
  if (addrParams(v4)) {
    let psid: i32 = 0;
    if (bPsidLen > 0) {
      if (!hasPort) return C.drop_ipv4_no_port;
      // Reserved ports are in no port set (RFC 7618 section 8).
      if (portReserved(port)) return C.drop_ipv4_port_unmapped;
      psid = psidOf(port, bOffset, bPsidLen);
      if (psid < 0) return C.drop_ipv4_port_unmapped;
    }
    const s = lookup(v4, <u32>psid);
    if (s == 0) return C.drop_ipv4_no_binding;
    return found(s, v4, <u32>psid);
  }
  if (mode == MODE_LW4O6) return C.drop_ipv4_no_rule; // lw4o6 has bindings only
  const ri = findRule4(v4);
  if (ri < 0) return C.drop_ipv4_no_rule;
  const r = rule(<u32>ri);
  let psid: i32 = 0;
  if (r.k > 0 || (r.flags & RULE_FLAG_MODULUS)) {
    if (!hasPort) return C.drop_ipv4_no_port;
    if (portReserved(port)) return C.drop_ipv4_port_unmapped;
    psid = rulePsid(r, port);
    if (psid < 0) return C.drop_ipv4_port_unmapped;
  }
  mapAddress(r, v4, <u32>psid);
  noteRule();
  return -1;
}

/** True when the IPv4 address is covered by a binding or a rule (the BR's own). */
export function ownsV4(v4: u32): bool {
  if (addrParams(v4)) return true;
  if (mode == MODE_LW4O6) return false;
  return findRule4(v4) >= 0;
}
