// Typed wrapper of the AF_XDP shim, native/ (xbr_xsk.node, node-addon-api + libxdp).
//
// The shim is small on purpose (DESIGN.md): it registers a region of a worker's
// WebAssembly.Memory as UMEM, opens AF_XDP sockets on it, loads the steering XDP
// program (native/bpf/xbr_steer.bpf.c) and copies ring descriptors between the
// kernel rings and arrays in wasm memory, one call per batch. Nothing here looks
// inside a packet: that is the wasm core's job (assembly/).
//
// Build it with `npm run build:native` (system packages: scripts/install-deps.sh).
// Everything needs root (CAP_NET_RAW, CAP_NET_ADMIN, CAP_BPF) and runs on the
// calling thread; handles belong to the Node-API environment (thread) that made
// them.
//
// ## API (exact signatures of the addon; see XskAddon below)
//
// UMEM
//   createUmem(memory: WebAssembly.Memory, offset, size, frameSize, headroom,
//              fillSize, compSize): Umem
//     The UMEM *is* [offset, offset + size) of memory.buffer: no copy between the
//     kernel's frames and the wasm core. offset and size page-aligned (4096),
//     size a multiple of frameSize, frameSize 2048 or 4096, ring sizes powers of
//     two. Marks the range MADV_DONTFORK and holds a strong reference to the
//     memory. A shared memory is refused. The memory must never grow (create it
//     with initial = maximum): after a grow that moved it every call throws.
//     Errors carry .code (ENOBUFS = RLIMIT_MEMLOCK too low, EPERM = capabilities)
//     and a message naming the cause and the fix.
//   closeUmem(umem): void          closes its sockets first
//
// Sockets
//   createSocket(umem, ifname, queue, opts?: SocketOptions): XskSocket
//     The first socket of a UMEM uses its fill/completion rings; later ones
//     (another interface or queue) get their own pair (xsk_socket__create_shared);
//     a later socket inherits the first one's bind mode and need_wakeup (kernel
//     rule for shared UMEM). libxdp never loads a program (INHIBIT_PROG_LOAD):
//     attach ours and registerSocket. sock.mode is the mode the kernel gave:
//     'copy' or 'zerocopy' (veth: always 'copy').
//   close(sock): void
//
// Data path: one call per batch; descriptors live in wasm memory (abi.ts)
//   rx(sock, descPtr, max): number
//     Writes n <= max descriptors {u32 wasmAddr, u16 len, u8 port, u8 flags=0}
//     (8 bytes, little-endian) at descPtr; wasmAddr = umem.offset + desc.addr is
//     the packet's first byte in memory.buffer.
//   tx(sock, descPtr, n): number
//     Reads n such descriptors (port, flags ignored) and submits as many as the
//     TX ring has room for, in order; returns how many. Each must lie inside one
//     UMEM frame (else RangeError, nothing submitted). Kicks (sendto) only when
//     the ring needs a wakeup. tx(sock, ptr, 0) flushes frames still pending.
//   fill(sock, ioPtr, n): number   n u32 wasm frame addresses -> the socket's fill ring
//   complete(sock, ioPtr, max): number   completion ring -> u32 wasm addresses
//   wakeupRx(sock): boolean        recvfrom if the fill ring needs a wakeup
//   poll(sock | sock[], timeoutMs): boolean blocks until an RX ring has
//     descriptors (idle loops)
//   stats(sock): XskStats          XDP_STATISTICS + kick counters
//
// XDP program
//   attachProgram(ifname, objPath, mode 'native'|'skb'|'auto'): XdpProgram
//     libxdp xdp_program__open_file + xdp_program__attach (through libxdp's
//     dispatcher when the kernel allows freplace, else as the single program:
//     prog.multiprog tells). The wrapper below first detaches stale xbr_steer
//     programs (a restart after kill -9) unless {replaceStale: false}.
//   findProgram(ifname, name = 'xbr_steer'): XdpProgram | null
//     A handle on an attached program (e.g. from another worker): not owned.
//   detachProgram(prog): void      detach from the interface and close the handle
//   closeProgram(prog): void       close the handle, leave the program attached
//   detachByName(ifname, name = 'xbr_steer'): number   how many were detached
//   detachAll(ifname): boolean     every XDP program of the interface (heavy-handed)
//   listPrograms(ifname): AttachedProgram[]
//   registerSocket(prog, sock, queue = sock.queue): void   xsks_map[queue] = sock
//   unregisterSocket(prog, queue): void
//   setPrefixes4(prog, Prefix[] with 4-byte addr): number   replaces v4_prefixes
//   setPrefixes6(prog, Prefix[] with 16-byte addr): number  replaces v6_prefixes
//     New prefixes are added before old ones are removed: no gap on reload.
//   programCounters(prog): SteerCounters   per-CPU counters of the program, summed
//
// Threads
//   setAffinity(cpu: number | number[], tid?: number): void   pins the calling
//     thread, or thread `tid` of this process
//   setNetns(nameOrPath: string | null): void   moves the calling thread (only)
//     into a network namespace (`ip netns` name or path); null = back.
//
// An environment cleanup hook closes every socket, detaches every program the
// environment attached, and closes every UMEM when the environment ends (worker
// exit), before its wasm memory can be freed.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';

export type SocketMode = 'copy' | 'zerocopy' | 'auto';
export type AttachMode = 'native' | 'skb' | 'auto';

export interface Umem {
  readonly offset: number;
  readonly size: number;
  readonly frameSize: number;
  readonly headroom: number;
  readonly fillSize: number;
  readonly compSize: number;
  readonly fd: number;
}

export interface SocketOptions {
  /** Bind mode asked for; default 'auto' (zero-copy if the driver can). */
  mode?: SocketMode;
  /** RX ring entries, power of two, 0 = no RX ring. Default 2048. */
  rxSize?: number;
  /** TX ring entries, power of two, 0 = no TX ring. Default 2048. */
  txSize?: number;
  /** XDP_USE_NEED_WAKEUP. Default true. */
  needWakeup?: boolean;
  /** Written into every RX descriptor: 0 = IPv4 side, 1 = IPv6 side (abi.ts). */
  port?: number;
}

export interface XskSocket {
  readonly ifname: string;
  readonly ifindex: number;
  readonly queue: number;
  readonly port: number;
  /** The bind mode the kernel gave. */
  readonly mode: 'copy' | 'zerocopy';
  readonly needWakeup: boolean;
  /** Bound with XDP_SHARED_UMEM (not the UMEM's first socket). */
  readonly shared: boolean;
  readonly rxSize: number;
  readonly txSize: number;
  readonly fd: number;
}

export interface XdpProgram {
  readonly ifname: string;
  readonly ifindex: number;
  readonly name: string;
  readonly id: number;
  readonly mode: 'native' | 'skb' | 'hw' | 'none';
  /** Attached by this handle's attachProgram (vs found by findProgram). */
  readonly owned: boolean;
  /** Attached through libxdp's dispatcher (coexists with other programs). */
  readonly multiprog: boolean;
}

export interface AttachedProgram {
  name: string;
  id: number;
  mode: 'native' | 'skb' | 'hw' | 'none';
  priority: number;
  /** A component of libxdp's dispatcher (false: the interface's only program). */
  dispatcher: boolean;
}

export interface XskStats {
  rx_dropped: number;
  rx_invalid_descs: number;
  tx_invalid_descs: number;
  rx_ring_full: number;
  rx_fill_ring_empty_descs: number;
  tx_ring_empty_descs: number;
  /** sendto calls made by tx(). */
  tx_kicks: number;
  /** recvfrom calls made by wakeupRx(). */
  rx_kicks: number;
  /** kicks that failed with something other than EAGAIN/EBUSY/ENOBUFS/ENETDOWN. */
  kick_errors: number;
}

/** Counters of xbr_steer.bpf.c (per-CPU, summed). */
export interface SteerCounters {
  /** Not ours: passed to the kernel. */
  pass: number;
  /** IPv4 redirected to a socket. */
  steer4: number;
  /** IPv6 redirected to a socket. */
  steer6: number;
  /** IPv6 to our prefixes, but Neighbor Discovery: passed. */
  passNd: number;
  /** IPv6 to our prefixes, but UDP to port 547 (the 4o6 server): passed. */
  passDhcpv6: number;
  /** Ours, but no socket registered for the queue: passed. */
  noSocket: number;
}

export interface Prefix {
  addr: Uint8Array;
  len: number;
}

/** The addon's exports, exactly. */
export interface XskAddon {
  readonly DESC_SIZE: 8;
  createUmem(
    memory: WebAssembly.Memory,
    offset: number,
    size: number,
    frameSize: number,
    headroom: number,
    fillSize: number,
    compSize: number,
  ): Umem;
  closeUmem(umem: Umem): void;
  createSocket(umem: Umem, ifname: string, queue: number, opts?: SocketOptions): XskSocket;
  close(sock: XskSocket): void;
  rx(sock: XskSocket, descPtr: number, max: number): number;
  tx(sock: XskSocket, descPtr: number, n: number): number;
  fill(sock: XskSocket, ioPtr: number, n: number): number;
  complete(sock: XskSocket, ioPtr: number, max: number): number;
  wakeupRx(sock: XskSocket): boolean;
  poll(sock: XskSocket | XskSocket[], timeoutMs: number): boolean;
  stats(sock: XskSocket): XskStats;
  attachProgram(ifname: string, objPath: string, mode?: AttachMode): XdpProgram;
  findProgram(ifname: string, name?: string): XdpProgram | null;
  detachProgram(prog: XdpProgram): void;
  closeProgram(prog: XdpProgram): void;
  detachByName(ifname: string, name?: string): number;
  detachAll(ifname: string): boolean;
  listPrograms(ifname: string): AttachedProgram[];
  registerSocket(prog: XdpProgram, sock: XskSocket, queue?: number): void;
  unregisterSocket(prog: XdpProgram, queue: number): void;
  setPrefixes4(prog: XdpProgram, prefixes: Prefix[]): number;
  setPrefixes6(prog: XdpProgram, prefixes: Prefix[]): number;
  programCounters(prog: XdpProgram): SteerCounters;
  setAffinity(cpu: number | number[], tid?: number): void;
  /** madvise(MADV_HUGEPAGE) over the memory's whole 2 MiB pages; returns the bytes advised. */
  adviseHugePages(memory: WebAssembly.Memory): number;
  setNetns(nameOrPath: string | null): void;
}

const ADDON_REL = join('native', 'build', 'Release', 'xbr_xsk.node');
const BPF_REL = join('native', 'bpf', 'build', 'xbr_steer.bpf.o');

/** The package root: the nearest ancestor of this module holding native/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'native'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** Where the addon is expected (XBR_XSK_ADDON overrides). */
export function addonPath(): string {
  return process.env.XBR_XSK_ADDON ?? join(packageRoot(), ADDON_REL);
}

/** The compiled steering program (XBR_XSK_BPF overrides). */
export function defaultProgramPath(): string {
  return process.env.XBR_XSK_BPF ?? join(packageRoot(), BPF_REL);
}

let cached: XskAddon | undefined;

/** Loads the addon; throws a clear error if it is not built. */
export function loadXsk(path: string = addonPath()): XskAddon {
  if (cached && path === addonPath()) return cached;
  if (!existsSync(path)) {
    throw new Error(
      `xbr_xsk addon not built (${path} missing): run scripts/install-deps.sh, then npm run build:native`,
    );
  }
  const require = createRequire(import.meta.url);
  const addon = require(path) as XskAddon;
  if (path === addonPath()) cached = addon;
  return addon;
}

/** The addon, or null if it is not built (or cannot load here). */
export function tryLoadXsk(): XskAddon | null {
  try {
    return loadXsk();
  } catch {
    return null;
  }
}

export interface AttachOptions {
  /** Detach xbr_steer programs already on the interface (a killed process's). Default true. */
  replaceStale?: boolean;
}

/**
 * Attaches the steering program: detaches a stale copy left by a killed process
 * first (unless replaceStale is false), so a restart after kill -9 needs no
 * manual cleanup.
 */
export function attachSteering(
  ifname: string,
  mode: AttachMode = 'auto',
  objPath: string = defaultProgramPath(),
  opts: AttachOptions = {},
  addon: XskAddon = loadXsk(),
): XdpProgram {
  if (opts.replaceStale ?? true) {
    const name = 'xbr_steer';
    addon.detachByName(ifname, name);
  }
  return addon.attachProgram(ifname, objPath, mode);
}

/** "198.51.100.0/24" or "2001:db8::/32" -> {addr, len}, host bits cleared. */
export function prefix(cidr: string): Prefix {
  const [ip, len] = ipaddr.parseCIDR(cidr);
  const bytes = Uint8Array.from(ip.toByteArray());
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    bytes[i] &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
  }
  return { addr: bytes, len };
}

/** Replaces both prefix maps from CIDR strings (IPv4 and IPv6 mixed). */
export function setPrefixes(prog: XdpProgram, cidrs: string[], addon: XskAddon = loadXsk()): void {
  const p = cidrs.map(prefix);
  addon.setPrefixes4(prog, p.filter((x) => x.addr.length === 4));
  addon.setPrefixes6(prog, p.filter((x) => x.addr.length === 16));
}
