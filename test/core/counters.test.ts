// Item 7: a test per drop counter of assembly/counters.ts that MAP-T can reach: each
// scenario must move its counter by the expected amount and no other drop counter
// (except the ones it names). Every drop counter the core has is either here or in
// UNREACHABLE with the reason, so a new counter fails the last test until classified.
import { describe, expect, it } from 'vitest';
import { ethernet, fragment4, icmp4Error, icmp6Error, ipv4, ipv6, routing, tcp, udp } from '../../src/packets/index.js';
import { CE4, CE6, HOST4, HOST6, Harness, bytes, config, dropNames, drops, type Counters, type HarnessOptions, type LinkType } from './helpers.js';

interface Scenario {
  /** Link types it applies to (default both). */
  linktypes?: LinkType[];
  cfg?: Record<string, unknown>;
  opts?: HarnessOptions;
  /** Runs the scenario; returns the counter deltas of the decisive run (or of all runs). */
  run: (h: Harness) => Counters;
  /** The counter's expected increase (-1: some), per link type if a function. */
  n?: number | ((linktype: LinkType) => number);
  /** Other drop counters the scenario moves too, with their amounts. */
  also?: Counters;
}

const v4udp = (dport = 1232, extra: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport, payload: 'c' }), ...extra });
const v6udp = (sport = 1232, extra: Partial<Parameters<typeof ipv6>[0]> = {}) => ipv6({ src: CE6, dst: HOST6, payload: udp({ sport, dport: 53, payload: 'c' }), ...extra });
/** Runs raw IP packets; returns the deltas. */
const go = (...pkts: Uint8Array[]) => (h: Harness) => h.run(pkts).d;
/** Runs link-layer frames (the harness's link type) as given. */
const goFrames = (...frames: Uint8Array[]) => (h: Harness) => h.runFrames(frames).d;
const patch = (b: Uint8Array, at: number, ...vals: number[]) => {
  const c = b.slice();
  vals.forEach((v, i) => (c[at + i] = v));
  return c;
};
const big = (n: number) => v4udp(1232, { payload: udp({ sport: 53, dport: 1232, payload: bytes(n) }) });

const SCENARIOS: Record<string, Scenario> = {
  drop_not_ip: {
    run: (h) => (h.linktype === 1 ? goFrames(ethernet({ type: 0x0806, payload: bytes(28) }))(h) : go(patch(v4udp(), 0, 0x55))(h)),
  },
  drop_l2_truncated: { linktypes: [1], run: goFrames(bytes(13)) },
  drop_ipv4_truncated: {
    // 19 bytes of IPv4; and a UDP packet with 3 bytes of UDP
    run: (h) => h.run([v4udp().subarray(0, 19), ipv4({ src: HOST4, dst: CE4, protocol: 17, payload: [4, 208, 0] })]).d,
    n: 2,
  },
  drop_ipv4_bad_header: {
    // IHL 4; on Ethernet also an IPv4 EtherType carrying version 6
    run: (h) => {
      const ihl4 = patch(v4udp(), 0, 0x44);
      if (h.linktype === 101) return go(ihl4)(h);
      return goFrames(ethernet({ type: 0x0800, payload: ihl4 }), ethernet({ type: 0x0800, payload: v6udp() }))(h);
    },
    n: (lt) => (lt === 1 ? 2 : 1),
  },
  drop_ipv4_bad_length: { run: go(v4udp(1232, { totalLength: 500 }), v4udp(1232, { totalLength: 19 })), n: 2 },
  drop_ipv4_bad_checksum: { run: go(v4udp(1232, { badChecksum: true })) },
  drop_ipv4_ttl_expired: { run: go(v4udp(1232, { ttl: 1 })) },
  drop_ipv4_source_route: { run: go(v4udp(1232, { options: [137, 7, 4, 1, 2, 3, 4] })) },
  drop_ipv4_no_rule: { run: go(ipv4({ src: HOST4, dst: '203.0.113.5', payload: udp({ sport: 1, dport: 1232 }) })) },
  drop_ipv4_no_port: { run: go(ipv4({ src: HOST4, dst: CE4, protocol: 50, payload: bytes(40) })) },
  drop_ipv4_port_unmapped: { run: go(v4udp(1023)) },
  drop_ipv4_no_binding: {
    cfg: { bindings: [{ ipv4: '198.51.100.7', 'psid-len': 6, psid: 12, 'psid-offset': 6, ipv6: '2001:db8:100:77::/64' }] },
    run: go(ipv4({ src: HOST4, dst: '198.51.100.7', payload: udp({ sport: 1, dport: 1232 }) })),
  },
  drop_ipv4_too_big: { cfg: { mtu: { ipv4: 1500, ipv6: 1280 } }, run: go(v4udp(1232, { df: true, payload: udp({ sport: 53, dport: 1232, payload: bytes(1300) }) })) },
  drop_ipv6_truncated: {
    // 39 bytes; a Hop-by-Hop header cut short by the payload length; 3 bytes of UDP
    run: go(v6udp().subarray(0, 39), ipv6({ src: CE6, dst: HOST6, nextHeader: 0, payload: bytes(4) }), ipv6({ src: CE6, dst: HOST6, nextHeader: 17, payload: [4, 208, 0] })),
    n: 3,
  },
  drop_ipv6_bad_header: { linktypes: [1], run: goFrames(ethernet({ type: 0x86dd, payload: big(40) })) },
  drop_ipv6_bad_length: { run: go(v6udp(1232, { payloadLength: 400 })) },
  drop_ipv6_hop_limit_expired: { run: go(v6udp(1232, { hopLimit: 1 })) },
  drop_ipv6_not_ours: { run: go(ipv6({ src: CE6, dst: '2001:db8:fffe::a02:304', payload: udp({ sport: 1232, dport: 53 }) })) },
  drop_ipv6_ext_header: {
    // a Routing header with segments left 1; nine Destination Options headers (the core walks at most 8)
    run: (h) => {
      const rh = v6udp(1232, { extensions: [routing({ segmentsLeft: 1, addresses: [HOST6] })] });
      const nine = ipv6({ src: CE6, dst: HOST6, nextHeader: 60, payload: Uint8Array.from({ length: 9 * 8 + 8 }, (_, i) => (i % 8 === 0 ? (i < 64 ? 60 : i === 64 ? 17 : 0) : 0)) });
      return h.run([rh, nine]).d;
    },
    n: 2,
  },
  drop_ipv6_src_no_rule: { run: go(v6udp(1232, { src: '2001:db9::1' })) },
  drop_ipv6_src_spoofed: { run: go(v6udp(1232, { src: '2001:db8:12:3400:0:c000:212:35' })) },
  drop_ipv6_port_outside_psid: { run: go(v6udp(1236)) },
  drop_ipv6_no_port: { run: go(ipv6({ src: CE6, dst: HOST6, nextHeader: 50, payload: bytes(40) })) },
  drop_ipv6_too_big: { cfg: { mtu: { ipv4: 1400, ipv6: 1500 } }, run: go(v6udp(1232, { payload: udp({ sport: 1232, dport: 53, payload: bytes(1420) }) })) },
  drop_icmp_truncated: {
    run: go(ipv4({ src: HOST4, dst: CE4, protocol: 1, payload: [8, 0, 0, 0, 4, 208] }), ipv6({ src: CE6, dst: HOST6, nextHeader: 58, payload: [128, 0, 0, 0, 4, 208] })),
    n: 2,
  },
  drop_icmp_bad_checksum: {
    run: go(
      ipv4({ src: HOST4, dst: CE4, payload: icmp4Error({ type: 3, code: 3, quote: ipv4({ src: CE4, dst: HOST4, payload: udp({ sport: 1232, dport: 53 }) }), badChecksum: true }) }),
      ipv6({ src: CE6, dst: HOST6, payload: icmp6Error({ type: 1, code: 4, quote: ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232 }) }), badChecksum: true }) }),
    ),
    n: 2,
  },
  drop_icmp_untranslatable: {
    run: go(
      ipv4({ src: HOST4, dst: CE4, payload: icmp4Error({ type: 3, code: 14, quote: ipv4({ src: CE4, dst: HOST4, payload: udp({ sport: 1232, dport: 53 }) }) }) }),
      ipv6({ src: CE6, dst: HOST6, payload: icmp6Error({ type: 4, code: 2, quote: ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232 }) }) }) }),
    ),
    n: 2,
  },
  drop_icmp_fragmented: {
    run: go(ipv4({ src: HOST4, dst: CE4, mf: true, id: 4, protocol: 1, payload: [8, 0, 0, 0, 4, 208, 0, 1, ...bytes(16)] })),
  },
  drop_icmp_inner_invalid: {
    run: go(ipv4({ src: HOST4, dst: CE4, payload: icmp4Error({ type: 11, code: 0, quote: ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232 }) }) }) })),
  },
  drop_udp_zero_checksum_fragment: {
    run: go(fragment4(v4udp(1232, { id: 6, payload: udp({ sport: 53, dport: 1232, noChecksum: true, payload: bytes(1000) }) }), 500)[0]),
  },
  drop_frag_no_first: {
    run: (h) => {
      const f = fragment4(big(3000), 600);
      return h.run([f[1], f[2], f[3]]).d;
    },
    also: {},
  },
  drop_frag_timeout: {
    cfg: { fragments: { 'timeout-ms': 100, 'table-size': 16 } },
    opts: { fragmentSlots: 16 },
    run: (h) => {
      const f = fragment4(big(3000), 600);
      const a = h.run([f[1]], { now: 1000 }).d;
      const b = h.run([], { now: 1100 }).d;
      const c = h.run([], { now: 1100 }).d;
      const d: Counters = {};
      for (const x of [a, b, c]) for (const [k, v] of Object.entries(x)) d[k] = (d[k] ?? 0) + v;
      return d;
    },
  },
  drop_frag_table_full: {
    opts: { fragmentSlots: 16 },
    run: (h) => {
      const d = h.run(Array.from({ length: 40 }, (_, i) => fragment4(v4udp(1232, { id: 100 + i, payload: udp({ sport: 53, dport: 1232, payload: bytes(1500) }) }), 600)[1])).d;
      expect(d.frag_held).toBeLessThanOrEqual(16);
      return { drop_frag_table_full: d.drop_frag_table_full };
    },
    n: -1, // 40 - held
  },
  drop_no_frame: {
    // one frame in all: the TTL-expired packet holds it, the ICMP error finds none
    opts: { frames: 1, batch: 1 },
    run: go(v4udp(1232, { ttl: 1 })),
    also: { drop_ipv4_ttl_expired: 1 },
  },
  drop_tx_full: {
    // batch 1: room for 4 tx descriptors. Two held fragments released by their first
    // fragment, with mtu.ipv6 1280: 2 + 2 + 1 = 5 packets in one batch.
    cfg: { mtu: { ipv4: 1500, ipv6: 1280 } },
    opts: { batch: 1 },
    run: (h) => {
      const f = fragment4(big(4000), 1500);
      expect(f.length).toBe(3);
      h.run([f[1]]);
      h.run([f[2]]);
      return h.run([f[0]]).d;
    },
  },
  drop_no_rules: { opts: { noRules: true }, run: go(v4udp(), v6udp()), n: 2 },
  // CE to CE through the BR with hairpinning off (RFC 7599 12.2, policy of RFC 7596 6.2)
  drop_hairpin_disabled: {
    cfg: { hairpinning: false },
    run: go(ipv6({ src: CE6, dst: '2001:db8:ffff:0:c0:2:1200:0', payload: udp({ sport: 1232, dport: 1236, payload: 'c' }) })),
  },
};

/** Counters no MAP-T packet can move, and why. */
const UNREACHABLE: Record<string, string> = {};
const TUNNEL = (name: string) => name.startsWith('drop_tunnel_');

describe.each([101, 1] as LinkType[])('one test per MAP-T drop counter, linktype %i', (linktype) => {
  for (const [name, s] of Object.entries(SCENARIOS)) {
    // a counter only Ethernet frames can move (e.g. a short link header) has its test
    // under linktype 1 only
    if (!(s.linktypes ?? [101, 1]).includes(linktype)) continue;
    it(`${name}`, () => {
      const h = new Harness(config(s.cfg ?? {}), { linktype, ...(s.opts ?? {}) });
      const d = s.run(h);
      const moved = drops(d);
      const want = typeof s.n === 'function' ? s.n(linktype) : (s.n ?? 1);
      if (want >= 0) expect(moved[name], `${name} in ${JSON.stringify(moved)}`).toBe(want);
      else expect(moved[name], `${name} in ${JSON.stringify(moved)}`).toBeGreaterThan(0);
      const others = { ...moved };
      delete others[name];
      expect(others, 'no other drop counter moves').toEqual(s.also ?? {});
    });
  }
});

describe('every drop counter is classified', () => {
  it('reachable in MAP-T (a scenario above), unreachable (with the reason), or a tunnel counter (map-e / lw4o6, tested with the tunnels)', () => {
    const h = new Harness(config());
    const names = dropNames(h.counters());
    const unclassified = names.filter((n) => !(n in SCENARIOS) && !(n in UNREACHABLE) && !TUNNEL(n));
    expect(unclassified).toEqual([]);
    expect(Object.keys(SCENARIOS).filter((n) => !names.includes(n)), 'scenarios for counters that do not exist').toEqual([]);
  });
  it('the unreachable counters are really never incremented by the core (grep of assembly/)', async () => {
    const { readdirSync, readFileSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.endsWith('counters.ts')) files.push(p);
      }
    };
    walk(join(process.cwd(), 'assembly'));
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const name of Object.keys(UNREACHABLE)) expect(text.includes(`C.${name}`), name).toBe(false);
  });
});
