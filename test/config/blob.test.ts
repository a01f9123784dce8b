// The compiled rule blob, byte for byte at the offsets of src/core/abi.ts.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { BLOB_MAGIC, FLAG, HDR, MODE, RULE, RULE_FLAG, RULE_SIZE } from '../../src/core/abi.js';
import { compileBindings, compileRules } from '../../src/core/blob.js';
import { parseIPv6 } from '../../src/map/ip.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const MAPT = `mode: map-t
dmr: 64:ff9b::/96
rules:
  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 16, fmr: true }
  - { ipv6-prefix: 2001:db8:100::/40, ipv4-prefix: 198.51.100.0/25, ea-len: 13, interface-id: divi-pd }
  - { ipv6-prefix: 2001:db8:200::/48, ipv4-prefix: 203.0.113.0/24, ea-len: 10, sharing-ratio: 3, contiguous-ports: 4 }
bindings:
  - { ipv4: 198.51.100.200, psid-len: 6, psid: 12, ipv6: 2001:db8:300:77::/64 }
mtu: { ipv4: 1400, ipv6: 1280 }
icmp: { errors: false, rate: 50, ipv4-source: 192.0.0.9 }
fragments: { timeout-ms: 3000 }
dataplane:
  ipv4-interface: eth0
  ipv6-interface: eth1
  ipv4-mac: 02:00:00:00:00:01
  ipv4-next-hop-mac: 02:00:00:00:00:02
  ipv6-next-hop-mac: 02-00-00-00-00-03
`;

describe('compileRules', () => {
  const blob = compileRules(parseConfig(MAPT, 'blob.yaml'));
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);

  it('writes the header at the abi.ts offsets, little-endian', () => {
    expect(blob.length).toBe(HDR.RULES + 3 * RULE_SIZE);
    expect(hex(blob.subarray(0, 4))).toBe('58425231'); // "XBR1"
    expect(view.getUint32(HDR.MAGIC, true)).toBe(BLOB_MAGIC);
    expect(blob[HDR.MODE]).toBe(MODE['map-t']);
    // errors off; IPv4 side has both MACs; IPv6 side only the next hop → MAC6 unset
    expect(blob[HDR.FLAGS]).toBe(FLAG.MAC4);
    expect(view.getUint16(HDR.MTU4, true)).toBe(1400);
    expect(view.getUint16(HDR.MTU6, true)).toBe(1280);
    expect(view.getUint16(HDR.RESERVED_LO, true)).toBe(0);
    expect(view.getUint16(HDR.RESERVED_HI, true)).toBe(1023);
    expect(blob[HDR.DMR_LEN]).toBe(96);
    expect(hex(blob.subarray(HDR.DMR, HDR.DMR + 16))).toBe(hex(parseIPv6('64:ff9b::')));
    // map-t without br: the BR's ICMPv6 source is the DMR prefix + ::1
    expect(hex(blob.subarray(HDR.BR, HDR.BR + 16))).toBe(hex(parseIPv6('64:ff9b::1')));
    expect(view.getUint32(HDR.ICMP_RATE, true)).toBe(50);
    expect(view.getUint32(HDR.ICMP_SRC4, true)).toBe(0xc0000009);
    expect(hex(blob.subarray(HDR.MAC4_SRC, HDR.MAC4_SRC + 6))).toBe('020000000001');
    expect(hex(blob.subarray(HDR.MAC4_DST, HDR.MAC4_DST + 6))).toBe('020000000002');
    expect(hex(blob.subarray(HDR.MAC6_SRC, HDR.MAC6_SRC + 6))).toBe('000000000000');
    expect(hex(blob.subarray(HDR.MAC6_DST, HDR.MAC6_DST + 6))).toBe('020000000003');
    expect(view.getUint32(HDR.FRAG_TIMEOUT_MS, true)).toBe(3000);
    expect(view.getUint32(HDR.RULE_COUNT, true)).toBe(3);
  });

  it('sorts rules longest IPv4 prefix first, then longest IPv6 prefix', () => {
    const v4 = [0, 1, 2].map((i) => view.getUint32(HDR.RULES + i * RULE_SIZE + RULE.IPV4, true));
    expect(v4).toEqual([0xc6336400, 0xcb007100, 0xc0000200]); // 198.51.100.0/25, 203.0.113.0/24 (/48), 192.0.2.0/24 (/40)
  });

  it('writes each 48-byte rule record', () => {
    const at = (i: number) => HDR.RULES + i * RULE_SIZE;
    // 198.51.100.0/25, ea-len 13 → k = 6, divi-pd
    let r = at(0);
    expect(hex(blob.subarray(r + RULE.IPV6, r + RULE.IPV6 + 16))).toBe(hex(parseIPv6('2001:db8:100::')));
    expect([blob[r + RULE.IPV6_LEN], blob[r + RULE.IPV4_LEN], blob[r + RULE.EA_LEN], blob[r + RULE.PSID_OFFSET], blob[r + RULE.PSID_LEN]]).toEqual([40, 25, 13, 6, 6]);
    expect(blob[r + RULE.FLAGS]).toBe(RULE_FLAG.DIVI_PD);
    expect(view.getUint16(r + RULE.SHARING_RATIO, true)).toBe(0);
    // 203.0.113.0/24 modulus R = 3, M = 4: k = 2, no bit-layout equivalent → offset 0
    r = at(1);
    expect([blob[r + RULE.IPV6_LEN], blob[r + RULE.IPV4_LEN], blob[r + RULE.EA_LEN], blob[r + RULE.PSID_OFFSET], blob[r + RULE.PSID_LEN]]).toEqual([48, 24, 10, 0, 2]);
    expect(blob[r + RULE.FLAGS]).toBe(RULE_FLAG.MODULUS);
    expect(view.getUint16(r + RULE.SHARING_RATIO, true)).toBe(3);
    expect(view.getUint16(r + RULE.CONTIGUOUS, true)).toBe(4);
    // 192.0.2.0/24 ea-len 16 → k = 8, a = 6, FMR
    r = at(2);
    expect([blob[r + RULE.IPV6_LEN], blob[r + RULE.IPV4_LEN], blob[r + RULE.EA_LEN], blob[r + RULE.PSID_OFFSET], blob[r + RULE.PSID_LEN]]).toEqual([40, 24, 16, 6, 8]);
    expect(blob[r + RULE.FLAGS]).toBe(RULE_FLAG.FMR);
    // padding stays zero
    expect([...blob.subarray(r + 22, r + 24), ...blob.subarray(r + 32, r + RULE_SIZE)].every((b) => b === 0)).toBe(true);
  });

  it('records the equivalent psid-offset of a power-of-two modulus rule', () => {
    const c = parseConfig(
      'mode: map-t\ndmr: 64:ff9b::/96\nrules:\n  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 16, sharing-ratio: 256, contiguous-ports: 4 }\n',
      'x.yaml',
    );
    const b = compileRules(c);
    const r = HDR.RULES;
    expect([b[r + RULE.PSID_OFFSET], b[r + RULE.PSID_LEN], b[r + RULE.FLAGS]]).toEqual([6, 8, RULE_FLAG.MODULUS]);
  });

  it('sets the encap flags for map-e and lw4o6, and lo > hi for reserved-ports none', () => {
    const e = compileRules(parseConfig('mode: map-e\nbr: 2001:db8:ffff::1\nreserved-ports: none\n', 'e.yaml'));
    expect(e[HDR.MODE]).toBe(MODE['map-e']);
    expect(e[HDR.FLAGS]).toBe(FLAG.ICMP_ERRORS | FLAG.FRAGMENT_ENCAP);
    expect(hex(e.subarray(HDR.BR, HDR.BR + 16))).toBe(hex(parseIPv6('2001:db8:ffff::1')));
    const ev = new DataView(e.buffer);
    expect(ev.getUint16(HDR.RESERVED_LO, true)).toBeGreaterThan(ev.getUint16(HDR.RESERVED_HI, true));
    expect(e[HDR.DMR_LEN]).toBe(0);
    expect(ev.getUint32(HDR.ICMP_SRC4, true)).toBe(0xc0000008); // 192.0.0.8 default
    expect(ev.getUint32(HDR.RULE_COUNT, true)).toBe(0);
    expect(e.length).toBe(HDR.RULES);

    const lw = compileRules(parseConfig('mode: lw4o6\nbr: 2001:db8:ffff::1\n', 'l.yaml'));
    expect(lw[HDR.FLAGS]).toBe(FLAG.ICMP_ERRORS | FLAG.FRAGMENT_ENCAP | FLAG.LW_UNREACH);
    const lw2 = compileRules(
      parseConfig('mode: lw4o6\nbr: 2001:db8:ffff::1\nencap-fragment: false\nlw4o6: { unreachable-on-miss: false }\nicmp: { errors: false }\n', 'l.yaml'),
    );
    expect(lw2[HDR.FLAGS]).toBe(0);
    // LW_UNREACH and FRAGMENT_ENCAP are not set in map-t
    const t = compileRules(parseConfig('mode: map-t\ndmr: 2001:db8:ffff::/64\nbr: 2001:db8:ffff::1\n', 't.yaml'));
    expect(t[HDR.FLAGS]).toBe(FLAG.ICMP_ERRORS);
    expect(hex(t.subarray(HDR.BR, HDR.BR + 16))).toBe(hex(parseIPv6('2001:db8:ffff::1'))); // br wins as ICMPv6 source
  });

  it('takes MACs found at run time when the config has none', () => {
    const c = parseConfig('mode: map-e\nbr: 2001:db8:ffff::1\n', 'e.yaml');
    const m = (n: number) => Uint8Array.from([2, 0, 0, 0, 0, n]);
    const b = compileRules(c, { ipv6Mac: m(5), ipv6NextHopMac: m(6) });
    expect(b[HDR.FLAGS] & (FLAG.MAC4 | FLAG.MAC6)).toBe(FLAG.MAC6);
    expect(hex(b.subarray(HDR.MAC6_SRC, HDR.MAC6_SRC + 12))).toBe('020000000005020000000006');
  });
});

describe('compileBindings', () => {
  it('returns the typed bindings in config order', () => {
    const list = compileBindings(parseConfig(MAPT, 'blob.yaml'));
    expect(list).toEqual([
      { ipv4: 0xc63364c8, psidLen: 6, psidOffset: 6, psid: 12, ipv6: parseIPv6('2001:db8:300:77::'), prefixLen: 64 },
    ]);
    const lw = compileBindings(parseConfig('mode: lw4o6\nbr: 2001:db8::1\nbindings:\n  - { ipv4: 192.0.2.1, ipv6: 2001:db8::5 }\n', 'l.yaml'));
    expect(lw[0]).toMatchObject({ ipv4: 0xc0000201, psidLen: 0, psid: 0, prefixLen: 128 });
    expect(hex(lw[0].ipv6)).toBe(hex(parseIPv6('2001:db8::5')));
  });
});
