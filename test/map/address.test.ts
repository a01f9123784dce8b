import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bindingCeAddress,
  embedIPv4,
  endUserPrefix,
  extractIPv4,
  extractMapAddress,
  interfaceIdentifier,
  mapCeAddress,
  rfc6052Conforms,
} from '../../src/map/address.js';
import { formatIPv6, ipv4Mask, parseIPv4, parseIPv4Prefix, parseIPv6, parseIPv6Prefix } from '../../src/map/ip.js';
import { psidLength, rulePsidOfPort, type InterfaceIdFormat, type MapRule } from '../../src/map/rule.js';

function rule(v6: string, v4: string, eaLen: number, extra: Partial<MapRule> = {}): MapRule {
  const p6 = parseIPv6Prefix(v6);
  const p4 = parseIPv4Prefix(v4);
  return {
    ipv6Prefix: p6.addr,
    ipv6PrefixLen: p6.len,
    ipv4Prefix: p4.addr,
    ipv4PrefixLen: p4.len,
    eaLen,
    psidOffset: 6,
    interfaceId: 'rfc7597',
    fullIPv4InIid: true,
    ...extra,
  };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('RFC 6052 section 2.2 IPv4-embedded IPv6 addresses', () => {
  // RFC 6052 section 2.4, Tables 1 and 2.
  const table: [string, string][] = [
    ['2001:db8::/32', '2001:db8:c000:221::'],
    ['2001:db8:100::/40', '2001:db8:1c0:2:21::'],
    ['2001:db8:122::/48', '2001:db8:122:c000:2:2100::'],
    ['2001:db8:122:300::/56', '2001:db8:122:3c0:0:221::'],
    ['2001:db8:122:344::/64', '2001:db8:122:344:c0:2:2100::'],
    ['2001:db8:122:344::/96', '2001:db8:122:344::192.0.2.33'],
    ['64:ff9b::/96', '64:ff9b::192.0.2.33'],
  ];
  const v4 = parseIPv4('192.0.2.33');
  for (const [prefix, expected] of table) {
    it(`${prefix} + 192.0.2.33 = ${expected}`, () => {
      const p = parseIPv6Prefix(prefix);
      const addr = embedIPv4(p.addr, p.len, v4);
      expect(hex(addr)).toBe(hex(parseIPv6(expected)));
      expect(extractIPv4(addr, p.len)).toBe(v4);
      expect(rfc6052Conforms(addr, p.len)).toBe(true);
    });
  }

  it('keeps the u-octet (bits 64..71) zero and ignores the suffix on extraction', () => {
    for (const len of [32, 40, 48, 56, 64]) {
      const addr = embedIPv4(new Uint8Array(16).fill(0xff), len, 0xffffffff);
      expect(addr[8]).toBe(0);
      const withSuffix = Uint8Array.from(addr);
      withSuffix[15] = 1; // suffix byte (RFC 6052: "SHOULD ignore the bits' value")
      expect(extractIPv4(withSuffix, len)).toBe(0xffffffff);
      expect(rfc6052Conforms(withSuffix, len)).toBe(false);
    }
  });

  it('matches RFC 7599 Appendix A example 2 (DMR 2001:db8:ffff::/64, 10.2.3.4)', () => {
    const dmr = parseIPv6Prefix('2001:db8:ffff::/64');
    const addr = embedIPv4(dmr.addr, dmr.len, parseIPv4('10.2.3.4'));
    expect(hex(addr)).toBe(hex(parseIPv6('2001:db8:ffff:0:000a:0203:0400::')));
  });

  it('refuses other prefix lengths', () => {
    expect(() => embedIPv4(new Uint8Array(16), 33, 0)).toThrow(RangeError);
    expect(() => extractIPv4(new Uint8Array(16), 128)).toThrow(RangeError);
  });
});

describe('MAP CE address (RFC 7597 5.2, 6)', () => {
  const bmr = rule('2001:db8::/40', '192.0.2.0/24', 16);
  const ce = parseIPv6('2001:db8:0012:3400:0000:c000:0212:0034');

  it('reproduces RFC 7597 / 7599 Appendix A example 1', () => {
    const ipv4 = parseIPv4('192.0.2.18');
    expect(psidLength(bmr)).toBe(8);
    expect(rulePsidOfPort(bmr, 1232)).toBe(0x34); // example 2
    const eu = endUserPrefix(bmr, ipv4, 0x34);
    expect(`${formatIPv6(eu.prefix)}/${eu.length}`).toBe('2001:db8:12:3400::/56');
    expect(hex(mapCeAddress(bmr, ipv4, 0x34))).toBe(hex(ce));
    expect(extractMapAddress(bmr, ce)).toEqual({ ipv4, psid: 0x34, psidLen: 8, valid: true });
  });

  it('reproduces RFC 7597 Appendix A example 4 (EA-len 0, no sharing)', () => {
    const r = rule('2001:db8:0012:3400::/56', '192.0.2.18/32', 0);
    const addr = mapCeAddress(r, parseIPv4('192.0.2.18'), 0);
    expect(hex(addr)).toBe(hex(parseIPv6('2001:db8:0012:3400:0000:c000:0212:0000')));
    expect(extractMapAddress(r, addr)).toEqual({ ipv4: parseIPv4('192.0.2.18'), psid: 0, psidLen: 0, valid: true });
  });

  it('reproduces RFC 7597 Appendix A example 5 as a binding (EA-len 0, PSID 0x34 provisioned)', () => {
    const p = parseIPv6Prefix('2001:db8:0012:3400::/56');
    const addr = bindingCeAddress({ ipv4: parseIPv4('192.0.2.18'), psidLen: 8, psid: 0x34, ipv6Prefix: p.addr, prefixLen: p.len });
    expect(hex(addr)).toBe(hex(ce));
  });

  it('returns a lw4o6 B4 address (/128) unchanged', () => {
    const b4 = parseIPv6('2001:db8:77::5');
    expect(hex(bindingCeAddress({ ipv4: parseIPv4('198.51.100.7'), psidLen: 6, psid: 12, ipv6Prefix: b4, prefixLen: 128 }))).toBe(hex(b4));
  });

  it('flags addresses whose subnet id or interface identifier disagree with the EA bits', () => {
    const badPsid = Uint8Array.from(ce);
    badPsid[15] = 0x35;
    expect(extractMapAddress(bmr, badPsid)).toMatchObject({ ipv4: parseIPv4('192.0.2.18'), psid: 0x34, valid: false });
    const badSubnet = Uint8Array.from(ce);
    badSubnet[7] = 0x01;
    expect(extractMapAddress(bmr, badSubnet)?.valid).toBe(false);
    const badV4 = Uint8Array.from(ce);
    badV4[13] = 0x13;
    expect(extractMapAddress(bmr, badV4)?.valid).toBe(false);
    expect(extractMapAddress(bmr, parseIPv6('2001:db9::1'))).toBeNull();
  });

  it('refuses an IPv4 address outside the rule or a PSID that does not fit', () => {
    expect(() => mapCeAddress(bmr, parseIPv4('192.0.3.1'), 0)).toThrow(RangeError);
    expect(() => mapCeAddress(bmr, parseIPv4('192.0.2.1'), 256)).toThrow(RangeError);
  });

  it('lets an end-user prefix longer than 64 bits overwrite the top of the IID', () => {
    // n = 56, o = 16: EA bits 56..71 = 0x12 0x34; byte 8 (IID's first byte) becomes 0x34.
    const r = rule('2001:db8:0:100::/56', '192.0.2.0/24', 16);
    const addr = mapCeAddress(r, parseIPv4('192.0.2.18'), 0x34);
    expect(formatIPv6(addr)).toBe('2001:db8:0:112:3400:c000:212:34');
    expect(extractMapAddress(r, addr)).toMatchObject({ ipv4: parseIPv4('192.0.2.18'), psid: 0x34, valid: true });
  });

  it('carries the complete IPv4 address in the IID for a CE IPv4 prefix in MAP-T (RFC 7599 erratum 5225), the padded prefix in MAP-E', () => {
    // r = 8, o = 16: the CE gets 10.1.2.0/24.
    const t = rule('2001:db8::/40', '10.0.0.0/8', 16, { fullIPv4InIid: true });
    const e = { ...t, fullIPv4InIid: false };
    const v4 = parseIPv4('10.1.2.3');
    expect(formatIPv6(endUserPrefix(t, v4, 0).prefix)).toBe('2001:db8:1:200::');
    const at = mapCeAddress(t, v4, 0);
    const ae = mapCeAddress(e, v4, 0);
    expect(formatIPv6(at)).toBe('2001:db8:1:200:0:a01:203:0');
    expect(formatIPv6(ae)).toBe('2001:db8:1:200:0:a01:200:0');
    expect(extractMapAddress(t, at)).toEqual({ ipv4: v4, psid: 0, psidLen: 0, valid: true });
    expect(extractMapAddress(e, ae)).toEqual({ ipv4: parseIPv4('10.1.2.0'), psid: 0, psidLen: 0, valid: true });
    // in MAP-E a host part in the IID is not the MAP address
    expect(extractMapAddress(e, at)?.valid).toBe(false);
  });
});

describe('dIVI-pd interface identifier (draft Figures 4, 5)', () => {
  it('is u | IPv4 | PSID left-aligned | 0 | L = 32 + k', () => {
    const r = rule('2001:db8::/40', '192.0.2.0/24', 16, { interfaceId: 'divi-pd' });
    const addr = mapCeAddress(r, parseIPv4('192.0.2.18'), 0x34);
    // byte 8 u = 0, bytes 9-12 c0 00 02 12, byte 13 PSID 0x34, byte 14 zero, byte 15 L = 40
    expect(hex(addr.subarray(8))).toBe('00c0000212340028');
    expect(formatIPv6(addr)).toBe('2001:db8:12:3400:c0:2:1234:28');
    expect(extractMapAddress(r, addr)).toEqual({ ipv4: parseIPv4('192.0.2.18'), psid: 0x34, psidLen: 8, valid: true });
  });

  it('left-aligns a PSID that is not a whole number of bytes, and uses L = 32 without sharing', () => {
    // k = 6, PSID 5 = 000101 → bits 104..109 → byte 13 = 0001 0100
    expect(interfaceIdentifier('divi-pd', 0xc0000212, 5, 6).toString(16).padStart(16, '0')).toBe('00c000021214' + '00' + '26');
    expect(interfaceIdentifier('divi-pd', 0xc0000212, 0, 0).toString(16).padStart(16, '0')).toBe('00c0000212000020');
    expect(interfaceIdentifier('rfc7597', 0xc0000212, 0x34, 8).toString(16).padStart(16, '0')).toBe('0000c00002120034');
  });
});

describe('round trips (property)', () => {
  const ruleArb = fc
    .record({
      r: fc.integer({ min: 0, max: 32 }),
      n: fc.integer({ min: 0, max: 96 }),
      kRaw: fc.integer({ min: -16, max: 16 }),
      a: fc.integer({ min: 0, max: 15 }),
      iid: fc.constantFrom<InterfaceIdFormat>('rfc7597', 'divi-pd'),
      full: fc.boolean(),
      v6: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      v4: fc.integer({ min: 0, max: 0xffffffff }),
    })
    .map(({ r, n, kRaw, a, iid, full, v6, v4 }) => {
      const k = Math.min(kRaw, 16 - a);
      const o = Math.max(0, Math.min(48, 32 - r + k));
      const nn = Math.min(n, 128 - o);
      const prefix = Uint8Array.from(v6);
      // clear host bits of the rule prefix
      for (let bit = nn; bit < 128; bit++) prefix[bit >> 3] &= ~(0x80 >> (bit & 7));
      return {
        ipv6Prefix: prefix,
        ipv6PrefixLen: nn,
        ipv4Prefix: (v4 & ipv4Mask(r)) >>> 0,
        ipv4PrefixLen: r,
        eaLen: o,
        psidOffset: a,
        interfaceId: iid,
        fullIPv4InIid: full,
      } satisfies MapRule;
    });

  it('extract(build(rule, ipv4, psid)) gives back ipv4 and psid for random valid rules', () => {
    fc.assert(
      fc.property(ruleArb, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 }), (r, host, psidRaw) => {
        const k = psidLength(r);
        const ipv4 = (r.ipv4Prefix | (host & ~ipv4Mask(r.ipv4PrefixLen))) >>> 0;
        const psid = psidRaw % 2 ** k;
        const addr = mapCeAddress(r, ipv4, psid);
        const info = extractMapAddress(r, addr);
        expect(info).not.toBeNull();
        expect(info!.valid).toBe(true);
        expect(info!.psid).toBe(psid);
        const ceLen = r.ipv4PrefixLen + Math.min(r.eaLen, 32 - r.ipv4PrefixLen);
        // MAP-E with a CE prefix keeps only the prefix (RFC 7597 section 6); when the
        // end-user prefix runs past bit 80 it may overwrite host bits of the IID's IPv4 field.
        const keepsHost = ceLen === 32 || (r.fullIPv4InIid && r.ipv6PrefixLen + r.eaLen <= 80);
        if (keepsHost) expect(info!.ipv4).toBe(ipv4);
        else expect(((info!.ipv4 ^ ipv4) & ipv4Mask(ceLen)) >>> 0).toBe(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('any bit flipped after a shared-address end-user prefix makes the address invalid', () => {
    fc.assert(
      fc.property(ruleArb, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 127 }), (r, host, bit) => {
        fc.pre(psidLength(r) > 0 || r.ipv4PrefixLen + r.eaLen === 32);
        const eu = r.ipv6PrefixLen + r.eaLen;
        fc.pre(bit >= eu && (eu < 64 || bit >= 64));
        const ipv4 = (r.ipv4Prefix | (host & ~ipv4Mask(r.ipv4PrefixLen))) >>> 0;
        const addr = mapCeAddress(r, ipv4, 0);
        addr[bit >> 3] ^= 0x80 >> (bit & 7);
        expect(extractMapAddress(r, addr)?.valid).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
