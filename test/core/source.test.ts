// Item 5: source validation of packets from CEs (RFC 7599 8.3, RFC 7597 5.2 and 8.1,
// DESIGN.md: "MAP-T sources whose interface identifier or subnet-id disagree with the
// EA bits are spoofed and dropped") and hairpinning CE -> CE through the BR (RFC 7599
// 12.2).
import { describe, expect, it } from 'vitest';
import { mapRuleFromConfig } from '../../src/config/rules.js';
import { mapCeAddress } from '../../src/map/address.js';
import { formatIPv6, parseIPv4 } from '../../src/map/ip.js';
import { icmp6Echo, icmp6Error, ipv4, ipv6, tcp, udp } from '../../src/packets/index.js';
import { CE4, CE6, CE6_B, HOST6, Harness, LINKTYPES, bytes, config, harness, only, summary } from './helpers.js';

/** 192.0.2.18 under the DMR 2001:db8:ffff::/64: where a CE sends to reach 192.0.2.18. */
const CE4_VIA_DMR = '2001:db8:ffff:0:c0:2:1200:0';
/** 192.0.2.77 PSID 0x10 (ports 1088-1091, ...): another address of the rule. */
const CE_C4 = '192.0.2.77';
const CE_C6 = '2001:db8:4d:1000:0:c000:24d:10';
const CE_C4_VIA_DMR = '2001:db8:ffff:0:c0:2:4d00:0';

describe.each(LINKTYPES)('source validation, linktype %i', (linktype) => {
  const send = (src: string, sport: number, proto: 'udp' | 'tcp' = 'udp') =>
    ipv6({ src, dst: HOST6, payload: proto === 'udp' ? udp({ sport, dport: 53, payload: 'v' }) : tcp({ sport, dport: 80, flags: 'S' }) });

  it('the CE\'s own address with every port of its set is accepted (first, last and a middle range)', () => {
    const h = harness({}, { linktype });
    const ports = [1232, 1235, 2256, 33000 & ~0x3ff | (0x34 << 2), 64720, 64723];
    const r = h.run(ports.map((p) => send(CE6, p)));
    expect(r.v4.map((o) => [o.p.src, o.p.sport])).toEqual(ports.map((p) => [CE4, p]));
  });

  it.each([
    ['a wrong interface identifier (PSID 0x35 in the IID, 0x34 in the prefix)', '2001:db8:12:3400:0:c000:212:35', 1232, 'drop_ipv6_src_spoofed'],
    ['a wrong IPv4 address in the interface identifier', '2001:db8:12:3400:0:c000:213:34', 1232, 'drop_ipv6_src_spoofed'],
    ['non-zero bits in the IID\'s first 16 bits', '2001:db8:12:3400:1:c000:212:34', 1232, 'drop_ipv6_src_spoofed'],
    ['a non-zero subnet id', '2001:db8:12:34ff:0:c000:212:34', 1232, 'drop_ipv6_src_spoofed'],
    ['a port outside the PSID', CE6, 1236, 'drop_ipv6_port_outside_psid'],
    ['a port with A = 0 (below 1024)', CE6, 52, 'drop_ipv6_port_outside_psid'],
    ['a reserved port', CE6, 0, 'drop_ipv6_port_outside_psid'],
    ['no rule covers the source', '2001:db9:12:3400:0:c000:212:34', 1232, 'drop_ipv6_src_no_rule'],
  ])('%s: %s port %i -> %s', (_n, src, port, counter) => {
    const h = harness({}, { linktype });
    const r = h.run([send(src, port), send(src, port, 'tcp')]);
    expect(summary(r.v4)).toEqual([]);
    expect(r.d[counter]).toBe(2);
  });

  it('a reserved port inside a port set (reserved-ports edited past validation) is refused on its own account', () => {
    // Validation forbids reserved ports that overlap port sets (RFC 7618 section 8), so
    // this takes the compiler's input directly: ports 1232-1233 reserved.
    const cfg = config();
    cfg['reserved-ports'] = [1232, 1233];
    const h = new Harness(cfg, { linktype });
    const r = h.run([send(CE6, 1232), send(CE6, 1233), send(CE6, 1234)]);
    expect(r.v4.map((o) => o.p.sport)).toEqual([1234]);
    expect(r.d.drop_ipv6_port_outside_psid).toBe(2);
    // and the IPv4 side agrees: no CE for them
    const r4 = h.run([ipv4({ src: '10.2.3.4', dst: CE4, payload: udp({ sport: 53, dport: 1233 }) })]);
    expect(summary(r4.v6)).toEqual([]);
    expect(r4.d.drop_ipv4_port_unmapped).toBe(1);
  });

  it('a protocol without ports from a shared-address CE cannot be validated: drop_ipv6_no_port', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: HOST6, nextHeader: 47, payload: bytes(16) })]);
    expect(summary(r.out)).toEqual([]);
    expect(r.d.drop_ipv6_no_port).toBe(1);
  });

  it('a CE with a full IPv4 address (o + r = 32) may use any port and any protocol', () => {
    const rules = [{ 'ipv6-prefix': '2001:db8:400::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 8 }];
    const h = harness({ rules }, { linktype });
    const ce = '2001:db8:409::c633:6409:0'; // 198.51.100.9, EA = 9
    const r = h.run([send(ce, 7), send(ce, 65535), ipv6({ src: ce, dst: HOST6, nextHeader: 47, payload: bytes(16) })]);
    expect(r.v4.map((o) => [o.p.src, o.p.protocol])).toEqual([
      ['198.51.100.9', 17],
      ['198.51.100.9', 17],
      ['198.51.100.9', 47],
    ]);
  });

  it('an end-user prefix longer than 64 bits overwrites the top of the interface identifier (RFC 7597 section 6)', () => {
    const rules = [{ 'ipv6-prefix': '2001:db8:aa00::/56', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 16 }];
    const cfg = config({ rules });
    // 198.51.100.7 PSID 0x21: EA 0x0721 in bits 56..71
    const ce = '2001:db8:aa00:7:2100:c633:6407:21';
    expect(formatIPv6(mapCeAddress(mapRuleFromConfig(cfg.rules[0], 'map-t'), parseIPv4('198.51.100.7'), 0x21))).toBe(ce);
    const h = new Harness(cfg, { linktype });
    const port = 1024 + 0x21 * 4;
    expect(only(h.run([ipv4({ src: '10.2.3.4', dst: '198.51.100.7', payload: udp({ sport: 53, dport: port }) })])).p.dst).toBe(ce);
    expect(only(h.run([send(ce, port)])).p.src).toBe('198.51.100.7');
    // the IID's remaining bits still have to agree
    const r = h.run([send('2001:db8:aa00:7:2100:c633:6408:21', port)]);
    expect(r.d.drop_ipv6_src_spoofed).toBe(1);
  });

  it.each([
    ['rfc7597', 81, 80],
    ['divi-pd', 71, 72],
  ])(
    'a CE with an IPv4 prefix whose end-user prefix overwrites the first bits of the address in the interface id (%s, /%i rule prefix)',
    (iid, n, ipv4At) => {
      // Found by the round-trip property: with o < p the IID carries the complete IPv4
      // address (erratum 5225) from bit 80 (rfc7597) or 72 (divi-pd); an end-user prefix reaching past
      // that bit (RFC 7597 section 6) overwrites its first bits, so they must come from
      // the rule prefix and the EA bits, not from the IID.
      const rules = [{ 'ipv6-prefix': `2001:db8::/${n}`, 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 4, 'interface-id': iid }];
      const cfg = config({ rules });
      const v4 = parseIPv4('198.51.100.37');
      const ce = formatIPv6(mapCeAddress(mapRuleFromConfig(cfg.rules[0], 'map-t'), v4, 0));
      const eup = n + 4;
      expect(eup).toBeGreaterThan(ipv4At); // the address's first bits are overwritten
      const h = new Harness(cfg, { linktype });
      expect(only(h.run([ipv4({ src: '10.2.3.4', dst: '198.51.100.37', payload: udp({ sport: 53, dport: 9 }) })])).p.dst).toBe(ce);
      const back = only(h.run([send(ce, 9)]));
      expect(back.p.src).toBe('198.51.100.37');
    },
  );

  it('the rule whose IPv6 prefix matches the source decides (RFC 7599 8.3)', () => {
    const rules = [
      { 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16 },
      // another IPv6 prefix with its own IPv4 prefix and full addresses
      { 'ipv6-prefix': '2001:db8:ff00::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 8 },
    ];
    const h = harness({ rules }, { linktype });
    const r = h.run([send('2001:db8:ff05::c633:6405:0', 7), send(CE6, 1232)]);
    expect(r.v4.map((o) => o.p.src)).toEqual(['198.51.100.5', CE4]);
  });
});

describe.each(LINKTYPES)('hairpinning CE -> CE through the BR (RFC 7599 12.2), linktype %i', (linktype) => {
  it('IPv6 to the DMR address of another CE\'s IPv4 comes back out as IPv6 to that CE (counter hairpin)', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: CE_C4_VIA_DMR, hopLimit: 30, payload: udp({ sport: 1232, dport: 1088, payload: 'hi C' }) })]);
    const o = only(r);
    expect(o.port).toBe(1);
    expect([o.p.src, o.p.dst, o.p.sport, o.p.dport]).toEqual([CE4_VIA_DMR, CE_C6, 1232, 1088]);
    expect(o.p.ttl).toBe(29); // decremented once
    expect(new TextDecoder().decode(o.p.payload)).toBe('hi C');
    expect(r.d.hairpin).toBe(1);
    expect(r.d.xlat_6to4).toBeUndefined();
    expect(r.d.xlat_4to6).toBeUndefined();
    expect(r.d.tx4_packets).toBeUndefined();
  });
  it('between two CEs sharing one IPv4 address (different PSIDs)', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: CE4_VIA_DMR, payload: tcp({ sport: 1233, dport: 1236, flags: 'S' }) })]);
    expect([only(r).p.src, only(r).p.dst]).toEqual([CE4_VIA_DMR, CE6_B]);
    // and the answer
    const back = h.run([ipv6({ src: CE6_B, dst: CE4_VIA_DMR, payload: tcp({ sport: 1236, dport: 1233, flags: 'SA' }) })]);
    expect([only(back).p.src, only(back).p.dst]).toEqual([CE4_VIA_DMR, CE6]);
  });
  it('ICMP echo and ICMP errors hairpin too', () => {
    const h = harness({}, { linktype });
    const quote = ipv6({ src: CE_C4_VIA_DMR, dst: CE6, payload: udp({ sport: 1088, dport: 1232 }) });
    const r = h.run([
      ipv6({ src: CE6, dst: CE_C4_VIA_DMR, payload: icmp6Echo({ id: 1234, seq: 1, data: 'ping' }) }),
      ipv6({ src: CE6, dst: CE_C4_VIA_DMR, payload: icmp6Error({ type: 1, code: 4, quote }) }),
    ]);
    // an echo to a shared address goes to the CE whose port set holds its identifier
    // (RFC 7599 section 9): 1234 is PSID 0x34 of 192.0.2.77
    expect(r.out.map((o) => [o.p.dst, o.p.icmp!.type, o.p.icmp!.code])).toEqual([
      ['2001:db8:4d:3400:0:c000:24d:34', 128, 0],
      [CE_C6, 1, 4],
    ]);
    expect(r.out[1].p.icmp!.inner).toMatchObject({ src: CE_C6, dst: CE4_VIA_DMR, sport: 1088, dport: 1232 });
    expect(r.d.hairpin).toBe(2);
  });
  it('to a port of a shared address that no CE owns: dropped (drop_ipv4_port_unmapped), no ICMPv4 error into the void', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: CE_C4_VIA_DMR, payload: udp({ sport: 1232, dport: 80 }) })]);
    expect(summary(r.out)).toEqual([]);
    expect(r.d.drop_ipv4_port_unmapped).toBe(1);
  });
  it('a spoofed source is not hairpinned', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: CE_C4_VIA_DMR, payload: udp({ sport: 1236, dport: 1088 }) })]);
    expect(summary(r.out.filter((o) => o.p.dst === CE_C6))).toEqual([]);
    expect(r.d.drop_ipv6_port_outside_psid).toBe(1);
  });
  it('a hairpinned packet bigger than mtu.ipv6 is fragmented, never over mtu.ipv6', () => {
    const h = harness({ mtu: { ipv4: 1500, ipv6: 1280 } }, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: CE_C4_VIA_DMR, payload: udp({ sport: 1232, dport: 1088, payload: bytes(1400) }) })]);
    expect(r.v6.length).toBe(2);
    for (const o of r.v6) expect(o.ip.length).toBeLessThanOrEqual(1280);
    expect(r.d).toMatchObject({ hairpin: 1, frag_out6: 2 });
  });
  it('hairpinning is by IPv4 ownership: an IPv4 host outside the domain is plain translation', () => {
    const h = harness({}, { linktype });
    const r = h.run([ipv6({ src: CE6, dst: HOST6, payload: udp({ sport: 1232, dport: 53 }) })]);
    expect(r.d.xlat_6to4).toBe(1);
    expect(r.d.hairpin).toBeUndefined();
  });
});
