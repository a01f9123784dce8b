// Per-subscriber counters through the AF_XDP data plane (`xbr run` in the netns lab,
// lw4o6): PUT /v1/trace on one B4's binding, counted UDP flows to it, from it and to
// another B4, then GET /v1/trace and /metrics: the traced subscriber's packets and IP
// bytes are exactly its flows', nobody else's. A worker that dies keeps what it
// counted, and its replacement keeps counting the traced binding. The API listens on loopback inside the
// BR namespace, so the calls are made from there (node's fetch through ip netns exec).
// Needs root: skipped locally without it, a failure under CI=true.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Topology, NET } from '../../bench/lab/topology.js';
import { Xbr } from '../../bench/lab/xbr.js';
import { udpFlow } from '../../bench/lab/traffic.js';
import { sleep } from '../../bench/lab/proc.js';
import { requireLab } from './helpers.js';

const { skip } = requireLab();
const TOKEN = 'lab-trace-token-0123456789';
const PORT = 18080;

describe.skipIf(skip !== null)('netns lab, lw4o6: per-subscriber counters in the AF_XDP workers', () => {
  let topo: Topology;
  let xbr: Xbr | undefined;

  /** One API call from inside the BR namespace: [status, body]. */
  const call = (method: string, path: string): [number, string] => {
    const script = `fetch('http://127.0.0.1:${PORT}${path}', { method: '${method}', headers: { authorization: 'Bearer ${TOKEN}' } })
      .then(async (r) => process.stdout.write(JSON.stringify([r.status, await r.text()])))
      .catch((e) => { console.error(e); process.exit(1); });`;
    const out = execFileSync('ip', ['netns', 'exec', topo.ns.br, process.execPath, '-e', script], { encoding: 'utf8', timeout: 10_000 });
    return JSON.parse(out) as [number, string];
  };

  beforeAll(async () => {
    topo = new Topology({ mode: 'lw4o6' });
    await topo.up();
    const tokenFile = join(topo.dir, 'api.token');
    writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
    xbr = await Xbr.start(topo, topo.writeConfig(topo.config({ api: { listen: `127.0.0.1:${PORT}`, 'token-file': tokenFile } })), { debugHooks: true });
  });

  afterAll(async () => {
    await xbr?.stop();
    await topo?.down();
  });

  it('counts the traced B4 exactly, in both directions, and nobody else', async () => {
    const key = `${NET.shared.v4}/${NET.shared.psid}`;
    expect(call('PUT', `/v1/trace/${key}`)[0]).toBe(204);
    expect(call('PUT', `/v1/trace/${NET.shared.v4}/${NET.shared.psid + 1}`)[0]).toBe(404); // no such binding
    await sleep(100); // the workers take the change at a batch boundary

    const SIZE = 100;
    const down = await udpFlow({ src: topo.inet, srcPort: 5353, dst: topo.ceShared, dstPort: NET.shared.ports[0], count: 500, pps: 2000, size: SIZE, flow: 71, idleMs: 500 });
    const up = await udpFlow({ src: topo.ceShared, srcPort: NET.shared.ports[1], dst: topo.inet, dstPort: 5353, count: 300, pps: 2000, size: SIZE, flow: 72, idleMs: 500 });
    const other = await udpFlow({ src: topo.inet, srcPort: 5354, dst: topo.ceFull, dstPort: 7000, count: 200, pps: 2000, size: SIZE, flow: 73, idleMs: 500 });
    for (const f of [down, up, other]) expect(f.missing, JSON.stringify(f.missingRanges)).toBe(0);
    await sleep(600); // workers publish their counters every 250 ms

    const [status, body] = call('GET', '/v1/trace');
    expect(status).toBe(200);
    const subs = (JSON.parse(body) as { subscribers: Record<string, number | string>[] }).subscribers;
    expect(subs).toHaveLength(1);
    // to the B4: IPv6 40 + IPv4 20 + UDP 8 + payload; from it: the decapsulated IPv4
    expect(subs[0]).toEqual({ ipv4: NET.shared.v4, psid: NET.shared.psid, txPackets: 500, txBytes: 500 * (40 + 28 + SIZE), rxPackets: 300, rxBytes: 300 * (28 + SIZE) });

    const [, metrics] = call('GET', '/metrics');
    expect(metrics).toMatch(new RegExp(`xbr_subscriber_packets_total\\{[^}]*direction="tx"[^}]*\\} 500`));

    // the worker dies: what it counted stays, and the restarted worker counts on
    const before = xbr!.workerDeaths();
    xbr!.killWorker();
    for (let i = 0; i < 250 && xbr!.workerDeaths() === before; i++) await sleep(20);
    expect(xbr!.workerDeaths(), xbr!.output).toBe(before + 1);
    await sleep(1000); // the replacement is up (it was started 200 ms after the death)
    const again = await udpFlow({ src: topo.inet, srcPort: 5355, dst: topo.ceShared, dstPort: NET.shared.ports[2], count: 200, pps: 2000, size: SIZE, flow: 74, idleMs: 500 });
    expect(again.missing, JSON.stringify(again.missingRanges)).toBe(0);
    await sleep(600);
    const after = (JSON.parse(call('GET', '/v1/trace')[1]) as { subscribers: Record<string, number | string>[] }).subscribers;
    expect(after).toEqual([{ ipv4: NET.shared.v4, psid: NET.shared.psid, txPackets: 700, txBytes: 700 * (40 + 28 + SIZE), rxPackets: 300, rxBytes: 300 * (28 + SIZE) }]);

    expect(call('DELETE', `/v1/trace/${key}`)[0]).toBe(204);
    expect(JSON.parse(call('GET', '/v1/trace')[1])).toEqual({ subscribers: [] });
  });
});
