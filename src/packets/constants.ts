// Protocol numbers, EtherTypes and ICMP types used by the packet toolkit.

export const ETHERTYPE = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8 } as const;

/** IP protocol / IPv6 Next Header values (IANA). */
export const PROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IPV4: 4, // IPv4 in IP (MAP-E, lw4o6 softwires)
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
} as const;

/** ICMPv4 types (RFC 792). */
export const ICMP4 = {
  ECHO_REPLY: 0,
  DEST_UNREACH: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAM_PROBLEM: 12,
} as const;

/** ICMPv6 types (RFC 4443). */
export const ICMP6 = {
  DEST_UNREACH: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAM_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
} as const;

/** ICMPv4 types whose body quotes the packet that caused them. */
export function isIcmp4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** ICMPv6 error messages are types 0-127 (RFC 4443 section 2.1); 1-4 are defined and quote the invoking packet. */
export function isIcmp6Error(type: number): boolean {
  return type < 128;
}

/** Pcap link types (also the values of src/core/abi.ts). */
export const LINKTYPE = { ETHERNET: 1, RAW: 101 } as const;
