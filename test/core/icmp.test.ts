// Item 3: ICMP translation, RFC 7915 sections 4.2/4.3 (ICMPv4 -> ICMPv6) and 5.2/5.3
// (ICMPv6 -> ICMPv4), the ICMP readings of DESIGN.md (an ICMPv4 error toward a shared
// address goes to the CE owning the quoted packet's source port, RFC 5508 REQ-3) and
// RFC 6791 (an ICMPv6 error from a node with no IPv4 address).
import { describe, expect, it } from 'vitest';
import {
  checkChecksums,
  fragment4,
  fixIpv4HeaderChecksum,
  fragment6,
  hopByHop,
  icmp4,
  icmp4Echo,
  icmp4Error,
  icmp6,
  icmp6Echo,
  icmp6Error,
  ipv4,
  ipv6,
  parseIp,
  tcp,
  udp,
} from '../../src/packets/index.js';
import { embedIPv4 } from '../../src/map/address.js';
import { formatIPv6, parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { CE4, CE6, CE6_B, HOST4, HOST6, LINKTYPES, bytes, harness, icmpKinds, only, summary, type Out } from './helpers.js';

const ROUTER4 = '203.0.113.1';
const ROUTER6 = formatIPv6(embedIPv4(parseIPv6('2001:db8:ffff::'), 64, parseIPv4(ROUTER4)));

/** The packet the CE sent to 10.2.3.4 (as the BR forwarded it): what an ICMPv4 error from the Internet quotes. */
const sent4 = (sport = 1232, payload = bytes(20)) => ipv4({ src: CE4, dst: HOST4, ttl: 63, id: 0x55, payload: udp({ sport, dport: 53, payload }) });
/** The packet the BR sent to the CE: what an ICMPv6 error from the access network quotes. */
const sent6 = (dport = 1232, payload = bytes(20)) => ipv6({ src: HOST6, dst: CE6, hopLimit: 63, payload: udp({ sport: 53, dport, payload }) });

const err4 = (type: number, code: number, rest = 0, quote = sent4()) => ipv4({ src: ROUTER4, dst: CE4, ttl: 50, payload: icmp4Error({ type, code, rest, quote }) });
const err6 = (type: number, code: number, rest = 0, quote = sent6(), src = CE6) => ipv6({ src, dst: HOST6, hopLimit: 50, payload: icmp6Error({ type, code, rest, quote }) });

/** The quoted packet of an ICMP error, parsed, with its checksums checked as a whole packet when it is complete. */
function inner(o: Out) {
  const q = o.p.icmp!.inner!;
  expect(q, 'a quoted packet').toBeDefined();
  return q;
}

describe.each(LINKTYPES)('ICMP translation, linktype %i', (linktype) => {
  describe('echo (queries)', () => {
    it('ICMPv4 echo request/reply -> ICMPv6 128/129, identifier (in the CE\'s port set) and data kept', () => {
      const h = harness({}, { linktype });
      const r = h.run([
        ipv4({ src: HOST4, dst: CE4, ttl: 9, payload: icmp4Echo({ id: 1232, seq: 77, data: 'ping' }) }),
        ipv4({ src: HOST4, dst: CE4, payload: icmp4Echo({ id: 2259, seq: 78, reply: true, data: 'pong!' }) }),
      ]);
      expect(r.v6.map((o) => [o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.id, o.p.icmp!.seq, o.p.dst, o.p.src])).toEqual([
        [128, 0, 1232, 77, CE6, HOST6],
        [129, 0, 2259, 78, CE6, HOST6],
      ]);
      expect(r.v6[0].p.ttl).toBe(8);
      expect(new TextDecoder().decode(r.v6[1].p.payload)).toBe('pong!');
    });
    it('ICMPv6 echo request/reply -> ICMPv4 8/0, the identifier checked against the port set', () => {
      const h = harness({}, { linktype });
      const r = h.run([
        ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1233, seq: 1, data: 'abc' }) }),
        ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 64723, seq: 2, reply: true, data: 'abcd' }) }),
      ]);
      expect(r.v4.map((o) => [o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.id, o.p.icmp!.seq, o.p.src, o.p.dst])).toEqual([
        [8, 0, 1233, 1, CE4, HOST4],
        [0, 0, 64723, 2, CE4, HOST4],
      ]);
    });
    it('an echo identifier outside the CE\'s port set: from the CE dropped (port_outside_psid), toward a shared address 3/1', () => {
      const h = harness({}, { linktype });
      const a = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1236, seq: 1 }) })]);
      expect(summary(a.v4)).toEqual([]);
      expect(a.d.drop_ipv6_port_outside_psid).toBe(1);
      const b = h.run([ipv4({ src: HOST4, dst: CE4, payload: icmp4Echo({ id: 7, seq: 1 }) })]);
      expect(summary(b.v6)).toEqual([]);
      expect(b.d.drop_ipv4_port_unmapped).toBe(1);
      expect(icmpKinds(b.v4)).toEqual(['icmp4 3/1']);
    });
    it('an echo to a shared address goes to the CE whose port set holds the identifier (RFC 7599 section 9)', () => {
      const h = harness({}, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: CE4, payload: icmp4Echo({ id: 1236, seq: 1 }) })]));
      expect(o.p.dst).toBe(CE6_B);
    });
  });

  describe('ICMPv4 errors -> ICMPv6 (RFC 7915 4.2 table)', () => {
    const cases: [string, number, number, number, number, number][] = [
      // name, v4 type, v4 code, -> v6 type, v6 code, v6 rest
      ['net unreachable', 3, 0, 1, 0, 0],
      ['host unreachable', 3, 1, 1, 0, 0],
      ['protocol unreachable -> parameter problem, pointer to Next Header', 3, 2, 4, 1, 6],
      ['port unreachable', 3, 3, 1, 4, 0],
      ['source route failed', 3, 5, 1, 0, 0],
      ['3/6', 3, 6, 1, 0, 0],
      ['3/7', 3, 7, 1, 0, 0],
      ['3/8', 3, 8, 1, 0, 0],
      ['3/9', 3, 9, 1, 1, 0],
      ['3/10', 3, 10, 1, 1, 0],
      ['3/11', 3, 11, 1, 0, 0],
      ['3/12', 3, 12, 1, 0, 0],
      ['communication administratively prohibited', 3, 13, 1, 1, 0],
      ['precedence cutoff', 3, 15, 1, 1, 0],
      ['TTL exceeded in transit', 11, 0, 3, 0, 0],
      ['fragment reassembly time exceeded', 11, 1, 3, 1, 0],
    ];
    it.each(cases)('%s: %i/%i -> %i/%i (rest %i)', (_n, t4, c4, t6, c6, rest6) => {
      const h = harness({}, { linktype });
      const o = only(h.run([err4(t4, c4)]));
      expect(o.port).toBe(1);
      expect([o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.rest]).toEqual([t6, c6, rest6]);
      expect([o.p.src, o.p.dst, o.p.ttl]).toEqual([ROUTER6, CE6, 49]);
    });

    // Figure 3: IPv4 pointer -> IPv6 pointer
    const pointers: [number, number][] = [
      [0, 0],
      [1, 1],
      [2, 4],
      [3, 4],
      [8, 7],
      [9, 6],
      [12, 8],
      [15, 8],
      [16, 24],
      [19, 24],
    ];
    it.each(pointers)('parameter problem 12/0 pointer %i -> 4/0 pointer %i (and 12/2 the same)', (p4, p6) => {
      const h = harness({}, { linktype });
      const r = h.run([err4(12, 0, p4 << 24), err4(12, 2, p4 << 24)]);
      expect(r.v6.map((o) => [o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.pointer])).toEqual([
        [4, 0, p6],
        [4, 0, p6],
      ]);
    });
    it.each([4, 5, 6, 7, 10, 11, 20, 255])('parameter problem pointer %i has no IPv6 counterpart: dropped (drop_icmp_untranslatable)', (p4) => {
      const h = harness({}, { linktype });
      const r = h.run([err4(12, 0, p4 << 24)]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_icmp_untranslatable).toBe(1);
    });
    it.each([
      ['3/14 host precedence violation', 3, 14],
      ['3/16 unknown code', 3, 16],
      ['11/2 unknown code', 11, 2],
      ['12/1 missing a required option', 12, 1],
      ['12/3 unknown code', 12, 3],
      ['4 source quench', 4, 0],
      ['5 redirect', 5, 0],
      ['6 alternate host address', 6, 0],
      ['9 router advertisement', 9, 0],
      ['10 router solicitation', 10, 0],
      ['13 timestamp', 13, 0],
      ['14 timestamp reply', 14, 0],
      ['15 information request', 15, 0],
      ['16 information reply', 16, 0],
      ['17 address mask request', 17, 0],
      ['18 address mask reply', 18, 0],
      ['42 unknown type', 42, 0],
    ])('%s: silently dropped (drop_icmp_untranslatable)', (_n, type, code) => {
      const h = harness({}, { linktype });
      const pkt = type === 3 || type === 11 || type === 12 || type === 4 || type === 5 ? err4(type, code) : ipv4({ src: ROUTER4, dst: CE4, payload: icmp4({ type, code, rest: (1232 << 16) | 1, payload: bytes(12) }) });
      const r = h.run([pkt]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_icmp_untranslatable).toBe(1);
    });

    describe('Fragmentation Needed -> Packet Too Big: max(1280, min(MTU + 20, mtu.ipv6, mtu.ipv4 + 20)) (RFC 7915 4.2)', () => {
      it.each([
        // advertised MTU, mtu.ipv4, mtu.ipv6, expected
        [1400, 1500, 1500, 1420],
        [1480, 1500, 1500, 1500],
        [9000, 1500, 1500, 1500],
        [9000, 9000, 1500, 1500],
        [1450, 1400, 9000, 1420],
        [8000, 9000, 9000, 8020],
        [1000, 1500, 1500, 1280],
        [68, 1500, 1500, 1280],
      ])('MTU %i with mtu.ipv4 %i, mtu.ipv6 %i -> %i', (adv, m4, m6, want) => {
        const h = harness({ mtu: { ipv4: m4, ipv6: m6 } }, { linktype });
        const o = only(h.run([err4(3, 4, adv)]));
        expect([o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.mtu]).toEqual([2, 0, want]);
      });
      it.each([
        // MTU 0 (a pre-RFC 1191 router): the greatest plateau below the quoted Total Length, >= 1280, + 20
        [1400, 1300],
        [1492, 1300],
        [1500, 1512],
        [2002, 1512],
        [2003, 2022],
        [4353, 4372],
        [8167, 8186],
        [17915, 17934],
        [32001, 32020],
        [65535, 32020],
      ])('MTU 0, quoted Total Length %i -> the RFC 1191 plateau + 20 = %i', (total, want) => {
        const h = harness({ mtu: { ipv4: 65535, ipv6: 65535 } }, { linktype });
        // only the quoted header is needed; its Total Length is what the router saw
        const q = sent4();
        q[2] = total >> 8;
        q[3] = total & 0xff;
        fixIpv4HeaderChecksum(q);
        const o = only(h.run([ipv4({ src: ROUTER4, dst: CE4, payload: icmp4Error({ type: 3, code: 4, mtu: 0, quote: q, maxQuote: 28 }) })]));
        expect(o.p.icmp!.mtu).toBe(want);
      });
    });

    describe('the quoted packet is translated too (RFC 7915 4.3)', () => {
      it('UDP quote: inner IPv6 source = the CE, destination = RFC 6052 address, ports, TTL not decremented, checksum valid', () => {
        const h = harness({}, { linktype });
        const o = only(h.run([err4(3, 3)]));
        const q = inner(o);
        expect([q.version, q.src, q.dst, q.sport, q.dport, q.ttl, q.protocol]).toEqual([6, CE6, HOST6, 1232, 53, 63, 17]);
        // the whole datagram was quoted: it is a complete IPv6 packet with a valid UDP checksum
        const qb = o.ip.subarray(48);
        expect(checkChecksums(qb)).toMatchObject({ ok: true, l4: 'ok' });
        expect(o.ip.length).toBe(40 + 8 + 40 + 28);
      });
      it('TCP quote and ICMP echo quote: inner checksums valid over the new pseudo-header (echo 8 -> 128)', () => {
        const h = harness({}, { linktype });
        const t = ipv4({ src: CE4, dst: HOST4, payload: tcp({ sport: 2256, dport: 443, flags: 'S', payload: 'syn' }) });
        const e = ipv4({ src: CE4, dst: HOST4, payload: icmp4Echo({ id: 1234, seq: 5, data: 'echo' }) });
        const r = h.run([err4(3, 1, 0, t), err4(11, 0, 0, e)]);
        expect(r.v6.length).toBe(2);
        const [qt, qe] = r.v6.map((o) => checkChecksums(o.ip.subarray(48)));
        expect(qt).toMatchObject({ ok: true, l4: 'ok', protocol: 6 });
        expect(qe).toMatchObject({ ok: true, l4: 'ok', protocol: 58 });
        expect(inner(r.v6[1]).icmp).toMatchObject({ type: 128, id: 1234 });
      });
      it('a quote cut short keeps the declared lengths; the message never exceeds 1280 bytes (RFC 4443 2.4(c))', () => {
        const h = harness({}, { linktype });
        const big = sent4(1232, bytes(1400));
        const r = h.run([err4(3, 3, 0, big)]);
        const o = only(r);
        expect(o.ip.length).toBeLessThanOrEqual(1280);
        const q = inner(o);
        expect(q.ipLength).toBe(40 + 8 + 1400); // declared, not quoted
        expect(q.truncated).toBe(true);
      });
      it('a quoted first fragment gets a Fragment header', () => {
        const h = harness({}, { linktype });
        const [first] = fragment4(ipv4({ src: CE4, dst: HOST4, id: 0x777, payload: udp({ sport: 1232, dport: 53, payload: bytes(1000) }) }), 500);
        const o = only(h.run([err4(3, 3, 0, first)]));
        expect(inner(o).fragment).toMatchObject({ offset: 0, more: true, id: 0x777 });
      });
    });

    describe('which CE gets it', () => {
      it('toward a shared address: the CE owning the quoted packet\'s source port (RFC 5508 REQ-3, DESIGN.md)', () => {
        const h = harness({}, { linktype });
        const r = h.run([err4(3, 3, 0, sent4(1232)), err4(3, 3, 0, sent4(1236)), err4(3, 3, 0, sent4(64723))]);
        expect(r.v6.map((o) => o.p.dst)).toEqual([CE6, CE6_B, CE6]);
      });
      it('quoting an echo: the CE owning its identifier', () => {
        const h = harness({}, { linktype });
        const e = ipv4({ src: CE4, dst: HOST4, payload: icmp4Echo({ id: 1237, seq: 5 }) });
        expect(only(h.run([err4(11, 0, 0, e)])).p.dst).toBe(CE6_B);
      });
      it('a quoted port that belongs to no CE: dropped (drop_ipv4_port_unmapped), no ICMP error about an ICMP error', () => {
        const h = harness({}, { linktype });
        const r = h.run([err4(3, 3, 0, sent4(1000))]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_ipv4_port_unmapped).toBe(1);
      });
      it('quoting a non-first fragment (no port): dropped (drop_ipv4_no_port)', () => {
        const h = harness({}, { linktype });
        const frags = fragment4(ipv4({ src: CE4, dst: HOST4, id: 0x778, payload: udp({ sport: 1232, dport: 53, payload: bytes(1000) }) }), 500);
        const r = h.run([err4(3, 3, 0, frags[1])]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_ipv4_no_port).toBe(1);
      });
    });

    describe('malformed ICMPv4', () => {
      it('a bad ICMPv4 checksum: drop_icmp_bad_checksum', () => {
        const h = harness({}, { linktype });
        const r = h.run([ipv4({ src: HOST4, dst: CE4, payload: icmp4Echo({ id: 1232, badChecksum: true }) })]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_bad_checksum).toBe(1);
      });
      it('fewer than 8 bytes of ICMP: drop_icmp_truncated', () => {
        const h = harness({}, { linktype });
        const r = h.run([ipv4({ src: HOST4, dst: CE4, protocol: 1, payload: [8, 0, 0, 0, 4, 0xd0] })]);
        expect(r.d.drop_icmp_truncated).toBe(1);
      });
      it('an error quoting less than an IPv4 header, or not IPv4: drop_icmp_inner_invalid', () => {
        const h = harness({}, { linktype });
        const short = ipv4({ src: ROUTER4, dst: CE4, payload: icmp4Error({ type: 3, code: 3, quote: sent4(), maxQuote: 19 }) });
        const v6 = ipv4({ src: ROUTER4, dst: CE4, payload: icmp4Error({ type: 3, code: 3, quote: sent6() }) });
        const r = h.run([short, v6]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_inner_invalid).toBe(2);
      });
      it('a fragmented ICMPv4 message cannot be translated piecewise: drop_icmp_fragmented', () => {
        const h = harness({}, { linktype });
        const frags = fragment4(ipv4({ src: HOST4, dst: CE4, id: 5, payload: icmp4Echo({ id: 1232, data: bytes(1200) }) }), 600);
        const r = h.run([frags[0]]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_fragmented).toBe(1);
      });
    });
  });

  describe('ICMPv6 errors -> ICMPv4 (RFC 7915 5.2 table)', () => {
    const cases: [string, number, number, number, number][] = [
      ['no route', 1, 0, 3, 1],
      ['administratively prohibited', 1, 1, 3, 10],
      ['beyond scope', 1, 2, 3, 1],
      ['address unreachable', 1, 3, 3, 1],
      ['port unreachable', 1, 4, 3, 3],
      ['hop limit exceeded', 3, 0, 11, 0],
      ['reassembly time exceeded', 3, 1, 11, 1],
      ['unrecognized next header -> protocol unreachable', 4, 1, 3, 2],
    ];
    it.each(cases)('%s: %i/%i -> %i/%i', (_n, t6, c6, t4, c4) => {
      const h = harness({}, { linktype });
      const o = only(h.run([err6(t6, c6)]));
      expect(o.port).toBe(0);
      expect([o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.rest]).toEqual([t4, c4, 0]);
      expect([o.p.src, o.p.dst, o.p.ttl]).toEqual([CE4, HOST4, 49]);
    });
    // Figure 6
    const pointers: [number, number][] = [
      [0, 0],
      [1, 1],
      [4, 2],
      [5, 2],
      [6, 9],
      [7, 8],
      [8, 12],
      [23, 12],
      [24, 16],
      [39, 16],
    ];
    it.each(pointers)('parameter problem 4/0 pointer %i -> 12/0 pointer %i', (p6, p4) => {
      const h = harness({}, { linktype });
      const o = only(h.run([err6(4, 0, p6)]));
      expect([o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.pointer]).toEqual([12, 0, p4]);
    });
    it.each([2, 3, 40, 41, 1000])('parameter problem pointer %i has no IPv4 counterpart: dropped', (p6) => {
      const h = harness({}, { linktype });
      const r = h.run([err6(4, 0, p6)]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_icmp_untranslatable).toBe(1);
    });
    it.each([
      ['1/5 source address failed policy', 1, 5],
      ['1/6 reject route', 1, 6],
      ['3/2', 3, 2],
      ['4/2 unrecognized option', 4, 2],
      ['4/3', 4, 3],
      ['0 reserved error type', 0, 0],
      ['100 private experimentation', 100, 0],
      ['127 reserved', 127, 0],
    ])('error %s: silently dropped (drop_icmp_untranslatable)', (_n, type, code) => {
      const h = harness({}, { linktype });
      const r = h.run([err6(type, code)]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_icmp_untranslatable).toBe(1);
    });
    it.each([
      ['MLD query', 130],
      ['MLD report', 131],
      ['MLD done', 132],
      ['router solicitation', 133],
      ['router advertisement', 134],
      ['neighbor solicitation', 135],
      ['neighbor advertisement', 136],
      ['redirect', 137],
      ['unknown informational', 200],
    ])('informational %s (%i): silently dropped (drop_icmp_untranslatable)', (_n, type) => {
      const h = harness({}, { linktype });
      const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6({ type, code: 0, rest: (1232 << 16) | 1, payload: bytes(16) }) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_icmp_untranslatable).toBe(1);
    });
    it.each([
      // advertised MTU, mtu.ipv4, mtu.ipv6, expected: min(MTU - 20, mtu.ipv4, mtu.ipv6 - 20)
      [1400, 1500, 1500, 1380],
      [1500, 1400, 1500, 1400],
      [9000, 1500, 1500, 1480],
      [9000, 9000, 9000, 8980],
      [1280, 9000, 9000, 1260],
    ])('Packet Too Big MTU %i (mtu.ipv4 %i, mtu.ipv6 %i) -> 3/4 with MTU %i', (adv, m4, m6, want) => {
      const h = harness({ mtu: { ipv4: m4, ipv6: m6 } }, { linktype });
      const o = only(h.run([err6(2, 0, adv)]));
      expect([o.p.icmp!.type, o.p.icmp!.code, o.p.icmp!.mtu]).toEqual([3, 4, want]);
    });

    describe('the quoted packet is translated too (RFC 7915 5.3)', () => {
      it('inner IPv4: source = the host outside, destination = the CE, ports, hop limit not decremented, complete and valid', () => {
        const h = harness({}, { linktype });
        const o = only(h.run([err6(1, 4)]));
        const q = inner(o);
        expect([q.version, q.src, q.dst, q.sport, q.dport, q.ttl, q.protocol]).toEqual([4, HOST4, CE4, 53, 1232, 63, 17]);
        expect(checkChecksums(o.ip.subarray(28))).toMatchObject({ ok: true, l4: 'ok', ipv4Header: 'ok' });
        expect(o.ip.length).toBe(20 + 8 + 20 + 28);
      });
      it('TCP and ICMPv6 echo quotes: inner checksums valid (echo 128 -> 8)', () => {
        const h = harness({}, { linktype });
        const t = ipv6({ src: HOST6, dst: CE6, payload: tcp({ sport: 443, dport: 2256, flags: 'SA', payload: 'synack' }) });
        const e = ipv6({ src: HOST6, dst: CE6, payload: icmp6Echo({ id: 1234, seq: 5, data: 'echo' }) });
        const r = h.run([err6(1, 3, 0, t), err6(3, 0, 0, e)]);
        expect(r.v4.map((o) => checkChecksums(o.ip.subarray(28)))).toMatchObject([
          { ok: true, l4: 'ok', protocol: 6 },
          { ok: true, l4: 'ok', protocol: 1 },
        ]);
        expect(inner(r.v4[1]).icmp).toMatchObject({ type: 8, id: 1234 });
      });
      it('a quoted fragment: its Fragment header becomes the inner IPv4 fragment fields', () => {
        const h = harness({}, { linktype });
        const [first] = fragment6(ipv6({ src: HOST6, dst: CE6, payload: udp({ sport: 53, dport: 1232, payload: bytes(1000) }) }), 600, 0x10203);
        const o = only(h.run([err6(2, 0, 1400, first)]));
        expect(inner(o).fragment).toMatchObject({ offset: 0, more: true, id: 0x0203 });
        expect(inner(o).dport).toBe(1232);
      });
      it('the translated error fits mtu.ipv4 (an ICMPv6 error may be 1280 bytes)', () => {
        const h = harness({ mtu: { ipv4: 1000, ipv6: 1500 } }, { linktype });
        const big = sent6(1232, bytes(1280 - 48 - 48));
        const pkt = err6(1, 4, 0, big);
        expect(pkt.length).toBe(1280);
        const r = h.run([pkt]);
        expect(r.v4.length).toBe(1);
        expect(r.v4[0].ip.length).toBeLessThanOrEqual(1000);
      });
      it('the inner destination must be a valid CE address for the quoted port: else drop_icmp_inner_invalid', () => {
        const h = harness({}, { linktype });
        // a router error about a packet to CE6 port 1236: CE6 does not own 1236
        const r = h.run([err6(1, 4, 0, sent6(1236), '2001:db8:eeee::1')]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_inner_invalid).toBe(1);
      });
      it('an inner source outside the DMR, an inner non-IPv6 packet or an extension header before the upper layer: drop_icmp_inner_invalid', () => {
        const h = harness({}, { linktype });
        const notDmr = ipv6({ src: '2001:db8:eeee::5', dst: CE6, payload: udp({ sport: 53, dport: 1232 }) });
        const notV6 = ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232, payload: bytes(40) }) });
        // RFC 7915 5.3: "stop at the first embedded header and drop the packet if it contains more"
        const ext = ipv6({ src: HOST6, dst: CE6, extensions: [hopByHop()], payload: udp({ sport: 53, dport: 1232 }) });
        const r = h.run([err6(1, 4, 0, notDmr), err6(1, 4, 0, notV6), err6(1, 4, 0, ext, '2001:db8:eeee::1')]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_inner_invalid).toBe(3);
      });
    });

    describe('the ICMPv4 source', () => {
      it('an error from the CE itself comes from the CE\'s IPv4 address', () => {
        const h = harness({}, { linktype });
        expect(only(h.run([err6(1, 4)])).p.src).toBe(CE4);
      });
      it.each([
        ['a router of the access network inside the CE\'s prefix', '2001:db8:12:3400::1'],
        ['a router outside every rule', '2001:db8:eeee::1'],
      ])('from %s: the RFC 6791 source, icmp.ipv4-source (default 192.0.0.8)', (_n, router) => {
        const h = harness({}, { linktype });
        const o = only(h.run([err6(3, 0, 0, sent6(), router)]));
        expect([o.p.src, o.p.dst, o.p.icmp!.type]).toEqual(['192.0.0.8', HOST4, 11]);
        expect(inner(o)).toMatchObject({ src: HOST4, dst: CE4 });
        const h2 = harness({ icmp: { errors: true, rate: 1000, 'ipv4-source': '198.51.100.254' } }, { linktype });
        expect(only(h2.run([err6(3, 0, 0, sent6(), router)])).p.src).toBe('198.51.100.254');
      });
    });

    describe('malformed ICMPv6', () => {
      it('a bad ICMPv6 checksum: drop_icmp_bad_checksum', () => {
        const h = harness({}, { linktype });
        const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1232, badChecksum: true }) })]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_bad_checksum).toBe(1);
      });
      it('fewer than 8 bytes: drop_icmp_truncated', () => {
        const h = harness({}, { linktype });
        const r = h.run([ipv6({ src: CE6, dst: HOST6, nextHeader: 58, payload: [128, 0, 0, 0, 4, 0xd0] })]);
        expect(r.d.drop_icmp_truncated).toBe(1);
      });
      it('a fragmented ICMPv6 message: drop_icmp_fragmented', () => {
        const h = harness({}, { linktype });
        const frags = fragment6(ipv6({ src: CE6, dst: HOST6, payload: icmp6Echo({ id: 1232, data: bytes(1000) }) }), 600, 3);
        const r = h.run([frags[0]]);
        expect(summary(r.out)).toEqual([]);
        expect(r.d.drop_icmp_fragmented).toBe(1);
      });
      it('an error with fewer than 40 quoted bytes: drop_icmp_inner_invalid', () => {
        const h = harness({}, { linktype });
        const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Error({ type: 1, code: 4, quote: sent6(), maxQuote: 39 }) })]);
        expect(r.d.drop_icmp_inner_invalid).toBe(1);
      });
    });
  });

  describe('ICMP through a round trip', () => {
    it('the parsed inner packet of a translated error is the packet that was sent, translated (4 -> 6 -> 4)', () => {
      const h = harness({}, { linktype });
      // Internet -> CE
      const toCe = only(h.run([ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232, payload: 'q' }) })]));
      // the CE answers with port unreachable, quoting what it got
      const back = only(h.run([ipv6({ src: CE6, dst: HOST6, payload: icmp6Error({ type: 1, code: 4, quote: toCe.ip }) })]));
      const q = parseIp(back.ip.subarray(28), 0, { quoted: true });
      expect([q.src, q.dst, q.sport, q.dport, q.ttl]).toEqual([HOST4, CE4, 53, 1232, 63]);
    });
  });
});
