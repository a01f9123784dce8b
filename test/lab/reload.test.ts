// A reload loses no packet (DESIGN.md: "workers swap it in at a batch boundary. No
// packet is dropped by a reload"): counted UDP flows run through `xbr run` in the
// netns lab while the config file is edited and xbr is SIGHUP-ed again and again
// (an extra rule / binding added and removed, rules reordered, the ICMP rate
// changed, one invalid config refused), and every sequence number of every flow
// arrives. map-t and lw4o6 (where a reload also re-pushes the binding table). A
// probe proves the reloads take effect while the flows run: 100.64.0.9 reaches the
// whole-address CE only while the extra rule (map-t) / binding (lw4o6) is loaded.
// Needs root: skipped locally without it, a failure under CI=true.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Topology, NET, type LabMode } from '../../bench/lab/topology.js';
import { Xbr } from '../../bench/lab/xbr.js';
import { startUdpFlow, udpFlow, type FlowResult } from '../../bench/lab/traffic.js';
import type { Host } from '../../bench/lab/topology.js';
import { mapCeAddress } from '../../src/map/address.js';
import { formatIPv6, parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { sleep } from '../../bench/lab/proc.js';
import { requireLab } from './helpers.js';

const { skip } = requireLab();

const COUNT = 6000;
const PROBE_V4 = '100.64.0.9';
const EXTRA_RULE = { 'ipv6-prefix': '2001:db8:200::/40', 'ipv4-prefix': '100.64.0.0/24', 'ea-len': 8 };
const PPS = 1000;

describe.skipIf(skip !== null).each(['map-t', 'lw4o6'] as LabMode[])('netns lab, %s: SIGHUP reloads during counted flows', (mode) => {
  let topo: Topology;
  let xbr: Xbr | undefined;
  // map-t: the CE address of 100.64.0.9 under EXTRA_RULE
  const probeV6 = formatIPv6(
    mapCeAddress(
      { ipv6Prefix: parseIPv6('2001:db8:200::'), ipv6PrefixLen: 40, ipv4Prefix: parseIPv4('100.64.0.0'), ipv4PrefixLen: 24, eaLen: 8, psidOffset: 6, interfaceId: 'rfc7597', fullIPv4InIid: true },
      parseIPv4(PROBE_V4),
      0,
    ),
  );
  /** How many of 20 datagrams from the IPv4 host to 100.64.0.9 reach the CE. */
  const probe = async (flow: number): Promise<number> => {
    const dst: Host = mode === 'map-t' ? { ...topo.ceFull, addr: probeV6, v4: PROBE_V4 } : { ...topo.ceFull, addr: PROBE_V4, v4: PROBE_V4 };
    const r = await udpFlow({ src: topo.inet, srcPort: 5360 + (flow % 10), dst, dstPort: 7100, count: 20, pps: 200, flow, idleMs: 300, timeoutMs: 1200 });
    return r.unique;
  };

  beforeAll(async () => {
    topo = new Topology({ mode });
    await topo.up();
    // the probe address: routed to the BR, owned by the whole-address CE
    topo.exec(topo.ns.inet, 'ip', ['route', 'add', '100.64.0.0/24', 'via', NET.br.v4]);
    if (mode === 'map-t') topo.exec(topo.ns.ce, 'ip', ['addr', 'add', `${probeV6}/128`, 'dev', 'lo']);
    else topo.exec(topo.ns.ce, 'ip', ['addr', 'add', `${PROBE_V4}/32`, 'dev', 'b4full']);
    xbr = await Xbr.start(topo, topo.writeConfig());
  });

  afterAll(async () => {
    await xbr?.stop();
    await topo?.down();
  });

  it('every datagram of every flow arrives across 6 reloads and a refused one', async () => {
    const base = topo.config();
    const yaml = (c: Record<string, unknown>) => `# reload test\n${stringify(c)}`;
    const edits: { what: string; text: string }[] = [];
    if (mode === 'map-t') {
      const rules = base.rules as Record<string, unknown>[];
      edits.push({ what: 'extra rule', text: yaml({ ...base, rules: [...rules, EXTRA_RULE] }) });
      edits.push({ what: 'rules reordered', text: yaml({ ...base, rules: [...rules].reverse() }) });
    } else {
      const bindings = base.bindings as Record<string, unknown>[];
      // a second address for the whole-address B4
      edits.push({ what: 'extra binding', text: yaml({ ...base, bindings: [...bindings, { ipv4: PROBE_V4, 'psid-len': 0, ipv6: NET.full.b4 }] }) });
      edits.push({ what: 'bindings reordered', text: yaml({ ...base, bindings: [...bindings].reverse() }) });
    }
    edits.push({ what: 'icmp rate', text: yaml({ ...base, icmp: { errors: true, rate: 100 } }) });
    edits.push({ what: 'same again', text: yaml(base) });
    edits.push({ what: 'icmp errors off', text: yaml({ ...base, icmp: { errors: false, rate: 1000 } }) });
    edits.push({ what: 'back to the start', text: yaml(base) });

    const flows = [
      startUdpFlow({ src: topo.inet, srcPort: 5351, dst: topo.ceShared, dstPort: NET.shared.ports[0], count: COUNT, pps: PPS, flow: 41 }),
      startUdpFlow({ src: topo.ceShared, srcPort: NET.shared.ports[1], dst: topo.inet, dstPort: 5353, count: COUNT, pps: PPS, flow: 42 }),
      startUdpFlow({ src: topo.inet, srcPort: 5352, dst: topo.ceFull, dstPort: 7000, count: COUNT, pps: PPS, flow: 43 }),
    ];
    let results: FlowResult[];
    const t0 = Date.now();
    try {
      await Promise.all(flows.map((f) => f.started));
      await sleep(300);
      let done = 0;
      expect(await probe(60)).toBe(0);
      for (const [i, e] of edits.entries()) {
        await xbr!.reload(e.text);
        done++;
        // the extra entry is live right after its reload, and gone after the next
        if (i === 0) expect(await probe(61)).toBe(20);
        if (i === 1) expect(await probe(62)).toBe(0);
        if (i === 2) {
          // a broken config in the middle: refused with its reason, the running one stays
          const line = await xbr!.reloadRefused('mode: map-t\nrules: [ {ipv6-prefix: nonsense} ]\n');
          expect(line).toMatch(/reload refused, the running config stays/);
        }
        await sleep(250);
      }
      expect(done).toBe(edits.length);
      // the reloads happened while the flows ran
      expect(Date.now() - t0).toBeLessThan((COUNT / PPS) * 1000 + 2000);
      results = await Promise.all(flows.map((f) => f.result));
    } finally {
      await Promise.all(flows.map((f) => f.stop()));
    }
    for (const r of results) {
      expect(r.sendErrors).toBe(0);
      expect(r.missing, JSON.stringify(r.missingRanges)).toBe(0);
      expect(r.unique).toBe(COUNT);
    }
    expect((xbr!.proc.out().match(/xbr run: reloaded/g) ?? []).length).toBeGreaterThanOrEqual(edits.length);
  });
});
