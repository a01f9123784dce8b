// One batch: every received descriptor is classified by its link and IP version and
// handed to the mode's IPv4-side or IPv6-side path. Each path returns -1 when it has
// emitted (or held) the frame, or the counter of the reason it dropped it; the frame
// of a dropped packet goes back to the free list here, in one place.

import { C, inc, add } from './counters';
import { ld16 } from './net/bytes';
import { loaded, mode, MODE_MAPT } from './params';
import { rxBase, resetTx, txCount, freeFrame, frameOf, frameSize, setCurrentIndex } from './io/frames';
import { l2len, saveMacs } from './xlat/l2';
import { tick } from './xlat/clock';
import { sweep, takePending, pendingLen, pendingHairpin } from './xlat/fragtable';
import { HEADROOM } from './xlat/icmperr';
import { v4to6 } from './xlat/v4to6';
import { v6to4 } from './xlat/v6to4';
import { encap4, decap6, encapHairpin } from './encap/tunnel';
import { reasmSweep } from './encap/reasm';
import { prefetchBatch, prefetchOn, sink } from './encap/prefetch';
import { resetPacketTrace } from './map/trace';

// Room the core needs in front of a packet: IPv4 -> IPv6 grows it by 20 bytes
// (28 with a Fragment header, 40 for an ICMP error), encapsulation by 40.
const MIN_HEADROOM: usize = 96;

function handle(p: usize, len: u32, counted: bool): void {
  // A packet too close to its frame's start is moved to the usual headroom
  // (AF_XDP gives 256 bytes, so this only happens with unusual UMEM settings).
  const f = frameOf(p);
  if (p - f < MIN_HEADROOM) {
    if (HEADROOM + <usize>len > <usize>frameSize()) {
      inc(C.drop_l2_truncated);
      freeFrame(p);
      return;
    }
    memory.copy(f + HEADROOM, p, len);
    p = f + HEADROOM;
  }
  saveMacs(p);
  resetPacketTrace();
  let v: u32 = 0;
  if (l2len) {
    if (len < 14) {
      inc(C.drop_l2_truncated);
      freeFrame(p);
      return;
    }
    const et = ld16(p + 12);
    v = et == 0x0800 ? 4 : (et == 0x86dd ? 6 : 0);
  } else if (len > 0) {
    v = <u32>load<u8>(p) >> 4;
  }
  let r: i32;
  if (v == 4) {
    if (counted) {
      inc(C.rx4_packets);
      add(C.rx4_bytes, len);
    }
    r = mode == MODE_MAPT ? v4to6(p, len, false) : encap4(p, len);
  } else if (v == 6) {
    if (counted) {
      inc(C.rx6_packets);
      add(C.rx6_bytes, len);
    }
    r = mode == MODE_MAPT ? v6to4(p, len) : decap6(p, len);
  } else {
    r = C.drop_not_ip;
  }
  if (r >= 0) {
    inc(<C>r);
    freeFrame(p);
  }
}

/**
 * A held fragment that is a hairpin (an IPv4 packet the BR made from a CE's IPv6
 * one, RFC 7599 12.2): it goes back to the IPv4-to-CE leg as the hairpin it is —
 * TTL already decremented, counted as hairpin.
 */
function released(p: usize, len: u32): void {
  resetPacketTrace();
  const r = mode == MODE_MAPT ? v4to6(p, len, true) : encapHairpin(p, len);
  if (r >= 0) {
    inc(<C>r);
    freeFrame(p);
  }
}

/**
 * Loads the first two cache lines of every frame of the batch (the headers the paths
 * read and rewrite) in a loop that does nothing else. A received frame was written
 * by the kernel on another CPU (AF_XDP: the XDP side copies it into the UMEM where it
 * was received), so its lines are not in this CPU's cache; handled one packet after
 * another, each packet would wait for its own misses. Independent loads in a tight
 * loop keep many misses in flight at once (WebAssembly has no prefetch instruction;
 * see encap/prefetch.ts for the same idea applied to the binding table).
 */
function touchFrames(n: u32): void {
  let acc: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = <usize>load<u32>(rxBase + (<usize>i << 3));
    acc += <u32>load<u8>(p) + <u32>load<u8>(p + 64);
  }
  sink += acc;
}

/** Handles the n descriptors of the rx array; returns how many the tx array holds. */
export function processBatch(n: u32, now: f64): u32 {
  resetTx();
  tick(now);
  sweep(8);
  reasmSweep(); // outer IPv6 fragments waiting for reassembly (encap modes)
  if (prefetchOn) touchFrames(n);
  if (mode != MODE_MAPT) prefetchBatch(n); // the batch's binding-table slots, misses overlapped
  for (let i: u32 = 0; i < n; i++) {
    const d = rxBase + (<usize>i << 3);
    setCurrentIndex(i);
    const p = <usize>load<u32>(d);
    const len = <u32>load<u16>(d, 4);
    if (!loaded) {
      inc(C.drop_no_rules);
      freeFrame(p);
      continue;
    }
    handle(p, len, true);
    // fragments that were waiting for this one
    let q = takePending();
    while (q != 0) {
      inc(C.frag_released);
      if (pendingHairpin) released(q, pendingLen);
      else handle(q, pendingLen, false);
      q = takePending();
    }
  }
  return txCount;
}
