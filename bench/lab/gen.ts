// The lab bench's AF_XDP generator (`--gen xsk`; the default is the in-kernel
// xdpgen.c, see throughput.ts for why): blasts one prebuilt Ethernet frame out of an
// interface through AF_XDP TX sockets of the project's own shim (native/), one per
// queue, from a WebAssembly.Memory that is the UMEM: frames are written once, then
// only descriptors move, a batch per call (the kernel's copy-mode TX builds an skb
// per frame and hands it to the driver; on veth that is the peer's receive path).
// Run it inside the sending namespace:
//
//   ip netns exec NS node dist/bench/lab/gen.js --dev IF --frame HEX --seconds S
//        [--queues N] [--batch B] [--cpu C] [--pps R]
//
// prints "started", then every 100 ms a line "t <ms> sent <n>" (cumulative), and at
// the end {sent, seconds, pps, cpuMs}. --pps caps the rate (default: as fast as it goes);
// ahead of it, the generator sleeps.

import { loadXsk, type XskSocket, type Umem } from '../../src/dataplane/xsk.js';

const FRAME = 2048;
const FRAMES = 4096; // per socket
const RING = 2048;
const DESC = 8;

interface Tx {
  sock: XskSocket;
  umem: Umem;
  mem: WebAssembly.Memory;
  descBase: number;
  ioBase: number;
  umemOff: number;
  next: number;
  outstanding: number;
}

function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (v === undefined) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  return v;
}

function main(): void {
  const addon = loadXsk();
  const dev = arg('dev');
  const frame = Buffer.from(arg('frame'), 'hex');
  const seconds = Number(arg('seconds', '5'));
  const queues = Number(arg('queues', '1'));
  const batch = Number(arg('batch', '64'));
  const capPps = Number(arg('pps', '0'));
  const cpu = arg('cpu', '');
  if (cpu !== '') addon.setAffinity(Number(cpu));
  if (frame.length < 14 || frame.length > FRAME) throw new Error(`frame of ${frame.length} bytes`);

  const txs: Tx[] = [];
  for (let q = 0; q < queues; q++) {
    // [descriptors | completion addresses | pad | UMEM]
    const descBase = 0;
    const ioBase = FRAMES * DESC;
    const umemOff = 1 << 16;
    const bytes = umemOff + FRAMES * FRAME;
    const pages = Math.ceil(bytes / 65536);
    const mem = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const u8 = new Uint8Array(mem.buffer);
    const dv = new DataView(mem.buffer);
    for (let f = 0; f < FRAMES; f++) {
      const a = umemOff + f * FRAME;
      u8.set(frame, a);
      dv.setUint32(descBase + f * DESC, a, true);
      dv.setUint16(descBase + f * DESC + 4, frame.length, true);
    }
    const umem = addon.createUmem(mem, umemOff, FRAMES * FRAME, FRAME, 0, RING, RING);
    const sock = addon.createSocket(umem, dev, q, { mode: 'auto', rxSize: 0, txSize: RING, needWakeup: true, port: 0 });
    txs.push({ sock, umem, mem, descBase, ioBase, umemOff, next: 0, outstanding: 0 });
  }

  let sent = 0;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const t0 = performance.now();
  let tokens = 0;
  let last = t0;
  const end = t0 + seconds * 1000;
  let nextReport = t0;
  process.stdout.write('started\n');
  for (;;) {
    const now = performance.now();
    if (now >= end) break;
    if (now >= nextReport) {
      process.stdout.write(`t ${(now - t0).toFixed(1)} sent ${sent}\n`);
      nextReport += 100;
    }
    let budget = batch;
    if (capPps > 0) {
      // token bucket, at most two batches of burst: a generator that fell behind
      // (its own start-up, a preemption) does not catch up in a line-rate burst
      tokens = Math.min(2 * batch, tokens + ((now - last) / 1000) * capPps);
      last = now;
      budget = Math.min(batch, Math.floor(tokens));
      if (budget < batch) {
        // not a whole batch due: sleep (not spin) until it is, so the generator
        // takes only the CPU its rate needs
        Atomics.wait(nap, 0, 0, Math.min(1, ((batch - tokens) / capPps) * 1000));
        continue;
      }
    }
    for (const t of txs) {
      const c = addon.complete(t.sock, t.ioBase, RING);
      t.outstanding -= c;
      const slot = t.next % FRAMES;
      const n = Math.min(budget, FRAMES - t.outstanding, FRAMES - slot, RING);
      if (n <= 0) {
        addon.tx(t.sock, t.descBase, 0); // kick what is pending
        continue;
      }
      const k = addon.tx(t.sock, t.descBase + slot * DESC, n);
      t.outstanding += k;
      t.next += k;
      sent += k;
      tokens -= k;
    }
  }
  const secs = (performance.now() - t0) / 1000;
  for (const t of txs) {
    addon.close(t.sock);
    addon.closeUmem(t.umem);
  }
  const usage = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ sent, seconds: secs, pps: sent / secs, cpuMs: (usage.user + usage.system) / 1000 })}\n`);
}

main();
