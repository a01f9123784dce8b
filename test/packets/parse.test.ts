import { describe, expect, it } from 'vitest';
import {
  PacketError,
  checkChecksums,
  destinationOptions,
  ethernet,
  formatIpv6,
  fragmentHeader,
  frame,
  hopByHop,
  icmp4Error,
  icmp6Error,
  icmp4Echo,
  ipv4,
  ipv6,
  ipv6Bytes,
  parsePacket,
  rawTransport,
  routerAlertOption,
  routing,
  tcp,
  tcpFlags,
  udp,
} from '../../src/packets/index.js';

const CE = '2001:db8:12:3400:0:c000:212:34';
const V4HOST6 = '2001:db8:ffff:0:a:203:400:0';

describe('addresses', () => {
  it('formats IPv6 in RFC 5952 form', () => {
    expect(formatIpv6(ipv6Bytes('2001:0db8:0012:3400:0000:c000:0212:0034'))).toBe(CE);
    expect(formatIpv6(ipv6Bytes('2001:db8:ffff:0:000a:0203:0400::'))).toBe(V4HOST6);
    expect(formatIpv6(ipv6Bytes('2001:db8:0:0:1:0:0:1'))).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(ipv6Bytes('2001:db8:0:1:1:1:1:1'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpv6(ipv6Bytes('::'))).toBe('::');
    expect(formatIpv6(ipv6Bytes('::1'))).toBe('::1');
    expect(formatIpv6(ipv6Bytes('fe80::'))).toBe('fe80::');
  });
});

describe('parsePacket', () => {
  it('Ethernet + IPv4 + TCP: every field', () => {
    const ip = ipv4({
      src: '10.2.3.4',
      dst: '192.0.2.18',
      tos: 0xb8,
      id: 0xbeef,
      df: true,
      ttl: 57,
      payload: tcp({ sport: 80, dport: 1232, seq: 100, ack: 200, flags: 'SA', window: 1024, options: [{ kind: 'mss', value: 1400 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }], payload: 'GET' }),
    });
    const f = ethernet({ src: '02:00:00:00:00:0a', dst: '02:00:00:00:00:0b', payload: ip, pad: true });
    const p = parsePacket(f, 1);
    expect(p.eth).toEqual({ src: '02:00:00:00:00:0a', dst: '02:00:00:00:00:0b', type: 0x0800, vlans: [] });
    expect(p).toMatchObject({ version: 4, src: '10.2.3.4', dst: '192.0.2.18', tos: 0xb8, ttl: 57, protocol: 6, sport: 80, dport: 1232, l3Offset: 14, l4Offset: 34 });
    expect(p.ipv4).toMatchObject({ id: 0xbeef, df: true, mf: false, offset: 0, ihl: 5 });
    expect(p.fragment).toBeUndefined();
    expect(p.tcp).toMatchObject({ seq: 100, ack: 200, flags: tcpFlags('SA'), window: 1024, headerLength: 28 });
    expect(Buffer.from(p.tcp!.options).toString('hex')).toBe('020405780103030700'.slice(0, 16));
    expect(new TextDecoder().decode(p.payload)).toBe('GET');
    expect(checkChecksums(f, 1).ok).toBe(true);
  });

  it('pads short Ethernet frames and ignores the padding (trailing)', () => {
    const ip = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', payload: udp({ sport: 1, dport: 2 }) });
    const f = ethernet({ payload: ip, pad: true });
    expect(f.length).toBe(60);
    const p = parsePacket(f, 1);
    expect(p.trailing).toBe(60 - 14 - 28);
    expect(checkChecksums(f, 1)).toMatchObject({ ok: true, l4: 'ok' });
  });

  it('VLAN tags', () => {
    const f = ethernet({ vlans: [100, 200], payload: ipv6({ src: CE, dst: V4HOST6, payload: udp({ sport: 1, dport: 2 }) }) });
    const p = parsePacket(f, 1);
    expect(p.eth?.vlans).toEqual([100, 200]);
    expect(p.l3Offset).toBe(22);
    expect(p.src).toBe(CE);
  });

  it('IPv4 options and fragment fields', () => {
    const p = parsePacket(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', options: [0x94, 4, 0, 0, 1], protocol: 17, id: 9, mf: true, offset: 1480, payload: new Uint8Array(16) }));
    expect(p.ipHeaderLength).toBe(28);
    expect(Array.from(p.ipv4!.options)).toEqual([0x94, 4, 0, 0, 1, 0, 0, 0]);
    expect(p.fragment).toEqual({ offset: 1480, more: true, id: 9 });
    expect(p.sport).toBeUndefined(); // not the first fragment: no UDP header
    expect(p.payload.length).toBe(16);
    expect(checkChecksums(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 17, mf: true, payload: new Uint8Array(16) })).l4).toBe('fragment');
  });

  it('IPv6 traffic class, flow label and extension headers up to the upper layer', () => {
    const b = ipv6({
      src: CE,
      dst: V4HOST6,
      trafficClass: 0x2e,
      flowLabel: 0xabcde,
      hopLimit: 3,
      extensions: [hopByHop({ options: [routerAlertOption(0)] }), destinationOptions(), fragmentHeader({ id: 0xdeadbeef })],
      payload: udp({ sport: 1232, dport: 53, payload: 'q' }),
    });
    const p = parsePacket(b);
    expect(p).toMatchObject({ version: 6, tos: 0x2e, flowLabel: 0xabcde, ttl: 3, protocol: 17, sport: 1232, dport: 53 });
    expect(p.ipv6!.extensions.map((e) => [e.type, e.offset, e.length])).toEqual([
      [0, 40, 8],
      [60, 48, 8],
      [44, 56, 8],
    ]);
    expect(p.ipHeaderLength).toBe(64);
    expect(p.fragment).toEqual({ offset: 0, more: false, id: 0xdeadbeef, nextHeader: 17 }); // an atomic fragment
    // Atomic fragment: the datagram is whole, so its checksum is verified.
    expect(checkChecksums(b)).toMatchObject({ ok: true, l4: 'ok' });
  });

  it('Routing header: the pseudo-header uses the final destination (RFC 8200 8.1)', () => {
    const final = '2001:db8:ffff::99';
    const b = ipv6({
      src: CE,
      dst: '2001:db8:ffff::1',
      extensions: [routing({ routingType: 0, addresses: ['2001:db8:ffff::2', final] })],
      payload: udp({ sport: 7, dport: 8, payload: 'r' }),
    });
    const p = parsePacket(b);
    expect(p.ipv6!.finalDestination).toBe(final);
    expect(p.ipv6!.routing).toEqual({ routingType: 0, segmentsLeft: 2, addresses: ['2001:db8:ffff::2', final] });
    expect(checkChecksums(b)).toMatchObject({ ok: true, l4: 'ok' });
    // The same bytes checksummed against the first destination would not verify:
    const wrong = ipv6({ src: CE, dst: '2001:db8:ffff::1', extensions: [routing({ routingType: 0, addresses: ['2001:db8:ffff::2', final], segmentsLeft: 0 })], payload: udp({ sport: 7, dport: 8, payload: 'r' }) });
    wrong[43] = 2; // segments left 2: now the final destination differs from the one summed
    expect(checkChecksums(wrong).l4).toBe('bad');
    // Segment Routing (type 4): segment list[0] is the final segment.
    const srh = ipv6({ src: CE, dst: '2001:db8:ffff::1', extensions: [routing({ routingType: 4, addresses: [final, '2001:db8:ffff::1'], segmentsLeft: 1 })], payload: udp({ sport: 1, dport: 2 }) });
    expect(checkChecksums(srh)).toMatchObject({ ok: true, l4: 'ok' });
    expect(parsePacket(srh).ipv6!.finalDestination).toBe(final);
  });

  it('ICMPv4 error quoting a truncated packet', () => {
    const inner = ipv4({ src: '192.0.2.18', dst: '10.2.3.4', id: 77, payload: udp({ sport: 1232, dport: 53, payload: 'x'.repeat(100) }) });
    const err = ipv4({ src: '10.9.9.9', dst: '192.0.2.18', payload: icmp4Error({ type: 3, code: 4, mtu: 1400, quote: inner, maxQuote: 28 }) });
    const p = parsePacket(err);
    expect(p.icmp).toMatchObject({ type: 3, code: 4, mtu: 1400 });
    expect(p.icmp!.inner).toMatchObject({ version: 4, src: '192.0.2.18', dst: '10.2.3.4', protocol: 17, sport: 1232, dport: 53, truncated: true, ipLength: 128 });
    expect(p.icmp!.inner!.udp).toEqual({ length: 108, checksum: (inner[26] << 8) | inner[27] });
    const r = checkChecksums(err);
    expect(r).toMatchObject({ ok: true, l4: 'ok', quoted: { ipv4Header: 'ok' } });
    // A bad checksum in the quoted IPv4 header is reported.
    const badQuote = inner.slice(0, 28);
    badQuote[10] ^= 0xff;
    const r2 = checkChecksums(ipv4({ src: '10.9.9.9', dst: '192.0.2.18', payload: icmp4Error({ type: 11, quote: badQuote }) }));
    expect(r2.ok).toBe(false);
    expect(r2.l4).toBe('ok');
    expect(r2.errors[0]).toMatch(/IPv4 header checksum .* \(quoted packet\)/);
  });

  it('ICMPv6 error quoting an IPv6 packet, with pointer and MTU fields', () => {
    const inner = ipv6({ src: V4HOST6, dst: CE, payload: tcp({ sport: 80, dport: 1232 }) });
    const ptb = parsePacket(ipv6({ src: '2001:db8:ffff::1', dst: V4HOST6, payload: icmp6Error({ type: 2, mtu: 1280, quote: inner }) }));
    expect(ptb.icmp).toMatchObject({ type: 2, code: 0, mtu: 1280 });
    expect(ptb.icmp!.inner).toMatchObject({ src: V4HOST6, dst: CE, protocol: 6, sport: 80, dport: 1232, truncated: false });
    const pp = parsePacket(ipv6({ src: '2001:db8:ffff::1', dst: V4HOST6, payload: icmp6Error({ type: 4, code: 0, pointer: 40, quote: inner }) }));
    expect(pp.icmp).toMatchObject({ type: 4, pointer: 40 });
    const pp4 = parsePacket(ipv4({ src: '1.1.1.1', dst: '2.2.2.2', payload: icmp4Error({ type: 12, pointer: 9, quote: ipv4({ src: '2.2.2.2', dst: '1.1.1.1', payload: icmp4Echo() }) }) }));
    expect(pp4.icmp).toMatchObject({ type: 12, pointer: 9, inner: { protocol: 1, icmp: { type: 8 } } });
  });

  it('IPv4-in-IPv6 (MAP-E / lw4o6) exposes and checks the tunnelled packet', () => {
    const inner = ipv4({ src: '192.0.2.18', dst: '10.2.3.4', payload: udp({ sport: 1232, dport: 53, payload: 'dns' }) });
    const outer = ipv6({ src: CE, dst: '2001:db8:ffff::1', payload: rawTransport(4, inner) });
    const p = parsePacket(outer);
    expect(p.protocol).toBe(4);
    expect(p.encapsulated).toMatchObject({ version: 4, src: '192.0.2.18', sport: 1232, dport: 53 });
    expect(checkChecksums(outer)).toMatchObject({ ok: true, encapsulated: { ok: true, l4: 'ok', ipv4Header: 'ok' } });
    inner[30] ^= 1;
    const r = checkChecksums(ipv6({ src: CE, dst: '2001:db8:ffff::1', payload: rawTransport(4, inner) }));
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatch(/^tunnelled packet: UDP checksum/);
  });

  it('frame() wraps for either link type', () => {
    const ip = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', payload: udp({ sport: 1, dport: 2 }) });
    expect(frame(101, ip)).toBe(ip);
    expect(parsePacket(frame(1, ip), 1).l3Offset).toBe(14);
    expect(() => frame(113, ip)).toThrow(/link type 113/);
  });

  it('malformed packets are refused with a reason', () => {
    const ip = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', payload: udp({ sport: 1, dport: 2, payload: 'abc' }) });
    expect(() => parsePacket(ip.subarray(0, 25))).toThrow(/IPv4 total length 31 is more than the 25 bytes present/);
    expect(() => parsePacket(ip.subarray(0, 10))).toThrow(/IPv4 header cut short/);
    expect(() => parsePacket(Uint8Array.of(0x55, 0, 0))).toThrow(/IP version 5/);
    expect(() => parsePacket(ethernet({ type: 0x0806, payload: new Uint8Array(28) }), 1)).toThrow(/EtherType 0x0806 is not IP/);
    const v6 = ipv6({ src: CE, dst: V4HOST6, payload: udp({ sport: 1, dport: 2 }) });
    expect(() => parsePacket(v6.subarray(0, 44))).toThrow(PacketError);
    expect(checkChecksums(v6.subarray(0, 44))).toMatchObject({ ok: false, l4: 'malformed' });
    const lenMismatch = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', payload: udp({ sport: 1, dport: 2, payload: 'abc', length: 10 }) });
    expect(checkChecksums(lenMismatch)).toMatchObject({ ok: false, l4: 'malformed', errors: ['UDP length 10 differs from the IP payload length 11'] });
    const icmp4In6 = ipv6({ src: CE, dst: V4HOST6, payload: icmp4Echo({ id: 1 }) });
    expect(checkChecksums(icmp4In6)).toMatchObject({ ok: false, l4: 'malformed', errors: ['ICMP (protocol 1) inside IPv6'] });
  });
});
