// Counters: one u64 each, in a region of wasm memory that the host reads directly
// (no call per read). The names below are the only list of them: the host reads
// COUNTER_NAMES through counterNames() and maps index -> name, so a counter added
// here shows up in `--stats`, the status table and /metrics with no other change.
//
// Drops are named `drop_<reason>`; every packet the core receives ends either in a
// transmitted packet or in exactly one drop counter (or held as a fragment, and then
// released or dropped as frag_timeout).

export const enum C {
  rx4_packets, rx4_bytes, rx6_packets, rx6_bytes,
  tx4_packets, tx4_bytes, tx6_packets, tx6_bytes,
  xlat_4to6, xlat_6to4, encap_4in6, decap_4in6, hairpin,
  frag_out4, frag_out6, frag_held, frag_released,
  icmp4_sent, icmp6_sent, icmp_rate_limited,
  drop_not_ip, drop_l2_truncated,
  drop_ipv4_truncated, drop_ipv4_bad_header, drop_ipv4_bad_length, drop_ipv4_bad_checksum,
  drop_ipv4_ttl_expired, drop_ipv4_source_route, drop_ipv4_no_rule, drop_ipv4_no_port,
  drop_ipv4_port_unmapped, drop_ipv4_no_binding, drop_ipv4_too_big,
  drop_ipv6_truncated, drop_ipv6_bad_header, drop_ipv6_bad_length, drop_ipv6_hop_limit_expired,
  drop_ipv6_not_ours, drop_ipv6_ext_header, drop_ipv6_src_no_rule, drop_ipv6_src_spoofed,
  drop_ipv6_port_outside_psid, drop_ipv6_no_port, drop_ipv6_too_big,
  drop_icmp_truncated, drop_icmp_bad_checksum, drop_icmp_untranslatable, drop_icmp_fragmented,
  drop_icmp_inner_invalid,
  drop_udp_zero_checksum_fragment, drop_frag_no_first, drop_frag_timeout, drop_frag_table_full,
  drop_hairpin_disabled, drop_tunnel_bad_outer_source, drop_tunnel_bad_br_address, drop_tunnel_not_ipv4, drop_tunnel_inner_invalid,
  drop_tunnel_inner_source,
  tunnel_frag_held, tunnel_reassembled, tunnel_icmp_relayed,
  drop_tunnel_reasm_invalid, drop_tunnel_reasm_too_big, drop_tunnel_reasm_full, drop_tunnel_reasm_timeout,
  drop_tunnel_icmp_invalid, drop_tunnel_icmp_not_relayed,
  drop_no_frame, drop_tx_full, drop_no_rules,
  COUNT,
}

export const COUNTER_NAMES = "rx4_packets,rx4_bytes,rx6_packets,rx6_bytes," +
  "tx4_packets,tx4_bytes,tx6_packets,tx6_bytes," +
  "xlat_4to6,xlat_6to4,encap_4in6,decap_4in6,hairpin," +
  "frag_out4,frag_out6,frag_held,frag_released," +
  "icmp4_sent,icmp6_sent,icmp_rate_limited," +
  "drop_not_ip,drop_l2_truncated," +
  "drop_ipv4_truncated,drop_ipv4_bad_header,drop_ipv4_bad_length,drop_ipv4_bad_checksum," +
  "drop_ipv4_ttl_expired,drop_ipv4_source_route,drop_ipv4_no_rule,drop_ipv4_no_port," +
  "drop_ipv4_port_unmapped,drop_ipv4_no_binding,drop_ipv4_too_big," +
  "drop_ipv6_truncated,drop_ipv6_bad_header,drop_ipv6_bad_length,drop_ipv6_hop_limit_expired," +
  "drop_ipv6_not_ours,drop_ipv6_ext_header,drop_ipv6_src_no_rule,drop_ipv6_src_spoofed," +
  "drop_ipv6_port_outside_psid,drop_ipv6_no_port,drop_ipv6_too_big," +
  "drop_icmp_truncated,drop_icmp_bad_checksum,drop_icmp_untranslatable,drop_icmp_fragmented," +
  "drop_icmp_inner_invalid," +
  "drop_udp_zero_checksum_fragment,drop_frag_no_first,drop_frag_timeout,drop_frag_table_full," +
  "drop_hairpin_disabled,drop_tunnel_bad_outer_source,drop_tunnel_bad_br_address,drop_tunnel_not_ipv4,drop_tunnel_inner_invalid," +
  "drop_tunnel_inner_source," +
  "tunnel_frag_held,tunnel_reassembled,tunnel_icmp_relayed," +
  "drop_tunnel_reasm_invalid,drop_tunnel_reasm_too_big,drop_tunnel_reasm_full,drop_tunnel_reasm_timeout," +
  "drop_tunnel_icmp_invalid,drop_tunnel_icmp_not_relayed," +
  "drop_no_frame,drop_tx_full,drop_no_rules";

// Base of the counter array; set by init() through setCountersBase().
let countersBase: usize = 0;

export function setCountersBase(p: usize): void {
  countersBase = p;
}

@inline export function inc(c: C): void {
  const p = countersBase + (<usize>c << 3);
  store<u64>(p, load<u64>(p) + 1);
}

@inline export function add(c: C, n: u64): void {
  const p = countersBase + (<usize>c << 3);
  store<u64>(p, load<u64>(p) + n);
}
