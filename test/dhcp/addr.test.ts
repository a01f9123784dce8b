// The DHCP codec's address conversions (src/dhcp/codec/addr.ts) are written by hand
// for speed (the server converts several addresses per message); these properties
// hold them to ipaddr.js, the reference, on random addresses — zero-heavy ones, so
// that every "::" placement rule of RFC 5952 section 4.2 is exercised — and to the
// strict dotted-quad rules on random strings.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { ipv4ToBytes, ipv6FromBytes, ipv6ToBytes } from '../../src/dhcp/codec/addr.js';

/** 16 octets where each 16-bit group is zero half of the time. */
const zeroHeavy = fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((groups) => {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 0xff;
  });
  return b;
});

describe('IPv6 text of 16 octets (RFC 5952)', () => {
  it('is the text ipaddr.js gives, and parses back to the same octets', () => {
    fc.assert(
      fc.property(zeroHeavy, fc.integer({ min: 0, max: 8 }), (b, pad) => {
        const buf = new Uint8Array(pad + 16);
        buf.set(b, pad);
        const text = ipv6FromBytes(buf, pad);
        expect(text).toBe((ipaddr.fromByteArray(Array.from(b)) as ipaddr.IPv6).toRFC5952String());
        expect(Array.from(ipv6ToBytes(text))).toEqual(Array.from(b));
      }),
      { numRuns: 20000, seed: 5952 },
    );
  });

  it('fixed cases: the longest run, the first of equal runs, no "::" for one zero group', () => {
    const t = (hex: string) => ipv6FromBytes(Uint8Array.from(Buffer.from(hex, 'hex')));
    expect(t('00000000000000000000000000000000')).toBe('::');
    expect(t('00000000000000000000000000000001')).toBe('::1');
    expect(t('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1');
    expect(t('20010db8000100000001000100010001')).toBe('2001:db8:1:0:1:1:1:1');
    expect(t('20010db8000000010000000000000000')).toBe('2001:db8:0:1::');
    expect(() => ipv6FromBytes(new Uint8Array(15))).toThrow();
  });

  it('a converted address handed out twice is two arrays: changing one leaves the other', () => {
    const text = ipv6FromBytes(Uint8Array.from(Buffer.from('20010db8000000000000000000000042', 'hex')));
    const a = ipv6ToBytes(text);
    a[15] = 0;
    expect(ipv6ToBytes(text)[15]).toBe(0x42);
  });
});

describe('dotted quad to 4 octets', () => {
  /** The rule the hand scanner implements: four parts "0" or 1-3 digits without a leading zero, each <= 255. */
  const reference = (s: string): number[] | null => {
    const parts = s.split('.');
    if (parts.length !== 4) return null;
    const out: number[] = [];
    for (const p of parts) {
      if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return null;
      out.push(Number(p));
    }
    return out;
  };
  const tryParse = (s: string): number[] | null => {
    try {
      return Array.from(ipv4ToBytes(s));
    } catch {
      return null;
    }
  };

  it('accepts and refuses exactly what the rule does', () => {
    const part = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('', '00', '01', '007', '1000', 'x', '-1', ' 1', '1 ', '0x1'));
    const candidate = fc.oneof(
      fc.array(part, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('.')),
      fc.string({ maxLength: 16 }),
    );
    fc.assert(
      fc.property(candidate, (s) => {
        expect(tryParse(s)).toEqual(reference(s));
      }),
      { numRuns: 50000, seed: 791 },
    );
  });
});
