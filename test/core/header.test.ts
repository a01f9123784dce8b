// Item 2: IP header translation, RFC 7915 sections 4.1 (IPv4 -> IPv6) and 5.1
// (IPv6 -> IPv4), with the readings of DESIGN.md ("mtu.ipv6 is lowest-ipv6-mtu";
// "IPv4 UDP with a zero checksum: compute the IPv6 checksum").
import { describe, expect, it } from 'vitest';
import {
  destinationOptions,
  fragment4,
  fragment6,
  fragmentHeader,
  hopByHop,
  icmp4Echo,
  icmp6Echo,
  icmp6Error,
  ipv4,
  ipv6,
  reassemble,
  routerAlertOption,
  routing,
  tcp,
  udp,
} from '../../src/packets/index.js';
import { BR6, CE4, CE6, HOST4, HOST6, LINKTYPES, bytes, harness, icmpKinds, only, summary } from './helpers.js';

describe.each(LINKTYPES)('header translation, linktype %i', (linktype) => {
  describe('TTL / Hop Limit, Traffic Class / TOS, flow label', () => {
    it('IPv4 -> IPv6: hop limit = TTL - 1, traffic class = TOS, flow label 0', () => {
      const h = harness({}, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: CE4, ttl: 200, tos: 0xb9, payload: udp({ sport: 1, dport: 1232, payload: 'a' }) })]));
      expect(o.p.ttl).toBe(199);
      expect(o.p.tos).toBe(0xb9);
      expect(o.p.flowLabel).toBe(0);
    });
    it('IPv6 -> IPv4: TTL = hop limit - 1, TOS = traffic class (the flow label is dropped)', () => {
      const h = harness({}, { linktype });
      const o = only(h.run([ipv6({ src: CE6, dst: HOST6, hopLimit: 2, trafficClass: 0x2e, flowLabel: 0xabcde, payload: udp({ sport: 1232, dport: 1, payload: 'a' }) })]));
      expect(o.p.ttl).toBe(1);
      expect(o.p.tos).toBe(0x2e);
    });
    it('TTL 2 is forwarded with 1 (the decrement happens once, not twice)', () => {
      const h = harness({}, { linktype });
      expect(only(h.run([ipv4({ src: HOST4, dst: CE4, ttl: 2, payload: udp({ sport: 1, dport: 1232 }) })])).p.ttl).toBe(1);
    });
  });

  describe('IPv6 -> IPv4: DF is set iff the IPv4 packet is over 1260 bytes and the IPv6 packet was not a fragment (RFC 7915 5.1, 5.1.1)', () => {
    const at = (ipv4Total: number, extensions = [] as ReturnType<typeof fragmentHeader>[]) =>
      ipv6({ src: CE6, dst: HOST6, extensions, payload: udp({ sport: 1232, dport: 9, payload: bytes(ipv4Total - 28) }) });
    it.each([
      [1000, false],
      [1260, false],
      [1261, true],
      [1480, true],
    ])('IPv4 total length %i -> DF %s', (total, df) => {
      const h = harness({}, { linktype });
      const o = only(h.run([at(total)]));
      expect(o.ip.length).toBe(total);
      expect(o.p.ipv4!.df).toBe(df);
      expect(o.p.ipv4!.mf).toBe(false);
    });
    it('an atomic fragment (Fragment header, offset 0, M 0) of 1400 bytes: DF 0, Identification = the low 16 bits of the Fragment header\'s', () => {
      const h = harness({}, { linktype });
      const pkt = ipv6({ src: CE6, dst: HOST6, extensions: [fragmentHeader({ id: 0x12345678 })], payload: udp({ sport: 1232, dport: 9, payload: bytes(1372) }) });
      const o = only(h.run([pkt]));
      expect(o.ip.length).toBe(1400);
      expect(o.p.ipv4).toMatchObject({ df: false, mf: false, id: 0x5678 });
      expect(o.p.fragment).toBeUndefined();
    });
  });

  describe('IPv4 options are not translated', () => {
    it('NOP, Record Route and Timestamp options disappear; the packet is translated', () => {
      const h = harness({}, { linktype });
      const rr = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];
      const ts = [68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0];
      const pkt = ipv4({ src: HOST4, dst: CE4, options: [1, ...rr, ...ts], payload: udp({ sport: 53, dport: 1232, payload: 'opts' }) });
      expect(pkt[0] & 0xf).toBeGreaterThan(5);
      const o = only(h.run([pkt]));
      expect(o.p.protocol).toBe(17);
      expect(o.p.ipHeaderLength).toBe(40);
      expect(new TextDecoder().decode(o.p.payload)).toBe('opts');
    });
    it.each([
      ['LSRR', 131],
      ['SSRR', 137],
    ])('an unexpired %s source route: dropped (drop_ipv4_source_route), ICMPv4 3/5 back', (_name, type) => {
      const h = harness({}, { linktype });
      // pointer 4 <= length 11: two hops left
      const pkt = ipv4({ src: HOST4, dst: CE4, options: [1, type, 11, 4, 10, 0, 0, 1, 10, 0, 0, 2], payload: udp({ sport: 53, dport: 1232 }) });
      const r = h.run([pkt]);
      expect(summary(r.v6)).toEqual([]);
      expect(r.d.drop_ipv4_source_route).toBe(1);
      expect(icmpKinds(r.v4)).toEqual(['icmp4 3/5']);
      expect(r.v4[0].p.dst).toBe(HOST4);
      expect(r.v4[0].p.src).toBe('192.0.0.8');
    });
    it('an expired source route (pointer > length) is an ordinary option: translated', () => {
      const h = harness({}, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, options: [131, 11, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0], payload: udp({ sport: 53, dport: 1232 }) });
      const r = h.run([pkt]);
      expect(r.d.xlat_4to6).toBe(1);
      expect(summary(r.v4)).toEqual([]);
    });
  });

  describe('IPv6 extension headers (RFC 7915 5.1)', () => {
    it('Hop-by-Hop, Destination Options and a Routing header with Segments Left 0 are skipped', () => {
      const h = harness({}, { linktype });
      const pkt = ipv6({
        src: CE6,
        dst: HOST6,
        extensions: [hopByHop({ options: [routerAlertOption(0)] }), destinationOptions({ options: [{ type: 0x1e, data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }] }), routing({ segmentsLeft: 0, addresses: ['2001:db8::1'] }), destinationOptions()],
        payload: tcp({ sport: 1232, dport: 80, flags: 'S', payload: 'ext' }),
      });
      const o = only(h.run([pkt]));
      expect(o.p.version).toBe(4);
      expect(o.p.protocol).toBe(6);
      expect(o.p.ipHeaderLength).toBe(20);
      expect(o.ip.length).toBe(20 + 20 + 3);
      expect([o.p.sport, o.p.dport]).toEqual([1232, 80]);
    });
    it('a Routing header with Segments Left > 0: dropped (drop_ipv6_ext_header), ICMPv6 4/0 pointing at Segments Left', () => {
      const h = harness({}, { linktype });
      const pkt = ipv6({
        src: CE6,
        dst: HOST6,
        extensions: [hopByHop({ options: [routerAlertOption(0)] }), routing({ segmentsLeft: 1, addresses: [HOST6] })],
        payload: udp({ sport: 1232, dport: 53, payload: 'rh' }),
      });
      const r = h.run([pkt]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d.drop_ipv6_ext_header).toBe(1);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 4/0']);
      const e = r.v6[0].p;
      // 40 (IPv6) + 8 (Hop-by-Hop) + 3 (Segments Left's offset in the Routing header)
      expect(e.icmp!.pointer).toBe(51);
      expect([e.src, e.dst]).toEqual([BR6, CE6]);
      expect(e.icmp!.inner?.src).toBe(CE6);
    });
  });

  describe('no ICMPv6 error about an ICMPv6 error or a non-first fragment, for the Routing header either', () => {
    it('a Routing header with Segments Left > 0 in front of an ICMPv6 error: dropped, not answered (RFC 4443 2.4(e.1))', () => {
      const h = harness({}, { linktype });
      const quote = ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232 }) });
      const rh = () => routing({ segmentsLeft: 1, addresses: [HOST6] });
      const r = h.run([
        ipv6({ src: CE6, dst: HOST6, extensions: [rh()], payload: icmp6Error({ type: 1, code: 4, quote }) }),
        ipv6({ src: CE6, dst: HOST6, extensions: [rh()], payload: icmp6Echo({ id: 1232 }) }),
      ]);
      expect(r.d.drop_ipv6_ext_header).toBe(2);
      expect(icmpKinds(r.out)).toEqual(['icmp6 4/0']); // only about the echo
    });
    it('the fragments of a datagram with such a Routing header: one error, about the first', () => {
      const h = harness({}, { linktype });
      const f = fragment6(ipv6({ src: CE6, dst: HOST6, extensions: [routing({ segmentsLeft: 1, addresses: [HOST6] })], payload: udp({ sport: 1232, dport: 53, payload: bytes(1000) }) }), 500, 9);
      const r = h.run([f[1], f[0], f[2]]);
      expect(r.d.drop_ipv6_ext_header).toBe(3);
      expect(icmpKinds(r.out)).toEqual(['icmp6 4/0']);
      expect(r.out[0].p.icmp!.inner!.fragment!.offset).toBe(0);
    });
  });

  describe('fragments both ways (RFC 7915 4.1, 5.1.1)', () => {
    it('IPv4 fragments -> IPv6 fragments: Fragment header with Identification, offset and M copied', () => {
      const h = harness({}, { linktype });
      const whole = ipv4({ src: HOST4, dst: CE4, id: 0xbeef, payload: udp({ sport: 53, dport: 1232, payload: bytes(2000) }) });
      const frags = fragment4(whole, 600);
      expect(frags.length).toBe(4);
      const r = h.run(frags);
      expect(r.v6.length).toBe(4);
      expect(r.d.xlat_4to6).toBe(4);
      r.v6.forEach((o, i) => {
        const f = fragment4(whole, 600)[i];
        const off = (((f[6] & 0x1f) << 8) | f[7]) * 8;
        expect(o.p.fragment).toEqual({ id: 0xbeef, offset: off, more: i < 3, nextHeader: 17 });
        expect(o.p.dst).toBe(CE6);
        expect(o.ip.length).toBe(f.length + 20 + 8);
      });
      // reassembled: the UDP datagram, its checksum valid over the IPv6 pseudo-header
      const whole6 = reassemble(r.v6.map((o) => o.ip));
      expect(whole6.length).toBe(40 + 8 + 2000);
      expect(h.incompleteFragments()).toBe(0);
    });
    it('IPv6 fragments -> IPv4 fragments: Identification = low 16 bits, offset and MF copied, DF 0', () => {
      const h = harness({}, { linktype });
      const whole = ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(2000) }) });
      const frags = fragment6(whole, 700, 0xa1b2c3d4);
      const r = h.run(frags);
      expect(r.v4.length).toBe(frags.length);
      r.v4.forEach((o, i) => {
        expect(o.p.ipv4).toMatchObject({ id: 0xc3d4, df: false, mf: i < frags.length - 1 });
        expect(o.p.src).toBe(CE4);
      });
      expect(r.v4.map((o) => o.p.fragment!.offset)).toEqual(frags.map((f) => ((f[42] << 8) | f[43]) & 0xfff8));
      expect(h.incompleteFragments()).toBe(0);
    });
  });

  describe('sizes: mtu.ipv6 is lowest-ipv6-mtu (IPv4 -> IPv6)', () => {
    const mtu = { ipv4: 1500, ipv6: 1280 };
    it('DF = 0 and bigger than mtu.ipv6 after translation: IPv6 fragments, none over mtu.ipv6', () => {
      const h = harness({ mtu }, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, id: 0x4242, payload: udp({ sport: 53, dport: 1232, payload: bytes(1472) }) });
      const r = h.run([pkt]);
      expect(r.v6.length).toBe(2);
      for (const o of r.v6) expect(o.ip.length).toBeLessThanOrEqual(1280);
      expect(r.v6.map((o) => o.p.fragment)).toEqual([
        { offset: 0, more: true, id: 0x4242, nextHeader: 17 },
        { offset: 1232, more: false, id: 0x4242, nextHeader: 17 },
      ]);
      expect(r.d).toMatchObject({ xlat_4to6: 1, frag_out6: 2 });
      expect(reassemble(r.v6.map((o) => o.ip)).length).toBe(40 + 1480);
    });
    it('exactly mtu.ipv6 after translation: not fragmented; one byte more: fragmented', () => {
      const h = harness({ mtu }, { linktype });
      const fits = only(h.run([ipv4({ src: HOST4, dst: CE4, df: true, payload: udp({ sport: 53, dport: 1232, payload: bytes(1260 - 28) }) })]));
      expect(fits.ip.length).toBe(1280);
      expect(fits.p.fragment).toBeUndefined();
      const r = h.run([ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232, payload: bytes(1261 - 28) }) })]);
      expect(r.v6.length).toBe(2);
    });
    it('an IPv4 fragment too big after translation is split again; offsets continue, M stays on the last piece', () => {
      const h = harness({ mtu }, { linktype });
      const whole = ipv4({ src: HOST4, dst: CE4, id: 9, payload: udp({ sport: 53, dport: 1232, payload: bytes(3000) }) });
      const frags = fragment4(whole, 1500); // 1480 + 1480 + 48 data bytes
      const r = h.run(frags);
      for (const o of r.v6) expect(o.ip.length).toBeLessThanOrEqual(1280);
      expect(r.v6.map((o) => [o.p.fragment!.offset, o.p.fragment!.more])).toEqual([
        [0, true],
        [1232, true],
        [1480, true],
        [2712, true],
        [2960, false],
      ]);
      expect(reassemble(r.v6.map((o) => o.ip)).length).toBe(40 + 3008);
    });
    it('DF = 1 and too big: dropped (drop_ipv4_too_big), ICMPv4 3/4 with MTU = mtu.ipv6 - 20', () => {
      const h = harness({ mtu }, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, df: true, payload: tcp({ sport: 80, dport: 1232, flags: 'A', payload: bytes(1400) }) });
      const r = h.run([pkt]);
      expect(summary(r.v6)).toEqual([]);
      expect(r.d.drop_ipv4_too_big).toBe(1);
      expect(icmpKinds(r.v4)).toEqual(['icmp4 3/4']);
      const e = r.v4[0].p;
      expect(e.icmp!.mtu).toBe(1260);
      expect([e.src, e.dst]).toEqual(['192.0.0.8', HOST4]);
      expect(e.icmp!.inner).toMatchObject({ src: HOST4, dst: CE4, dport: 1232 });
    });
    it('an ICMPv4 echo request bigger than mtu.ipv6 after translation is fragmented like any packet (DF = 0)', () => {
      const h = harness({ mtu }, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: CE4, payload: icmp4Echo({ id: 1232, seq: 1, data: bytes(1400) }) })]);
      for (const o of r.v6) expect(o.ip.length, 'no IPv6 packet over mtu.ipv6').toBeLessThanOrEqual(1280);
      expect(r.v6.length).toBe(2);
      const whole = reassemble(r.v6.map((o) => o.ip));
      expect(whole.length).toBe(40 + 8 + 1400);
    });
    it('an ICMPv4 echo request with DF = 1 bigger than mtu.ipv6 after translation: ICMPv4 3/4', () => {
      const h = harness({ mtu }, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: CE4, df: true, payload: icmp4Echo({ id: 1232, seq: 1, data: bytes(1400) }) })]);
      expect(summary(r.v6)).toEqual([]);
      expect(icmpKinds(r.v4)).toEqual(['icmp4 3/4']);
      expect(r.v4[0].p.icmp!.mtu).toBe(1260);
      expect(r.d.drop_ipv4_too_big).toBe(1);
    });
  });

  describe('sizes: IPv6 -> IPv4 with mtu.ipv4', () => {
    it('an IPv6 packet of at most 1280 bytes that does not fit mtu.ipv4 is fragmented as IPv4 (RFC 7915 5.1.1, DESIGN.md)', () => {
      const h = harness({ mtu: { ipv4: 576, ipv6: 1500 } }, { linktype });
      const pkt = ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(1280 - 48) }) });
      const r = h.run([pkt]);
      expect(r.v4.length).toBe(3);
      for (const o of r.v4) {
        expect(o.ip.length).toBeLessThanOrEqual(576);
        expect(o.p.ipv4!.df).toBe(false);
      }
      expect(r.d).toMatchObject({ xlat_6to4: 1, frag_out4: 3 });
      expect(reassemble(r.v4.map((o) => o.ip)).length).toBe(1260);
    });
    it('bigger than 1280 (DF set) and over mtu.ipv4: dropped (drop_ipv6_too_big), ICMPv6 Packet Too Big with mtu.ipv4 + 20', () => {
      const h = harness({ mtu: { ipv4: 1400, ipv6: 1500 } }, { linktype });
      const pkt = ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(1452) }) });
      const r = h.run([pkt]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d.drop_ipv6_too_big).toBe(1);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 2/0']);
      expect(r.v6[0].p.icmp!.mtu).toBe(1420);
      expect([r.v6[0].p.src, r.v6[0].p.dst]).toEqual([BR6, CE6]);
    });
    it('Packet Too Big never announces less than 1280 (mtu.ipv4 1000: the CE then sends 1280, which is fragmented)', () => {
      const h = harness({ mtu: { ipv4: 1000, ipv6: 1500 } }, { linktype });
      const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(1300 - 48) }) })]);
      expect(r.v6[0].p.icmp!.mtu).toBe(1280);
      const r2 = h.run([ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(1280 - 48) }) })]);
      expect(r2.v4.length).toBe(2);
    });
    it('an IPv6 fragment that does not fit mtu.ipv4 is split again (DF 0), offsets continue', () => {
      const h = harness({ mtu: { ipv4: 800, ipv6: 1500 } }, { linktype });
      const whole = ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53, payload: bytes(2000) }) });
      const r = h.run(fragment6(whole, 1280, 77));
      for (const o of r.v4) expect(o.ip.length).toBeLessThanOrEqual(800);
      expect(reassemble(r.v4.map((o) => o.ip)).length).toBe(20 + 2008);
    });
    it('an ICMPv6 echo request that does not fit mtu.ipv4 is fragmented like any packet (at most 1280 bytes)', () => {
      const h = harness({ mtu: { ipv4: 1000, ipv6: 1500 } }, { linktype });
      const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1232, seq: 1, data: bytes(1100) }) })]);
      for (const o of r.v4) expect(o.ip.length, 'no IPv4 packet over mtu.ipv4').toBeLessThanOrEqual(1000);
      expect(reassemble(r.v4.map((o) => o.ip)).length).toBe(20 + 8 + 1100);
    });
    it('an ICMPv6 echo request over 1280 bytes that does not fit mtu.ipv4: ICMPv6 Packet Too Big', () => {
      const h = harness({ mtu: { ipv4: 1400, ipv6: 1500 } }, { linktype });
      const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1232, seq: 1, data: bytes(1440) }) })]);
      expect(summary(r.v4)).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 2/0']);
      expect(r.v6[0].p.icmp!.mtu).toBe(1420);
      expect(r.d.drop_ipv6_too_big).toBe(1);
    });
  });

  describe('UDP checksums', () => {
    it('IPv4 UDP with a zero checksum: the IPv6 checksum is computed (RFC 7915 4.5, DESIGN.md)', () => {
      const h = harness({}, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232, noChecksum: true, payload: bytes(33) }) });
      expect(pkt[26] | pkt[27]).toBe(0);
      const o = only(h.run([pkt]));
      expect(o.p.udp!.checksum).not.toBe(0);
      // the harness verified it over the IPv6 pseudo-header
      expect(o.p.payload).toEqual(bytes(33));
    });
    it('a zero UDP checksum in a first fragment cannot be computed: dropped (drop_udp_zero_checksum_fragment)', () => {
      const h = harness({}, { linktype });
      const whole = ipv4({ src: HOST4, dst: CE4, id: 3, payload: udp({ sport: 53, dport: 1232, noChecksum: true, payload: bytes(1000) }) });
      const [first] = fragment4(whole, 500);
      const r = h.run([first]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_udp_zero_checksum_fragment).toBe(1);
    });
    it('checksums are updated incrementally, not verified: a wrong TCP checksum stays exactly as wrong (end-to-end)', () => {
      const h = harness({}, { linktype });
      const good = ipv4({ src: HOST4, dst: CE4, payload: tcp({ sport: 80, dport: 1232, payload: 'x' }) });
      const bad = ipv4({ src: HOST4, dst: CE4, payload: tcp({ sport: 80, dport: 1232, payload: 'x', badChecksum: true }) });
      const a = only(h.run([good]));
      const b = only(h.run([bad], { checksums: false }));
      const cs = (o: typeof a) => o.p.tcp!.checksum;
      // corruptChecksumValue adds one (in one's complement); RFC 1624's update carries that
      // difference over unchanged
      expect((cs(b) - cs(a) + 0xffff) % 0xffff).toBe(1);
    });
  });
});
