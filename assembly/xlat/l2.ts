// The link layer of a batch: Ethernet (AF_XDP, pcap linktype 1) or raw IP (pcap
// linktype 101). Output frames get the configured MACs of their side when the config
// names them, else they keep the MAC addresses of the frame they were made from.

import { st16 } from '../net/bytes';
import { flags, FLAG_MAC4, FLAG_MAC6, mac4Src, mac4Dst, mac6Src, mac6Dst } from '../params';

export const LINK_ETHERNET: u32 = 1;
export const LINK_RAW: u32 = 101;

export let linkType: u32 = LINK_ETHERNET;
export let l2len: u32 = 14;

export function setLinkType(t: u32): void {
  linkType = t == LINK_RAW ? LINK_RAW : LINK_ETHERNET;
  l2len = linkType == LINK_RAW ? 0 : 14;
}

// The MAC addresses of the frame being handled, saved before its header is
// overwritten: bytes 0..7 and 8..11 of the Ethernet header.
export let macLo: u64 = 0;
export let macHi: u32 = 0;

@inline export function saveMacs(p: usize): void {
  if (l2len) {
    macLo = load<u64>(p);
    macHi = load<u32>(p, 8);
  }
}

function storeMac(p: usize, mac: u64): void {
  // 48-bit number, first byte most significant
  store<u8>(p, <u8>(mac >> 40));
  store<u8>(p, <u8>(mac >> 32), 1);
  store<u8>(p, <u8>(mac >> 24), 2);
  store<u8>(p, <u8>(mac >> 16), 3);
  store<u8>(p, <u8>(mac >> 8), 4);
  store<u8>(p, <u8>mac, 5);
}

/**
 * Writes the Ethernet header of an outgoing packet whose IP header starts at `ip`
 * (nothing for raw IP). `reply` swaps the saved addresses (a packet sent back where
 * the frame came from, e.g. an ICMP error), else they are kept (forwarding with no
 * configured MACs, as in the offline translator).
 */
export function writeL2(ip: usize, port: u32, ethertype: u32, reply: bool): void {
  if (!l2len) return;
  const h = ip - 14;
  const f = port == 0 ? FLAG_MAC4 : FLAG_MAC6;
  if (flags & f) {
    storeMac(h, port == 0 ? mac4Dst : mac6Dst);
    storeMac(h + 6, port == 0 ? mac4Src : mac6Src);
  } else if (reply) {
    // destination <- saved source (bytes 6..11), source <- saved destination (0..5)
    const dst0 = <u32>macLo; // bytes 0..3
    const dst1 = <u16>(macLo >> 32); // bytes 4..5
    const src0 = <u16>(macLo >> 48); // bytes 6..7
    const src1 = macHi; // bytes 8..11
    store<u16>(h, src0);
    store<u32>(h, src1, 2);
    store<u32>(h, dst0, 6);
    store<u16>(h, dst1, 10);
  } else {
    store<u64>(h, macLo);
    store<u32>(h, macHi, 8);
  }
  st16(h + 12, ethertype);
}
