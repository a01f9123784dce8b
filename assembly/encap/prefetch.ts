// Memory-level parallelism for the binding table (map/bindings.ts). A look-up reads
// the address entry (its psid-len and offset give the PSID of the port; the address
// table is small and mostly cached) and then the binding, at a random place of a
// table far larger than the caches. Handled one packet after another, each packet
// waits for its miss in turn (WebAssembly has no prefetch instruction). So before a
// batch is handled, its packets' slots are touched: a pass over the packets notes
// address and port; a second only loads their address entries (lw4o6 with one
// port-set layout needs none: map/bindings.ts); a third computes where each
// binding's look-up starts; a fourth only loads those slots. The loading loops do
// nothing else, so that many misses are in flight at once (a miss inside the parsing
// loop kept few in flight: the CPU's window filled with parsing). The handling that
// follows finds them in the cache (bench/RESULTS.md: 1M random bindings, 274 -> 125
// ns per packet). The passes only
// read: a packet they misjudge (a fragment, ICMP, extension headers) is handled
// just the same, only without the head start.
//
// Which address: IPv4 from the Internet, its destination; IPv4-in-IPv6 from a CE,
// the inner source (validation) and the inner destination (hairpinning check).

import { ld16, ld32 } from '../net/bytes';
import { rxBase } from '../io/frames';
import { l2len } from '../xlat/l2';
import { P_IPV4, hasPorts } from '../xlat/proto';
import { touch, homeSlot, addrParams, bPsidLen, bOffset, uLen, uOff } from '../map/bindings';
import { directLookup } from '../xlat/lookup4';
import { psidOf } from '../map/rules';

// Keeps the touching loads from being optimized away.
export let sink: u32 = 0;

// Per packet of the batch, from the first pass: the address to look up (0: none)
// and the port that selects its binding (0xffffffff: none).
const MAX: u32 = 256;
const addrs = memory.data(<i32>(MAX * 4), 16);
const dsts = memory.data(<i32>(MAX * 4), 16); // IPv4-in-IPv6: the inner destination (hairpin check)
const ports = memory.data(<i32>(MAX * 4), 16);
const slots = memory.data(<i32>(MAX * 4), 16);

/** The IPv4 packet of the frame at p (len bytes) the table is looked up for, or 0. */
@inline function ipv4Of(p: usize, len: u32, v6: bool): usize {
  if (!v6) return len >= l2len + 24 ? p + l2len : 0;
  const ip = p + l2len;
  // the common case only: IPv4 right after the IPv6 header
  if (len < l2len + 64 || <u32>load<u8>(ip + 6) != P_IPV4) return 0;
  return ip + 40;
}

// On unless a benchmark compares (encap/bench.ts).
export let prefetchOn: bool = true;
export function setPrefetch(on: bool): void {
  prefetchOn = on;
}

export function prefetchBatch(n: u32): void {
  if (!prefetchOn) return;
  if (n > MAX) n = MAX;
  let acc: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const d = rxBase + (<usize>i << 3);
    const p = <usize>load<u32>(d);
    const len = <u32>load<u16>(d, 4);
    const v6 = l2len ? ld16(p + 12) == 0x86dd : (<u32>load<u8>(p) >> 4) == 6;
    const ip = ipv4Of(p, len, v6);
    let a: u32 = 0;
    let inner: u32 = 0;
    let port: u32 = 0xffffffff;
    if (ip != 0 && (<u32>load<u8>(ip) >> 4) == 4) {
      const ihl = (<usize>load<u8>(ip) & 15) << 2;
      a = ld32(ip + (v6 ? 12 : 16));
      if (hasPorts(<u32>load<u8>(ip + 9)) && (ld16(ip + 6) & 0x1fff) == 0) port = ld16(ip + ihl + (v6 ? 0 : 2));
      if (v6) inner = ld32(ip + 16);
    }
    store<u32>(addrs + (<usize>i << 2), a);
    store<u32>(dsts + (<usize>i << 2), inner);
    store<u32>(ports + (<usize>i << 2), port);
  }
  // the address entries, in a loop that does nothing else (the parsing above would
  // fill the CPU's window and keep few of these misses in flight)
  // (lw4o6 with one port-set layout looks bindings up without them: lookup4.ts)
  const direct = directLookup();
  for (let i: u32 = 0; i < n; i++) {
    const a = load<u32>(addrs + (<usize>i << 2));
    const t = load<u32>(dsts + (<usize>i << 2));
    if (a != 0 && !direct) acc += touch(a);
    if (t != 0) acc += touch(t);
  }
  // the binding slots, computed first (the address entries are in the cache now),
  // then touched in a loop that does nothing else, so that many misses are in
  // flight at once
  for (let i: u32 = 0; i < n; i++) {
    const a = load<u32>(addrs + (<usize>i << 2));
    let s: usize = 0;
    if (a != 0 && (direct || addrParams(a))) {
      const k = direct ? uLen : bPsidLen;
      let psid: i32 = 0;
      if (k > 0) {
        const port = load<u32>(ports + (<usize>i << 2));
        psid = port == 0xffffffff ? -1 : psidOf(port, direct ? uOff : bOffset, k);
      }
      if (psid >= 0) s = homeSlot(a, <u32>psid);
    }
    store<u32>(slots + (<usize>i << 2), <u32>s);
  }
  for (let i: u32 = 0; i < n; i++) {
    const s = <usize>load<u32>(slots + (<usize>i << 2));
    // the slot and the next one (a third of the keys sit one slot past their home:
    // linear probing at half load); 48 bytes span at most two cache lines, which
    // their first and last words name
    if (s != 0) acc += load<u32>(s) + load<u32>(s, 44);
  }
  sink += acc;
}
