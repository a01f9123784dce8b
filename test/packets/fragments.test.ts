import { describe, expect, it } from 'vitest';
import {
  ReassemblyError,
  checkAll,
  checkChecksums,
  corruptChecksum,
  ethernet,
  fragment4,
  fragment6,
  hopByHop,
  ipv4,
  ipv6,
  parsePacket,
  reassemble,
  routing,
  tcp,
  udp,
  destinationOptions,
} from '../../src/packets/index.js';

const data = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

describe('IPv4 fragmentation and reassembly', () => {
  const whole = ipv4({
    src: '10.2.3.4',
    dst: '192.0.2.18',
    id: 0x4242,
    ttl: 40,
    // Record Route (not copied) then a copied option (Security-like type 0x82 len 3... use 0x94 Router Alert, copied flag set)
    options: [7, 7, 4, 0, 0, 0, 0, 0x94, 4, 0, 0],
    payload: udp({ sport: 80, dport: 1232, payload: data(3000) }),
  });

  it('fragments: offsets, MF, copied options only after the first, valid header checksums', () => {
    const frags = fragment4(whole, 1500);
    expect(frags.length).toBe(3);
    const ps = frags.map((f) => parsePacket(f));
    expect(ps.map((p) => p.fragment)).toEqual([
      { offset: 0, more: true, id: 0x4242 },
      // The first header has 12 bytes of options (32 in all): 1464 bytes of data fit.
      { offset: 1464, more: true, id: 0x4242 },
      { offset: 2936, more: false, id: 0x4242 },
    ]);
    expect(ps[0].ipHeaderLength).toBe(32);
    expect(ps[1].ipHeaderLength).toBe(24); // only the Router Alert option (copied flag) survives
    expect(Array.from(ps[1].ipv4!.options)).toEqual([0x94, 4, 0, 0]);
    expect(frags.every((f) => f.length <= 1500)).toBe(true);
    expect(ps[0].sport).toBe(80); // the first fragment holds the UDP header
    for (const f of frags) expect(checkChecksums(f)).toMatchObject({ ok: true, ipv4Header: 'ok', l4: 'fragment' });
  });

  it('reassembles in any order into the original datagram', () => {
    const frags = fragment4(whole, 600);
    const shuffled = [frags[3], frags[0], ...frags.slice(4), frags[2], frags[1]];
    const back = reassemble(shuffled);
    expect(Buffer.from(back).equals(Buffer.from(whole))).toBe(true);
    expect(checkChecksums(back)).toMatchObject({ ok: true, l4: 'ok' });
  });

  it('reassembles Ethernet frames, keeping the first fragment\'s L2 header', () => {
    const frags = fragment4(whole, 1000).map((f) => ethernet({ payload: f, src: '02:00:00:00:00:33' }));
    const back = reassemble(frags, 1);
    expect(parsePacket(back, 1)).toMatchObject({ eth: { src: '02:00:00:00:00:33' }, l3Offset: 14 });
    expect(Buffer.from(back.subarray(14)).equals(Buffer.from(whole))).toBe(true);
  });

  it('a corrupted payload byte in one fragment is caught only after reassembly', () => {
    const frags = fragment4(whole, 1500);
    frags[1][100] ^= 0x01;
    expect(checkChecksums(frags[1]).ok).toBe(true); // the IPv4 header is fine; the UDP sum is not checkable alone
    expect(checkChecksums(reassemble(frags))).toMatchObject({ ok: false, l4: 'bad' });
  });

  it('refuses holes, overlaps, a missing last fragment, other datagrams', () => {
    const frags = fragment4(whole, 1000);
    expect(() => reassemble([frags[0], frags[2], frags[3]])).toThrow(/hole in the datagram: bytes 968-1943 are missing/);
    expect(() => reassemble(frags.slice(0, 2))).toThrow(/last fragment .* has MF set/);
    expect(() => reassemble([...frags, frags[1]])).toThrow(/overlaps/);
    const other = fragment4(ipv4({ src: '10.2.3.4', dst: '192.0.2.18', id: 1, payload: udp({ sport: 1, dport: 2, payload: data(2000) }) }), 1000);
    expect(() => reassemble([frags[0], other[1]])).toThrow(ReassemblyError);
    expect(() => reassemble([whole])).toThrow(/not a fragment/);
    // Non-last fragments must carry a multiple of 8 bytes.
    const odd = ipv4({ src: '10.2.3.4', dst: '192.0.2.18', id: 5, mf: true, protocol: 17, payload: data(13) });
    const tail = ipv4({ src: '10.2.3.4', dst: '192.0.2.18', id: 5, offset: 13 + 3, protocol: 17, payload: data(8) });
    expect(() => reassemble([odd, tail])).toThrow(/carries 13 bytes, not a multiple of 8/);
  });
});

describe('IPv6 fragmentation and reassembly', () => {
  const whole = ipv6({
    src: '2001:db8:12:3400:0:c000:212:34',
    dst: '2001:db8:ffff::1',
    extensions: [hopByHop(), destinationOptions(), routing({ addresses: ['2001:db8:ffff:0:a:203:400:0'] }), destinationOptions({ options: [{ type: 0x1e, data: [1, 2, 3] }] })],
    payload: tcp({ sport: 1232, dport: 80, flags: 'PA', payload: data(4000) }),
  });

  it('fragments after the unfragmentable part (through the Routing header) and reassembles', () => {
    const frags = fragment6(whole, 1280, 0x01020304);
    expect(frags.every((f) => f.length <= 1280)).toBe(true);
    const ps = frags.map((f) => parsePacket(f));
    // Unfragmentable: IPv6 + HBH (8) + DestOpts (8) + Routing (24) = 80; then the Fragment header.
    expect(ps[0].ipv6!.extensions.map((e) => e.type)).toEqual([0, 60, 43, 44, 60]);
    expect(ps[1].ipv6!.extensions.map((e) => e.type)).toEqual([0, 60, 43, 44]);
    expect(ps[0].protocol).toBe(6);
    expect(ps[0].sport).toBe(1232);
    expect(ps[1].protocol).toBe(60); // the next header of the fragmentable part
    expect(ps.map((p) => p.fragment!.offset)).toEqual(frags.map((_, i) => i * 1192)); // 1280 - 80 - 8, a multiple of 8
    expect(ps.every((p) => p.fragment!.nextHeader === 60)).toBe(true);
    expect(ps.map((p) => p.fragment!.more)).toEqual(frags.map((_, i) => i < frags.length - 1));
    for (const f of frags) expect(checkChecksums(f).l4).toBe('fragment');
    const back = reassemble([...frags].reverse());
    expect(Buffer.from(back).equals(Buffer.from(whole))).toBe(true);
    expect(checkChecksums(back)).toMatchObject({ ok: true, l4: 'ok' });
  });

  it('without extension headers the Fragment header follows the IPv6 header', () => {
    const plain = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: udp({ sport: 1, dport: 2, payload: data(3000) }) });
    const frags = fragment6(plain, 1500, 7);
    expect(frags[0][6]).toBe(44);
    expect(frags[0][40]).toBe(17);
    expect(Buffer.from(reassemble(frags)).equals(Buffer.from(plain))).toBe(true);
  });
});

describe('checkAll', () => {
  it('checks plain packets, reassembles and checks fragment sets', () => {
    const a = ipv4({ src: '10.0.0.1', dst: '192.0.2.18', id: 1, payload: udp({ sport: 1, dport: 2, payload: data(3000) }) });
    const b = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', payload: udp({ sport: 1, dport: 2, payload: data(3000) }) });
    const c = ipv4({ src: '10.0.0.1', dst: '192.0.2.18', payload: tcp({ sport: 1, dport: 2 }) });
    const fa = fragment4(a, 1280);
    const fb = fragment6(b, 1280, 99);
    const all = [fa[0], fb[0], c, fa[1], fb[1], fb[2], fa[2]];
    expect(checkAll(all)).toEqual({ ok: true, checked: 1, reassembled: 2, incomplete: 0, errors: [] });
    const broken = [...all];
    broken[2] = corruptChecksum(c, 101, 'l4');
    broken[5] = fb[2].slice();
    broken[5][100] ^= 0x80;
    const r = checkAll(broken);
    expect(r.ok).toBe(false);
    expect(r.errors).toHaveLength(2);
    expect(r.errors[0]).toMatch(/^packet 2: TCP checksum/);
    expect(r.errors[1]).toMatch(/^datagram of packets 1,4,5: UDP checksum/);
    const missing = checkAll([fa[0], fa[2]]);
    expect(missing).toMatchObject({ ok: false, incomplete: 1 });
    expect(checkAll([fa[0], fa[2]], 101, { allowIncomplete: true })).toMatchObject({ ok: true, incomplete: 1 });
  });

  it('corruptChecksum makes the chosen checksum fail', () => {
    const p = ethernet({ payload: ipv4({ src: '10.0.0.1', dst: '192.0.2.18', payload: udp({ sport: 1, dport: 2, payload: 'a' }) }) });
    expect(checkChecksums(corruptChecksum(p, 1, 'ip'), 1)).toMatchObject({ ok: false, ipv4Header: 'bad', l4: 'ok' });
    expect(checkChecksums(corruptChecksum(p, 1, 'l4'), 1)).toMatchObject({ ok: false, ipv4Header: 'ok', l4: 'bad' });
    expect(checkChecksums(p, 1).ok).toBe(true);
  });
});
