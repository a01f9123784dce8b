// Benchmark staging for the encapsulation modes (bench/encap.bench.ts): like
// index.ts's benchStage, a stand-in for the NIC's DMA that copies packet templates
// into the rx frames, and then gives every packet a subscriber drawn at random from
// the whole binding table, so that a run looks up bindings at random (not the few a
// set of templates would name). Runs in wasm, so the benchmark has no JS per packet;
// its cost is counted in the measured time.
//
// The bench's table: binding i is IPv4 base + (i >> 6), PSID i & 63 (psid-len 6,
// psid-offset 6), B4 address / CE prefix ending in the 32 bits of i.
//
// kind 0: IPv4 from the Internet (UDP): destination address and port are set.
// kind 1: IPv4-in-IPv6 from a B4 (UDP): the outer source's last 32 bits, the inner
//         source address and port are set.
// Checksums stay valid: the IPv4 header's is recomputed, the UDP one updated
// (RFC 1624).

import { st16, st32 } from '../net/bytes';
import { sum, finish, neg32, adjust } from '../net/checksum';
import { rxBase } from '../io/frames';
import { l2len } from '../xlat/l2';
import { setPrefetch } from './prefetch';

let state: u64 = 0x9e3779b97f4a7c15;

@inline function next(): u64 {
  // xorshift64*
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545f4914f6cdd1d;
}

/** Turns the batch prefetch pass (encap/prefetch.ts) off or on, to measure what it gives. */
export function benchPrefetch(on: bool): void {
  setPrefetch(on);
}

export function benchSeed(seed: u32): void {
  state = <u64>seed * 0x9e3779b97f4a7c15 + 1;
}

/** Rewrites the IPv4 packet at ip (UDP) to (addr, port) as source (from a B4) or destination. */
@inline function subscriber(ip: usize, addr: u32, port: u32, source: bool): void {
  const ihl = (<usize>load<u8>(ip) & 15) << 2;
  const a = ip + (source ? 12 : 16);
  const pt = ip + ihl + (source ? 0 : 2);
  const oldA = load<u32>(a);
  const oldP = <u32>load<u16>(pt);
  st32(a, addr);
  st16(pt, port);
  // UDP: the address (pseudo-header) and the port changed
  const d = neg32(oldA) + <u64>load<u32>(a) + <u64>(~oldP & 0xffff) + <u64>load<u16>(pt);
  if (load<u16>(ip + ihl + 6) != 0) adjust(ip + ihl + 6, d, true);
  store<u16>(ip + 10, 0);
  store<u16>(ip + 10, finish(sum(ip, <u32>ihl, 0)));
}

export function benchStageTunnel(n: u32, tpl: usize, count: u32, stride: u32, kind: u32, v4base: u32, nbind: u32): void {
  for (let i: u32 = 0; i < n; i++) {
    const d = rxBase + (<usize>i << 3);
    const r = next();
    // ranges by multiply-shift (Lemire), not division
    const t = tpl + <usize>(((r >> 48) * <u64>count) >> 16) * stride;
    const len = <u32>load<u16>(t);
    const p = <usize>load<u32>(d);
    memory.copy(p, t + 2, len);
    store<u16>(d, <u16>len, 4);
    const b = <u32>(((r & 0xffffffff) * <u64>nbind) >> 32);
    const psid = b & 63;
    const port = ((1 + <u32>((((r >> 32) & 0xffff) * 63) >> 16)) << 10) | (psid << 4) | <u32>((r >> 56) & 15);
    const addr = v4base + (b >> 6);
    const ip = p + l2len;
    if (kind == 0) {
      subscriber(ip, addr, port, false);
    } else {
      st32(ip + 20, b); // the outer source's last 32 bits (no checksum covers them)
      subscriber(ip + 40, addr, port, true);
    }
  }
}
