// The netns lab, end to end (the README's main job):
//
//   node dist/bench/lab/main.js [--mode map-t|lw4o6|all] [--keep]
//
// builds the namespaces of bench/lab/topology.ts, starts `xbr run` in the BR
// namespace, sends real traffic through it both ways — ping, counted UDP flows (a
// whole-address CE and a shared-address CE with ports of its set), TCP transfers
// (iperf3) — checks that the BR namespace's kernel still answers ARP and ND and
// routes an unrelated IPv6 flow, prints a table, stops xbr and tears the lab down
// (also on Ctrl-C or an error). --keep leaves the lab and xbr running until Ctrl-C.
// Exit code 0 when every check passed, 1 when one failed, 2 when the machine
// cannot run the lab. Needs root.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { labMissing } from './prereq.js';
import { Topology, NET, type LabMode } from './topology.js';
import { Xbr } from './xbr.js';
import { ping, udpFlow, tcpTransfer, tcpStream, resolveAndPing, plainV6, type FlowSpec } from './traffic.js';
import { sleep } from './proc.js';

export interface Row {
  mode: string;
  check: string;
  path: string;
  result: string;
  ok: boolean;
}

const UDP_COUNT = 2000;
const UDP_PPS = 10_000;
const TCP_BYTES = 16 << 20;

function flowRow(mode: string, check: string, path: string, r: { sent: number; unique: number; missing: number; sendErrors: number }): Row {
  return { mode, check, path, result: `${r.unique}/${r.sent} datagrams, ${r.missing} lost`, ok: r.sent > 0 && r.missing === 0 && r.sendErrors === 0 };
}

/** Runs every check of one mode on a fresh lab; rows are appended as they complete. */
export async function runMode(mode: LabMode, rows: Row[], log: (s: string) => void, keep = false): Promise<void> {
  const topo = new Topology({ mode });
  let xbr: Xbr | undefined;
  const stats = join(topo.dir, 'stats.json');
  const add = (r: Row) => {
    rows.push(r);
    log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.check.padEnd(5)} ${r.path.padEnd(44)} ${r.result}`);
  };
  const attempt = async (check: string, path: string, f: () => Promise<Row>) => {
    try {
      add(await f());
    } catch (e) {
      add({ mode, check, path, result: `error: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, ok: false });
    }
  };
  try {
    const t0 = Date.now();
    await topo.up();
    const config = topo.writeConfig();
    xbr = await Xbr.start(topo, config, { args: ['--stats', stats] });
    log(`${mode}: lab ${topo.id} up, xbr running (${Date.now() - t0} ms)${topo.b4Kind ? `; B4: ${topo.b4Kind === 'ip6tnl' ? 'Linux ip6tnl' : 'userspace (bench/lab/b4.py; this kernel has no ip6tnl)'}` : ''}`);
    const { inet, ceFull, ceShared } = topo;
    const ceName = mode === 'map-t' ? 'CE' : 'B4';

    await attempt('ping', `IPv4 host -> ${ceName} ${ceFull.v4}`, async () => {
      const p = await ping(inet, ceFull.v4);
      return { mode, check: 'ping', path: `IPv4 host -> ${ceName} ${ceFull.v4}`, result: `${p.received}/${p.transmitted} replies, rtt ${p.rttAvgMs ?? '-'} ms`, ok: p.transmitted > 0 && p.received === p.transmitted };
    });
    await attempt('ping', `${ceName} ${ceFull.v4} -> IPv4 host`, async () => {
      const p = await ping(ceFull, ceFull.toInet);
      return { mode, check: 'ping', path: `${ceName} ${ceFull.v4} -> IPv4 host`, result: `${p.received}/${p.transmitted} replies, rtt ${p.rttAvgMs ?? '-'} ms`, ok: p.transmitted > 0 && p.received === p.transmitted };
    });

    const flows: [string, FlowSpec][] = [
      [`IPv4 host -> ${ceName} ${ceFull.v4}:7000`, { src: inet, srcPort: 5353, dst: ceFull, dstPort: 7000, count: UDP_COUNT, pps: UDP_PPS, flow: 1 }],
      [`${ceName} ${ceFull.v4} -> IPv4 host:5353`, { src: ceFull, srcPort: 7001, dst: inet, dstPort: 5353, count: UDP_COUNT, pps: UDP_PPS, flow: 2 }],
      [`IPv4 host -> shared ${ceShared.v4}:${NET.shared.ports[0]}`, { src: inet, srcPort: 5353, dst: ceShared, dstPort: NET.shared.ports[0], count: UDP_COUNT, pps: UDP_PPS, flow: 3 }],
      [`shared ${ceShared.v4}:${NET.shared.ports[1]} -> IPv4 host`, { src: ceShared, srcPort: NET.shared.ports[1], dst: inet, dstPort: 5353, count: UDP_COUNT, pps: UDP_PPS, flow: 4 }],
    ];
    for (const [path, spec] of flows) await attempt('udp', path, async () => flowRow(mode, 'udp', path, await udpFlow(spec)));

    const streamRow = (path: string, r: { bytesReceived: number; bytesSent: number; intact: boolean; mbps: number }): Row => ({
      mode,
      check: 'tcp',
      path,
      result: `${(r.bytesReceived / 2 ** 20).toFixed(0)}/${(r.bytesSent / 2 ** 20).toFixed(0)} MiB, sha256 ${r.intact ? 'equal' : 'DIFFERS'}, ${r.mbps.toFixed(0)} Mbit/s`,
      ok: r.intact && r.bytesReceived === TCP_BYTES,
    });
    await attempt('tcp', `${ceName} -> IPv4 host`, async () => streamRow(`${ceName} -> IPv4 host`, await tcpStream(ceFull, inet, TCP_BYTES)));
    await attempt('tcp', `IPv4 host -> ${ceName}`, async () => streamRow(`IPv4 host -> ${ceName}`, await tcpStream(inet, ceFull, TCP_BYTES)));
    const iperfRow = (path: string, r: { bytesSent: number; mbps: number; retransmits: number }): Row => ({
      mode,
      check: 'tcp',
      path,
      result: `${(r.bytesSent / 2 ** 20).toFixed(0)} MiB sent, ${r.mbps.toFixed(0)} Mbit/s, ${r.retransmits} retransmits`,
      ok: r.bytesSent >= TCP_BYTES,
    });
    await attempt('tcp', `${ceName} -> IPv4 host (iperf3)`, async () => iperfRow(`${ceName} -> IPv4 host (iperf3)`, await tcpTransfer(ceFull, inet, TCP_BYTES)));
    await attempt('tcp', `IPv4 host -> ${ceName} (iperf3)`, async () => iperfRow(`IPv4 host -> ${ceName} (iperf3)`, await tcpTransfer(inet, ceFull, TCP_BYTES)));

    // the BR namespace's kernel, while xbr runs
    await attempt('arp', `IPv4 host -> BR ${NET.br.v4}`, async () => {
      const r = await resolveAndPing(topo, inet, NET.br.v4, NET.inet.dev);
      const mac = topo.mac(topo.ns.br, NET.br.dev4);
      return { mode, check: 'arp', path: `IPv4 host -> BR ${NET.br.v4}`, result: `${r.lladdr ?? 'unresolved'} ${r.state.join(',')}, ping ${r.ping.received}/${r.ping.transmitted}`, ok: r.lladdr === mac && r.ping.received === r.ping.transmitted };
    });
    await attempt('nd', `CE side -> BR ${NET.br.v6}`, async () => {
      const r = await resolveAndPing(topo, { ...topo.ceFull, addr: NET.ce.v6, family: 6 }, NET.br.v6, NET.ce.dev);
      const mac = topo.mac(topo.ns.br, NET.br.dev6);
      return { mode, check: 'nd', path: `CE side -> BR ${NET.br.v6}`, result: `${r.lladdr ?? 'unresolved'} ${r.state.join(',')}, ping ${r.ping.received}/${r.ping.transmitted}`, ok: r.lladdr === mac && r.ping.received === r.ping.transmitted };
    });
    const plain = plainV6(topo);
    await attempt('ipv6', `${NET.inet.v6} -> ${NET.ce.v6} (BR kernel)`, async () =>
      flowRow(mode, 'ipv6', `${NET.inet.v6} -> ${NET.ce.v6} (BR kernel)`, await udpFlow({ src: plain.inet, srcPort: 6000, dst: plain.ce, dstPort: 6001, count: UDP_COUNT, pps: UDP_PPS, flow: 5 })),
    );

    if (keep) {
      log(`\n--keep: the lab stays up until Ctrl-C. Namespaces: ${Object.values(topo.ns).join(' ')}; config ${config}`);
      log(`  e.g. ip netns exec ${topo.ns.inet} ping ${ceFull.v4}`);
      await new Promise<void>((res) => {
        process.once('SIGINT', () => res());
        process.once('SIGTERM', () => res());
      });
    }
  } finally {
    if (xbr) {
      const out = await xbr.stop();
      const stopped = /xbr run: SIG\w+: stopped; .*/.exec(out)?.[0];
      let counters = '';
      try {
        const c = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, number>;
        const drops = Object.entries(c).filter(([k, v]) => k.startsWith('drop_') && v > 0);
        counters = ` drops: ${drops.length ? drops.map(([k, v]) => `${k}=${v}`).join(' ') : 'none'}`;
      } catch {
        /* no stats written */
      }
      log(`${mode}: ${stopped ?? 'xbr did not report its stop'}${counters}`);
      if (!stopped) log(out.slice(-2000));
    }
    await topo.down();
  }
}

export function table(rows: Row[]): string {
  const head = ['mode', 'check', 'path', 'result', ''];
  const body = rows.map((r) => [r.mode, r.check, r.path, r.result, r.ok ? 'ok' : 'FAIL']);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let mode = 'map-t';
  let keep = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mode') mode = argv[++i] ?? '';
    else if (argv[i] === '--keep') keep = true;
    else if (argv[i] === '-h' || argv[i] === '--help') {
      process.stdout.write('usage: node dist/bench/lab/main.js [--mode map-t|lw4o6|all] [--keep]\n');
      return 0;
    } else {
      process.stderr.write(`lab: unknown argument ${argv[i]}\n`);
      return 2;
    }
  }
  if (!['map-t', 'lw4o6', 'all'].includes(mode)) {
    process.stderr.write('lab: --mode must be map-t, lw4o6 or all\n');
    return 2;
  }
  const missing = labMissing();
  if (missing) {
    process.stderr.write(`lab: ${missing}\n`);
    return 2;
  }
  const modes: LabMode[] = mode === 'all' ? ['map-t', 'lw4o6'] : [mode as LabMode];
  const rows: Row[] = [];
  const t0 = Date.now();
  // Ctrl-C: let the finally blocks tear down (a second one exits at once)
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('\nlab: interrupted, tearing down\n');
  };
  if (!keep) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  for (const m of modes) {
    if (interrupted) break;
    try {
      await runMode(m, rows, (s) => process.stdout.write(`${s}\n`), keep);
    } catch (e) {
      rows.push({ mode: m, check: 'lab', path: 'setup', result: (e instanceof Error ? e.message : String(e)).split('\n')[0]!, ok: false });
      process.stdout.write(`${m}: lab failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
    await sleep(0);
  }
  process.stdout.write(`\n${table(rows)}\n\n`);
  const failed = rows.filter((r) => !r.ok).length;
  process.stdout.write(`lab: ${rows.length - failed} passed, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s (veth lab: AF_XDP copy mode)\n`);
  return failed === 0 && !interrupted ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`lab: ${e instanceof Error ? e.stack : String(e)}\n`);
      process.exit(1);
    },
  );
}
