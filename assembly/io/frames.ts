// UMEM frames and packet descriptors.
//
// Frames are fixed-size, power-of-two chunks of one region of wasm memory (the AF_XDP
// UMEM, DESIGN.md). The core owns the free list: the host takes frames from it for
// the fill ring (framesTake) and gives back the ones the kernel has finished sending
// (framesPut, from the completion ring). A received frame is rewritten in place and
// transmitted from where it lies; frames for extra packets (fragments, ICMP errors)
// come from the free list.
//
// Descriptors (src/core/abi.ts): u32 address | u16 length | u8 port | u8 flags.

import { C, inc, add } from '../counters';
import { traceSent } from '../map/trace';
import { l2len } from '../xlat/l2';

export let framesBase: usize = 0;
export let frameShift: u32 = 11;
export let frameCount: u32 = 0;
let freeBase: usize = 0; // u32 stack of free frame addresses
let freeTop: u32 = 0;

export let rxBase: usize = 0;
export let txBase: usize = 0;
export let txCap: u32 = 0;
export let txCount: u32 = 0;
export let ioBase: usize = 0;
export let ioCap: u32 = 0;

export function setFrameArea(frames: usize, shift: u32, count: u32, freeList: usize): void {
  framesBase = frames;
  frameShift = shift;
  frameCount = count;
  freeBase = freeList;
  freeTop = 0;
  for (let i: u32 = 0; i < count; i++) {
    store<u32>(freeBase + (<usize>freeTop << 2), <u32>(frames + (<usize>i << shift)));
    freeTop++;
  }
}

export function setDescAreas(rx: usize, tx: usize, txCapacity: u32, io: usize, ioCapacity: u32): void {
  rxBase = rx;
  txBase = tx;
  txCap = txCapacity;
  ioBase = io;
  ioCap = ioCapacity;
}

@inline export function frameSize(): u32 {
  return <u32>1 << frameShift;
}

/** The start of the frame that holds address p. */
@inline export function frameOf(p: usize): usize {
  return framesBase + (((p - framesBase) >> frameShift) << frameShift);
}

@inline export function isFrame(p: usize): bool {
  return p >= framesBase && p < framesBase + (<usize>frameCount << frameShift);
}

/** A free frame's address, or 0 when none is left. */
export function allocFrame(): usize {
  if (freeTop == 0) return 0;
  freeTop--;
  return <usize>load<u32>(freeBase + (<usize>freeTop << 2));
}

export function freeFrame(p: usize): void {
  if (!isFrame(p) || freeTop >= frameCount) return;
  store<u32>(freeBase + (<usize>freeTop << 2), <u32>frameOf(p));
  freeTop++;
}

export function freeFrames(): u32 {
  return freeTop;
}

/** Moves up to n free frames into the io array; returns how many. */
export function take(n: u32): u32 {
  if (n > ioCap) n = ioCap;
  let i: u32 = 0;
  while (i < n && freeTop > 0) {
    freeTop--;
    store<u32>(ioBase + (<usize>i << 2), load<u32>(freeBase + (<usize>freeTop << 2)));
    i++;
  }
  return i;
}

/** Returns n frames listed in the io array to the free list. */
export function put(n: u32): void {
  if (n > ioCap) n = ioCap;
  for (let i: u32 = 0; i < n; i++) freeFrame(<usize>load<u32>(ioBase + (<usize>i << 2)));
}

// ---- output ---------------------------------------------------------------------

// The rx index of the packet being handled: each tx descriptor records which
// received packet produced it (its flags byte), so an offline run can give each
// output its input's timestamp. Batches are at most 256 packets.
let curIndex: u32 = 0;
export function setCurrentIndex(i: u32): void {
  curIndex = i;
}

export function resetTx(): void {
  txCount = 0;
}

/** Queues a packet for transmission; false (and the frame freed) when the tx array is full. */
export function emit(p: usize, len: u32, port: u32): bool {
  if (txCount >= txCap) {
    inc(C.drop_tx_full);
    freeFrame(p);
    return false;
  }
  const d = txBase + (<usize>txCount << 3);
  store<u32>(d, <u32>p);
  store<u16>(d, <u16>len, 4);
  store<u8>(d, <u8>port, 6);
  store<u8>(d, <u8>curIndex, 7);
  txCount++;
  if (port == 0) {
    inc(C.tx4_packets);
    add(C.tx4_bytes, len);
  } else {
    inc(C.tx6_packets);
    add(C.tx6_bytes, len);
  }
  traceSent(port, len - l2len);
  return true;
}
