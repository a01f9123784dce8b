// Checksums against values computed by hand / independently (RFC 1071, RFC 768, RFC 793, RFC 4443).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkChecksums,
  corruptChecksumValue,
  foldSum,
  icmp4Echo,
  icmp6Echo,
  internetChecksum,
  ipv4,
  ipv6,
  parsePacket,
  sumBytes,
  tcp,
  udp,
} from '../../src/packets/index.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];

/** A deliberately naive reference: BigInt sum of 16-bit words, then fold. */
function reference(...parts: Uint8Array[]): number {
  let s = 0n;
  for (const p of parts) {
    const b = p.length % 2 ? Uint8Array.from([...p, 0]) : p;
    for (let i = 0; i < b.length; i += 2) s += BigInt((b[i] << 8) | b[i + 1]);
  }
  while (s > 0xffffn) s = (s & 0xffffn) + (s >> 16n);
  return Number(~s & 0xffffn);
}

describe('Internet checksum (RFC 1071)', () => {
  it('RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2, checksum 0x220d', () => {
    const b = hex('0001f203f4f5f6f7');
    expect(foldSum(sumBytes(b))).toBe(0xddf2);
    expect(internetChecksum(b)).toBe(0x220d);
  });

  it('odd length pads with a zero byte', () => {
    expect(internetChecksum(hex('0102 03'))).toBe(~(0x0102 + 0x0300) & 0xffff);
  });

  it('is byte-order independent in the sense of RFC 1071 1.2.(B): swapped input gives a swapped sum', () => {
    const b = hex('0001f203f4f5f6f7');
    const swapped = hex('0100 03f2 f5f4 f7f6');
    const s = foldSum(sumBytes(b));
    expect(foldSum(sumBytes(swapped))).toBe(((s & 0xff) << 8) | (s >> 8));
  });

  it('summing in pieces equals summing at once, and very long inputs do not lose carries', () => {
    const big = new Uint8Array(200_000).fill(0xff);
    expect(internetChecksum(big)).toBe(reference(big));
    const b = Uint8Array.from({ length: 1001 }, (_, i) => (i * 131) & 0xff);
    expect(foldSum(sumBytes(b, 500, 1001, sumBytes(b, 0, 500)))).toBe(foldSum(sumBytes(b)));
  });

  it('matches a BigInt reference on random data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (b) => {
        expect(internetChecksum(b)).toBe(reference(b));
      }),
    );
  });

  it('a corrupted checksum value never equals the right one in one\'s complement', () => {
    for (const v of [0, 1, 0x7fff, 0xfffe, 0xffff]) {
      const c = corruptChecksumValue(v);
      expect(c).not.toBe(v);
      // 0x0000 and 0xffff are the same number: corrupting one must not give the other.
      if (v === 0xffff) expect(c).not.toBe(0);
      if (v === 0) expect(c).not.toBe(0xffff);
    }
  });
});

describe('known checksums of built packets', () => {
  it('IPv4 header: the classic 192.168.0.1 → 192.168.0.199 header has checksum 0xb861', () => {
    const p = ipv4({ src: '192.168.0.1', dst: '192.168.0.199', ttl: 64, df: true, protocol: 17, totalLength: 0x73, payload: new Uint8Array(0x73 - 20) });
    expect(Buffer.from(p.subarray(0, 20)).toString('hex')).toBe('450000730000400040110000c0a80001c0a800c7'.replace('0000c0a8', 'b861c0a8'));
    expect(u16(p, 10)).toBe(0xb861);
  });

  it('UDP over IPv4: 192.0.2.1:1234 → 192.0.2.2:5678 "hi" has checksum 0xf86c (summed by hand)', () => {
    // pseudo c000+0201+c000+0202+0011+000a, header 04d2+162e+000a, data 6869 = 0x20791 → 0x0793 → ~ = 0xf86c
    const p = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1234, dport: 5678, payload: 'hi' }) });
    expect(u16(p, 20 + 6)).toBe(0xf86c);
    expect(checkChecksums(p).l4).toBe('ok');
  });

  it('TCP SYN with an MSS option, 10.2.3.4:80 → 192.0.2.18:1232 (RFC 7599 example 2 flow): 0xc3ed', () => {
    const p = ipv4({
      src: '10.2.3.4',
      dst: '192.0.2.18',
      payload: tcp({ sport: 80, dport: 1232, seq: 1, flags: 'S', window: 65535, options: [{ kind: 'mss', value: 1460 }] }),
    });
    expect(p.length).toBe(20 + 24);
    expect(u16(p, 20 + 16)).toBe(0xc3ed);
    expect(checkChecksums(p)).toMatchObject({ ok: true, ipv4Header: 'ok', l4: 'ok' });
  });

  it('ICMPv6 echo request from the RFC 7599 CE to the DMR: 0x50e5 (pseudo-header of RFC 4443 2.3)', () => {
    const p = ipv6({
      src: '2001:db8:12:3400:0:c000:212:34',
      dst: '2001:db8:ffff:0:a:203:400:0',
      payload: icmp6Echo({ id: 0x1234, seq: 1, data: 'abcd' }),
    });
    expect(u16(p, 40 + 2)).toBe(0x50e5);
    expect(checkChecksums(p)).toMatchObject({ ok: true, l4: 'ok' });
  });

  it('UDP over IPv6: 0x5f25', () => {
    const p = ipv6({
      src: '2001:db8:12:3400:0:c000:212:34',
      dst: '2001:db8:ffff:0:a:203:400:0',
      payload: udp({ sport: 1232, dport: 53, payload: 'hello' }),
    });
    expect(u16(p, 40 + 6)).toBe(0x5f25);
  });

  it('ICMPv4 echo: no pseudo-header, 0x191f', () => {
    const p = ipv4({ src: '192.0.2.18', dst: '10.2.3.4', payload: icmp4Echo({ id: 7, seq: 9, data: 'ping' }) });
    expect(u16(p, 20 + 2)).toBe(0x191f);
  });

  it('a UDP checksum that computes to zero is sent as 0xffff (RFC 768)', () => {
    // Find a payload whose checksum computes to 0: adjust two bytes so the sum is 0xffff.
    const base = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1, dport: 2, payload: new Uint8Array(2) }) });
    const cs = u16(base, 26); // checksum with data 0000
    // data word d must make the complemented sum zero: current sum S = ~cs; want S + d = 0xffff.
    const d = (0xffff - (~cs & 0xffff)) & 0xffff;
    const p = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1, dport: 2, payload: [d >> 8, d & 0xff] }) });
    expect(u16(p, 26)).toBe(0xffff);
    expect(checkChecksums(p).l4).toBe('ok');
  });
});

describe('checkChecksums detects corruption', () => {
  const packets = () => [
    ipv4({ src: '10.0.0.1', dst: '192.0.2.18', payload: udp({ sport: 53, dport: 1232, payload: 'x'.repeat(33) }) }),
    ipv4({ src: '10.0.0.1', dst: '192.0.2.18', options: [0x94, 4, 0, 0], payload: tcp({ sport: 443, dport: 1233, flags: 'PA', payload: 'data' }) }),
    ipv4({ src: '10.0.0.1', dst: '192.0.2.18', payload: icmp4Echo({ id: 1, seq: 2, data: 'abc' }) }),
    ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: udp({ sport: 1, dport: 2, payload: 'odd' }) }),
    ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: tcp({ sport: 1, dport: 2, options: [{ kind: 'sackPermitted' }, { kind: 'timestamp', value: 1, echo: 2 }] }) }),
    ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: icmp6Echo({ id: 3, seq: 4, data: 'z' }) }),
  ];

  it('builder options badChecksum / checksum make checks fail, with the expected value in the message', () => {
    const good = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1234, dport: 5678, payload: 'hi' }) });
    const bad = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1234, dport: 5678, payload: 'hi', badChecksum: true }) });
    const r = checkChecksums(bad);
    expect(r).toMatchObject({ ok: false, ipv4Header: 'ok', l4: 'bad' });
    expect(r.errors).toEqual(['UDP checksum 0xf86d should be 0xf86c']);
    expect(checkChecksums(good).ok).toBe(true);
    const badIp = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', checksum: 0x1234, payload: udp({ sport: 1, dport: 2 }) });
    expect(checkChecksums(badIp)).toMatchObject({ ok: false, ipv4Header: 'bad', l4: 'ok' });
    expect(checkChecksums(badIp).errors[0]).toMatch(/^IPv4 header checksum 0x1234 should be 0x[0-9a-f]{4}$/);
  });

  it('UDP zero checksum: legal over IPv4 ("zero"), refused over IPv6', () => {
    const v4 = ipv4({ src: '192.0.2.1', dst: '192.0.2.2', payload: udp({ sport: 1, dport: 2, payload: 'a', noChecksum: true }) });
    expect(checkChecksums(v4)).toMatchObject({ ok: true, l4: 'zero' });
    const v6 = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: udp({ sport: 1, dport: 2, payload: 'a', noChecksum: true }) });
    expect(checkChecksums(v6)).toMatchObject({ ok: false, l4: 'bad' });
    expect(checkChecksums(v6).errors[0]).toMatch(/zero over IPv6/);
  });

  it('any single bit flip in the upper layer or the IPv4 header is detected', () => {
    for (const p of packets()) {
      const v4 = p[0] >> 4 === 4;
      const from = v4 ? 0 : 40; // the IPv6 header itself is not checksummed, except addresses via the pseudo-header
      for (let byte = from; byte < p.length; byte++) {
        if (!v4 && byte >= 4 && byte < 8) continue; // payload length / next header / hop limit
        for (let bit = 0; bit < 8; bit++) {
          const q = p.slice();
          q[byte] ^= 1 << bit;
          const r = checkChecksums(q);
          if (r.ok) throw new Error(`flip of byte ${byte} bit ${bit} undetected in ${Buffer.from(p).toString('hex')}: ${JSON.stringify(r)}`);
        }
      }
    }
  });

  it('flipping a bit of an IPv6 source address breaks the pseudo-header sum', () => {
    for (const p of packets().filter((x) => x[0] >> 4 === 6)) {
      const q = p.slice();
      q[8 + 5] ^= 0x10;
      expect(checkChecksums(q).l4).toBe('bad');
    }
  });

  it('random packets verify, and agree with the reference sum', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.constantFrom('udp', 'tcp', 'icmp'),
        fc.uint8Array({ maxLength: 1400 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 0, max: 65535 }),
        (v6, proto, data, sport, dport) => {
          const t =
            proto === 'udp'
              ? udp({ sport, dport, payload: data })
              : proto === 'tcp'
                ? tcp({ sport, dport, seq: sport * 65536 + dport, flags: 'A', payload: data })
                : v6
                  ? icmp6Echo({ id: sport, seq: dport, data })
                  : icmp4Echo({ id: sport, seq: dport, data });
          const p = v6 ? ipv6({ src: '2001:db8::a', dst: '64:ff9b::c000:212', payload: t }) : ipv4({ src: '198.51.100.1', dst: '192.0.2.18', payload: t });
          const r = checkChecksums(p);
          expect(r.ok).toBe(true);
          expect(r.l4).toBe('ok');
          const parsed = parsePacket(p);
          const l4 = p.slice(parsed.l4Offset);
          const csOff = proto === 'udp' ? 6 : proto === 'tcp' ? 16 : 2;
          const field = u16(l4, csOff);
          l4[csOff] = l4[csOff + 1] = 0;
          const nh = proto === 'udp' ? 17 : proto === 'tcp' ? 6 : v6 ? 58 : 1;
          let want: number;
          if (proto === 'icmp' && !v6) want = reference(l4);
          else if (v6) want = reference(p.subarray(8, 40), Uint8Array.of(0, 0, l4.length >> 8, l4.length & 0xff, 0, 0, 0, nh), l4);
          else want = reference(p.subarray(12, 20), Uint8Array.of(0, nh, l4.length >> 8, l4.length & 0xff), l4);
          if (proto === 'udp' && want === 0) want = 0xffff;
          expect(field).toBe(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
