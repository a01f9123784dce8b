// Item 4: the ICMP errors the BR sends itself (icmp.errors: true; none when false):
// time exceeded both ways, 3/1 for an address the BR owns whose port has no CE, 1/5
// for a spoofed source (RFC 7599 8.3), the rate limit (icmp.rate per second, on the
// batch clock), and never about ICMP errors or non-first fragments (RFC 1122 3.2.2,
// RFC 1812 4.3.2.7, RFC 4443 2.4(e)).
import { describe, expect, it } from 'vitest';
import { fragment4, fragment6, icmp4Echo, icmp4Error, icmp6Echo, icmp6Error, ipv4, ipv6, tcp, udp } from '../../src/packets/index.js';
import { BR6, CE4, CE6, HOST4, HOST6, LINKTYPES, MAC_A, MAC_B, bytes, harness, icmpKinds, only, summary } from './helpers.js';

const OFF = { icmp: { errors: false, rate: 1000 } };

describe.each(LINKTYPES)('the BR\'s own ICMP errors, linktype %i', (linktype) => {
  describe('time exceeded', () => {
    it.each([1, 0])('IPv4 TTL %i: ICMPv4 11/0 from icmp.ipv4-source to the sender, quoting the packet as received', (ttl) => {
      const h = harness({}, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, ttl, id: 0x1234, payload: udp({ sport: 53, dport: 1232, payload: 'late' }) });
      const r = h.run([pkt]);
      expect(summary(r.v6)).toEqual([]);
      expect(r.d).toMatchObject({ drop_ipv4_ttl_expired: 1, icmp4_sent: 1 });
      const e = only(r).p;
      expect([e.src, e.dst, e.icmp!.type, e.icmp!.code, e.ttl]).toEqual(['192.0.0.8', HOST4, 11, 0, 64]);
      expect(e.icmp!.inner).toMatchObject({ src: HOST4, dst: CE4, ttl, sport: 53, dport: 1232 });
      expect(only(r).ip.subarray(28)).toEqual(pkt); // the whole (short) packet quoted, unchanged
    });
    it.each([1, 0])('IPv6 hop limit %i: ICMPv6 3/0 from the BR\'s IPv6 source to the CE', (hopLimit) => {
      const h = harness({}, { linktype });
      const pkt = ipv6({ src: CE6, dst: HOST6, hopLimit, payload: tcp({ sport: 1232, dport: 80, flags: 'S' }) });
      const r = h.run([pkt]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d).toMatchObject({ drop_ipv6_hop_limit_expired: 1, icmp6_sent: 1 });
      const e = only(r).p;
      expect([e.src, e.dst, e.icmp!.type, e.icmp!.code]).toEqual([BR6, CE6, 3, 0]);
      expect(only(r).ip.subarray(48)).toEqual(pkt);
    });
    it('an ICMP echo with TTL 1 gets time exceeded too (it is a query, not an error)', () => {
      const h = harness({}, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: icmp4Echo({ id: 1232 }) }), ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: icmp6Echo({ id: 1232 }) })]);
      expect(icmpKinds(r.out)).toEqual(['icmp4 11/0', 'icmp6 3/0']);
    });
    it('icmp.ipv6-source sets the BR\'s ICMPv6 source', () => {
      const h = harness({ icmp: { errors: true, rate: 1000, 'ipv6-source': '2001:db8:ffff::99' } }, { linktype });
      const r = h.run([ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: udp({ sport: 1232, dport: 53 }) })]);
      expect(only(r).p.src).toBe('2001:db8:ffff::99');
    });
    it('big packets are quoted up to 576 bytes of ICMPv4 (RFC 1812 4.3.2.3) / 1280 of ICMPv6 (RFC 4443 2.4(c))', () => {
      const h = harness({}, { linktype });
      const r = h.run([
        ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: udp({ sport: 53, dport: 1232, payload: bytes(1400) }) }),
        ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: udp({ sport: 1232, dport: 53, payload: bytes(1400) }) }),
      ]);
      expect(r.out.map((o) => o.ip.length)).toEqual([576, 1280]);
    });
  });

  describe('destination unreachable for an address the BR owns (3/1)', () => {
    it.each([
      ['a reserved port (RFC 7618 section 8)', 80],
      ['port 1023', 1023],
    ])('%s of a shared address: drop_ipv4_port_unmapped + ICMPv4 3/1', (_n, port) => {
      const h = harness({}, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: CE4, payload: tcp({ sport: 5000, dport: port, flags: 'S' }) })]);
      expect(summary(r.v6)).toEqual([]);
      expect(r.d.drop_ipv4_port_unmapped).toBe(1);
      const e = only(r).p;
      expect([e.src, e.dst, e.icmp!.type, e.icmp!.code]).toEqual(['192.0.0.8', HOST4, 3, 1]);
    });
    it('an address no rule or binding covers is not the BR\'s: silent drop (drop_ipv4_no_rule, DESIGN.md)', () => {
      const h = harness({}, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: '198.51.100.1', payload: udp({ sport: 53, dport: 1232 }) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv4_no_rule).toBe(1);
    });
    it('a portless protocol to a shared address (no port to find the CE with): silent drop_ipv4_no_port', () => {
      const h = harness({}, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: CE4, protocol: 47, payload: bytes(24) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv4_no_port).toBe(1);
    });
  });

  describe('source address failed ingress/egress policy (ICMPv6 1/5, RFC 7599 8.3)', () => {
    it.each([
      ['a port outside the PSID', CE6, 1236, 'drop_ipv6_port_outside_psid'],
      ['a reserved port', CE6, 80, 'drop_ipv6_port_outside_psid'],
      ['an interface identifier that disagrees with the EA bits', '2001:db8:12:3400:0:c000:212:35', 1232, 'drop_ipv6_src_spoofed'],
      ['a non-zero subnet id', '2001:db8:12:3401:0:c000:212:34', 1232, 'drop_ipv6_src_spoofed'],
    ])('%s: dropped and answered with 1/5', (_n, src, sport, counter) => {
      const h = harness({}, { linktype });
      const pkt = ipv6({ src, dst: HOST6, payload: udp({ sport, dport: 53, payload: 'x' }) });
      const r = h.run([pkt]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d[counter]).toBe(1);
      const e = only(r).p;
      expect([e.src, e.dst, e.icmp!.type, e.icmp!.code]).toEqual([BR6, src, 1, 5]);
      expect(only(r).ip.subarray(48)).toEqual(pkt);
    });
    it('a source no rule covers is not a CE of this BR: silent drop (drop_ipv6_src_no_rule)', () => {
      const h = harness({}, { linktype });
      const r = h.run([ipv6({ src: '2001:db9::1', dst: HOST6, payload: udp({ sport: 1232, dport: 53 }) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv6_src_no_rule).toBe(1);
    });
  });

  describe('never about an ICMP error, a non-first fragment, or to a source that is not unicast', () => {
    it('an ICMPv4 error with TTL 1 / to a port with no CE: dropped, no error about it', () => {
      const h = harness({}, { linktype });
      const quote = ipv4({ src: CE4, dst: HOST4, payload: udp({ sport: 1232, dport: 53 }) });
      const r = h.run([
        ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: icmp4Error({ type: 3, code: 3, quote }) }),
        ipv4({ src: HOST4, dst: CE4, payload: icmp4Error({ type: 3, code: 3, quote: ipv4({ src: CE4, dst: HOST4, payload: udp({ sport: 80, dport: 53 }) }) }) }),
      ]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d).toMatchObject({ drop_ipv4_ttl_expired: 1, drop_ipv4_port_unmapped: 1 });
      expect(r.d.icmp4_sent).toBeUndefined();
    });
    it('an ICMPv6 error with hop limit 1 / from a spoofed source: dropped, no error about it', () => {
      const h = harness({}, { linktype });
      const quote = ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232 }) });
      const r = h.run([
        ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: icmp6Error({ type: 1, code: 4, quote }) }),
        ipv6({ src: CE6, dst: HOST6, payload: icmp6Error({ type: 1, code: 4, quote: ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1236 }) }) }) }),
      ]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv6_hop_limit_expired).toBe(1);
      expect(r.d.icmp6_sent).toBeUndefined();
    });
    it('non-first fragments with TTL 1 / hop limit 1: no error', () => {
      const h = harness({ mtu: { ipv4: 1500, ipv6: 1280 } }, { linktype });
      const f4 = fragment4(ipv4({ src: HOST4, dst: CE4, id: 1, ttl: 1, payload: udp({ sport: 53, dport: 1232, payload: bytes(1000) }) }), 500);
      const f6 = fragment6(ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: udp({ sport: 1232, dport: 53, payload: bytes(1000) }) }), 500, 1);
      // the first fragments get their error; the others none
      const r = h.run([f4[0], f4[1], f4[2], f6[0], f6[1], f6[2]]);
      expect(icmpKinds(r.out)).toEqual(['icmp4 11/0', 'icmp6 3/0']);
      expect(r.d).toMatchObject({ drop_ipv4_ttl_expired: 3, drop_ipv6_hop_limit_expired: 3 });
    });
    it.each([
      ['0.0.0.0', '0.0.0.0'],
      ['a multicast source', '224.0.0.1'],
      ['the broadcast address', '255.255.255.255'],
      ['a loopback source', '127.0.0.1'],
    ])('an IPv4 packet from %s with TTL 1: no ICMPv4 error', (_n, src) => {
      const h = harness({}, { linktype });
      const r = h.run([ipv4({ src, dst: CE4, ttl: 1, payload: udp({ sport: 53, dport: 1232 }) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv4_ttl_expired).toBe(1);
    });
  });

  describe('icmp.errors: false', () => {
    it('every case above drops silently, counted the same', () => {
      const h = harness({ ...OFF, mtu: { ipv4: 1400, ipv6: 1280 } }, { linktype });
      const r = h.run([
        ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: udp({ sport: 53, dport: 1232 }) }),
        ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: udp({ sport: 1232, dport: 53 }) }),
        ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 80 }) }),
        ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1236, dport: 53 }) }),
        ipv6({ src: '2001:db8:12:3400:0:c000:212:35', dst: HOST6, payload: udp({ sport: 1232, dport: 53 }) }),
        ipv4({ src: HOST4, dst: CE4, df: true, payload: udp({ sport: 53, dport: 1232, payload: bytes(1300) }) }),
        ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(1400) }) }),
        ipv4({ src: HOST4, dst: CE4, options: [131, 7, 4, 1, 2, 3, 4], payload: udp({ sport: 53, dport: 1232 }) }),
      ]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d).toMatchObject({
        drop_ipv4_ttl_expired: 1,
        drop_ipv6_hop_limit_expired: 1,
        drop_ipv4_port_unmapped: 1,
        drop_ipv6_port_outside_psid: 1,
        drop_ipv6_src_spoofed: 1,
        drop_ipv4_too_big: 1,
        drop_ipv6_too_big: 1,
        drop_ipv4_source_route: 1,
      });
      expect(r.d.icmp4_sent ?? 0).toBe(0);
      expect(r.d.icmp6_sent ?? 0).toBe(0);
      expect(r.d.icmp_rate_limited ?? 0).toBe(0);
    });
  });

  describe('rate limit: icmp.rate errors per second, on the clock given to processBatch', () => {
    const ttl1 = (i: number) => ipv4({ src: HOST4, dst: CE4, ttl: 1, id: i, payload: udp({ sport: 53, dport: 1232 }) });
    it('a burst gets icmp.rate errors, the rest are counted as icmp_rate_limited', () => {
      const h = harness({ icmp: { errors: true, rate: 5 } }, { linktype });
      const r = h.run(Array.from({ length: 8 }, (_, i) => ttl1(i)), { now: 10_000 });
      expect(r.out.length).toBe(5);
      expect(r.d).toMatchObject({ drop_ipv4_ttl_expired: 8, icmp4_sent: 5, icmp_rate_limited: 3 });
    });
    it('tokens come back at icmp.rate per second: one after 200 ms, two after 400 ms, never more than icmp.rate', () => {
      const h = harness({ icmp: { errors: true, rate: 5 } }, { linktype });
      expect(h.run(Array.from({ length: 6 }, (_, i) => ttl1(i)), { now: 10_000 }).out.length).toBe(5);
      expect(h.run([ttl1(10), ttl1(11)], { now: 10_100 }).out.length).toBe(0);
      expect(h.run([ttl1(12), ttl1(13)], { now: 10_200 }).out.length).toBe(1);
      expect(h.run([ttl1(14), ttl1(15), ttl1(16)], { now: 10_600 }).out.length).toBe(2);
      // an hour later the bucket holds icmp.rate, not 18000
      const late = h.run(Array.from({ length: 9 }, (_, i) => ttl1(20 + i)), { now: 3_610_600 });
      expect(late.out.length).toBe(5);
      expect(late.d.icmp_rate_limited).toBe(4);
    });
    it('both families share one bucket', () => {
      const h = harness({ icmp: { errors: true, rate: 3 } }, { linktype });
      const hl1 = ipv6({ src: CE6, dst: HOST6, hopLimit: 1, payload: udp({ sport: 1232, dport: 53 }) });
      const r = h.run([ttl1(1), hl1, ttl1(2), hl1, ttl1(3)], { now: 5_000 });
      expect(icmpKinds(r.out)).toEqual(['icmp4 11/0', 'icmp6 3/0', 'icmp4 11/0']);
      expect(r.d.icmp_rate_limited).toBe(2);
    });
    it('icmp.rate 0: no errors at all', () => {
      const h = harness({ icmp: { errors: true, rate: 0 } }, { linktype });
      const r = h.run([ttl1(1)], { now: 5_000 });
      expect(summary(r.out)).toEqual([]);
      expect(r.d.icmp_rate_limited).toBe(1);
    });
  });
});

describe('Ethernet framing of the BR\'s errors', () => {
  it('an error goes back where the packet came from: MAC addresses swapped', () => {
    const h = harness({}, { linktype: 1 });
    const r = h.run([ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: udp({ sport: 53, dport: 1232 }) })]);
    expect(only(r).p.eth).toMatchObject({ src: MAC_B, dst: MAC_A, type: 0x0800 });
  });
  it('with the MACs of both sides configured, every frame carries them', () => {
    const dataplane = {
      'ipv4-interface': 'eth0',
      'ipv6-interface': 'eth1',
      'ipv4-mac': '02:44:00:00:00:01',
      'ipv4-next-hop-mac': '02:44:00:00:00:fe',
      'ipv6-mac': '02:66:00:00:00:01',
      'ipv6-next-hop-mac': '02:66:00:00:00:fe',
    };
    const h = harness({ dataplane }, { linktype: 1 });
    const r = h.run([
      ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232 }) }),
      ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53 }) }),
      ipv4({ src: HOST4, dst: CE4, ttl: 1, payload: udp({ sport: 53, dport: 1232 }) }),
    ]);
    expect(r.out.map((o) => [o.port, o.p.eth!.src, o.p.eth!.dst])).toEqual([
      [1, '02:66:00:00:00:01', '02:66:00:00:00:fe'],
      [0, '02:44:00:00:00:01', '02:44:00:00:00:fe'],
      [0, '02:44:00:00:00:01', '02:44:00:00:00:fe'],
    ]);
  });
});
