// MAP-E (RFC 7597) through the core: the BR's encapsulation to the MAP address of a
// BMR/FMR (sections 5.2, 5.3, 6) or an EA-len-0 binding, the receiving rules of
// section 8.1 (silent, counted), hairpinning, ICMP (section 8.2) and fragmentation
// (section 8.3, RFC 2473 section 7.2).
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, fragment4, fragment6, icmp4Echo, icmp4Error, icmp6Error, ipv4, ipv6, tcp, udp } from '../../src/packets/index.js';
import { BR, HOST, ICMP_SRC4, ME, Harness, drops, ipBytes, meYaml, ttlMinus, tunnel } from './helpers.js';

const to = (dst: string, dport: number, o: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src: HOST, dst, id: 0x2323, ttl: 50, payload: udp({ sport: 53, dport, payload: 'from the Internet' }), ...o });
const from = (src: string, sport: number, o: Partial<Parameters<typeof ipv4>[0]> = {}) =>
  ipv4({ src, dst: HOST, id: 0x3434, ttl: 64, payload: udp({ sport, dport: 53, payload: 'from a CE' }), ...o });

describe('MAP-E encapsulation (RFC 7597 sections 5.3, 6)', () => {
  it('to the MAP address of the BMR (Appendix A, example 1), from br', () => {
    const h = new Harness(meYaml());
    const pkt = to(ME.ce4, ME.port);
    const b = h.one(pkt);
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0]).toMatchObject({ version: 6, src: canonicalIpv6(BR), dst: canonicalIpv6(ME.ce6), protocol: 4, ttl: 64 });
    expect(Buffer.from(b.parsed[0].payload)).toEqual(Buffer.from(ttlMinus(pkt)));
  });

  it('every port of the CE\'s port set, and no other', () => {
    const h = new Harness(meYaml());
    // PSID 0x34, a = 6, m = 2: A·1024 + 0x34·4 + j, A = 1..63
    const ports = [1232, 1235, 2256, 64512 + 208 + 3];
    const b = h.run(ports.map((p) => to(ME.ce4, p)));
    expect(b.parsed.map((p) => p.dst)).toEqual(ports.map(() => canonicalIpv6(ME.ce6)));
    const c = h.one(to(ME.ce4, 1236)); // PSID 0x35: the CE 2001:db8:12:3500::/56
    expect(c.parsed[0].dst).toBe(canonicalIpv6('2001:db8:12:3500:0:c000:212:35'));
  });

  it('a CE with an IPv4 prefix: the interface identifier pads the prefix with zeros (section 6)', () => {
    const h = new Harness(meYaml());
    const b = h.run([to(ME.pfx4, 80), ipv4({ src: HOST, dst: '10.0.5.1', protocol: 47, payload: [0, 0, 8, 0] })]);
    expect(b.parsed.map((p) => p.dst)).toEqual([canonicalIpv6(ME.pfx6), canonicalIpv6(ME.pfx6)]);
  });

  it('to an EA-len-0 binding: the CE prefix + the RFC 7597 interface identifier', () => {
    const h = new Harness(meYaml());
    const b = h.one(to(ME.bind4, ME.bindPort));
    expect(b.parsed[0].dst).toBe(canonicalIpv6(ME.bind6));
  });

  it('outside every rule: silent; a reserved port: 3/1 (DESIGN.md)', () => {
    const h = new Harness(meYaml());
    const b = h.one(to('203.0.113.77', 1232));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_rule: 1 });
    const c = h.one(to(ME.ce4, 80));
    expect(drops(c.delta)).toEqual({ drop_ipv4_port_unmapped: 1 });
    expect(c.parsed[0]).toMatchObject({ version: 4, dst: HOST, icmp: { type: 3, code: 1 } });
  });
});

describe('MAP-E ICMP (RFC 7597 section 8.2)', () => {
  it('the ICMP identifier is handled like a port', () => {
    const h = new Harness(meYaml());
    const b = h.one(ipv4({ src: HOST, dst: ME.ce4, payload: icmp4Echo({ id: 2257, seq: 1 }) }));
    expect(b.parsed[0].dst).toBe(canonicalIpv6(ME.ce6));
    const c = h.one(tunnel(ME.ce6, ipv4({ src: ME.ce4, dst: HOST, payload: icmp4Echo({ id: 1234, seq: 1 }) })));
    expect(c.out).toHaveLength(1);
    expect(c.delta.decap_4in6).toBe(1);
  });

  it('an error from the Internet goes to the CE that owns the quoted source port', () => {
    const h = new Harness(meYaml());
    const quoted = from(ME.ce4b, ME.portB);
    const b = h.one(ipv4({ src: '198.18.0.9', dst: ME.ce4b, payload: icmp4Error({ type: 3, code: 4, mtu: 1400, quote: quoted }) }));
    expect(b.parsed[0].dst).toBe(canonicalIpv6(ME.ce6b));
  });

  it('ICMPv6 errors about the tunnel are relayed per RFC 2473 section 8', () => {
    const h = new Harness(meYaml());
    const orig = ttlMinus(to(ME.ce4, ME.port, { df: true, payload: udp({ sport: 53, dport: ME.port, payload: new Uint8Array(1400) }) }));
    const q = ipv6({ src: BR, dst: ME.ce6, nextHeader: 4, payload: orig });
    const b = h.one(ipv6({ src: '2001:db8:12::1', dst: BR, payload: icmp6Error({ type: 2, code: 0, mtu: 1280, quote: q }) }));
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0]).toMatchObject({ version: 4, src: ICMP_SRC4, dst: HOST, icmp: { type: 3, code: 4, mtu: 1240 } });
    expect(b.delta.tunnel_icmp_relayed).toBe(1);
  });
});

describe('MAP-E receiving rules (RFC 7597 section 8.1)', () => {
  it('decapsulates when the outer source is the MAP address of the inner source and port', () => {
    const h = new Harness(meYaml());
    const cases = [
      [ME.ce6, from(ME.ce4, 1233)],
      [ME.ce6b, ipv4({ src: ME.ce4b, dst: HOST, payload: tcp({ sport: 2113, dport: 443 }) })],
      [ME.pfx6, from('10.0.5.200', 7)], // any address of the CE's prefix, any port
      [ME.bind6, from(ME.bind4, 1230)],
    ] as const;
    const b = h.run(cases.map(([s, p]) => tunnel(s, p)));
    expect(b.out).toHaveLength(4);
    b.out.forEach((o, i) => expect(Buffer.from(ipBytes(o.data, b.parsed[i]))).toEqual(Buffer.from(ttlMinus(cases[i][1]))));
  });

  const spoofs: { name: string; pkt: () => Uint8Array; drop: string }[] = [
    { name: 'wrong outer source: another CE\'s MAP address', pkt: () => tunnel(ME.ce6b, from(ME.ce4, ME.port)), drop: 'drop_tunnel_bad_outer_source' },
    { name: 'wrong outer source: the interface identifier says PSID 0x35', pkt: () => tunnel('2001:db8:12:3400:0:c000:212:35', from(ME.ce4, ME.port)), drop: 'drop_tunnel_bad_outer_source' },
    { name: 'wrong outer source: subnet-id not 0', pkt: () => tunnel('2001:db8:12:3401:0:c000:212:34', from(ME.ce4, ME.port)), drop: 'drop_tunnel_bad_outer_source' },
    { name: 'wrong inner source port: PSID 0x35', pkt: () => tunnel(ME.ce6, from(ME.ce4, 1236)), drop: 'drop_tunnel_bad_outer_source' },
    { name: 'wrong inner source port: a reserved port', pkt: () => tunnel(ME.ce6, from(ME.ce4, 53)), drop: 'drop_tunnel_inner_source' },
    { name: 'wrong inner source address: outside every rule', pkt: () => tunnel(ME.ce6, from('203.0.113.1', ME.port)), drop: 'drop_tunnel_inner_source' },
    { name: 'wrong inner source address: another CE\'s prefix', pkt: () => tunnel(ME.pfx6, from('10.0.6.1', 7)), drop: 'drop_tunnel_bad_outer_source' },
    { name: 'wrong BR address', pkt: () => tunnel(ME.ce6, from(ME.ce4, ME.port), '2001:db8:ffff::2'), drop: 'drop_tunnel_bad_br_address' },
  ];
  for (const s of spoofs) {
    it(`${s.name}: silently discarded and counted, even with icmp.errors`, () => {
      const h = new Harness(meYaml('icmp: { errors: true }'));
      const b = h.one(s.pkt());
      expect(b.out).toHaveLength(0);
      expect(drops(b.delta)).toEqual({ [s.drop]: 1 });
    });
  }
});

describe('MAP-E hairpinning, TTL, MTU', () => {
  it('CE to CE through the BR: TTL - 1 once', () => {
    const h = new Harness(meYaml());
    const inner = ipv4({ src: ME.ce4, dst: ME.ce4b, ttl: 20, payload: udp({ sport: ME.port, dport: ME.portB, payload: 'hi' }) });
    const b = h.one(tunnel(ME.ce6, inner));
    expect(b.parsed[0]).toMatchObject({ src: canonicalIpv6(BR), dst: canonicalIpv6(ME.ce6b) });
    expect(Buffer.from(b.parsed[0].payload)).toEqual(Buffer.from(ttlMinus(inner)));
    expect(b.delta.hairpin).toBe(1);
  });

  it('to a binding and to a prefix CE', () => {
    const h = new Harness(meYaml());
    const b = h.run([
      tunnel(ME.ce6, ipv4({ src: ME.ce4, dst: ME.bind4, payload: udp({ sport: ME.port, dport: ME.bindPort }) })),
      tunnel(ME.bind6, ipv4({ src: ME.bind4, dst: '10.0.5.9', payload: udp({ sport: ME.bindPort, dport: 9 }) })),
    ]);
    expect(b.parsed.map((p) => p.dst)).toEqual([canonicalIpv6(ME.bind6), canonicalIpv6(ME.pfx6)]);
  });

  it('TTL 1 either way: ICMPv4 Time Exceeded (through the softwire for a CE)', () => {
    const h = new Harness(meYaml());
    const b = h.run([to(ME.ce4, ME.port, { ttl: 1 }), tunnel(ME.ce6, from(ME.ce4, ME.port, { ttl: 1 }))]);
    expect(drops(b.delta)).toEqual({ drop_ipv4_ttl_expired: 2 });
    expect(b.parsed[0]).toMatchObject({ version: 4, dst: HOST, icmp: { type: 11 } });
    expect(b.parsed[1]).toMatchObject({ version: 6, dst: canonicalIpv6(ME.ce6) });
    expect(b.parsed[1].encapsulated).toMatchObject({ dst: ME.ce4, icmp: { type: 11, code: 0 } });
  });

  it('section 8.3.1 / RFC 2473 7.2: the IPv6 packet is fragmented, or 3/4 when encap-fragment is off and DF set', () => {
    const big = to(ME.ce4, ME.port, { df: true, payload: udp({ sport: 53, dport: ME.port, payload: new Uint8Array(1460) }) });
    const h = new Harness(meYaml());
    const b = h.one(big);
    expect(b.out).toHaveLength(2);
    expect(b.parsed.every((p) => p.ipLength <= 1500 && p.fragment !== undefined)).toBe(true);
    const n = new Harness(meYaml('encap-fragment: false'));
    const c = n.one(big);
    expect(c.parsed[0]).toMatchObject({ version: 4, icmp: { type: 3, code: 4, mtu: 1460 } });
    expect(drops(c.delta)).toEqual({ drop_ipv4_too_big: 1 });
  });

  it('section 8.3.2: IPv4 fragments from outside follow their first fragment\'s port', () => {
    const h = new Harness(meYaml());
    const whole = to(ME.ce4, 2257, { id: 0x7777, payload: udp({ sport: 53, dport: 2257, payload: new Uint8Array(1000).fill(4) }) });
    const f = fragment4(whole, 400);
    const b = h.run([f[1], f[0], f[2]]);
    expect(b.parsed.map((p) => p.dst)).toEqual(f.map(() => canonicalIpv6(ME.ce6)));
    // each leaves as it came, in its own tunnel packet
    expect(b.parsed.map((p) => p.encapsulated!.fragment!.offset).sort((x, y) => x - y)).toEqual([0, 376, 752]);
  });

  it('outer fragments from a CE are reassembled, then validated', () => {
    const h = new Harness(meYaml());
    const inner = from(ME.ce4, ME.port, { payload: udp({ sport: ME.port, dport: 53, payload: new Uint8Array(1300) }) });
    const b = h.run(fragment6(tunnel(ME.ce6, inner), 1280, 42).reverse());
    expect(b.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(inner)));
  });
});
