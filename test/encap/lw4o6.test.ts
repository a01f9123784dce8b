// lw4o6 (RFC 7596) through the core: the lwAFTR of section 6 on a binding table,
// ICMP per section 8, the tunnel rules of RFC 2473 (hop limit, MTU, errors) and
// DESIGN.md's readings (TTL once per direction, fragment the IPv6 packet, 1/5 for
// source-validation failures).
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, fragment4, fragment6, icmp4, icmp4Echo, icmp4Error, icmp6Echo, icmp6Error, ipv4, ipv6, parsePacket, rawTransport, tcp, udp } from '../../src/packets/index.js';
import { BR, HOST, ICMP_SRC4, LW, Harness, drops, ipBytes, lwYaml, ttlMinus, tunnel } from './helpers.js';

const toA = (o: Partial<Parameters<typeof ipv4>[0]> = {}, dport: number = LW.portA) =>
  ipv4({ src: HOST, dst: LW.addr, id: 0x4242, ttl: 60, payload: udp({ sport: 53, dport, payload: 'answer from the Internet' }), ...o });
const fromA = (o: Partial<Parameters<typeof ipv4>[0]> = {}, sport: number = LW.portA) =>
  ipv4({ src: LW.addr, dst: HOST, id: 0x1717, ttl: 64, payload: udp({ sport, dport: 53, payload: 'query from behind the B4' }), ...o });

describe('lw4o6 encapsulation (RFC 7596 section 6.2, IPv4 -> B4)', () => {
  it('encapsulates to the B4 bound to (address, PSID of the destination port), from br, hop limit 64, TTL - 1', () => {
    const h = new Harness(lwYaml());
    const pkt = toA({ tos: 0xb8 });
    const b = h.one(pkt);
    expect(b.out).toHaveLength(1);
    const p = b.parsed[0];
    expect(b.out[0].port).toBe(1);
    expect(p.version).toBe(6);
    expect(p.src).toBe(canonicalIpv6(BR));
    expect(p.dst).toBe(canonicalIpv6(LW.b4a));
    expect(p.protocol).toBe(4);
    expect(p.ttl).toBe(64); // RFC 2473 section 6.3
    expect(p.tos).toBe(0xb8); // DSCP kept across the softwire
    expect(p.flowLabel).toBe(0);
    expect(p.encapsulated!.ttl).toBe(59);
    expect(Buffer.from(p.payload)).toEqual(Buffer.from(ttlMinus(pkt)));
    expect(b.delta.encap_4in6).toBe(1);
  });

  it('picks the B4 by PSID: two B4s share one IPv4 address', () => {
    const h = new Harness(lwYaml());
    const b = h.run([toA({}, LW.portA), toA({}, LW.portB), toA({}, LW.portA2), toA({}, 65535 - 13)]);
    expect(b.parsed.map((p) => p.dst)).toEqual([...[LW.b4a, LW.b4b, LW.b4a].map(canonicalIpv6), HOST]);
    // 65522 = 63·1024 + 15·16 + 2: PSID 15, unbound (ICMPv4 3/1 back)
    expect(b.parsed[3].icmp).toMatchObject({ type: 3, code: 1 });
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 });
  });

  it('a full-address binding (psid-len 0) takes every port and protocols without ports', () => {
    const h = new Harness(lwYaml());
    const b = h.run([
      ipv4({ src: HOST, dst: LW.full, payload: udp({ sport: 53, dport: 80, payload: 'x' }) }),
      ipv4({ src: HOST, dst: LW.full, payload: tcp({ sport: 443, dport: 5, flags: 'SA' }) }),
      ipv4({ src: HOST, dst: LW.full, protocol: 47, payload: [0, 0, 8, 0] }),
    ]);
    expect(b.parsed.map((p) => p.dst)).toEqual([LW.b4c, LW.b4c, LW.b4c].map(canonicalIpv6));
  });

  it('a shared address cannot take a protocol without ports', () => {
    const h = new Harness(lwYaml());
    const b = h.one(ipv4({ src: HOST, dst: LW.addr, protocol: 47, payload: [0, 0, 8, 0] }));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_port: 1 });
  });

  it('works on Ethernet frames too', () => {
    const h = new Harness(lwYaml(), 1);
    const eth = (ip: Uint8Array) => {
      const f = new Uint8Array(14 + ip.length);
      f.set([2, 0, 0, 0, 0, 0xbb, 2, 0, 0, 0, 0, 0xaa, 0x08, 0x00]);
      f.set(ip, 14);
      return f;
    };
    const b = h.one(eth(toA()));
    expect(b.parsed[0].eth!.type).toBe(0x86dd);
    expect(b.parsed[0].dst).toBe(canonicalIpv6(LW.b4a));
  });
});

describe('lw4o6 ICMPv4 from the Internet (RFC 7596 section 8.1)', () => {
  it('echo request/reply: the identifier is the port', () => {
    const h = new Harness(lwYaml());
    const b = h.run([
      ipv4({ src: HOST, dst: LW.addr, payload: icmp4Echo({ id: LW.portB, seq: 1, data: 'ping' }) }),
      ipv4({ src: HOST, dst: LW.addr, payload: icmp4Echo({ id: LW.portA, seq: 2, reply: true, data: 'pong' }) }),
    ]);
    expect(b.parsed.map((p) => p.dst)).toEqual([LW.b4b, LW.b4a].map(canonicalIpv6));
    expect(b.parsed[0].encapsulated!.icmp!.type).toBe(8);
  });

  it('an echo whose identifier has no binding is discarded (3/1 when configured)', () => {
    const h = new Harness(lwYaml());
    const b = h.one(ipv4({ src: HOST, dst: LW.addr, payload: icmp4Echo({ id: LW.portNone, seq: 1 }) }));
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 });
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0]).toMatchObject({ version: 4, src: ICMP_SRC4, dst: HOST, icmp: { type: 3, code: 1 } });
  });

  it('an error goes to the B4 that owns the source port of the packet it quotes (REQ-3 of RFC 5508)', () => {
    const h = new Harness(lwYaml());
    const quoted = ipv4({ src: LW.addr, dst: HOST, ttl: 1, payload: udp({ sport: LW.portB, dport: 53, payload: 'q' }) });
    const b = h.one(ipv4({ src: '198.18.0.1', dst: LW.addr, payload: icmp4Error({ type: 11, code: 0, quote: quoted }) }));
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0].dst).toBe(canonicalIpv6(LW.b4b));
    expect(b.parsed[0].encapsulated!.icmp!.inner!.sport).toBe(LW.portB);
  });

  it('other ICMPv4 types are discarded', () => {
    const h = new Harness(lwYaml());
    const b = h.one(ipv4({ src: HOST, dst: LW.addr, payload: icmp4({ type: 13, rest: (LW.portA << 16) | 1, payload: new Uint8Array(12) }) }));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_icmp_untranslatable: 1 });
  });
});

describe('lw4o6 binding misses (RFC 7596 section 6.2, DESIGN.md)', () => {
  const miss = () => toA({}, LW.portNone);
  it('an owned address with no binding for the port: dropped, ICMPv4 3/1 back', () => {
    const h = new Harness(lwYaml());
    const b = h.one(miss());
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 });
    expect(b.parsed).toHaveLength(1);
    const e = b.parsed[0];
    expect(b.out[0].port).toBe(0);
    expect(e).toMatchObject({ version: 4, src: ICMP_SRC4, dst: HOST, icmp: { type: 3, code: 1 } });
    expect(e.icmp!.inner!.dst).toBe(LW.addr);
  });

  it('silent with lw4o6.unreachable-on-miss: false, or with icmp.errors: false', () => {
    for (const extra of ['lw4o6: { unreachable-on-miss: false }', 'icmp: { errors: false }']) {
      const h = new Harness(lwYaml(extra));
      const b = h.one(miss());
      expect(b.out).toHaveLength(0);
      expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 });
    }
  });

  it('a reserved port is in no port set (RFC 7618 section 8): 3/1', () => {
    const h = new Harness(lwYaml());
    const b = h.one(toA({}, 80));
    expect(drops(b.delta)).toEqual({ drop_ipv4_port_unmapped: 1 });
    expect(b.parsed[0].icmp).toMatchObject({ type: 3, code: 1 });
  });

  it('an address that is not the BR\'s at all: silent', () => {
    const h = new Harness(lwYaml());
    const b = h.one(ipv4({ src: HOST, dst: '198.51.100.99', payload: udp({ sport: 53, dport: LW.portA }) }));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_rule: 1 });
  });
});

describe('lw4o6 TTL (DESIGN.md: decremented once in each direction)', () => {
  it('TTL 1 from the Internet: Time Exceeded to the sender', () => {
    const h = new Harness(lwYaml());
    const b = h.one(toA({ ttl: 1 }));
    expect(drops(b.delta)).toEqual({ drop_ipv4_ttl_expired: 1 });
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0]).toMatchObject({ version: 4, src: ICMP_SRC4, dst: HOST, icmp: { type: 11, code: 0 } });
  });

  it('TTL 2 leaves with 1', () => {
    const h = new Harness(lwYaml());
    expect(h.one(toA({ ttl: 2 })).parsed[0].encapsulated!.ttl).toBe(1);
  });

  it('TTL 1 from a B4: Time Exceeded back through its softwire', () => {
    const h = new Harness(lwYaml());
    const inner = fromA({ ttl: 1 });
    const b = h.one(tunnel(LW.b4a, inner));
    expect(drops(b.delta)).toEqual({ drop_ipv4_ttl_expired: 1 });
    expect(b.parsed).toHaveLength(1);
    const t = b.parsed[0];
    expect(b.out[0].port).toBe(1);
    expect(t).toMatchObject({ version: 6, src: canonicalIpv6(BR), dst: canonicalIpv6(LW.b4a), protocol: 4 });
    expect(t.encapsulated).toMatchObject({ src: ICMP_SRC4, dst: LW.addr, icmp: { type: 11, code: 0 } });
    expect(Buffer.from(t.encapsulated!.icmp!.inner!.payload.subarray(0, 4))).toEqual(Buffer.from('quer'));
  });

  it('decapsulated packets leave with TTL - 1', () => {
    const h = new Harness(lwYaml());
    const inner = fromA({ ttl: 9 });
    const b = h.one(tunnel(LW.b4a, inner, BR, { hopLimit: 1 }));
    expect(b.parsed).toHaveLength(1);
    // the outer hop limit does not matter at the tunnel exit (RFC 2473 section 3.3)
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(inner)));
  });
});

describe('lw4o6 MTU (RFC 2473 section 7.2; encap-fragment)', () => {
  const big = (df: boolean) => toA({ df, payload: udp({ sport: 53, dport: LW.portA, payload: new Uint8Array(1350).fill(7) }) });

  it('encap-fragment: true (default): the IPv6 packet is fragmented, DF or not, never the IPv4 one', () => {
    const h = new Harness(lwYaml('mtu: { ipv4: 1500, ipv6: 1280 }'));
    for (const df of [true, false]) {
      const pkt = big(df);
      const b = h.one(pkt);
      expect(b.out.length).toBe(2);
      for (const p of b.parsed) {
        expect(p.ipLength).toBeLessThanOrEqual(1280);
        expect(p.fragment).toBeDefined();
        expect(p.dst).toBe(canonicalIpv6(LW.b4a));
      }
      expect(b.parsed[0].fragment!.id).toBe(b.parsed[1].fragment!.id);
      expect(b.delta.frag_out6).toBe(2);
      // the two fragments carry exactly the IPv4 packet, TTL - 1 (expectWellFormed reassembled them)
      const data = new Uint8Array([...b.parsed[0].payload, ...b.parsed[1].payload]);
      expect(Buffer.from(data)).toEqual(Buffer.from(ttlMinus(pkt)));
    }
  });

  it('encap-fragment: false: DF set -> ICMPv4 3/4 with the tunnel MTU; DF clear -> fragmented', () => {
    const h = new Harness(lwYaml('mtu: { ipv4: 1500, ipv6: 1280 }\nencap-fragment: false'));
    const b = h.one(big(true));
    expect(drops(b.delta)).toEqual({ drop_ipv4_too_big: 1 });
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0]).toMatchObject({ version: 4, dst: HOST, icmp: { type: 3, code: 4, mtu: 1240 } });
    const c = h.one(big(false));
    expect(c.out).toHaveLength(2);
    expect(c.delta.encap_4in6).toBe(1);
  });

  it('a packet that just fits is not fragmented', () => {
    const h = new Harness(lwYaml('mtu: { ipv4: 1500, ipv6: 1280 }\nencap-fragment: false'));
    const pkt = toA({ df: true, payload: udp({ sport: 53, dport: LW.portA, payload: new Uint8Array(1240 - 28) }) });
    const b = h.one(pkt);
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0].ipLength).toBe(1280);
  });

  it('decapsulated packets over mtu.ipv4: IPv4 fragments, or 3/4 through the softwire when DF is set', () => {
    const h = new Harness(lwYaml('mtu: { ipv4: 1000, ipv6: 1500 }'));
    const inner = fromA({ payload: udp({ sport: LW.portA, dport: 53, payload: new Uint8Array(1200).fill(3) }) });
    const b = h.one(tunnel(LW.b4a, inner));
    expect(b.out.length).toBe(2);
    for (const p of b.parsed) {
      expect(p.version).toBe(4);
      expect(p.ipLength).toBeLessThanOrEqual(1000);
    }
    expect(b.delta.frag_out4).toBe(2);
    const c = h.one(tunnel(LW.b4a, fromA({ df: true, payload: udp({ sport: LW.portA, dport: 53, payload: new Uint8Array(1200) }) })));
    expect(drops(c.delta)).toEqual({ drop_ipv4_too_big: 1 });
    expect(c.parsed).toHaveLength(1);
    expect(c.parsed[0].dst).toBe(canonicalIpv6(LW.b4a));
    expect(c.parsed[0].encapsulated).toMatchObject({ dst: LW.addr, icmp: { type: 3, code: 4, mtu: 1000 } });
  });
});

describe('lw4o6 decapsulation (RFC 7596 section 6.2)', () => {
  it('decapsulates when outer source, BR address, inner source address and port all match one binding', () => {
    const h = new Harness(lwYaml());
    const inner = fromA();
    const b = h.one(tunnel(LW.b4a, inner));
    expect(b.out).toHaveLength(1);
    expect(b.out[0].port).toBe(0);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(inner)));
    expect(b.delta.decap_4in6).toBe(1);
  });

  it('TCP, ICMP echo (identifier as port) and a full address', () => {
    const h = new Harness(lwYaml());
    const b = h.run([
      tunnel(LW.b4b, ipv4({ src: LW.addr, dst: HOST, payload: tcp({ sport: LW.portB, dport: 443, flags: 'S' }) })),
      tunnel(LW.b4a, ipv4({ src: LW.addr, dst: HOST, payload: icmp4Echo({ id: LW.portA2, seq: 9 }) })),
      tunnel(LW.b4c, ipv4({ src: LW.full, dst: HOST, payload: udp({ sport: 7, dport: 7 }) })),
    ]);
    expect(b.out).toHaveLength(3);
    expect(b.delta.decap_4in6).toBe(3);
  });

  it('an ICMPv4 error from behind the B4 is validated by the port of the packet it quotes', () => {
    const h = new Harness(lwYaml());
    const quoted = ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portA }) });
    const b = h.one(tunnel(LW.b4a, ipv4({ src: LW.addr, dst: HOST, payload: icmp4Error({ type: 3, code: 3, quote: quoted }) })));
    expect(b.out).toHaveLength(1);
    const c = h.one(tunnel(LW.b4b, ipv4({ src: LW.addr, dst: HOST, payload: icmp4Error({ type: 3, code: 3, quote: quoted }) })));
    expect(drops(c.delta)).toEqual({ drop_tunnel_bad_outer_source: 1 });
  });

  it('a Destination Options header before the IPv4 packet is skipped', () => {
    const h = new Harness(lwYaml());
    const inner = fromA();
    const b = h.one(ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, payload: inner, extensions: [destOpts()] }));
    expect(b.out).toHaveLength(1);
  });
});

/** A Destination Options header with the Tunnel Encapsulation Limit option (RFC 2473 section 5.1). */
function destOpts() {
  return {
    type: 60,
    encode: (nh: number) => Uint8Array.from([nh, 0, 4, 1, 4, 1, 1, 0]),
  };
}

describe('lw4o6 spoofing (RFC 7596 section 6.2): dropped, counted, ICMPv6 1/5 to the sender when errors are on', () => {
  const cases: { name: string; pkt: () => Uint8Array; drop: string; icmp6: boolean }[] = [
    { name: 'wrong outer source: B4 B sends with B4 A\'s port', pkt: () => tunnel(LW.b4b, fromA()), drop: 'drop_tunnel_bad_outer_source', icmp6: true },
    { name: 'wrong outer source: no binding has it', pkt: () => tunnel('2001:db8:77::99', fromA()), drop: 'drop_tunnel_bad_outer_source', icmp6: true },
    { name: 'wrong inner source port: bound to nobody', pkt: () => tunnel(LW.b4a, fromA({}, LW.portNone)), drop: 'drop_tunnel_inner_source', icmp6: true },
    { name: 'wrong inner source port: a reserved port', pkt: () => tunnel(LW.b4a, fromA({}, 53)), drop: 'drop_tunnel_inner_source', icmp6: true },
    { name: 'wrong inner source port: the other B4\'s', pkt: () => tunnel(LW.b4a, fromA({}, LW.portB)), drop: 'drop_tunnel_bad_outer_source', icmp6: true },
    { name: 'wrong inner source address', pkt: () => tunnel(LW.b4a, fromA({ src: '198.51.100.8' })), drop: 'drop_tunnel_inner_source', icmp6: true },
    { name: 'the B4 of the full address sends from the shared one', pkt: () => tunnel(LW.b4c, fromA()), drop: 'drop_tunnel_bad_outer_source', icmp6: true },
    { name: 'wrong BR address', pkt: () => tunnel(LW.b4a, fromA(), '2001:db8:ffff::2'), drop: 'drop_tunnel_bad_br_address', icmp6: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const h = new Harness(lwYaml());
      const pkt = c.pkt();
      const b = h.one(pkt);
      expect(drops(b.delta)).toEqual({ [c.drop]: 1 });
      expect(b.delta.decap_4in6).toBeUndefined();
      if (c.icmp6) {
        expect(b.parsed).toHaveLength(1);
        const e = b.parsed[0];
        expect(e).toMatchObject({ version: 6, src: canonicalIpv6(BR), dst: parsePacket(pkt).src, icmp: { type: 1, code: 5 } });
        expect(b.out[0].port).toBe(1);
      } else {
        expect(b.out).toHaveLength(0);
      }
      const quiet = new Harness(lwYaml('icmp: { errors: false }'));
      const q = quiet.one(c.pkt());
      expect(q.out).toHaveLength(0);
      expect(drops(q.delta)).toEqual({ [c.drop]: 1 });
    });
  }
});

describe('lw4o6 hairpinning (RFC 7596 section 6.2)', () => {
  it('B4 to B4 on one shared address: decapsulated, TTL - 1 once, re-encapsulated to the other B4', () => {
    const h = new Harness(lwYaml());
    const inner = ipv4({ src: LW.addr, dst: LW.addr, ttl: 30, payload: udp({ sport: LW.portA, dport: LW.portB, payload: 'hairpin' }) });
    const b = h.one(tunnel(LW.b4a, inner));
    expect(b.out).toHaveLength(1);
    const p = b.parsed[0];
    expect(p).toMatchObject({ src: canonicalIpv6(BR), dst: canonicalIpv6(LW.b4b), protocol: 4 });
    expect(Buffer.from(p.payload)).toEqual(Buffer.from(ttlMinus(inner)));
    expect(b.delta.hairpin).toBe(1);
  });

  it('to the full-address B4 and back', () => {
    const h = new Harness(lwYaml());
    const b = h.run([
      tunnel(LW.b4a, ipv4({ src: LW.addr, dst: LW.full, payload: udp({ sport: LW.portA, dport: 9 }) })),
      tunnel(LW.b4c, ipv4({ src: LW.full, dst: LW.addr, payload: udp({ sport: 9, dport: LW.portA }) })),
    ]);
    expect(b.parsed.map((p) => p.dst)).toEqual([LW.b4c, LW.b4a].map(canonicalIpv6));
  });

  it('to an unbound port: dropped, ICMPv4 3/1 back through the sender\'s softwire', () => {
    const h = new Harness(lwYaml());
    const b = h.one(tunnel(LW.b4a, ipv4({ src: LW.addr, dst: LW.addr, payload: udp({ sport: LW.portA, dport: LW.portNone }) })));
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 });
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0].dst).toBe(canonicalIpv6(LW.b4a));
    expect(b.parsed[0].encapsulated).toMatchObject({ src: ICMP_SRC4, dst: LW.addr, icmp: { type: 3, code: 1 } });
  });

  it('too big for the tunnel with DF set and encap-fragment false: 3/4 back through the sender\'s softwire', () => {
    // a reassembled outer packet can carry an inner packet bigger than mtu.ipv6 - 40
    const h = new Harness(lwYaml('mtu: { ipv4: 1500, ipv6: 1280 }\nencap-fragment: false'));
    const inner = ipv4({ src: LW.addr, dst: LW.addr, df: true, payload: udp({ sport: LW.portA, dport: LW.portB, payload: new Uint8Array(1300) }) });
    const frags = fragment6(tunnel(LW.b4a, inner), 1280, 99);
    const b = h.run(frags);
    expect(drops(b.delta)).toEqual({ drop_ipv4_too_big: 1 });
    expect(b.parsed[0].dst).toBe(canonicalIpv6(LW.b4a));
    expect(b.parsed[0].encapsulated!.icmp).toMatchObject({ type: 3, code: 4, mtu: 1240 });
  });

  it('inner IPv4 fragments hairpin: each follows its first fragment\'s ports both ways', () => {
    const h = new Harness(lwYaml());
    const whole = ipv4({ src: LW.addr, dst: LW.addr, id: 0x5151, payload: udp({ sport: LW.portA, dport: LW.portB, payload: new Uint8Array(600).fill(5) }) });
    const frags = fragment4(whole, 256);
    expect(frags.length).toBe(3);
    const b = h.run(frags.map((f) => tunnel(LW.b4a, f)));
    expect(b.parsed.map((p) => p.dst)).toEqual([LW.b4b, LW.b4b, LW.b4b].map(canonicalIpv6));
    expect(drops(b.delta)).toEqual({});
  });
});

describe('lw4o6 inner IPv4 fragments from a B4', () => {
  const whole = () => fromA({ id: 0x6161, payload: udp({ sport: LW.portA, dport: 53, payload: new Uint8Array(700).fill(9) }) });
  it('in order: every fragment follows the first one\'s port', () => {
    const h = new Harness(lwYaml());
    const frags = fragment4(whole(), 300);
    const b = h.run(frags.map((f) => tunnel(LW.b4a, f)));
    expect(b.out).toHaveLength(frags.length);
    expect(b.delta.decap_4in6).toBe(frags.length);
  });
  it('a later fragment first: held until the first validates, then sent', () => {
    const h = new Harness(lwYaml());
    const frags = fragment4(whole(), 300);
    const b = h.one(tunnel(LW.b4a, frags[2]));
    expect(b.out).toHaveLength(0);
    expect(b.delta.frag_held).toBe(1);
    const c = h.run([tunnel(LW.b4a, frags[0]), tunnel(LW.b4a, frags[1])]);
    expect(c.out).toHaveLength(3);
    expect(c.delta.frag_released).toBe(1);
  });
  it('a later fragment from another B4 than the first: spoofed', () => {
    const h = new Harness(lwYaml());
    h.partialFragments = true;
    const frags = fragment4(whole(), 300);
    const b = h.run([tunnel(LW.b4a, frags[0]), tunnel(LW.b4b, frags[1])]);
    expect(b.out).toHaveLength(2);
    expect(b.parsed[1]).toMatchObject({ dst: canonicalIpv6(LW.b4b), icmp: { type: 1, code: 5 } });
    expect(drops(b.delta)).toEqual({ drop_tunnel_bad_outer_source: 1 });
  });
});

describe('lw4o6 ICMPv6 errors about the tunnel (RFC 7596 section 8, RFC 2473 section 8.3)', () => {
  const ROUTER = '2001:db8:1::1';
  /** What the BR sent to B4 A for `orig`: the tunnel packet quoted by the access network's error. */
  const sent = (orig: Uint8Array, dst: string = LW.b4a) => ipv6({ src: BR, dst, nextHeader: 4, hopLimit: 60, payload: orig });
  const err = (type: number, code: number, quote: Uint8Array, o: { mtu?: number; src?: string } = {}) =>
    ipv6({ src: o.src ?? ROUTER, dst: BR, payload: icmp6Error({ type, code, quote, mtu: o.mtu }) });
  const orig = (df: boolean) => ttlMinus(toA({ df, payload: udp({ sport: 53, dport: LW.portA, payload: new Uint8Array(1300) }) }));

  it('Packet Too Big about a DF packet: ICMPv4 3/4 with MTU - 40 to the original source', () => {
    const h = new Harness(lwYaml());
    const o = orig(true);
    const b = h.one(err(2, 0, sent(o), { mtu: 1400 }));
    expect(b.delta.tunnel_icmp_relayed).toBe(1);
    expect(drops(b.delta)).toEqual({});
    expect(b.parsed).toHaveLength(1);
    expect(b.out[0].port).toBe(0);
    const e = b.parsed[0];
    expect(e).toMatchObject({ version: 4, src: ICMP_SRC4, dst: HOST, icmp: { type: 3, code: 4, mtu: 1360 } });
    expect(Buffer.from(e.icmp!.inner ? e.payload.subarray(0, 28) : [])).toEqual(Buffer.from(o.subarray(0, 28)));
  });

  it('Packet Too Big with an MTU under 1280 is taken as 1280', () => {
    const h = new Harness(lwYaml());
    const b = h.one(err(2, 0, sent(orig(true)), { mtu: 600 }));
    expect(b.parsed[0].icmp!.mtu).toBe(1240);
  });

  it('Packet Too Big about a packet without DF: not relayed', () => {
    const h = new Harness(lwYaml());
    const b = h.one(err(2, 0, sent(orig(false)), { mtu: 1400 }));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_icmp_not_relayed: 1 });
  });

  it('Destination Unreachable and Hop Limit Exceeded: ICMPv4 3/1', () => {
    const h = new Harness(lwYaml());
    const b = h.run([err(1, 3, sent(orig(false))), err(3, 0, sent(orig(true)))]);
    expect(b.parsed.map((p) => [p.icmp!.type, p.icmp!.code, p.dst])).toEqual([
      [3, 1, HOST],
      [3, 1, HOST],
    ]);
    expect(b.delta.tunnel_icmp_relayed).toBe(2);
  });

  it('Parameter Problem: not relayed (the BR adds no Tunnel Encapsulation Limit)', () => {
    const h = new Harness(lwYaml());
    const b = h.one(err(4, 0, sent(orig(true))));
    expect(drops(b.delta)).toEqual({ drop_tunnel_icmp_not_relayed: 1 });
  });

  it('icmp.errors: false: not relayed', () => {
    const h = new Harness(lwYaml('icmp: { errors: false }'));
    const b = h.one(err(2, 0, sent(orig(true)), { mtu: 1400 }));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_icmp_not_relayed: 1 });
  });

  it('about a hairpinned packet: relayed through the original sender\'s softwire', () => {
    const h = new Harness(lwYaml());
    const o = ttlMinus(ipv4({ src: LW.addr, dst: LW.addr, df: true, payload: udp({ sport: LW.portA, dport: LW.portB, payload: new Uint8Array(100) }) }));
    const b = h.one(err(2, 0, sent(o, LW.b4b), { mtu: 1300 }));
    expect(b.parsed).toHaveLength(1);
    expect(b.parsed[0].dst).toBe(canonicalIpv6(LW.b4a));
    expect(b.parsed[0].encapsulated).toMatchObject({ dst: LW.addr, icmp: { type: 3, code: 4, mtu: 1260 } });
  });

  it('an error about a packet this BR did not send is not relayed', () => {
    const h = new Harness(lwYaml());
    const forged = [
      ipv6({ src: '2001:db8:ffff::2', dst: LW.b4a, nextHeader: 4, payload: orig(true) }), // another tunnel source
      sent(orig(true), LW.b4b), // the B4 of another PSID
      ipv6({ src: BR, dst: LW.b4a, payload: udp({ sport: 1, dport: 2, payload: new Uint8Array(40) }) }), // not IPv4 in IPv6
    ];
    const b = h.run(forged.map((q) => err(2, 0, q, { mtu: 1400 })));
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_icmp_invalid: 3 });
  });

  it('a bad ICMPv6 checksum, an echo request to the BR', () => {
    const h = new Harness(lwYaml());
    const bad = ipv6({ src: ROUTER, dst: BR, payload: icmp6Error({ type: 2, code: 0, quote: sent(orig(true)), mtu: 1400, badChecksum: true }) });
    const echo = ipv6({ src: ROUTER, dst: BR, payload: icmp6Echo({ id: 1, seq: 1 }) });
    const b = h.run([bad, echo]);
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_icmp_bad_checksum: 1, drop_tunnel_not_ipv4: 1 });
  });
});

describe('lw4o6 other IPv6 to the BR', () => {
  it('not IPv4 inside, or a broken inner packet', () => {
    const h = new Harness(lwYaml());
    const badInner = fromA();
    badInner[10] ^= 0xff;
    const b = h.run([
      ipv6({ src: LW.b4a, dst: BR, payload: udp({ sport: 1, dport: 2 }) }),
      ipv6({ src: LW.b4a, dst: BR, nextHeader: 41, payload: rawTransport(41, new Uint8Array(40)).encode({ version: 6, src: new Uint8Array(16), dst: new Uint8Array(16) }) }),
      tunnel(LW.b4a, badInner),
      tunnel(LW.b4a, fromA().subarray(0, 19)),
    ]);
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_not_ipv4: 2, drop_tunnel_inner_invalid: 2 });
  });
});
