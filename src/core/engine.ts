// The host side of the wasm core: instantiates build/xbr.wasm over a memory created
// at its final size, loads rule blobs and bindings, and moves batches of packets
// through it. Used by the offline translator, the benchmarks and the tests; the
// AF_XDP worker uses the same instance layout with the kernel filling the frames.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { STATUS, TRACE_SLOTS } from './abi.js';
import type { PackedBindings } from '../config/bindings-file.js';
import { tryLoadXsk } from '../dataplane/xsk.js';

/** The raw exports of build/xbr.wasm (assembly/index.ts). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  layoutBytes(bindLog2: number, fragLog2: number, frames: number, frameShift: number, batch: number): number;
  init(bindLog2: number, fragLog2: number, frames: number, frameShift: number, batch: number): number;
  countersPtr(): number;
  counterCount(): number;
  counterNamesPtr(): number;
  counterNamesLength(): number;
  argPtr(): number;
  blobPtr(): number;
  blobCapacity(): number;
  rxPtr(): number;
  txPtr(): number;
  ioPtr(): number;
  ioCap(): number;
  framesPtr(): number;
  framesBytes(): number;
  rulesLoad(len: number): number;
  bindingPut(v4: number, psidLen: number, offset: number, psid: number, plen: number): number;
  bindingRemove(v4: number, psid: number): number;
  bindingCount(): number;
  bindingClear(): void;
  bindingSlots(): number;
  framesTake(n: number): number;
  framesPut(n: number): void;
  framesFree(): number;
  setLinkType(t: number): void;
  fragmentsClear(): void;
  process(n: number, nowMs: number): number;
  lookupV4(v4: number, port: number, hasPort: number): number;
  validateV6(port: number, hasPort: number): number;
  benchStage(n: number, tpl: number, count: number, stride: number): void;
  txSplit(n: number): number;
  traceSet(v4: number, psid: number, slot: number): number;
  traceCountersPtr(): number;
  traceMax(): number;
}

export interface EngineOptions {
  /** Bindings the table must hold; slots are twice that, rounded up to a power of two. */
  bindingCapacity?: number;
  /** Fragment-flow slots (power of two). */
  fragmentSlots?: number;
  /** UMEM frames. */
  frames?: number;
  /** Frame size: 2048 or 4096. */
  frameSize?: 2048 | 4096;
  /** Packets per batch (rx descriptors), 1..256. */
  batch?: number;
}

export interface BindingSpec {
  ipv4: number;
  psidLen: number;
  psidOffset: number;
  psid: number;
  ipv6: Uint8Array;
  prefixLen: number;
}

export interface OutputPacket {
  data: Uint8Array;
  port: 0 | 1;
  /** Index in the batch of the received packet this one came from. */
  index: number;
}

/** Frames start this far into their chunk, like AF_XDP's XDP_PACKET_HEADROOM. */
export const FRAME_HEADROOM = 256;

export class CoreError extends Error {}

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'asconfig.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new CoreError('cannot find the xbr package root (package.json next to asconfig.json)');
    dir = up;
  }
}

let compiled: WebAssembly.Module | undefined;

/** The compiled core module (compiled once per process). */
export function coreModule(): WebAssembly.Module {
  if (!compiled) {
    const path = join(packageRoot(), 'build', 'xbr.wasm');
    if (!existsSync(path)) throw new CoreError(`${path} is missing: run \`npm run build\``);
    compiled = new WebAssembly.Module(readFileSync(path));
  }
  return compiled;
}

function log2ceil(n: number): number {
  let l = 0;
  while (2 ** l < n) l++;
  return l;
}

/** The status names of src/core/abi.ts STATUS, by value. */
const STATUS_NAME = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, '-')]));

export function statusName(code: number): string {
  return STATUS_NAME[code] ?? `status ${code}`;
}

export interface Layout {
  bindLog2: number;
  fragLog2: number;
  frames: number;
  frameShift: number;
  batch: number;
}

export function layoutFor(opts: EngineOptions = {}): Layout {
  const frameSize = opts.frameSize ?? 2048;
  return {
    bindLog2: Math.max(4, log2ceil((opts.bindingCapacity ?? 65536) * 2)),
    fragLog2: Math.max(4, log2ceil(opts.fragmentSlots ?? 4096)),
    frames: opts.frames ?? 4096,
    frameShift: frameSize === 4096 ? 12 : 11,
    batch: opts.batch ?? 64,
  };
}

/**
 * Transparent huge pages for a large memory, where the kernel has them in "madvise"
 * mode and the native shim is built (src/dataplane/xsk.ts): the binding table is
 * looked up at random, and 4 KiB pages add a TLB miss to nearly every look-up. Done
 * before the core touches the memory; without the shim the memory works the same.
 */
function adviseHugePages(memory: WebAssembly.Memory): void {
  if (memory.buffer.byteLength < 32 * 2 ** 20) return;
  try {
    tryLoadXsk()?.adviseHugePages(memory);
  } catch {
    // not supported here: ordinary pages
  }
}

/**
 * Instantiates the core over a new memory sized for the layout (initial = maximum:
 * it never grows, so the UMEM it holds never moves).
 */
export function instantiateCore(layout: Layout): CoreExports {
  const module = coreModule();
  const probe = new WebAssembly.Instance(module, { env: { memory: new WebAssembly.Memory({ initial: 16, maximum: 16 }) } })
    .exports as unknown as CoreExports;
  const bytes = probe.layoutBytes(layout.bindLog2, layout.fragLog2, layout.frames, layout.frameShift, layout.batch);
  const pages = Math.ceil(bytes / 65536);
  if (pages > 65536) throw new CoreError(`the layout needs ${bytes} bytes, over wasm32's 4 GiB`);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  adviseHugePages(memory);
  const core = new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as CoreExports;
  const rc = core.init(layout.bindLog2, layout.fragLog2, layout.frames, layout.frameShift, layout.batch);
  if (rc !== 0) throw new CoreError(`core init failed (${rc})`);
  return core;
}

let namesCache: string[] | undefined;

/** The core's counter names, in index order (instantiates a small core once). */
export function coreCounterNames(): readonly string[] {
  namesCache ??= [...Engine.createSync({ bindingCapacity: 8, fragmentSlots: 16, frames: 16, batch: 1 }).counterNames()];
  return namesCache;
}

export class Engine {
  readonly core: CoreExports;
  readonly batch: number;
  readonly layout: Layout;
  private names: string[];

  private constructor(core: CoreExports, layout: Layout) {
    this.core = core;
    this.layout = layout;
    this.batch = layout.batch;
    const ptr = core.counterNamesPtr();
    const len = core.counterNamesLength();
    const text = String.fromCharCode(...new Uint16Array(core.memory.buffer, ptr, len));
    this.names = text.split(',');
    if (this.names.length !== core.counterCount()) throw new CoreError('counter names do not match the counter count');
    if (core.traceMax() !== TRACE_SLOTS) throw new CoreError(`the core has ${core.traceMax()} trace slots, the host expects ${TRACE_SLOTS}`);
  }

  static async create(opts: EngineOptions = {}): Promise<Engine> {
    return Engine.createSync(opts);
  }

  static createSync(opts: EngineOptions = {}): Engine {
    const layout = layoutFor(opts);
    return new Engine(instantiateCore(layout), layout);
  }

  get memory(): WebAssembly.Memory {
    return this.core.memory;
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.core.memory.buffer);
  }

  /** Loads a compiled rule blob (src/core/blob.ts); throws on a bad blob. */
  loadRules(blob: Uint8Array): void {
    if (blob.length > this.core.blobCapacity()) throw new CoreError(`rule blob of ${blob.length} bytes exceeds ${this.core.blobCapacity()}`);
    this.bytes().set(blob, this.core.blobPtr());
    const rc = this.core.rulesLoad(blob.length);
    if (rc !== STATUS.OK) throw new CoreError(`rule blob refused: ${statusName(rc)}`);
  }

  /** Adds or replaces one binding; throws with the reason when the core refuses it. */
  putBinding(b: BindingSpec): void {
    const rc = this.tryPutBinding(b);
    if (rc !== STATUS.OK) throw new CoreError(`binding refused: ${statusName(rc)}`);
  }

  tryPutBinding(b: BindingSpec): number {
    if (b.ipv6.length !== 16) throw new CoreError('binding ipv6 must be 16 bytes');
    this.bytes().set(b.ipv6, this.core.argPtr());
    return this.core.bindingPut(b.ipv4 >>> 0, b.psidLen, b.psidOffset, b.psid, b.prefixLen);
  }

  /**
   * Loads packed bindings (src/config/bindings-file.ts); throws naming the first one
   * the core refuses (table full: raise binding-capacity).
   */
  putBindings(p: PackedBindings): void {
    const mem = this.bytes();
    const arg = this.core.argPtr();
    for (let i = 0; i < p.count; i++) {
      mem.set(p.ipv6.subarray(i * 16, i * 16 + 16), arg);
      const rc = this.core.bindingPut(p.ipv4[i], p.psidLen[i], p.psidOffset[i], p.psid[i], p.prefixLen[i]);
      if (rc !== STATUS.OK) throw new CoreError(`binding ${i + 1} of ${p.count} refused: ${statusName(rc)}`);
    }
  }

  removeBinding(ipv4: number, psid: number): boolean {
    return this.core.bindingRemove(ipv4 >>> 0, psid) === STATUS.OK;
  }

  get bindingCount(): number {
    return this.core.bindingCount();
  }

  setLinkType(linktype: 1 | 101): void {
    this.core.setLinkType(linktype);
  }

  /**
   * Runs one batch (at most `batch` packets) through the core; returns the packets
   * the BR sends, in order, as copies. Their frames go back to the core.
   */
  processBatch(packets: Uint8Array[], nowMs: number): OutputPacket[] {
    const { core } = this;
    if (packets.length > this.batch) throw new CoreError(`batch of ${packets.length} exceeds ${this.batch}`);
    const got = core.framesTake(packets.length);
    if (got < packets.length) {
      // give them back; the core holds every frame (held fragments): report it
      core.framesPut(got);
      throw new CoreError('no free frames in the core');
    }
    const mem = this.bytes();
    const view = new DataView(core.memory.buffer);
    const io = core.ioPtr();
    const rx = core.rxPtr();
    const frameSize = 1 << this.layout.frameShift;
    for (let i = 0; i < packets.length; i++) {
      const frame = view.getUint32(io + 4 * i, true);
      const pkt = packets[i];
      const len = Math.min(pkt.length, frameSize - FRAME_HEADROOM);
      mem.set(pkt.subarray(0, len), frame + FRAME_HEADROOM);
      view.setUint32(rx + 8 * i, frame + FRAME_HEADROOM, true);
      view.setUint16(rx + 8 * i + 4, len, true);
      view.setUint8(rx + 8 * i + 6, 0);
      view.setUint8(rx + 8 * i + 7, 0);
    }
    const n = core.process(packets.length, nowMs);
    const out: OutputPacket[] = [];
    const tx = core.txPtr();
    for (let i = 0; i < n; i++) {
      const addr = view.getUint32(tx + 8 * i, true);
      const len = view.getUint16(tx + 8 * i + 4, true);
      const port = view.getUint8(tx + 8 * i + 6) as 0 | 1;
      out.push({ data: mem.slice(addr, addr + len), port, index: view.getUint8(tx + 8 * i + 7) });
      view.setUint32(io + 4 * i, addr, true);
    }
    core.framesPut(n);
    return out;
  }

  /** Every counter by name. */
  counters(): Record<string, number> {
    const v = new BigUint64Array(this.core.memory.buffer, this.core.countersPtr(), this.names.length);
    const out: Record<string, number> = {};
    this.names.forEach((name, i) => {
      out[name] = Number(v[i]);
    });
    return out;
  }

  counterNames(): readonly string[] {
    return this.names;
  }

  /**
   * Traces the binding (ipv4, psid) in trace slot `slot` (1..TRACE_SLOTS), counters
   * from zero, or stops tracing it (slot 0). The binding need not exist yet. Throws
   * when the slot is out of range or taken by another key, or (slot 0) the key is
   * not traced.
   */
  traceSet(ipv4: number, psid: number, slot: number): void {
    const rc = this.core.traceSet(ipv4 >>> 0, psid, slot);
    if (rc !== 0) throw new CoreError(['', 'trace slot out of range', 'trace slot or key taken', 'not traced'][rc] ?? `trace status ${rc}`);
  }

  /** The trace counters: TRACE_SLOTS x 4 (abi.ts TRACE_COUNTER), as a live view. */
  traceCounters(): BigUint64Array {
    return new BigUint64Array(this.core.memory.buffer, this.core.traceCountersPtr(), TRACE_SLOTS * 4);
  }
}
