// End-to-end packets per second through the netns lab (npm run bench:lab):
//
//   node dist/bench/lab/throughput.js [--seconds 3] [--sizes 64,550] [--workers 1,2]
//                                     [--cpus auto|none] [--wait-quiet S] [--record]
//
// For each worker count N (a lab whose veths have N queues, xbr with N workers):
//   xbr     the generator (bench/lab/gen.ts: AF_XDP TX from the IPv4 host, one
//           socket per queue) sends IPv4 UDP frames of each size to the whole-address
//           CE (203.0.113.5); xbr translates them (MAP-T) and sends IPv6 to the CE side;
//   kernel  on the same lab, xbr stopped: the same generator sends IPv6 UDP frames of
//           each size (fd00:4::1 -> fd00:6::2) that the BR namespace's kernel forwards
//           from br4 to br6 — plain IPv6 forwarding, no translation: the baseline.
// The CE side's veth runs an XDP program that drops every frame (bench/lab/sink.bpf.c),
// so its rx counter counts exactly the frames the BR delivered. Each case sends
// for a warm-up second, then the delivered rate is measured over --seconds from the
// interface counters (ip -s link), with the CPU time of the whole machine.
//
// Sizes are Ethernet frames as the generator sends them, without FCS (64 B = 14 +
// 20 + 8 + 22 bytes of payload for IPv4, 14 + 40 + 8 + 2 for IPv6); xbr's output is
// 20 bytes longer (the IPv6 header).
//
// Lab figures, to be read as such: veth does XDP/AF_XDP in copy mode only (the
// kernel copies every frame into and out of the UMEM); the generator, the BR and the
// receiving veth share this machine's cores; the kernel's forwarding runs inside the
// generator's own send path (veth hands a frame to its peer on the sending CPU),
// while xbr's workers are threads of their own.
//
// --record appends a section to bench/RESULTS.md; the JSON goes to bench/out/lab.json.

import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { machineLine, writeResults } from '../report.js';
import { ethernet, ipv4, ipv6, udp } from '../../src/packets/build.js';
import { labMissing } from './prereq.js';
import { Topology, NET } from './topology.js';
import { Xbr } from './xbr.js';
import { sh, spawnProc, stopProc, labScript, labAsset, sleep, root } from './proc.js';
import { ping } from './traffic.js';

export interface Case {
  workers: number;
  size: number;
  path: 'xbr' | 'kernel';
  offeredPps: number;
  deliveredPps: number;
  /** Busy CPU over the window, in cores (of cpus().length). */
  coresBusy: number;
  generatorPps: number;
}

function opt(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  return { busy: total - idle, total };
}

function frameFor(path: 'xbr' | 'kernel', size: number, srcMac: string, dstMac: string): Uint8Array {
  const l3 = path === 'xbr' ? 20 : 40;
  const payload = new Uint8Array(Math.max(0, size - 14 - l3 - 8));
  const transport = udp({ sport: 5353, dport: 7000, payload });
  const ip =
    path === 'xbr'
      ? ipv4({ src: NET.inet.v4, dst: NET.full.v4, ttl: 64, payload: transport })
      : ipv6({ src: NET.inet.v6, dst: NET.ce.v6, hopLimit: 64, payload: transport });
  return ethernet({ src: srcMac, dst: dstMac, payload: ip });
}

/** Builds the XDP sink once (clang -target bpf), returns the object's path. */
function buildSink(dir: string): string {
  const out = join(dir, 'sink.bpf.o');
  const multiarch = sh('gcc', ['-print-multiarch']).trim();
  sh('clang', ['-O2', '-g0', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', labAsset('sink.bpf.c'), '-o', out], 60_000);
  return out;
}

async function measure(topo: Topology, path: 'xbr' | 'kernel', size: number, workers: number, seconds: number, genCpu: string): Promise<Case> {
  const frame = frameFor(path, size, topo.mac(topo.ns.inet, NET.inet.dev), topo.mac(topo.ns.br, NET.br.dev4));
  const warm = 1;
  const args = ['netns', 'exec', topo.ns.inet, process.execPath, labScript('gen'), '--dev', NET.inet.dev, '--frame', Buffer.from(frame).toString('hex'), '--seconds', String(warm + seconds + 0.5), '--queues', String(workers)];
  if (genCpu !== '') args.push('--cpu', genCpu);
  const gen = spawnProc('ip', args, (warm + seconds + 20) * 1000);
  try {
    await gen.waitFor('started', 10_000);
    await sleep(warm * 1000);
    const sample = () => ({ t: performance.now(), rx: topo.linkStats(topo.ns.ce, NET.ce.dev).rxPackets, tx: topo.linkStats(topo.ns.inet, NET.inet.dev).txPackets, cpu: cpuTimes() });
    const a = sample();
    await sleep(seconds * 1000);
    const b = sample();
    const out = await gen.done;
    const g = JSON.parse(out.trim().split('\n').pop()!) as { sent: number; seconds: number; pps: number };
    const dt = (b.t - a.t) / 1000;
    return {
      workers,
      size,
      path,
      offeredPps: (b.tx - a.tx) / dt,
      deliveredPps: (b.rx - a.rx) / dt,
      coresBusy: ((b.cpu.busy - a.cpu.busy) / (b.cpu.total - a.cpu.total)) * cpus().length,
      generatorPps: g.pps,
    };
  } finally {
    await stopProc(gen, 'SIGKILL');
  }
}

const mpps = (x: number): string => (x / 1e6).toFixed(3);

export function resultTable(cases: Case[]): string {
  const lines = [
    '| workers | frame | xbr (MAP-T) Mpps | kernel IPv6 fwd Mpps | ratio xbr/kernel | offered xbr / kernel Mpps | CPU busy xbr / kernel (cores) |',
    '|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const keys = [...new Set(cases.map((c) => `${c.workers}/${c.size}`))];
  for (const k of keys) {
    const [w, s] = k.split('/').map(Number);
    const x = cases.find((c) => c.workers === w && c.size === s && c.path === 'xbr');
    const n = cases.find((c) => c.workers === w && c.size === s && c.path === 'kernel');
    if (!x || !n) continue;
    lines.push(
      `| ${w} | ${s} B | ${mpps(x.deliveredPps)} | ${mpps(n.deliveredPps)} | ${(x.deliveredPps / n.deliveredPps).toFixed(2)} | ${mpps(x.offeredPps)} / ${mpps(n.offeredPps)} | ${x.coresBusy.toFixed(2)} / ${n.coresBusy.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

/** Cores busy on the machine over `ms` (everything: other processes included). */
async function busyCores(ms: number): Promise<number> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  return ((b.busy - a.busy) / Math.max(1, b.total - a.total)) * cpus().length;
}

/**
 * Waits (at most waitS seconds) until the machine is quiet: the lab bench owns
 * every core while it runs, anything else running skews it. Returns the load seen.
 */
async function waitQuiet(waitS: number): Promise<number> {
  const deadline = Date.now() + waitS * 1000;
  for (;;) {
    const busy = await busyCores(1000);
    if (busy < 0.15 || Date.now() > deadline) return busy;
    process.stderr.write(`bench:lab: the machine is busy (${busy.toFixed(2)} cores used by other processes), waiting\n`);
  }
}

async function main(): Promise<number> {
  const missing = labMissing();
  if (missing) {
    process.stderr.write(`bench:lab: ${missing}\n`);
    return 2;
  }
  const seconds = Number(opt('seconds', '3'));
  const sizes = opt('sizes', '64,550').split(',').map(Number);
  const workerCounts = opt('workers', '1,2').split(',').map(Number);
  const pin = opt('cpus', 'none');
  const record = process.argv.includes('--record');
  const waitS = Number(opt('wait-quiet', '120'));
  const dir = mkdtempSync(join(tmpdir(), 'xbr-bench-lab-'));
  const cases: Case[] = [];
  const t0 = Date.now();
  let busyBefore = 0;
  try {
    const sink = buildSink(dir);
    for (const workers of workerCounts) {
      const before = await waitQuiet(waitS);
      if (before >= 0.15) {
        process.stderr.write(`bench:lab: WARNING: measuring on a busy machine (${before.toFixed(2)} cores used by other processes)\n`);
        busyBefore = Math.max(busyBefore, before);
      }
      const topo = new Topology({ mode: 'map-t', queues: workers });
      let xbr: Xbr | undefined;
      try {
        await topo.up();
        // ND/NUD toward the CE must survive the sink dropping everything: pin the entry
        await ping(topo.inet, NET.ce.v6, { count: 1, src: NET.inet.v6 });
        topo.exec(topo.ns.br, 'ip', ['-6', 'neigh', 'replace', NET.ce.v6, 'lladdr', topo.mac(topo.ns.ce, NET.ce.dev), 'dev', NET.br.dev6, 'nud', 'permanent']);
        topo.exec(topo.ns.ce, 'ip', ['link', 'set', 'dev', NET.ce.dev, 'xdpdrv', 'obj', sink, 'sec', 'xdp']);
        // pinning (--cpus auto): the generator on the last CPU, the workers on the others
        const n = cpus().length;
        const genCpu = pin === 'auto' ? String(n - 1) : '';
        const xbrArgs = pin === 'auto' ? ['--cpus', Array.from({ length: workers }, (_, i) => String(i % Math.max(1, n - 1))).join(',')] : [];
        xbr = await Xbr.start(topo, topo.writeConfig(), { args: xbrArgs });
        for (const size of sizes) {
          const c = await measure(topo, 'xbr', size, workers, seconds, genCpu);
          cases.push(c);
          process.stderr.write(`  ${workers} worker(s) ${size} B xbr:    ${mpps(c.deliveredPps)} Mpps delivered (${mpps(c.offeredPps)} offered, ${c.coresBusy.toFixed(2)} cores busy)\n`);
        }
        await xbr.stop();
        xbr = undefined;
        for (const size of sizes) {
          const c = await measure(topo, 'kernel', size, workers, seconds, genCpu);
          cases.push(c);
          process.stderr.write(`  ${workers} queue(s)  ${size} B kernel: ${mpps(c.deliveredPps)} Mpps delivered (${mpps(c.offeredPps)} offered, ${c.coresBusy.toFixed(2)} cores busy)\n`);
        }
      } finally {
        await xbr?.stop();
        await topo.down();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const machine = machineLine();
  const command = `node dist/bench/lab/throughput.js ${process.argv.slice(2).join(' ')}`.trim();
  const table = resultTable(cases);
  process.stdout.write(`\n${table}\n\nmachine: ${machine}\n(${((Date.now() - t0) / 1000).toFixed(0)} s; veth lab, AF_XDP copy mode, generator and BR on the same ${cpus().length} cores)\n`);
  writeResults('lab', cases, machine);
  if (record) {
    const file = join(root(), 'bench', 'RESULTS.md');
    const section = [
      '',
      `## Netns lab: end-to-end packets per second (${new Date().toISOString().slice(0, 10)})`,
      '',
      `Command: \`${command}\` (as root; \`npm run bench:lab\`)`,
      `Machine: ${machine}`,
      '',
      table,
      '',
      ...(busyBefore >= 0.15 ? [`WARNING: other processes used ${busyBefore.toFixed(2)} cores when a lab started: these figures are skewed.`, ''] : []),
    ].join('\n');
    if (!existsSync(file)) writeFileSync(file, '# Benchmark results\n');
    appendFileSync(file, section);
    process.stderr.write(`appended to ${file}\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:lab: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
