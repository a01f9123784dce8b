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
import { BindingRing, OP_PUT } from './binding-ring.js';
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
  /** Pin this worker's thread to a CPU (optional). */
  cpu?: number;
}

export interface RunResult {
  worker: number;
  bindMode: string;
  packets: number;
}

const FRAMES = 8192;
const FRAME_SIZE = 4096;
const RING = 2048;
/**
 * How long an idle worker blocks in poll(). The shim polls one socket per call; a
 * two-armed worker alternates between its IPv4 and IPv6 sockets with a short
 * timeout, so a packet arriving on the side not being polled waits at most that
 * long (a fixed poll on the IPv4 socket alone made every IPv6-side packet of a
 * quiet period wait up to the full timeout: ~2 ms more RTT for a CE's ping).
 */
const IDLE_POLL_MS = 5;
const IDLE_POLL_TWO_ARMED_MS = 1;

/** Stocks a socket's fill ring from the core's free frames. */
function refill(engine: Engine, addon: ReturnType<typeof loadXsk>, sock: XskSocket, want: number): void {
  const core = engine.core;
  const n = core.framesTake(want);
  if (n === 0) return;
  const accepted = addon.fill(sock, core.ioPtr(), n);
  if (accepted < n) {
    // give back the ones the ring had no room for
    const io = new Uint32Array(core.memory.buffer, core.ioPtr(), n);
    io.copyWithin(0, accepted, n);
    core.framesPut(n - accepted);
  }
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
  const applyBinding = (op: number, b: BindingSpec): void => {
    if (op === OP_PUT) engine.tryPutBinding(b);
    else engine.removeBinding(b.ipv4, b.psid);
  };
  ring.drain(applyBinding);

  const umem: Umem = addon.createUmem(core.memory, core.framesPtr(), core.framesBytes(), FRAME_SIZE, 0, RING, RING);
  const sockets: XskSocket[] = [];
  try {
    const s4 = addon.createSocket(umem, task.ipv4Interface, task.queue, { mode: task.mode, rxSize: RING, txSize: RING, needWakeup: true, port: 0 });
    sockets.push(s4);
    const oneArmed = task.ipv6Interface === task.ipv4Interface;
    const s6 = oneArmed ? s4 : addon.createSocket(umem, task.ipv6Interface, task.queue, { mode: task.mode, rxSize: RING, txSize: RING, needWakeup: true, port: 1 });
    if (!oneArmed) sockets.push(s6);
    for (const name of new Set([task.ipv4Interface, task.ipv6Interface])) {
      const prog = addon.findProgram(name);
      if (!prog) throw new Error(`no xbr_steer program on ${name}: the main thread attaches it before starting workers`);
      for (const s of sockets) if (s.ifname === name) addon.registerSocket(prog, s, task.queue);
      addon.closeProgram(prog);
    }
    for (const s of sockets) refill(engine, addon, s, RING);

    const rx = core.rxPtr();
    const tx = core.txPtr();
    const io = core.ioPtr();
    const batch = task.batch;
    const counters = new BigUint64Array(core.memory.buffer, core.countersPtr(), core.counterCount());
    let nextPublish = 0;
    let packets = 0;
    let idle = 0;
    let pollSide = 0;
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
      if (!oneArmed && n < batch) n += addon.rx(s6, rx + 8 * n, batch - n);
      const now = performance.now();
      if (n > 0) {
        idle = 0;
        const t = core.process(n, now);
        packets += n;
        if (t > 0) {
          if (oneArmed) {
            addon.tx(s4, tx, t);
          } else {
            const v4 = core.txSplit(t);
            if (v4 > 0) addon.tx(s4, tx, v4);
            if (t > v4) addon.tx(s6, tx + 8 * v4, t - v4);
          }
        }
      } else if (++idle > 64) {
        // nothing for a while: flush pending tx, let the kernel refill, then block
        for (const s of sockets) {
          addon.tx(s, tx, 0);
          addon.wakeupRx(s);
        }
        if (oneArmed) addon.poll(s4, IDLE_POLL_MS);
        else addon.poll((pollSide ^= 1) === 0 ? s4 : s6, IDLE_POLL_TWO_ARMED_MS);
        idle = 0;
      }
      for (const s of sockets) {
        const c = addon.complete(s, io, RING);
        if (c > 0) core.framesPut(c);
        refill(engine, addon, s, batch);
      }
      if (now >= nextPublish) {
        control.publishCounters(task.worker, counters);
        nextPublish = now + PUBLISH_MS;
      }
    }
    control.publishCounters(task.worker, counters);
    return { worker: task.worker, bindMode: s4.mode, packets };
  } finally {
    for (const s of sockets) addon.close(s);
    addon.closeUmem(umem);
  }
}

export { FRAME_HEADROOM };
