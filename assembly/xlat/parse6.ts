// IPv6 header and extension-header walk (RFC 8200 section 4; RFC 7915 section 5.1:
// Hop-by-Hop, Destination Options and Routing headers with Segments Left 0 are
// skipped; a Routing header with Segments Left > 0 is an error; the Fragment header
// becomes the IPv4 fragment fields). Results in module globals.

import { C } from '../counters';
import { ld16, ld32 } from '../net/bytes';
import { P_FRAG } from './proto';

export let v6plen: u32 = 0; // payload length
export let v6nh: u32 = 0; // upper-layer protocol
export let v6l4: u32 = 0; // offset of the upper-layer header from the IPv6 header
export let v6frag: bool = false; // a Fragment header is present
export let v6fragOff: u32 = 0; // in 8-byte units
export let v6fragMore: bool = false;
export let v6fragId: u32 = 0;
export let v6errPtr: u32 = 0; // for drop_ipv6_ext_header: the offending field's offset

const MAX_EXT: u32 = 8;

/** Checks the IPv6 packet at ip (ipLen bytes available); -1 or a drop counter. */
export function parse6(ip: usize, ipLen: u32): i32 {
  if (ipLen < 40) return C.drop_ipv6_truncated;
  if ((<u32>load<u8>(ip) >> 4) != 6) return C.drop_ipv6_bad_header;
  const plen = ld16(ip + 4);
  if (plen + 40 > ipLen) return C.drop_ipv6_bad_length;
  const end: u32 = plen + 40;
  let nh = <u32>load<u8>(ip + 6);
  let off: u32 = 40;
  v6frag = false;
  v6fragOff = 0;
  v6fragMore = false;
  v6fragId = 0;
  for (let n: u32 = 0; n < MAX_EXT; n++) {
    if (nh == 0 || nh == 60 || nh == 43) {
      if (off + 8 > end) return C.drop_ipv6_truncated;
      if (nh == 43 && load<u8>(ip + off + 3) != 0) {
        v6errPtr = off + 3;
        return C.drop_ipv6_ext_header;
      }
      const next = <u32>load<u8>(ip + off);
      off += (<u32>load<u8>(ip + off + 1) + 1) << 3;
      nh = next;
    } else if (nh == P_FRAG) {
      if (v6frag) return C.drop_ipv6_ext_header; // two Fragment headers
      if (off + 8 > end) return C.drop_ipv6_truncated;
      const f = ld16(ip + off + 2);
      v6frag = true;
      v6fragOff = f >> 3;
      v6fragMore = (f & 1) != 0;
      v6fragId = ld32(ip + off + 4);
      nh = <u32>load<u8>(ip + off);
      off += 8;
    } else {
      break;
    }
  }
  if (nh == 0 || nh == 60 || nh == 43 || nh == P_FRAG) return C.drop_ipv6_ext_header; // too many
  if (off > end) return C.drop_ipv6_truncated;
  v6plen = plen;
  v6nh = nh;
  v6l4 = off;
  return -1;
}
