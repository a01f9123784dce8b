// End to end through `xbr run` in the netns lab (bench/lab/topology.ts), in map-t
// and in lw4o6 mode: ping, counted UDP flows (a whole-address CE and a
// shared-address CE using ports of its set) and TCP transfers between the IPv4
// host and a CE host, both directions; and, while xbr runs, the BR namespace's
// kernel still answers ARP and ND and routes an unrelated IPv6 flow (the XDP program
// passes what is not the BR's). Each mode builds its own uniquely named lab and
// tears it down in afterAll. Needs root: skipped locally without it, a failure
// under CI=true.
//
// Lab figures: veth does AF_XDP in copy mode only.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topology, NET, type LabMode } from '../../bench/lab/topology.js';
import { Xbr } from '../../bench/lab/xbr.js';
import { ping, udpFlow, tcpStream, tcpTransfer, resolveAndPing, plainV6 } from '../../bench/lab/traffic.js';
import { requireLab } from './helpers.js';

const { skip } = requireLab();

describe.skipIf(skip !== null).each(['map-t', 'lw4o6'] as LabMode[])('netns lab, %s: real traffic through xbr run', (mode) => {
  let topo: Topology;
  let xbr: Xbr | undefined;
  let stats = '';

  beforeAll(async () => {
    topo = new Topology({ mode });
    await topo.up();
    stats = join(topo.dir, 'stats.json');
    xbr = await Xbr.start(topo, topo.writeConfig(), { args: ['--stats', stats] });
  });

  afterAll(async () => {
    await xbr?.stop();
    await topo?.down();
  });

  it('built the lab it says (lw4o6: a real IPv4-in-IPv6 B4)', () => {
    expect(topo.linkStats(topo.ns.br, NET.br.dev4).rxDropped).toBeGreaterThanOrEqual(0);
    expect(topo.exec(topo.ns.br, 'ip', ['link', 'show', 'dev', NET.br.dev4])).toMatch(/xdp/);
    expect(topo.exec(topo.ns.br, 'ip', ['link', 'show', 'dev', NET.br.dev6])).toMatch(/xdp/);
    if (mode === 'lw4o6') expect(['ip6tnl', 'userspace']).toContain(topo.b4Kind);
  });

  it('ping: IPv4 host -> CE and CE -> IPv4 host, every echo answered', async () => {
    const there = await ping(topo.inet, topo.ceFull.v4, { count: 5 });
    expect(there.received, there.output).toBe(5);
    const back = await ping(topo.ceFull, topo.ceFull.toInet, { count: 5 });
    expect(back.received, back.output).toBe(5);
  });

  it('UDP, whole-address CE: 2000 numbered datagrams each way, none lost', async () => {
    const down = await udpFlow({ src: topo.inet, srcPort: 5353, dst: topo.ceFull, dstPort: 7000, count: 2000, pps: 5000, flow: 11 });
    expect(down.sendErrors).toBe(0);
    expect(down.missing, JSON.stringify(down.missingRanges)).toBe(0);
    // the CE sees the IPv4 host's address (map-t: its DMR form) and port
    expect(down.from).toBe(`${topo.ceFull.toInet}:5353`);
    const up = await udpFlow({ src: topo.ceFull, srcPort: 7001, dst: topo.inet, dstPort: 5353, count: 2000, pps: 5000, flow: 12 });
    expect(up.missing, JSON.stringify(up.missingRanges)).toBe(0);
    expect(up.from).toBe(`${NET.full.v4}:7001`);
  });

  it('UDP, shared-address CE (PSID 0x34/8): ports of its set both ways, none lost; a port outside the set is not delivered', async () => {
    const [p0, p1] = NET.shared.ports;
    const down = await udpFlow({ src: topo.inet, srcPort: 5353, dst: topo.ceShared, dstPort: p0, count: 2000, pps: 5000, flow: 21 });
    expect(down.missing, JSON.stringify(down.missingRanges)).toBe(0);
    const up = await udpFlow({ src: topo.ceShared, srcPort: p1, dst: topo.inet, dstPort: 5353, count: 2000, pps: 5000, flow: 22 });
    expect(up.missing, JSON.stringify(up.missingRanges)).toBe(0);
    // the IPv4 host sees the shared address with the CE's own port: A+P, no NAT
    expect(up.from).toBe(`${NET.shared.v4}:${p1}`);
    // 1236 belongs to PSID 0x35, another CE: the shared CE must not get it
    const other = await udpFlow({ src: topo.inet, srcPort: 5353, dst: { ...topo.ceShared }, dstPort: 1236, count: 50, pps: 1000, flow: 23, idleMs: 500, timeoutMs: 2000 });
    expect(other.unique).toBe(0);
  });

  it('TCP: 8 MiB each way, byte for byte (SHA-256 at both ends)', async () => {
    const up = await tcpStream(topo.ceFull, topo.inet, 8 << 20);
    expect(up.intact).toBe(true);
    expect(up.bytesReceived).toBe(8 << 20);
    expect(up.from.replace(/:\d+$/, '')).toBe(NET.full.v4);
    const down = await tcpStream(topo.inet, topo.ceFull, 8 << 20);
    expect(down.intact).toBe(true);
    expect(down.bytesReceived).toBe(8 << 20);
  });

  it('TCP with iperf3: a transfer each way completes', async () => {
    const up = await tcpTransfer(topo.ceFull, topo.inet, 4 << 20);
    expect(up.bytesSent).toBeGreaterThanOrEqual(4 << 20);
    const down = await tcpTransfer(topo.inet, topo.ceFull, 4 << 20);
    expect(down.bytesSent).toBeGreaterThanOrEqual(4 << 20);
  });

  it('while xbr runs, the BR kernel answers ARP (IPv4 side) and ND (IPv6 side)', async () => {
    const arp = await resolveAndPing(topo, topo.inet, NET.br.v4, NET.inet.dev);
    expect(arp.ping.received, arp.ping.output).toBe(3);
    expect(arp.lladdr).toBe(topo.mac(topo.ns.br, NET.br.dev4));
    const nd = await resolveAndPing(topo, { ...topo.ceFull, addr: NET.ce.v6, family: 6 }, NET.br.v6, NET.ce.dev);
    expect(nd.ping.received, nd.ping.output).toBe(3);
    expect(nd.lladdr).toBe(topo.mac(topo.ns.br, NET.br.dev6));
    // and the BR's kernel resolves its neighbours itself (xbr's next hops)
    const n = topo.exec(topo.ns.br, 'ip', ['-6', 'neigh', 'show', NET.ce.v6, 'dev', NET.br.dev6]);
    expect(n).toContain(topo.mac(topo.ns.ce, NET.ce.dev));
  });

  it('while xbr runs, an unrelated IPv6 flow is routed by the BR kernel, both ways', async () => {
    const { inet, ce } = plainV6(topo);
    const a = await udpFlow({ src: inet, srcPort: 6000, dst: ce, dstPort: 6001, count: 1000, pps: 5000, flow: 31 });
    expect(a.missing).toBe(0);
    const b = await udpFlow({ src: ce, srcPort: 6002, dst: inet, dstPort: 6003, count: 1000, pps: 5000, flow: 32 });
    expect(b.missing).toBe(0);
    const p = await ping(inet, NET.ce.v6, { count: 3 });
    expect(p.received).toBe(3);
  });

  it('stops cleanly: XDP detached, counters written, nothing dropped but the out-of-set datagrams', async () => {
    const out = await xbr!.stop();
    xbr = undefined;
    expect(out).toMatch(/stopped; rx \d+, tx \d+ packets, 0 worker restart/);
    const c = JSON.parse(readFileSync(stats, 'utf8')) as Record<string, number>;
    const drops = Object.fromEntries(Object.entries(c).filter(([k, v]) => k.startsWith('drop_') && v > 0));
    // map-t: port 1236 maps to PSID 0x35's CE (translated, nobody there); lw4o6: no
    // binding for 192.0.2.18 PSID 0x35 (RFC 7596 6.2)
    expect(drops).toEqual(mode === 'map-t' ? {} : { drop_ipv4_no_binding: 50 });
    expect(c.rx4_packets).toBeGreaterThan(10_000);
    expect(c.rx6_packets).toBeGreaterThan(10_000);
    expect(topo.exec(topo.ns.br, 'ip', ['link', 'show', 'dev', NET.br.dev4])).not.toMatch(/xdp/);
  });
});
