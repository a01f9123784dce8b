// Integration tests of the AF_XDP shim (native/) on a veth pair between two network
// namespaces. They need root, AF_XDP, BPF and netns: locally they skip when a
// prerequisite is missing; under CI (CI=true) a missing prerequisite fails.
//
// Lab figures, not line-rate figures: veth does AF_XDP in copy mode only (the
// kernel copies each frame into the UMEM); what these tests prove is that the
// UMEM *is* the wasm memory, so no copy happens between the kernel's frame and
// the wasm core.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';

import { addonPath, attachSteering, defaultProgramPath, setPrefixes } from '../../src/dataplane/xsk.js';
import type { Umem, XdpProgram, XskAddon, XskSocket } from '../../src/dataplane/xsk.js';
import { DESC_SIZE } from '../../src/core/abi.js';
import { FIXTURES, Lab, run, sh } from './lab.js';
import {
  BROADCAST,
  ETH_ARP,
  ETH_IP,
  ETH_IP6,
  arpRequest,
  echo6,
  eth,
  ip4,
  ip6,
  ns6,
  udp4,
  udp6,
} from './frames.js';
import { requireLab } from './lab.js';
import { join } from 'node:path';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import { housekeepingCpus, pinProcessThreads } from '../../src/dataplane/affinity.js';

const { addon, skip } = requireLab();
if (skip !== null) console.warn(`test/native: skipping AF_XDP integration tests: ${skip}`);

// Wasm memory layout of these tests: 64 pages (4 MiB), never grown.
const PAGES = 64;
const RX_DESC = 0; // 256 descriptors
const TX_DESC = 4096; // 256 descriptors
const FILL_IO = 8192; // 256 u32
const COMP_IO = 12288; // 256 u32
const UMEM_OFF = 1 << 20;
const FRAME = 4096;
const FRAMES = 256;
const UMEM_SIZE = FRAME * FRAMES;
const frameAddr = (i: number): number => UMEM_OFF + i * FRAME;

interface Rx {
  addr: number;
  len: number;
  port: number;
  flags: number;
  bytes: Uint8Array; // a view of memory.buffer, not a copy
}

function text(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength).includes(Buffer.from(needle));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== null)('AF_XDP shim on veth (root, netns)', () => {
  const x = addon as XskAddon;
  const lab = new Lab();
  let mem: WebAssembly.Memory;
  let umem: Umem;
  let sock: XskSocket;
  let prog: XdpProgram;
  let inNetns = false;

  const view = (): DataView => new DataView(mem.buffer);

  /** Puts frames onto sock's fill ring. */
  function fillFrames(s: XskSocket, frames: number[]): number {
    const dv = view();
    frames.forEach((f, i) => dv.setUint32(FILL_IO + i * 4, frameAddr(f), true));
    return x.fill(s, FILL_IO, frames.length);
  }

  /**
   * Receives on s until `until` matches a packet or timeoutMs passes (bounded in
   * time and count); refills the frames it read.
   */
  async function receive(s: XskSocket, until: (p: Rx) => boolean, timeoutMs = 3000, refill = true): Promise<Rx[]> {
    const got: Rx[] = [];
    const end = Date.now() + timeoutMs;
    for (let round = 0; round < 1000 && Date.now() < end; round++) {
      x.wakeupRx(s);
      const n = x.rx(s, RX_DESC, 64);
      const dv = view();
      const frames: number[] = [];
      for (let i = 0; i < n; i++) {
        const o = RX_DESC + i * DESC_SIZE;
        const addr = dv.getUint32(o, true);
        const len = dv.getUint16(o + 4, true);
        got.push({ addr, len, port: dv.getUint8(o + 6), flags: dv.getUint8(o + 7), bytes: new Uint8Array(mem.buffer, addr, len) });
        frames.push(Math.floor((addr - UMEM_OFF) / FRAME));
      }
      // Check before refilling: a refilled frame may be overwritten.
      const hit = got.some(until);
      if (frames.length > 0 && refill) {
        for (const p of got.slice(got.length - n)) p.bytes = Uint8Array.from(p.bytes); // keep a copy once checked
        fillFrames(s, frames);
      }
      if (hit) return got;
      if (n === 0) {
        x.poll(s, 20);
        await sleep(0);
      }
    }
    return got;
  }

  /** Empties the RX ring (leftovers from earlier tests). */
  async function drain(s: XskSocket): Promise<void> {
    await receive(s, () => false, 100);
  }

  beforeAll(() => {
    lab.up();
    sh('ip', ['-n', lab.nsB, 'route', 'add', '198.51.100.0/24', 'via', lab.ip4A]);
    sh('ip', ['-n', lab.nsB, 'route', 'add', '203.0.113.0/24', 'via', lab.ip4A]);
    x.setNetns(lab.nsA);
    inNetns = true;
    mem = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    umem = x.createUmem(mem, UMEM_OFF, UMEM_SIZE, FRAME, 0, 256, 256);
    sock = x.createSocket(umem, lab.vethA, 0, { mode: 'auto', rxSize: 256, txSize: 256, needWakeup: true, port: 0 });
    prog = attachSteering(lab.vethA, 'auto', defaultProgramPath(), {}, x);
    x.registerSocket(prog, sock, 0);
    setPrefixes(prog, ['198.51.100.0/24', '203.0.113.0/24', `${lab.ip6A}/128`, '64:ff9b::/96'], x);
    expect(fillFrames(sock, Array.from({ length: 128 }, (_, i) => i))).toBe(128);
  });

  afterAll(() => {
    try {
      for (const h of [sock]) if (h) x.close(h);
      if (prog) x.detachProgram(prog);
      if (umem) x.closeUmem(umem);
    } catch {
      // the namespaces go below anyway
    }
    if (inNetns) x.setNetns(null);
    lab.down();
  });

  it('binds in copy mode on veth, attaches natively, and reports both', () => {
    expect(sock.mode).toBe('copy'); // veth: AF_XDP copy mode only (DESIGN.md)
    expect(sock.shared).toBe(false);
    expect(sock.needWakeup).toBe(true);
    expect(prog.mode).toBe('native');
    expect(prog.name).toBe('xbr_steer');
    expect(typeof prog.multiprog).toBe('boolean');
    expect(x.listPrograms(lab.vethA).map((p) => p.name)).toEqual(['xbr_steer']);
    expect(lab.linkShow(lab.nsA, lab.vethA)).toMatch(/xdp/);
  });

  it('rx: a datagram the peer sends to a steered IPv4 address is in wasm memory, zero copy', async () => {
    await drain(sock);
    const payload = `xbr-v4-${randomBytes(8).toString('hex')}`;
    const before = x.programCounters(prog).steer4;
    await lab.udp(lab.nsB, ['send', 'udp4', '198.51.100.7', '5555', payload]).done;
    // No refill until checked: the frames stay the kernel's writes, untouched.
    const got = await receive(sock, (p) => contains(p.bytes, text(payload)), 3000, false);
    const p = got.find((q) => contains(q.bytes, text(payload)));
    expect(p, 'the datagram reached the AF_XDP socket').toBeDefined();
    const pkt = p!;
    // The descriptor points into the UMEM region of the wasm memory ...
    expect(pkt.addr).toBeGreaterThanOrEqual(UMEM_OFF);
    expect(pkt.addr + pkt.len).toBeLessThanOrEqual(UMEM_OFF + UMEM_SIZE);
    expect(pkt.port).toBe(0);
    expect(pkt.flags).toBe(0);
    // ... and memory.buffer at that address holds exactly what the peer sent.
    const b = new Uint8Array(mem.buffer, pkt.addr, pkt.len);
    expect(Array.from(b.subarray(0, 6))).toEqual(Array.from(lab.macA));
    expect(Array.from(b.subarray(6, 12))).toEqual(Array.from(lab.macB));
    expect((b[12]! << 8) | b[13]!).toBe(ETH_IP);
    expect(Array.from(b.subarray(14 + 12, 14 + 16))).toEqual(Array.from(ip4(lab.ip4B)));
    expect(Array.from(b.subarray(14 + 16, 14 + 20))).toEqual(Array.from(ip4('198.51.100.7')));
    expect(b[14 + 9]).toBe(17);
    expect((b[14 + 22]! << 8) | b[14 + 23]!).toBe(5555);
    expect(Buffer.from(b.subarray(14 + 28, 14 + 28 + payload.length)).toString()).toBe(payload);
    expect(pkt.len).toBe(14 + 28 + payload.length);
    // rx handed out views of memory.buffer itself: same bytes, same ArrayBuffer.
    expect(pkt.bytes.buffer).toBe(mem.buffer);
    // The kernel put it after its 256-byte XDP headroom inside a frame.
    expect((pkt.addr - UMEM_OFF) % FRAME).toBe(256);
    expect(x.programCounters(prog).steer4).toBeGreaterThan(before);
    fillFrames(sock, got.map((q) => Math.floor((q.addr - UMEM_OFF) / FRAME)));
  });

  it('rx: UDP to the BR IPv6 address and a VLAN-tagged frame are steered, byte for byte', async () => {
    await drain(sock);
    const payload6 = `xbr-v6-${randomBytes(8).toString('hex')}`;
    await lab.udp(lab.nsB, ['send', 'udp6', lab.ip6A, '5547', payload6]).done;
    let got = await receive(sock, (p) => contains(p.bytes, text(payload6)));
    const p6 = got.find((q) => contains(q.bytes, text(payload6)));
    expect(p6, 'the IPv6 datagram reached the socket').toBeDefined();
    const b6 = p6!.bytes;
    expect((b6[12]! << 8) | b6[13]!).toBe(ETH_IP6);
    expect(b6[14 + 6]).toBe(17);
    expect(Array.from(b6.subarray(14 + 24, 14 + 40))).toEqual(Array.from(ip6(lab.ip6A)));

    // One 802.1Q tag: the program looks through it.
    const vlanFrame = eth(lab.macA, lab.macB, ETH_IP, udp4(ip4(lab.ip4B), ip4('203.0.113.9'), 4242, 4243, text(`vlan-${payload6}`)), 100);
    lab.inject(lab.nsB, lab.vethB, [vlanFrame]);
    got = await receive(sock, (p) => contains(p.bytes, text(`vlan-${payload6}`)));
    const pv = got.find((q) => contains(q.bytes, text(`vlan-${payload6}`)));
    expect(pv, 'the tagged frame reached the socket').toBeDefined();
    expect(Buffer.from(pv!.bytes).equals(Buffer.from(vlanFrame))).toBe(true);
  });

  it('steering: IPv4 not in the prefixes, ARP, ND and DHCPv6 to port 547 reach the kernel, not the socket', async () => {
    await drain(sock);
    const c0 = x.programCounters(prog);
    const tag = randomBytes(6).toString('hex');

    // IPv4 to the namespace's own address (not in v4_prefixes): the kernel's socket gets it.
    const l4 = lab.udp(lab.nsA, ['listen', 'udp4', lab.ip4A, '7777', '5000']);
    await l4.waitFor('ready');
    await lab.udp(lab.nsB, ['send', 'udp4', lab.ip4A, '7777', `k4-${tag}`]).done;
    expect(await l4.done).toContain(`k4-${tag}`);

    // ping (ARP first: both neighbour caches flushed) still works while attached.
    sh('ip', ['-n', lab.nsA, 'neigh', 'flush', 'dev', lab.vethA]);
    sh('ip', ['-n', lab.nsB, 'neigh', 'flush', 'dev', lab.vethB]);
    sh('ip', ['netns', 'exec', lab.nsB, 'ping', '-c', '2', '-i', '0.2', '-W', '2', lab.ip4A], 10_000);

    // An ARP request from an address A has never seen: A's kernel learns it.
    lab.inject(lab.nsB, lab.vethB, [eth(BROADCAST, lab.macB, ETH_ARP, arpRequest(lab.macB, ip4('192.0.2.77'), ip4(lab.ip4A)))]);
    await sleep(100);
    expect(sh('ip', ['-n', lab.nsA, 'neigh', 'show', '192.0.2.77'])).toContain('192.0.2.77');

    // DHCPv6 to the 4o6 server's port, at an address that IS steered: kernel.
    const l6 = lab.udp(lab.nsA, ['listen', 'udp6', lab.ip6A, '547', '5000']);
    await l6.waitFor('ready');
    await lab.udp(lab.nsB, ['send', 'udp6', lab.ip6A, '547', `dhcp-${tag}`]).done;
    expect(await l6.done).toContain(`dhcp-${tag}`);

    // A unicast Neighbor Solicitation to the (steered) BR address: the kernel
    // answers it and learns the sender, which proves it got it.
    const fake6 = '2001:db8:ffff::77';
    lab.inject(lab.nsB, lab.vethB, [eth(lab.macA, lab.macB, ETH_IP6, ns6(ip6(fake6), ip6(lab.ip6A), ip6(lab.ip6A), lab.macB))]);
    await sleep(100);
    expect(sh('ip', ['-n', lab.nsA, 'neigh', 'show', fake6])).toContain(fake6);

    // The exception is narrow: an ICMPv6 echo request to the same address is steered.
    const echoTag = text(`echo-${tag}`);
    lab.inject(lab.nsB, lab.vethB, [eth(lab.macA, lab.macB, ETH_IP6, echo6(ip6(lab.ip6B), ip6(lab.ip6A), echoTag))]);

    const got = await receive(sock, (p) => contains(p.bytes, echoTag));
    expect(got.some((p) => contains(p.bytes, echoTag)), 'echo request steered').toBe(true);
    for (const p of got) {
      expect(contains(p.bytes, text(`k4-${tag}`))).toBe(false);
      expect(contains(p.bytes, text(`dhcp-${tag}`))).toBe(false);
      expect((p.bytes[12]! << 8) | p.bytes[13]!).not.toBe(ETH_ARP);
    }
    const c1 = x.programCounters(prog);
    expect(c1.pass).toBeGreaterThan(c0.pass);
    expect(c1.passDhcpv6).toBeGreaterThan(c0.passDhcpv6);
    expect(c1.passNd).toBeGreaterThan(c0.passNd);
    expect(c1.noSocket).toBe(c0.noSocket);
  });

  it('setPrefixes replaces the maps: a prefix removed on reload is passed again', async () => {
    await drain(sock);
    const tag = text(`reload-${randomBytes(6).toString('hex')}`);
    const frame = eth(lab.macA, lab.macB, ETH_IP, udp4(ip4(lab.ip4B), ip4('198.51.100.20'), 1, 2, tag));
    expect(x.setPrefixes4(prog, [{ addr: ip4('203.0.113.0'), len: 24 }])).toBe(1);
    const c0 = x.programCounters(prog);
    lab.inject(lab.nsB, lab.vethB, [frame]);
    await sleep(100);
    const got = await receive(sock, (p) => contains(p.bytes, tag), 300);
    expect(got.some((p) => contains(p.bytes, tag))).toBe(false);
    expect(x.programCounters(prog).pass).toBeGreaterThan(c0.pass);
    // Host bits are ignored; duplicates collapse.
    expect(x.setPrefixes4(prog, [{ addr: ip4('198.51.100.99'), len: 24 }, { addr: ip4('198.51.100.0'), len: 24 }, { addr: ip4('203.0.113.0'), len: 24 }])).toBe(2);
    lab.inject(lab.nsB, lab.vethB, [frame]);
    const got2 = await receive(sock, (p) => contains(p.bytes, tag));
    expect(got2.some((p) => contains(p.bytes, tag))).toBe(true);
  });

  it('tx: a frame written into UMEM and submitted with tx arrives at the peer', async () => {
    const payload = `xbr-tx-${randomBytes(8).toString('hex')}`;
    const listener = lab.udp(lab.nsB, ['listen', 'udp4', lab.ip4B, '6000', '5000']);
    await listener.waitFor('ready');
    const frame = eth(lab.macB, lab.macA, ETH_IP, udp4(ip4(lab.ip4A), ip4(lab.ip4B), 4000, 6000, text(payload)));
    const addr = frameAddr(200) + 256; // anywhere inside one frame
    new Uint8Array(mem.buffer).set(frame, addr);
    const dv = view();
    dv.setUint32(TX_DESC, addr, true);
    dv.setUint16(TX_DESC + 4, frame.length, true);
    dv.setUint8(TX_DESC + 6, 0);
    dv.setUint8(TX_DESC + 7, 0);
    // Nothing on the peer (no XDP program, GRO off): XSK copy-mode TX is an skb
    // transmit (veth_xmit), not veth_xdp_xmit, so it is delivered anyway.
    expect(x.tx(sock, TX_DESC, 1)).toBe(1);
    const out = await listener.done;
    expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ from: lab.ip4A, port: 4000, payload });
    let n = 0;
    for (let i = 0; i < 100 && n === 0; i++) {
      n = x.complete(sock, COMP_IO, 64);
      if (n === 0) await sleep(10);
    }
    expect(n).toBe(1);
    expect(view().getUint32(COMP_IO, true)).toBe(addr);
  });

  it('tx: a batch larger than the kernel copy-mode budget is sent whole and completed', async () => {
    const stats = (): number =>
      (JSON.parse(sh('ip', ['-n', lab.nsB, '-s', '-j', 'link', 'show', 'dev', lab.vethB])) as { stats64: { rx: { packets: number } } }[])[0]!
        .stats64.rx.packets;
    const before = stats();
    const N = 48; // frames 192..239
    const dv = view();
    for (let i = 0; i < N; i++) {
      const frame = eth(lab.macB, lab.macA, ETH_IP, udp4(ip4(lab.ip4A), ip4(lab.ip4B), 4000, 9 /* discard */, text(`batch-${i}`)));
      const addr = frameAddr(192 + i);
      new Uint8Array(mem.buffer).set(frame, addr);
      dv.setUint32(TX_DESC + i * 8, addr, true);
      dv.setUint16(TX_DESC + i * 8 + 4, frame.length, true);
    }
    expect(x.tx(sock, TX_DESC, N)).toBe(N);
    const done = new Set<number>();
    for (let i = 0; i < 200 && done.size < N; i++) {
      x.tx(sock, TX_DESC, 0); // flush anything still pending
      const n = x.complete(sock, COMP_IO, 256);
      for (let k = 0; k < n; k++) done.add(view().getUint32(COMP_IO + k * 4, true));
      if (done.size < N) await sleep(10);
    }
    expect(done.size).toBe(N);
    expect(stats() - before).toBeGreaterThanOrEqual(N);
    const st = x.stats(sock);
    expect(st.tx_invalid_descs).toBe(0);
    expect(st.tx_kicks).toBeGreaterThan(0);
  });

  it('shared UMEM: a socket on a second interface gets its own fill ring', async () => {
    const { a, b } = lab.addPair('s');
    const macA2 = lab.mac(lab.nsA, a);
    const prog2 = attachSteering(a, 'auto', defaultProgramPath(), {}, x);
    const sock2 = x.createSocket(umem, a, 0, { mode: 'copy', rxSize: 64, txSize: 64, port: 1 });
    try {
      expect(sock2.shared).toBe(true);
      expect(sock2.mode).toBe('copy');
      x.registerSocket(prog2, sock2, 0);
      x.setPrefixes4(prog2, [{ addr: ip4('198.51.100.0'), len: 24 }]);
      expect(fillFrames(sock2, Array.from({ length: 32 }, (_, i) => 128 + i))).toBe(32);
      const frame = eth(macA2, lab.mac(lab.nsB, b), ETH_IP, udp4(ip4(lab.ip4B), ip4('198.51.100.8'), 1, 2, text(`shared-${lab.id}`)));
      await drain(sock);
      lab.inject(lab.nsB, b, [frame]);
      // poll over both sockets wakes for the frame on the second; the first alone has nothing
      expect(x.poll(sock, 50)).toBe(false);
      expect(x.poll([sock, sock2], 2000)).toBe(true);
      expect(() => x.poll([], 1)).toThrow(/empty socket list/);
      const got = await receive(sock2, (p) => contains(p.bytes, text(`shared-${lab.id}`)));
      const p = got.find((q) => contains(q.bytes, text(`shared-${lab.id}`)));
      expect(p).toBeDefined();
      expect(p!.port).toBe(1);
      expect(p!.addr).toBeGreaterThanOrEqual(frameAddr(128));
      expect(p!.addr).toBeLessThan(frameAddr(160));
      expect(Buffer.from(p!.bytes).equals(Buffer.from(frame))).toBe(true);
    } finally {
      x.close(sock2);
      x.detachProgram(prog2);
    }
    expect(x.listPrograms(a)).toEqual([]);
  });

  it('refuses bad arguments with clear errors', () => {
    const m = new WebAssembly.Memory({ initial: 4, maximum: 4 });
    expect(() => x.createUmem(m, 100, 65536, 4096, 0, 64, 64)).toThrow(/page-aligned/);
    expect(() => x.createUmem(m, 65536, 4 * 65536, 4096, 0, 64, 64)).toThrow(/outside the wasm memory/);
    expect(() => x.createUmem(m, 0, 65536, 3000, 0, 64, 64)).toThrow(/frameSize/);
    expect(() => x.createUmem(m, 0, 65536, 4096, 0, 60, 64)).toThrow(/powers of two/);
    expect(() => x.createUmem({} as WebAssembly.Memory, 0, 65536, 4096, 0, 64, 64)).toThrow(TypeError);
    const shared = new WebAssembly.Memory({ initial: 4, maximum: 4, shared: true });
    expect(() => x.createUmem(shared, 0, 65536, 4096, 0, 64, 64)).toThrow(/shared/);
    expect(() => x.rx(umem as unknown as XskSocket, RX_DESC, 1)).toThrow(TypeError);
    expect(() => x.rx(sock, PAGES * 65536 - 8, 2)).toThrow(RangeError);
    // A TX descriptor outside the UMEM: RangeError, nothing submitted.
    const dv = view();
    dv.setUint32(TX_DESC, 4096, true);
    dv.setUint16(TX_DESC + 4, 64, true);
    expect(() => x.tx(sock, TX_DESC, 1)).toThrow(/not inside one UMEM frame/);
    dv.setUint32(TX_DESC, frameAddr(1) + 4000, true);
    dv.setUint16(TX_DESC + 4, 200, true); // crosses into the next frame
    expect(() => x.tx(sock, TX_DESC, 1)).toThrow(RangeError);
    expect(() => x.createSocket(umem, 'no-such-if0', 0)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });

  it('ENOBUFS and EPERM name their cause and fix', () => {
    const child = (pre: string[]): { code?: string; message?: string; ok?: boolean } =>
      JSON.parse(sh(pre[0]!, [...pre.slice(1), process.execPath, join(FIXTURES, 'umem-errors.mjs'), addonPath()]).trim());
    // Without CAP_IPC_LOCK, pinning 1 MiB under a 64 KiB RLIMIT_MEMLOCK fails.
    const nobufs = child(['prlimit', '--memlock=65536:65536', '--', 'setpriv', '--inh-caps=-ipc_lock', '--bounding-set=-ipc_lock', '--']);
    expect(nobufs.code).toBe('ENOBUFS');
    expect(nobufs.message).toMatch(/RLIMIT_MEMLOCK/);
    expect(nobufs.message).toMatch(/CAP_IPC_LOCK/);
    // Without CAP_NET_RAW there is no AF_XDP socket.
    const perm = child(['setpriv', '--inh-caps=-net_raw', '--bounding-set=-net_raw', '--']);
    expect(perm.code).toBe('EPERM');
    expect(perm.message).toMatch(/CAP_NET_RAW/);
    // With both, it works.
    expect(child(['env'])).toEqual({ ok: true });
  });

  it('setAffinity pins the calling thread', () => {
    const allowed = (): string => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/thread-self/status', 'utf8'))![1]!;
    const before = allowed();
    const cpus = before.split(',').flatMap((r) => {
      const [a, b] = r.split('-').map(Number);
      return Array.from({ length: (b ?? a!) - a! + 1 }, (_, i) => a! + i);
    });
    try {
      x.setAffinity(cpus[cpus.length - 1]!);
      expect(allowed()).toBe(String(cpus[cpus.length - 1]));
    } finally {
      x.setAffinity(cpus);
    }
    expect(allowed()).toBe(before);
  });

  it('housekeeping CPUs are the ones no worker is pinned to', () => {
    expect(housekeepingCpus([0], 2)).toEqual([1]);
    expect(housekeepingCpus([0, 0], 4)).toEqual([1, 2, 3]);
    expect(housekeepingCpus([1, 0], 2)).toEqual([]);
    expect(housekeepingCpus([5], 2)).toEqual([0, 1]);
  });

  it('setAffinity with a tid pins that thread of the process, not the caller; pinProcessThreads pins them all', () => {
    const allowedOf = (tid: string): string => /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))![1]!;
    const self = readlinkSync('/proc/thread-self').split('/').pop()!;
    const tids = readdirSync('/proc/self/task');
    const before = new Map(tids.map((t) => [t, allowedOf(t)]));
    const other = tids.find((t) => t !== self)!; // V8 and libuv start threads of their own
    expect(other).toBeDefined();
    const last = cpus().length - 1;
    try {
      x.setAffinity([last], Number(other));
      expect(allowedOf(other)).toBe(String(last));
      expect(allowedOf(self)).toBe(before.get(self));
      expect(() => x.setAffinity([0], 0x7ffffff0)).toThrow(/sched_setaffinity/); // no such thread
      expect(pinProcessThreads([last])).toBeGreaterThanOrEqual(tids.length);
      for (const t of readdirSync('/proc/self/task')) expect(allowedOf(t)).toBe(String(last));
    } finally {
      const all = Array.from({ length: cpus().length }, (_, i) => i);
      for (const t of readdirSync('/proc/self/task')) x.setAffinity(all, Number(t));
    }
    expect(allowedOf(self)).toBe(before.get(self));
  });

  it('teardown: after close and detachProgram the interface has no XDP program', () => {
    x.close(sock);
    expect(() => x.rx(sock, RX_DESC, 1)).toThrow(/closed/);
    x.detachProgram(prog);
    expect(x.listPrograms(lab.vethA)).toEqual([]);
    expect(lab.linkShow(lab.nsA, lab.vethA)).not.toMatch(/xdp/);
    // The UMEM's first socket is bound on the UMEM's fd, which the kernel keeps
    // bound until closeUmem: a new socket on the same queue shares its rings.
    const again = x.createSocket(umem, lab.vethA, 0, { mode: 'copy', rxSize: 64, txSize: 64 });
    expect(again.shared).toBe(true);
    x.closeUmem(umem); // closes `again` too
    expect(() => x.stats(again)).toThrow(/closed/);
    // Now the queue is free for anyone: a fresh UMEM's first socket binds.
    mem = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    umem = x.createUmem(mem, UMEM_OFF, UMEM_SIZE, FRAME, 0, 256, 256);
    const s = x.createSocket(umem, lab.vethA, 0, { mode: 'copy', rxSize: 64, txSize: 64 });
    expect(s.shared).toBe(false);
    x.closeUmem(umem);
    mem = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
    umem = x.createUmem(mem, UMEM_OFF, UMEM_SIZE, FRAME, 0, 256, 256);
  });

  it("a worker's environment cleanup closes its sockets and detaches its program", async () => {
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const x = require(workerData.addon);
      x.setNetns(workerData.ns);
      const mem = new WebAssembly.Memory({ initial: 32, maximum: 32 });
      const umem = x.createUmem(mem, 65536, 65536, 4096, 0, 64, 64);
      const prog = x.attachProgram(workerData.ifname, workerData.obj, 'auto');
      const sock = x.createSocket(umem, workerData.ifname, 0, { mode: 'copy', rxSize: 64, txSize: 64 });
      x.registerSocket(prog, sock, 0);
      parentPort.postMessage({ id: prog.id, programs: x.listPrograms(workerData.ifname).length });
      // returns without closing anything: the env cleanup hook must.
    `;
    const w = new Worker(code, {
      eval: true,
      workerData: { addon: addonPath(), ns: lab.nsA, ifname: lab.vethA, obj: defaultProgramPath() },
    });
    const msg = await new Promise<{ id: number; programs: number }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('worker timed out')), 10_000);
      w.once('message', (m) => {
        clearTimeout(t);
        resolve(m);
      });
      w.once('error', reject);
    });
    expect(msg.programs).toBe(1);
    const code2 = await new Promise<number>((resolve) => w.once('exit', resolve));
    expect(code2).toBe(0);
    expect(x.listPrograms(lab.vethA)).toEqual([]);
    expect(lab.linkShow(lab.nsA, lab.vethA)).not.toMatch(/xdp/);
    // Its socket is gone: queue 0 binds again, on a fresh UMEM.
    const m2 = new WebAssembly.Memory({ initial: 32, maximum: 32 });
    const u2 = x.createUmem(m2, 65536, 65536, 4096, 0, 64, 64);
    const s2 = x.createSocket(u2, lab.vethA, 0, { mode: 'copy', rxSize: 64, txSize: 64 });
    expect(s2.shared).toBe(false);
    x.closeUmem(u2);
    expect(() => x.stats(s2)).toThrow(/closed/);
  });

  it('kill -9 while attached: the next attach on the same interface succeeds', async () => {
    const child = run('ip', ['netns', 'exec', lab.nsA, process.execPath, join(FIXTURES, 'hold.mjs'), addonPath(), defaultProgramPath(), lab.vethA], 20_000);
    await child.waitFor('"ready"');
    child.kill('SIGKILL');
    await child.done.catch(() => undefined);
    // The killed process's program outlives it ...
    const stale = x.listPrograms(lab.vethA);
    expect(stale.map((p) => p.name)).toEqual(['xbr_steer']);
    expect(lab.linkShow(lab.nsA, lab.vethA)).toMatch(/xdp/);
    // ... and a restart replaces it without manual cleanup.
    const p2 = attachSteering(lab.vethA, 'auto', defaultProgramPath(), {}, x);
    try {
      const now = x.listPrograms(lab.vethA);
      expect(now.map((p) => p.name)).toEqual(['xbr_steer']);
      expect(now[0]!.id).toBe(p2.id);
      expect(p2.id).not.toBe(stale[0]!.id);
      // and it works: a fresh socket on queue 0 receives steered traffic.
      const s = x.createSocket(umem, lab.vethA, 0, { mode: 'copy', rxSize: 64, txSize: 64 });
      expect(s.shared).toBe(false);
      try {
        x.registerSocket(p2, s, 0);
        x.setPrefixes4(p2, [{ addr: ip4('198.51.100.0'), len: 24 }]);
        fillFrames(s, Array.from({ length: 16 }, (_, i) => 160 + i));
        const tag = text(`after-kill-${lab.id}`);
        lab.inject(lab.nsB, lab.vethB, [eth(lab.macA, lab.macB, ETH_IP, udp4(ip4(lab.ip4B), ip4('198.51.100.7'), 1, 2, tag))]);
        const got = await receive(s, (p) => contains(p.bytes, tag));
        expect(got.some((p) => contains(p.bytes, tag))).toBe(true);
      } finally {
        x.closeUmem(umem); // frees queue 0 (and closes s)
      }
    } finally {
      x.detachProgram(p2);
    }
    expect(lab.linkShow(lab.nsA, lab.vethA)).not.toMatch(/xdp/);
  });
});

describe('AF_XDP test prerequisites', () => {
  it('are present, or the tests above are skipped locally (CI=true fails instead)', () => {
    if (skip !== null) expect(process.env.CI).not.toBe('true');
    else expect(addon).not.toBeNull();
  });
});
