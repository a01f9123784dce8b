// Protocol numbers and where their ports and checksums lie.

export const P_ICMP: u32 = 1;
export const P_TCP: u32 = 6;
export const P_UDP: u32 = 17;
export const P_DCCP: u32 = 33;
export const P_IPV6: u32 = 41;
export const P_IPV4: u32 = 4;
export const P_FRAG: u32 = 44;
export const P_ICMPV6: u32 = 58;
export const P_SCTP: u32 = 132;
export const P_UDPLITE: u32 = 136;

/** Protocols whose first four bytes are source and destination ports. */
@inline export function hasPorts(proto: u32): bool {
  return proto == P_TCP || proto == P_UDP || proto == P_SCTP || proto == P_DCCP || proto == P_UDPLITE;
}

/**
 * Offset of a checksum that covers the IP pseudo-header (so changes with the
 * addresses), or -1. SCTP's CRC32c covers no pseudo-header (RFC 9260).
 */
@inline export function pseudoCsumOffset(proto: u32): i32 {
  if (proto == P_TCP) return 16;
  if (proto == P_UDP || proto == P_UDPLITE || proto == P_DCCP) return 6;
  return -1;
}

/** Bytes of the L4 header the checksum offset needs to be present. */
@inline export function minL4(proto: u32): u32 {
  if (proto == P_TCP) return 20;
  if (proto == P_DCCP) return 12;
  if (proto == P_SCTP) return 12;
  return 8;
}
