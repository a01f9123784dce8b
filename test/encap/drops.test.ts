// One test per drop reason the encapsulation modes can count: each packet (or short
// sequence) ends in exactly that drop counter, and no other. The list is checked
// against the core's counter names, so a new drop reason needs a case here (or a
// place in MAP_T_ONLY).
import { describe, expect, it } from 'vitest';
import { fragment4, fragment6, fragmentHeader, icmp4, icmp6, icmp6Error, ipv4, ipv6, routing, udp } from '../../src/packets/index.js';
import { Engine, type EngineOptions } from '../../src/core/engine.js';
import { BR, HOST, LW, ME, Harness, drops, lwYaml, meYaml, tunnel, type Counters } from './helpers.js';

/** Drop reasons only the translation mode (map-t) has. */
const MAP_T_ONLY = [
  'drop_ipv4_source_route',
  'drop_ipv6_hop_limit_expired',
  'drop_ipv6_not_ours',
  'drop_ipv6_src_no_rule',
  'drop_ipv6_src_spoofed',
  'drop_ipv6_port_outside_psid',
  'drop_ipv6_no_port',
  'drop_ipv6_too_big',
  'drop_icmp_fragmented',
  'drop_udp_zero_checksum_fragment',
];

const toA = (o: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portA, payload: 'x' }), ...o });
const fromA = (o: Partial<Parameters<typeof ipv4>[0]> = {}) => ipv4({ src: LW.addr, dst: HOST, payload: udp({ sport: LW.portA, dport: 53, payload: 'x' }), ...o });
const eth = (ip: Uint8Array, type = ip[0] >> 4 === 6 ? 0x86dd : 0x0800) => Uint8Array.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, type >> 8, type & 0xff, ...ip]);
const withByte = (b: Uint8Array, i: number, v: number) => {
  const c = b.slice();
  c[i] = v;
  return c;
};

interface Case {
  drop: string;
  count?: number;
  yaml?: string;
  linktype?: 1 | 101;
  opts?: EngineOptions;
  /** Batches of packets; `advance` ms pass after each. */
  batches: () => Uint8Array[][];
  advance?: number;
  /** Empty batches run after the last one (sweeps). */
  settle?: number;
  noRules?: boolean;
  /** Other drops the sequence also counts (e.g. held frames of the same datagram). */
  also?: Counters;
}

const big = (n: number) => new Uint8Array(n).fill(1);

const CASES: Case[] = [
  { drop: 'drop_not_ip', batches: () => [[Uint8Array.from([0x50, 0, 0, 20, ...new Uint8Array(16)])]] },
  { drop: 'drop_not_ip', linktype: 1, batches: () => [[eth(new Uint8Array(28), 0x0806)]] },
  { drop: 'drop_l2_truncated', linktype: 1, batches: () => [[new Uint8Array(10)]] },
  { drop: 'drop_no_rules', noRules: true, batches: () => [[toA()]] },
  { drop: 'drop_ipv4_truncated', batches: () => [[toA().subarray(0, 19)]] },
  { drop: 'drop_ipv4_bad_header', batches: () => [[withByte(toA(), 0, 0x44)]] },
  { drop: 'drop_ipv4_bad_length', batches: () => [[toA({ totalLength: 200 })]] },
  { drop: 'drop_ipv4_bad_checksum', batches: () => [[toA({ badChecksum: true })]] },
  { drop: 'drop_ipv4_ttl_expired', batches: () => [[toA({ ttl: 1 }), tunnel(LW.b4a, fromA({ ttl: 0 }))]], count: 2 },
  { drop: 'drop_ipv4_no_rule', batches: () => [[toA({ dst: '198.51.100.8' })]] },
  { drop: 'drop_ipv4_no_port', batches: () => [[toA({ payload: undefined, protocol: 47 })]] },
  { drop: 'drop_ipv4_port_unmapped', batches: () => [[ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: 1000 }) })]] },
  { drop: 'drop_ipv4_no_binding', batches: () => [[ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portNone }) })]] },
  { drop: 'drop_ipv4_too_big', yaml: 'encap-fragment: false', batches: () => [[toA({ df: true, payload: udp({ sport: 53, dport: LW.portA, payload: big(1480) }) })]] },
  { drop: 'drop_ipv6_truncated', batches: () => [[tunnel(LW.b4a, fromA()).subarray(0, 39)]] },
  { drop: 'drop_ipv6_bad_header', linktype: 1, batches: () => [[eth(toA({ payload: udp({ sport: 53, dport: LW.portA, payload: big(40) }) }), 0x86dd)]] },
  { drop: 'drop_ipv6_bad_length', batches: () => [[ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, payload: fromA(), payloadLength: 500 })]] },
  { drop: 'drop_ipv6_ext_header', batches: () => [[ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, payload: fromA(), extensions: [routing({ addresses: ['2001:db8::1'], segmentsLeft: 1 })] })]] },
  { drop: 'drop_icmp_truncated', batches: () => [[ipv4({ src: HOST, dst: LW.addr, protocol: 1, payload: [8, 0, 0, 0] }), ipv6({ src: LW.b4a, dst: BR, nextHeader: 58, payload: [1, 0, 0, 0] })]], count: 2 },
  { drop: 'drop_icmp_bad_checksum', batches: () => [[ipv6({ src: LW.b4a, dst: BR, payload: icmp6({ type: 1, code: 0, payload: big(100), badChecksum: true }) })]] },
  { drop: 'drop_icmp_untranslatable', batches: () => [[ipv4({ src: HOST, dst: LW.addr, payload: icmp4({ type: 13, rest: LW.portA << 16, payload: big(12) }) })]] },
  { drop: 'drop_icmp_inner_invalid', batches: () => [[ipv4({ src: HOST, dst: LW.addr, payload: icmp4({ type: 3, code: 3, payload: big(28) }) })]] },
  {
    drop: 'drop_frag_no_first',
    batches: () => {
      const f = fragment4(toA({ id: 9, payload: udp({ sport: 53, dport: LW.portA, payload: big(1000) }) }), 300);
      return [[f[1], f[2], f[3]]];
    },
    also: {},
    settle: 0,
  },
  {
    drop: 'drop_frag_timeout',
    yaml: 'fragments: { timeout-ms: 10 }',
    batches: () => [[fragment4(toA({ id: 9, payload: udp({ sport: 53, dport: LW.portA, payload: big(1000) }) }), 600)[1]]],
    advance: 100,
    settle: 600,
  },
  {
    drop: 'drop_frag_table_full',
    opts: { fragmentSlots: 16 },
    batches: () => [Array.from({ length: 17 }, (_, i) => fragment4(toA({ id: 100 + i, payload: udp({ sport: 53, dport: LW.portA, payload: big(1000) }) }), 600)[1])],
  },
  {
    // B4 to B4 through the BR with hairpinning off (RFC 7596 section 6.2's policy)
    drop: 'drop_hairpin_disabled',
    yaml: 'hairpinning: false\n',
    batches: () => [[tunnel(LW.b4a, ipv4({ src: LW.addr, dst: LW.addr, payload: udp({ sport: LW.portA, dport: LW.portB }) }))]],
  },
  { drop: 'drop_tunnel_bad_br_address', batches: () => [[tunnel(LW.b4a, fromA(), '2001:db8::1')]] },
  { drop: 'drop_tunnel_bad_outer_source', batches: () => [[tunnel(LW.b4b, fromA())]] },
  { drop: 'drop_tunnel_inner_source', batches: () => [[tunnel(LW.b4a, fromA({ src: '192.0.2.1' }))]] },
  { drop: 'drop_tunnel_not_ipv4', batches: () => [[ipv6({ src: LW.b4a, dst: BR, payload: udp({ sport: 1, dport: 2 }) })]] },
  { drop: 'drop_tunnel_inner_invalid', batches: () => [[tunnel(LW.b4a, fromA({ badChecksum: true }))]] },
  { drop: 'drop_tunnel_reasm_invalid', batches: () => [[ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, extensions: [fragmentHeader({ offset: 0, more: true, id: 1 })], payload: fromA().subarray(0, 27) })]] },
  { drop: 'drop_tunnel_reasm_too_big', count: 2, batches: () => [fragment6(tunnel(LW.b4a, fromA({ payload: udp({ sport: LW.portA, dport: 53, payload: big(1980) }) })), 1280, 1)] },
  {
    drop: 'drop_tunnel_reasm_full',
    count: 13,
    batches: () => {
      const data = fromA({ payload: udp({ sport: LW.portA, dport: 53, payload: big(172) }) });
      const out: Uint8Array[] = [];
      for (let o = 0; o < 200; o += 16) out.push(ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, extensions: [fragmentHeader({ offset: o, more: o + 16 < 200, id: 2 })], payload: data.subarray(o, o + 16) }));
      return [out];
    },
  },
  { drop: 'drop_tunnel_reasm_timeout', yaml: 'fragments: { timeout-ms: 10 }', batches: () => [[fragment6(tunnel(LW.b4a, fromA({ payload: udp({ sport: LW.portA, dport: 53, payload: big(1400) }) })), 1280, 3)[0]]], advance: 100, settle: 10 },
  {
    drop: 'drop_tunnel_icmp_invalid',
    batches: () => [[ipv6({ src: '2001:db8:1::1', dst: BR, payload: icmp6Error({ type: 2, mtu: 1300, quote: ipv6({ src: '2001:db8:1::2', dst: LW.b4a, nextHeader: 4, payload: toA() }) }) })]],
  },
  {
    drop: 'drop_tunnel_icmp_not_relayed',
    batches: () => [[ipv6({ src: '2001:db8:1::1', dst: BR, payload: icmp6Error({ type: 2, mtu: 1300, quote: ipv6({ src: BR, dst: LW.b4a, nextHeader: 4, payload: toA() }) }) })]],
  },
  {
    drop: 'drop_no_frame',
    yaml: 'mtu: { ipv4: 1500, ipv6: 1280 }',
    opts: { frames: 64, batch: 64 },
    count: 64,
    batches: () => [Array.from({ length: 64 }, () => toA({ payload: udp({ sport: 53, dport: LW.portA, payload: big(1400) }) }))],
  },
  {
    // 20 decapsulated packets of 1000 bytes, 21 IPv4 fragments each at mtu.ipv4 68:
    // the tx array (4 per received packet of the batch: 256) takes the first 256
    drop: 'drop_tx_full',
    yaml: 'mtu: { ipv4: 68, ipv6: 1500 }',
    opts: { frames: 1024, batch: 64 },
    count: 20 * 21 - 256,
    batches: () => [Array.from({ length: 20 }, () => tunnel(LW.b4a, fromA({ payload: udp({ sport: LW.portA, dport: 53, payload: big(972) }) })))],
  },
];

describe('every drop reason of the encapsulation modes', () => {
  it('has a case (the MAP-T-only ones excepted)', () => {
    const names = Engine.createSync({ bindingCapacity: 16 }).counterNames().filter((n) => n.startsWith('drop_'));
    const covered = new Set([...CASES.map((c) => c.drop), ...MAP_T_ONLY]);
    expect(names.filter((n) => !covered.has(n))).toEqual([]);
    expect([...covered].filter((n) => !names.includes(n))).toEqual([]);
  });

  for (const c of CASES) {
    it(`${c.drop}${c.linktype === 1 ? ' (Ethernet)' : ''}`, () => {
      const h = new Harness(lwYaml(c.yaml ?? ''), c.linktype ?? 101, c.opts ?? {});
      if (c.drop === 'drop_no_frame' || c.drop === 'drop_tx_full') h.partialFragments = true;
      if (c.noRules) {
        const e = Engine.createSync({ bindingCapacity: 16 });
        e.setLinkType(101);
        e.processBatch(c.batches()[0], 1);
        expect(drops(e.counters())).toEqual({ [c.drop]: 1 });
        return;
      }
      let total: Counters = {};
      for (const batch of c.batches()) {
        const d = h.run(batch, c.advance ?? 1).delta;
        for (const [k, v] of Object.entries(d)) total[k] = (total[k] ?? 0) + v;
      }
      for (let i = 0; i < (c.settle ?? 0); i++) {
        const d = h.run([], c.advance ?? 1).delta;
        for (const [k, v] of Object.entries(d)) total[k] = (total[k] ?? 0) + v;
      }
      expect(drops(total)).toEqual({ [c.drop]: c.count ?? 1, ...(c.also ?? {}) });
    });
  }

  it('map-e counts the same reasons for its own packets (spot check)', () => {
    const h = new Harness(meYaml());
    const b = h.run([
      ipv4({ src: HOST, dst: ME.ce4, payload: udp({ sport: 53, dport: 80 }) }),
      tunnel(ME.ce6, ipv4({ src: ME.ce4, dst: HOST, payload: udp({ sport: 1236, dport: 53 }) })),
      tunnel(ME.ce6, ipv4({ src: '203.0.113.1', dst: HOST, payload: udp({ sport: ME.port, dport: 53 }) })),
    ]);
    expect(drops(b.delta)).toEqual({ drop_ipv4_port_unmapped: 1, drop_tunnel_bad_outer_source: 1, drop_tunnel_inner_source: 1 });
  });
});
