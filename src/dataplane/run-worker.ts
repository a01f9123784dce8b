// The line-rate loop of one worker (one queue): AF_XDP sockets whose UMEM is the
// frame region of this worker's wasm memory, so the kernel writes a received frame
// where the core reads it and the core's rewritten frame is sent from the same place.
//
//   rx (IPv4 side, IPv6 side) -> core.process -> txSplit -> tx per side
//   completions -> free list -> fill rings
//
// One N-API call per ring per batch, no JS per packet. Control (stop, rule blob,
// binding changes) is read from the shared control block between batches.

import { Engine, FRAME_HEADROOM, type BindingSpec } from '../core/engine.js';
import { ControlBlock, PUBLISH_MS } from './control.js';
import { BindingRing, OP_PUT, OP_TRACE } from './binding-ring.js';
import { loadXsk, type XskSocket, type Umem, type SocketMode } from './xsk.js';
import { PackedBindings } from '../config/bindings-file.js';

export interface RunTask {
  kind: 'run';
  worker: number;
  control: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  queue: number;
  ipv4Interface: string;
  ipv6Interface: string;
  mode: SocketMode;
  batch: number;
  bindingCapacity: number;
  fragmentSlots: number;
  /** Static bindings, packed (structured clone of PackedBindings' arrays). */
  bindings: { count: number; ipv4: Uint32Array; psid: Uint16Array; psidLen: Uint8Array; psidOffset: Uint8Array; prefixLen: Uint8Array; ipv6: Uint8Array };
  /** Traced bindings and their trace slots (per-subscriber counters). */
  traces?: { ipv4: number; psid: number; slot: number }[];
  /** Pin this worker's thread to a CPU (optional). */
  cpu?: number;
  /** Frames kept on each socket's fill ring (default DEFAULT_FILL; batch..8192). */
  fill?: number;
}

export interface RunResult {
  worker: number;
  bindMode: string;
  packets: number;
  /** The sockets' XDP_STATISTICS at stop, by name: xsk4_<stat> (IPv4 side), xsk6_<stat>. */
  xsk: Record<string, number>;
}

/**
 * Ring sizes. The fill and RX rings are deep: they are the buffer between the
 * kernel's receive path and this thread, and what absorbs the moments the thread
 * does not run (on a shared CPU, 1-4 ms gaps; at 1.2 Mpps a 4 ms gap is ~5,000
 * frames, which overflowed rings of 2,048). TX and completion rings drain at the
 * thread's own pace and stay smaller.
 */
const RX_RING = 8192;
const TX_RING = 2048;
/**
 * UMEM frames (2 KiB chunks, 256 bytes of headroom: a 1,500-byte packet plus 40 of
 * encapsulation fits): both sockets' fill and RX rings, both TX rings, a batch, and
 * the quarter the core may hold as fragments.
 */
const FRAMES = 32768;
const FRAME_SIZE = 2048;
/** Frames kept on each socket's fill ring (RunTask.fill). */
export const DEFAULT_FILL = RX_RING;
/**
 * How long an idle worker blocks in poll() before it looks at its control block
 * (stop, rules, bindings) again. It polls all its sockets at once, so a packet on
 * either side wakes it at once.
 */
const IDLE_POLL_MS = 5;
/** A worker keeps spinning this long after its last packet before it may block. */
const SPIN_MS = 50;

/** Stocks a socket's fill ring from the core's free frames; returns how many it took. */
function refill(engine: Engine, addon: ReturnType<typeof loadXsk>, sock: XskSocket, want: number): number {
  const core = engine.core;
  const n = core.framesTake(want);
  if (n === 0) return 0;
  const accepted = addon.fill(sock, core.ioPtr(), n);
  if (accepted < n) {
    // give back the ones the ring had no room for
    const io = new Uint32Array(core.memory.buffer, core.ioPtr(), n);
    io.copyWithin(0, accepted, n);
    core.framesPut(n - accepted);
  }
  return accepted;
}

export function runWorker(task: RunTask): RunResult {
  const addon = loadXsk();
  if (task.cpu !== undefined) addon.setAffinity(task.cpu);
  const control = new ControlBlock(task.control);
  const ring = new BindingRing(task.ring);
  const engine = Engine.createSync({
    bindingCapacity: task.bindingCapacity,
    fragmentSlots: task.fragmentSlots,
    frames: FRAMES,
    frameSize: FRAME_SIZE,
    batch: task.batch,
  });
  const core = engine.core;
  engine.setLinkType(1);
  engine.loadRules(control.rules());
  let rulesGen = control.rulesGeneration();
  const packed = Object.assign(new PackedBindings(0), task.bindings);
  engine.putBindings(packed);
  for (const t of task.traces ?? []) core.traceSet(t.ipv4, t.psid, t.slot);
  const applyBinding = (op: number, b: BindingSpec): void => {
    if (op === OP_PUT) engine.tryPutBinding(b);
    // a replayed change after a restart may find it done already: the status is moot
    else if (op === OP_TRACE) core.traceSet(b.ipv4, b.psid, b.prefixLen);
    else engine.removeBinding(b.ipv4, b.psid);
  };
  ring.drain(applyBinding);

  const umem: Umem = addon.createUmem(core.memory, core.framesPtr(), core.framesBytes(), FRAME_SIZE, 0, RX_RING, TX_RING);
  const sockets: XskSocket[] = [];
  try {
    const s4 = addon.createSocket(umem, task.ipv4Interface, task.queue, { mode: task.mode, rxSize: RX_RING, txSize: TX_RING, needWakeup: true, port: 0 });
    sockets.push(s4);
    const oneArmed = task.ipv6Interface === task.ipv4Interface;
    const s6 = oneArmed ? s4 : addon.createSocket(umem, task.ipv6Interface, task.queue, { mode: task.mode, rxSize: RX_RING, txSize: TX_RING, needWakeup: true, port: 1 });
    if (!oneArmed) sockets.push(s6);
    for (const name of new Set([task.ipv4Interface, task.ipv6Interface])) {
      const prog = addon.findProgram(name);
      if (!prog) throw new Error(`no xbr_steer program on ${name}: the main thread attaches it before starting workers`);
      for (const s of sockets) if (s.ifname === name) addon.registerSocket(prog, s, task.queue);
      addon.closeProgram(prog);
    }
    // Each socket keeps `fill` frames in the kernel's hands (fill ring + its pool):
    // given = frames the fill ring accepted, got = frames received back on rx. The
    // default is the whole ring: it is what absorbs the moments this thread does not
    // run (a shared or busy CPU; in the lab, a fill of 256 lost 0.1-0.8 % of a
    // 0.5 Mpps flow, 2048 nothing). A shallower fill keeps fewer frames cycling and
    // cache-hot, which is faster under overload in copy mode (xbr run --fill).
    const fill = Math.max(task.batch, Math.min(RX_RING, task.fill ?? DEFAULT_FILL));
    const given = sockets.map((s) => refill(engine, addon, s, fill));
    const got = sockets.map(() => 0);

    const rx = core.rxPtr();
    const tx = core.txPtr();
    const io = core.ioPtr();
    /**
     * Transmits `count` descriptors at ptr; those the TX ring has no room for are
     * dropped and their frames go back to the free list (ignoring tx()'s count
     * leaked one frame per refused descriptor until the fill rings ran dry).
     */
    const send = (s: XskSocket, ptr: number, count: number): void => {
      const k = addon.tx(s, ptr, count);
      if (k < count) {
        const mem = core.memory.buffer;
        const desc = new DataView(mem);
        const back = new Uint32Array(mem, io, count - k);
        for (let i = k; i < count; i++) back[i - k] = desc.getUint32(ptr + 8 * i, true);
        core.framesPut(count - k);
      }
    };
    const batch = task.batch;
    const counters = new BigUint64Array(core.memory.buffer, core.countersPtr(), core.counterCount());
    const traceCounters = engine.traceCounters();
    let nextPublish = 0;
    let packets = 0;
    let idle = 0;
    let lastRx = -Infinity;
    // Test hook (XBR_DEBUG_HOOKS=1 only): the main thread asks this worker to die
    // abruptly, as a crash would, to prove the runtime restarts it (test/lab/).
    const debugHooks = process.env.XBR_DEBUG_HOOKS === '1';
    for (;;) {
      // batch boundary: control
      if (control.stopping()) break;
      if (debugHooks && control.takeDebugExit(task.worker)) process.exit(70);
      const gen = control.rulesGeneration();
      if (gen !== rulesGen) {
        engine.loadRules(control.rules());
        rulesGen = gen;
      }
      if (ring.pending() > 0) ring.drain(applyBinding);

      let n = addon.rx(s4, rx, batch);
      got[0] += n;
      if (!oneArmed && n < batch) {
        const m = addon.rx(s6, rx + 8 * n, batch - n);
        got[1] += m;
        n += m;
      }
      const now = performance.now();
      if (n > 0) {
        idle = 0;
        lastRx = now;
        const t = core.process(n, now);
        packets += n;
        if (t > 0) {
          if (oneArmed) {
            send(s4, tx, t);
          } else {
            const v4 = core.txSplit(t);
            if (v4 > 0) send(s4, tx, v4);
            if (t > v4) send(s6, tx + 8 * v4, t - v4);
          }
        }
      } else if (++idle > 64 && now - lastRx > SPIN_MS) {
        // Idle for SPIN_MS: flush pending tx, deepen the fill rings to the full
        // ring, let the kernel refill, then block in poll() on every socket (a
        // packet on either side wakes the worker). Busy again, the rings drain
        // back to `fill` before they are topped up. While traffic comes and goes
        // (gaps shorter than SPIN_MS) the worker spins instead: sleeping in a
        // blind poll between the bursts of a 0.8 Mpps flow lost a fifth of it
        // (fill ring empty).
        for (let i = 0; i < sockets.length; i++) {
          const s = sockets[i]!;
          addon.tx(s, tx, 0);
          const room = RX_RING - (given[i]! - got[i]!);
          if (room > 0) given[i]! += refill(engine, addon, s, room);
          addon.wakeupRx(s);
        }
        addon.poll(oneArmed ? s4 : sockets, IDLE_POLL_MS);
        idle = 0;
      }
      for (let i = 0; i < sockets.length; i++) {
        const s = sockets[i]!;
        const c = addon.complete(s, io, TX_RING);
        if (c > 0) core.framesPut(c);
        const want = fill - (given[i]! - got[i]!);
        if (want > 0) given[i]! += refill(engine, addon, s, want);
      }
      if (now >= nextPublish) {
        control.publishCounters(task.worker, counters, traceCounters);
        nextPublish = now + PUBLISH_MS;
      }
    }
    control.publishCounters(task.worker, counters, traceCounters);
    const xsk: Record<string, number> = {};
    sockets.forEach((s, i) => {
      for (const [k, v] of Object.entries(addon.stats(s))) xsk[`xsk${i === 0 ? 4 : 6}_${k}`] = v;
    });
    return { worker: task.worker, bindMode: s4.mode, packets, xsk };
  } finally {
    for (const s of sockets) addon.close(s);
    addon.closeUmem(umem);
  }
}

export { FRAME_HEADROOM };
