// Live reload of an EngineBox: read -> validate -> compile -> swap. A bad config (in any
// way it can be bad) is refused with the reason and the running one keeps translating;
// a good one is in force at once; a flow under reloads loses no packet; a lease pushed
// while a reload is under way is neither lost nor doubled.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineBox } from '../../src/box/engine-box.js';
import { restartOnlyChanges } from '../../src/box/reload.js';
import { parseConfig } from '../../src/config/load.js';
import { parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { BIND4, BIND6, BIND_PORT, baseYaml, captureLog, fixture, forward, MemoryLeases, openBox, toSubscriber, type Fixture } from './helpers.js';

/** RFC 7597 Appendix A: 192.0.2.18 port 1232 is PSID 0x34 of the rule 2001:db8::/40 <-> 192.0.2.0/24. */
const RULE_CE4 = '192.0.2.18';
const RULE_PORT = 1232;
const RULE_CE6 = '2001:db8:12:3400:0:c000:212:34';
const EXTRA_RULE = `  - ipv6-prefix: 2001:db9::/40
    ipv4-prefix: 192.0.3.0/24
    ea-len: 16
    psid-offset: 6
`;

let fx: Fixture;
let box: EngineBox;
beforeEach(() => {
  fx = fixture();
  box = openBox(fx.configPath);
});
afterEach(() => fx.cleanup());

function stillServing(): void {
  expect(forward(box, toSubscriber(RULE_CE4, RULE_PORT))?.dst).toBe(RULE_CE6);
  expect(forward(box, toSubscriber(BIND4, BIND_PORT))?.dst.startsWith('2001:db8:100:77:')).toBe(true);
  expect(box.bindings({}, 0, 10).items.map((b) => `${b.ipv4}/${b.psid} ${b.ipv6}`)).toEqual([`${BIND4}/12 ${BIND6}`]);
  expect(box.status().configGeneration).toBe(1);
}

describe('a bad config is refused with the reason, the running one stays', () => {
  const withRule = (y: string) => y.replace('rules:\n', `rules:\n${EXTRA_RULE}`);
  const bad: [string, () => void, RegExp][] = [
    ['YAML syntax', () => fx.write('mode: map-t\nrules: [\n'), /xbr\.yaml:\d+:\d+: \(yaml\)/],
    ['a schema error', () => fx.write(withRule(baseYaml()).replace('ea-len: 16', 'ea-len: 99')), /rules\[\d\]\.ea-len: must be <= 48/],
    ['an unknown key', () => fx.write(baseYaml('colour: blue\n')), /colour: unknown key/],
    ['overlapping rules', () => fx.write(withRule(baseYaml()).replace('192.0.3.0/24', '192.0.2.0/25')), /overlaps rules\[\d\]\.ipv4-prefix/],
    ['a bad binding', () => fx.write(baseYaml().replace('psid: 12', 'psid: 99')), /bindings\[0\]\.psid: PSID 99 does not fit in psid-len 6 bits/],
    ['a bad bindings-file line', () => {
      writeFileSync(join(fx.dir, 'b.csv'), 'ipv4,psid-len,psid,ipv6\n203.0.113.1,0,0,2001:db8:300::/64\n203.0.113.2,0,0,nonsense\n');
      fx.write(baseYaml('bindings-file: b.csv\n'));
    }, /b\.csv:3: ipv6: "nonsense" is not an IPv6 address or prefix/],
    ['a mode change (restart only)', () => fx.write(baseYaml().replace('mode: map-t\ndmr: 2001:db8:ffff::/64', 'mode: map-e\nbr: 2001:db8:ffff::1')), /mode changed \("map-t" -> "map-e"\): it takes a restart/],
    ['a binding-capacity change (restart only)', () => fx.write(baseYaml().replace('binding-capacity: 1024', 'binding-capacity: 2048')), /binding-capacity changed \(1024 -> 2048\)/],
    ['a missing file', () => fx.cleanup(), /cannot read the file \(ENOENT\)/],
  ];
  it.each(bad)('%s', async (_what, breakIt, reason) => {
    const { logger, lines } = captureLog();
    box = openBox(fx.configPath, undefined, logger);
    stillServing();
    breakIt();
    const r = await box.reload();
    expect(r.ok).toBe(false);
    expect(r.generation).toBe(1);
    expect(r.error).toMatch(reason);
    stillServing();
    expect(box.status()).toMatchObject({ reloads: { ok: 0, failed: 1 }, lastReload: { ok: false, error: r.error } });
    const line = lines.find((l) => l.event === 'reload');
    expect(line).toMatchObject({ level: 'error', result: 'refused', generation: 1 });
    expect(String(line?.msg)).toMatch(/^reload refused, the running config stays: /);
  });

  it('lists every issue of a config, not only the first', async () => {
    fx.write(baseYaml('colour: blue\n').replace('ea-len: 16', 'ea-len: 99'));
    const r = await box.reload();
    expect(r.error?.split('\n')).toHaveLength(2);
  });
});

describe('a good config is in force at once', () => {
  it('new rules, a changed binding, a removed one: all in the core', async () => {
    const { logger, lines } = captureLog();
    box = openBox(fx.configPath, undefined, logger);
    expect(forward(box, toSubscriber('192.0.3.18', RULE_PORT))).toBeNull();
    fx.write(
      baseYaml('', `  - { ipv4: 198.51.100.20, psid-len: 0, ipv6: '2001:db8:100:20::/64' }\n`)
        .replace('rules:\n', `rules:\n${EXTRA_RULE}`)
        .replace(BIND6, '2001:db8:100:78::/64'),
    );
    const r = await box.reload();
    expect(r).toEqual({ ok: true, generation: 2 });
    expect(forward(box, toSubscriber('192.0.3.18', RULE_PORT))?.dst.startsWith('2001:db9:12:3400:')).toBe(true);
    expect(forward(box, toSubscriber(BIND4, BIND_PORT))?.dst.startsWith('2001:db8:100:78:')).toBe(true);
    expect(forward(box, toSubscriber('198.51.100.20', 40000))?.dst.startsWith('2001:db8:100:20:')).toBe(true);
    expect(box.sizes).toEqual({ static: 2, lease: 0, core: 2 });
    // and back: the extra binding goes from the core too
    fx.write(baseYaml());
    expect((await box.reload()).generation).toBe(3);
    expect(forward(box, toSubscriber('198.51.100.20', 40000))).toBeNull();
    expect(forward(box, toSubscriber('192.0.3.18', RULE_PORT))).toBeNull();
    expect(box.sizes).toEqual({ static: 1, lease: 0, core: 1 });
    const reloads = lines.filter((l) => l.event === 'reload');
    expect(reloads).toHaveLength(2);
    expect(reloads[0]).toMatchObject({ level: 'info', result: 'ok', generation: 2, rules: 2, bindings: 2 });
  });

  it('static bindings changed through the API last until the next reload (the config is the truth)', async () => {
    const { logger, lines } = captureLog();
    box = openBox(fx.configPath, undefined, logger);
    await box.putBinding({ ipv4: '198.51.100.30', psid: 0, psidLen: 0, psidOffset: 6, ipv6: '2001:db8:100:30::/64' });
    await box.removeBinding(BIND4, 12);
    expect(forward(box, toSubscriber(BIND4, BIND_PORT))?.version).not.toBe(6);
    expect((await box.reload()).ok).toBe(true);
    expect(box.bindings({}, 0, 10).items.map((b) => b.ipv4)).toEqual([BIND4]);
    expect(forward(box, toSubscriber('198.51.100.30', 40000))).toBeNull();
    expect(forward(box, toSubscriber(BIND4, BIND_PORT))?.version).toBe(6);
    expect(lines.find((l) => l.event === 'reload')).toMatchObject({ apiChangesReplaced: 2 });
  });

  it('reloads one at a time', async () => {
    const [a, b] = await Promise.all([box.reload(), box.reload()]);
    expect([a.generation, b.generation]).toEqual([2, 3]);
  });
});

describe('under traffic', () => {
  it('a counted flow through reloads (good and bad, every other batch) loses no packet', async () => {
    const good = [baseYaml(), baseYaml('', `  - { ipv4: 198.51.100.21, psid-len: 0, ipv6: '2001:db8:100:21::/64' }\n`).replace('rules:\n', `rules:\n${EXTRA_RULE}`)];
    const BATCHES = 60;
    const PER = 64;
    let sent = 0;
    let got = 0;
    let refused = 0;
    for (let i = 0; i < BATCHES; i++) {
      const batch = Array.from({ length: PER }, (_, j) => toSubscriber(j % 2 ? BIND4 : RULE_CE4, j % 2 ? BIND_PORT : RULE_PORT, `p${i}.${j}`));
      const out = box.process(batch);
      sent += batch.length;
      got += out.filter((o) => o.data[0] >> 4 === 6).length;
      if (i % 2 === 0) {
        fx.write(i % 6 === 4 ? 'mode: map-t\nrules: [' : good[(i / 2) % 2]);
        const r = await box.reload();
        if (!r.ok) refused++;
      }
    }
    expect(refused).toBe(10);
    expect(box.status().reloads.ok).toBe(20);
    expect(got).toBe(sent);
    const c = box.counters().total;
    expect(c.rx4_packets).toBe(sent);
    expect(c.tx6_packets).toBe(sent);
    expect(Object.entries(c).filter(([k, v]) => k.startsWith('drop_') && v > 0)).toEqual([]);
  });

  it('a lease pushed while a reload is under way is neither lost nor doubled', async () => {
    fx.write(baseYaml('dhcp4o6:\n  pools:\n    - { name: shared-a, ipv4: 192.0.2.192/28, psid-len: 6 }\n'));
    const leases = new MemoryLeases();
    // the 4o6 server is busy when the reload hands it the pools: leases come and go meanwhile
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    leases.reconfigure = async () => {
      leases.reconfigured++;
      await gate;
    };
    box = openBox(fx.configPath, leases);
    leases.box = box;
    leases.grant('192.0.2.193', 20, '2001:db8:500::20');
    leases.grant('192.0.2.193', 21, '2001:db8:500::21');
    const reloading = box.reload();
    await new Promise((r) => setImmediate(r));
    leases.grant('192.0.2.193', 22, '2001:db8:500::22'); // in flight
    leases.grant('192.0.2.193', 20, '2001:db8:500::20'); // renewed: the same binding again
    box.leaseGone(parseIPv4('192.0.2.193'), 21, 'expired');
    release();
    expect((await reloading).ok).toBe(true);
    const lb = box.bindings({ source: 'lease' }, 0, 100);
    expect(lb.items.map((b) => `${b.ipv4}/${b.psid}`)).toEqual(['192.0.2.193/20', '192.0.2.193/22']);
    expect(box.sizes).toEqual({ static: 1, lease: 2, core: 3 });
    // and the in-flight one is live: 192.0.2.193 PSID 22 (a = 6, k = 6) = ports 1024 + 22*16 + j
    const out = forward(box, toSubscriber('192.0.2.193', 1024 + 22 * 16));
    expect(out?.version).toBe(6);
    expect(parseIPv6(out!.dst)).toEqual(parseIPv6('2001:db8:500::22'));
  });

  it('a static binding that shadowed a lease hands the key back to the lease when a reload drops it', async () => {
    const leases = new MemoryLeases();
    box = openBox(fx.configPath, leases);
    leases.box = box;
    leases.grant(BIND4, 12, '2001:db8:500::12'); // shadowed by the config's binding
    expect(parseIPv6(forward(box, toSubscriber(BIND4, BIND_PORT))!.dst)).not.toEqual(parseIPv6('2001:db8:500::12'));
    fx.write(baseYaml().replace(/bindings:[\s\S]*?reserved-ports/, 'reserved-ports'));
    expect((await box.reload()).ok).toBe(true);
    expect(parseIPv6(forward(box, toSubscriber(BIND4, BIND_PORT))!.dst)).toEqual(parseIPv6('2001:db8:500::12'));
    expect(box.sizes).toEqual({ static: 0, lease: 1, core: 1 });
  });
});

describe('what needs a restart', () => {
  const cfg = (extra: string, head = 'mode: map-t\ndmr: 2001:db8:ffff::/64\n') => parseConfig(head + extra, 't.yaml');
  it('names each key', () => {
    const a = cfg('api: { listen: 127.0.0.1:8080 }\n');
    expect(restartOnlyChanges(a, cfg('api: { listen: 127.0.0.1:8080 }\nicmp: { rate: 5 }\n'))).toEqual([]);
    expect(restartOnlyChanges(a, cfg('api: { listen: 127.0.0.1:9090 }\n'))[0]).toMatch(/^api\.listen changed \("127\.0\.0\.1:8080" -> "127\.0\.0\.1:9090"\)/);
    expect(restartOnlyChanges(a, cfg('api: { listen: 127.0.0.1:8080 }\nfragments: { table-size: 128 }\n'))[0]).toMatch(/^fragments\.table-size changed/);
    expect(restartOnlyChanges(a, cfg('api: { listen: 127.0.0.1:8080 }\ndataplane: { ipv4-interface: a, ipv6-interface: b }\n'))[0]).toMatch(/^dataplane changed \(unset -> /);
    const pools = 'dhcp4o6:\n  pools: [{ name: p, ipv4: 192.0.2.0/28 }]\n';
    expect(restartOnlyChanges(a, cfg(`api: { listen: 127.0.0.1:8080 }\n${pools}`))).toEqual([
      'dhcp4o6 added: starting or stopping the 4o6 server takes a restart',
    ]);
    const withPools = cfg(pools);
    expect(restartOnlyChanges(withPools, cfg(pools.replace('192.0.2.0/28', '192.0.2.0/27')))).toEqual([]);
    expect(restartOnlyChanges(withPools, cfg(`${pools}  lease-store: sqlite:/var/lib/xbr/l.db\n`))[0]).toMatch(/^dhcp4o6\.lease-store changed/);
  });
});
