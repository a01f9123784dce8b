// Item 1: published vectors through the wasm core, raw IP (linktype 101) and
// Ethernet (linktype 1): RFC 7599 Appendix A, RFC 6052 section 2.4 Table 1 for every
// DMR length, a dIVI-pd rule (draft Figure 4/5), a modulus rule (draft section 4.1),
// an EA-len-0 binding that wins over a covering rule (RFC 7599 12.1), and a rule
// whose CE gets an IPv4 prefix (RFC 7599 erratum 5225).
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, icmp4Echo, icmp6Echo, ipv4, ipv6, tcp, udp } from '../../src/packets/index.js';
import { mapCeAddress } from '../../src/map/address.js';
import { mapRuleFromConfig } from '../../src/config/rules.js';
import { formatIPv6, parseIPv4 } from '../../src/map/ip.js';
import { CE4, CE6, HOST4, HOST6, LINKTYPES, bytes, config, Harness, harness, icmpKinds, only, summary } from './helpers.js';

describe.each(LINKTYPES)('RFC vectors through the core, linktype %i', (linktype) => {
  describe('RFC 7599 Appendix A', () => {
    it('example 2: 10.2.3.4:80 -> 192.0.2.18:1232 becomes 2001:db8:ffff:0:a:203:400:0 -> 2001:db8:12:3400:0:c000:212:34', () => {
      const h = harness({}, { linktype });
      const pkt = ipv4({ src: HOST4, dst: CE4, ttl: 60, id: 7, payload: tcp({ sport: 80, dport: 1232, seq: 1, flags: 'SA', payload: 'hello' }) });
      const r = h.run([pkt]);
      const o = only(r);
      expect(o.port).toBe(1);
      expect(o.p.version).toBe(6);
      // the RFC's text forms, as printed in Appendix A
      expect(o.p.src).toBe(canonicalIpv6('2001:db8:ffff:0:000a:0203:0400::'));
      expect(o.p.dst).toBe(canonicalIpv6('2001:db8:0012:3400:0000:c000:0212:0034'));
      expect([o.p.sport, o.p.dport]).toEqual([80, 1232]);
      expect(o.p.ttl).toBe(59);
      expect(o.p.protocol).toBe(6);
      expect(new TextDecoder().decode(o.p.payload)).toBe('hello');
      expect(o.p.fragment).toBeUndefined();
      expect(r.d.xlat_4to6).toBe(1);
    });

    it('example 2 reversed (example 3 seen at the BR): the CE 1232 -> 10.2.3.4:80 becomes 192.0.2.18:1232 -> 10.2.3.4:80', () => {
      const h = harness({}, { linktype });
      const pkt = ipv6({ src: CE6, dst: HOST6, hopLimit: 60, payload: tcp({ sport: 1232, dport: 80, seq: 9, flags: 'S', payload: 'hi there' }) });
      const r = h.run([pkt]);
      const o = only(r);
      expect(o.port).toBe(0);
      expect([o.p.src, o.p.dst]).toEqual([CE4, HOST4]);
      expect([o.p.sport, o.p.dport]).toEqual([1232, 80]);
      expect(o.p.ttl).toBe(59);
      expect(new TextDecoder().decode(o.p.payload)).toBe('hi there');
      expect(r.d.xlat_6to4).toBe(1);
    });

    it('a round trip through the core restores the IPv4 packet (ports, addresses, payload, UDP)', () => {
      const h = harness({}, { linktype });
      const out6 = only(h.run([ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 2256, payload: bytes(100) }) })]));
      // the CE answers: swap addresses and ports
      const reply = ipv6({ src: out6.p.dst, dst: out6.p.src, payload: udp({ sport: 2256, dport: 53, payload: bytes(100) }) });
      const back = only(h.run([reply]));
      expect([back.p.src, back.p.dst, back.p.sport, back.p.dport]).toEqual([CE4, HOST4, 2256, 53]);
      expect(back.p.payload).toEqual(bytes(100));
    });
  });

  describe('RFC 6052 section 2.4 Table 1, for every DMR length, both directions', () => {
    // The rule's IPv4 prefix must not cover 192.0.2.33 (else IPv6 -> IPv4 would hairpin).
    const rule = { 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 16, 'psid-offset': 6 };
    const ce6 = '2001:db8:12:3400:0:c633:6412:34'; // 198.51.100.18 PSID 0x34
    const table: [string, string][] = [
      ['2001:db8::/32', '2001:db8:c000:221::'],
      ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
      ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
      ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
      ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100::'],
      ['2001:db8:122:344::/96', '2001:db8:122:344::192.0.2.33'],
    ];
    it.each(table)('DMR %s: 192.0.2.33 <-> %s', (dmr, embedded) => {
      const h = harness({ dmr, rules: [rule] }, { linktype });
      const o = only(h.run([ipv4({ src: '192.0.2.33', dst: '198.51.100.18', payload: udp({ sport: 7, dport: 1232, payload: 'x' }) })]));
      expect(o.p.src).toBe(canonicalIpv6(embedded));
      expect(o.p.dst).toBe(ce6);
      const back = only(h.run([ipv6({ src: ce6, dst: embedded, payload: udp({ sport: 1232, dport: 7, payload: 'y' }) })]));
      expect([back.p.src, back.p.dst]).toEqual(['198.51.100.18', '192.0.2.33']);
    });
    it('a destination outside the DMR is not the BR\'s (drop_ipv6_not_ours)', () => {
      const h = harness({ dmr: '2001:db8:122:344::/64', rules: [rule] }, { linktype });
      const r = h.run([ipv6({ src: ce6, dst: '2001:db8:122:345:c0:2:2100::', payload: udp({ sport: 1232, dport: 7 }) })]);
      expect(summary(r.out)).toEqual([]);
      expect(r.d.drop_ipv6_not_ours).toBe(1);
    });
  });

  describe('dIVI-pd interface identifier (draft-xli-softwire-divi-pd Figures 4 and 5)', () => {
    const rules = [
      { 'ipv6-prefix': '2001:db8:100::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 16, 'psid-offset': 6, 'interface-id': 'divi-pd' },
    ];
    // 198.51.100.5 PSID 0x12 (k = 8): end-user prefix 2001:db8:105:1200::/56; interface id
    // u=00 | c6.33.64.05 | PSID 0x12 left-aligned | 0x00 | L = 32 + 8 = 0x28.
    const ce6 = '2001:db8:105:1200:c6:3364:512:28';
    const port = 1024 + 0x12 * 4; // A = 1, PSID 0x12, j = 0

    it('the hand-computed address agrees with the TS oracle (mapCeAddress)', () => {
      const r = mapRuleFromConfig(config({ rules }).rules[0], 'map-t');
      expect(formatIPv6(mapCeAddress(r, parseIPv4('198.51.100.5'), 0x12))).toBe(ce6);
    });
    it('IPv4 -> IPv6 to the dIVI-pd CE address, and back', () => {
      const h = harness({ rules }, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: '198.51.100.5', payload: udp({ sport: 53, dport: port, payload: 'a' }) })]));
      expect(o.p.dst).toBe(ce6);
      expect(o.p.src).toBe(HOST6);
      const back = only(h.run([ipv6({ src: ce6, dst: HOST6, payload: udp({ sport: port, dport: 53, payload: 'b' }) })]));
      expect([back.p.src, back.p.sport, back.p.dst]).toEqual(['198.51.100.5', port, HOST4]);
    });
    it('a dIVI-pd address with the wrong length octet L is spoofed', () => {
      const h = harness({ rules }, { linktype });
      const r = h.run([ipv6({ src: '2001:db8:105:1200:c6:3364:512:20', dst: HOST6, payload: udp({ sport: port, dport: 53 }) })]);
      expect(r.v4).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 1/5']); // RFC 7599 8.3
      expect(r.d.drop_ipv6_src_spoofed).toBe(1);
    });
  });

  describe('generalized modulus port mapping (dIVI-pd section 4.1: P = R*M*j + M*K + i)', () => {
    // R = 3, M = 7: not powers of two, so no bit layout can stand in. k = ceil(log2 3) = 2.
    // j runs from ceil(1024/21) = 49: the first port of K is 21*49 + 7K = 1029 + 7K.
    const rules = [{ 'ipv6-prefix': '2001:db8:200::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 10, 'sharing-ratio': 3, 'contiguous-ports': 7 }];
    // 198.51.100.9 PSID 1: EA = 0x09 << 2 | 1 -> 2001:db8:209:4000::/50, IID 0:c633:6409:1
    const ce6 = '2001:db8:209:4000:0:c633:6409:1';

    it('the hand-computed address agrees with the TS oracle', () => {
      const r = mapRuleFromConfig(config({ rules }).rules[0], 'map-t');
      expect(formatIPv6(mapCeAddress(r, parseIPv4('198.51.100.9'), 1))).toBe(ce6);
    });
    it.each([
      [1036, 1],
      [1042, 1],
      [1036 + 21 * 10, 1],
      [65506, 1], // j = 3119, the last whole range
    ])('port %i goes to PSID 1 and back', (port) => {
      const h = harness({ rules }, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: '198.51.100.9', payload: udp({ sport: 53, dport: port, payload: 'm' }) })]));
      expect(o.p.dst).toBe(ce6);
      const back = only(h.run([ipv6({ src: ce6, dst: HOST6, payload: udp({ sport: port, dport: 53, payload: 'n' }) })]));
      expect([back.p.src, back.p.sport]).toEqual(['198.51.100.9', port]);
    });
    it('ports of other PSIDs go to other CEs, and the CE may not use them', () => {
      const h = harness({ rules }, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: '198.51.100.9', payload: udp({ sport: 53, dport: 1029, payload: 'k0' }) })]));
      expect(o.p.dst).toBe('2001:db8:209::c633:6409:0'); // K = 0
      const r = h.run([ipv6({ src: ce6, dst: HOST6, payload: udp({ sport: 1029, dport: 53 }) })]);
      expect(r.v4).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 1/5']);
      expect(r.d.drop_ipv6_port_outside_psid).toBe(1);
    });
    it('ports below j = 49 (1024-1028) and above the last whole range belong to no CE', () => {
      const h = harness({ rules }, { linktype });
      // 65536/21 = 3120.76: j <= 3119, the last range ends at 21*3120 - 1 = 65519
      for (const port of [1025, 1028, 65520, 65535]) {
        const r = h.run([ipv4({ src: HOST4, dst: '198.51.100.9', payload: udp({ sport: 53, dport: port }) })]);
        expect(summary(r.v6), `port ${port}`).toEqual([]);
        expect(icmpKinds(r.v4), `port ${port}`).toEqual(['icmp4 3/1']);
        expect(r.d.drop_ipv4_port_unmapped, `port ${port}`).toBe(1);
      }
    });
    it('PSID 3 (K >= R) has no ports: its CE can send nothing', () => {
      const h = harness({ rules }, { linktype });
      const ce3 = '2001:db8:209:c000:0:c633:6409:3';
      const r = h.run([1029, 1036, 1043, 1050].map((port) => ipv6({ src: ce3, dst: HOST6, payload: udp({ sport: port, dport: 53 }) })));
      expect(r.v4).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(Array(4).fill('icmp6 1/5'));
      expect(r.d.drop_ipv6_port_outside_psid).toBe(4);
    });
  });

  describe('EA-len 0 binding (RFC 7599 section 12.1): the binding wins over a covering rule', () => {
    // 192.0.2.200 lies in the rule's 192.0.2.0/24, but is provisioned by a binding:
    // psid-len 6, PSID 12, offset 6 -> ports A*1024 + 12*16 + j (1216-1231, 2240-2255, ...)
    const bindings = [{ ipv4: '192.0.2.200', 'psid-len': 6, psid: 12, 'psid-offset': 6, ipv6: '2001:db8:100:77::/64' }];
    const bce6 = '2001:db8:100:77:0:c000:2c8:c';
    // what the rule alone would give 192.0.2.200 port 1216: PSID (1216 >> 2) & 0xff = 0x30
    const ruleCe6 = '2001:db8:c8:3000:0:c000:2c8:30';

    it('IPv4 -> IPv6 goes to the binding\'s prefix + RFC 7597 interface id, not the rule\'s CE', () => {
      const h = harness({ bindings }, { linktype });
      const o = only(h.run([ipv4({ src: HOST4, dst: '192.0.2.200', payload: udp({ sport: 53, dport: 1216, payload: 'b' }) })]));
      expect(o.p.dst).toBe(bce6);
      expect(o.p.dst).not.toBe(ruleCe6);
      // without the binding the rule maps the same packet to ruleCe6
      const h2 = harness({}, { linktype });
      expect(only(h2.run([ipv4({ src: HOST4, dst: '192.0.2.200', payload: udp({ sport: 53, dport: 1216, payload: 'b' }) })])).p.dst).toBe(ruleCe6);
    });
    it('the binding\'s CE is accepted as a source with its ports, and only those', () => {
      const h = harness({ bindings }, { linktype });
      const back = only(h.run([ipv6({ src: bce6, dst: HOST6, payload: udp({ sport: 2255, dport: 53, payload: 'c' }) })]));
      expect([back.p.src, back.p.sport]).toEqual(['192.0.2.200', 2255]);
      const r = h.run([ipv6({ src: bce6, dst: HOST6, payload: udp({ sport: 1232, dport: 53 }) })]);
      expect(r.v4).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 1/5']);
      expect(r.d.drop_ipv6_port_outside_psid).toBe(1);
    });
    it('a port of the bound address with no binding has no CE: ICMPv4 3/1 (the BR owns the address)', () => {
      const h = harness({ bindings }, { linktype });
      const r = h.run([ipv4({ src: HOST4, dst: '192.0.2.200', payload: udp({ sport: 53, dport: 1232 }) })]);
      expect(r.v6).toEqual([]);
      expect(r.d.drop_ipv4_no_binding).toBe(1);
      expect(r.v4.map((o) => [o.p.icmp?.type, o.p.icmp?.code, o.p.dst])).toEqual([[3, 1, HOST4]]);
    });
    it('the rule\'s CE for the bound address may not send as it either (the binding wins both ways)', () => {
      // Replies to ruleCe6 go to the binding (previous tests), so accepting it as a source
      // would let it use 192.0.2.200 ports 1216-1219 (the binding's PSID 12) as its own.
      const h = harness({ bindings }, { linktype });
      const r = h.run([ipv6({ src: ruleCe6, dst: HOST6, payload: udp({ sport: 1216, dport: 53, payload: 'spoof' }) })]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d.drop_ipv6_src_spoofed).toBe(1);
    });
  });

  describe('a rule whose CE gets an IPv4 prefix (o + r < 32): the complete IPv4 address in the interface id (RFC 7599 erratum 5225)', () => {
    // 2001:db8:300::/40 <-> 203.0.113.0/24, ea-len 4: each CE gets a /28, no port sharing.
    // 203.0.113.37: EA = 37 >> 4 = 2 -> end-user prefix 2001:db8:320::/44;
    // interface id 0:cb00:7125:0 (all of 203.0.113.37, PSID 0).
    const rules = [{ 'ipv6-prefix': '2001:db8:300::/40', 'ipv4-prefix': '203.0.113.0/24', 'ea-len': 4 }];
    const ce6 = '2001:db8:320::cb00:7125:0';

    it('the hand-computed address agrees with the TS oracle', () => {
      const r = mapRuleFromConfig(config({ rules }).rules[0], 'map-t');
      expect(formatIPv6(mapCeAddress(r, parseIPv4('203.0.113.37'), 0))).toBe(ce6);
    });
    it('IPv4 -> IPv6 (any port, ICMP echo too) and back; each address of the /28 its own IPv6 address', () => {
      const h = harness({ rules }, { linktype });
      const r = h.run([
        ipv4({ src: HOST4, dst: '203.0.113.37', payload: udp({ sport: 53, dport: 80, payload: 'p' }) }),
        ipv4({ src: HOST4, dst: '203.0.113.37', payload: icmp4Echo({ id: 5, seq: 1 }) }),
        ipv4({ src: HOST4, dst: '203.0.113.38', payload: udp({ sport: 53, dport: 7, payload: 'p' }) }),
      ]);
      expect(r.out.map((o) => o.p.dst)).toEqual([ce6, ce6, '2001:db8:320::cb00:7126:0']);
      const back = h.run([
        ipv6({ src: ce6, dst: HOST6, payload: udp({ sport: 80, dport: 53, payload: 'q' }) }),
        ipv6({ src: '2001:db8:320::cb00:712f:0', dst: HOST6, payload: icmp6Echo({ id: 9, seq: 1 }) }),
      ]);
      expect(back.out.map((o) => o.p.src)).toEqual(['203.0.113.37', '203.0.113.47']);
    });
    it('an address outside the CE\'s /28 in the interface id is spoofed', () => {
      const h = harness({ rules }, { linktype });
      // 203.0.113.53 is in EA 3's /28 (2001:db8:330::/44), not in 2001:db8:320::/44
      const r = h.run([ipv6({ src: '2001:db8:320::cb00:7135:0', dst: HOST6, payload: udp({ sport: 80, dport: 53 }) })]);
      expect(r.v4).toEqual([]);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 1/5']);
      expect(r.d.drop_ipv6_src_spoofed).toBe(1);
    });
  });
});

describe('Harness sanity', () => {
  it('an Ethernet frame keeps its MAC addresses when the config names none', () => {
    const h = new Harness(config(), { linktype: 1 });
    const o = only(h.run([ipv4({ src: HOST4, dst: CE4, payload: udp({ sport: 53, dport: 1232 }) })]));
    expect(o.p.eth).toMatchObject({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02', type: 0x86dd });
  });
});
