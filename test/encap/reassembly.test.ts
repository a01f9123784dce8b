// Outer IPv6 fragments are reassembled before decapsulation (RFC 2473 section 7,
// RFC 8200 section 4.5, DESIGN.md): in order, out of order, across batches, with a
// timeout; overlaps (RFC 5722), bad lengths, datagrams too big for a frame and a full
// table are dropped under named reasons, and no frame is ever lost.
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, fragment4, fragment6, fragmentHeader, ipv4, ipv6, udp } from '../../src/packets/index.js';
import { BR, HOST, LW, Harness, drops, ipBytes, lwYaml, ttlMinus, tunnel, type Counters } from './helpers.js';

const inner = (size: number, o: { dst?: string; dport?: number; df?: boolean; id?: number } = {}) =>
  ipv4({ src: LW.addr, dst: o.dst ?? HOST, id: o.id ?? 0x0a0a, df: o.df, payload: udp({ sport: LW.portA, dport: o.dport ?? 53, payload: new Uint8Array(size - 28).map((_, i) => i & 0xff) }) });

/** A fragment of a tunnel packet from `src` with the given slice of the fragmentable part. */
function piece(src: string, data: Uint8Array, offset: number, more: boolean, id: number): Uint8Array {
  return ipv6({ src, dst: BR, nextHeader: 4, extensions: [fragmentHeader({ offset, more, id })], payload: data });
}

function sum(a: Counters, b: Counters): Counters {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

describe('outer IPv6 reassembly', () => {
  it('in order, in one batch: one IPv4 packet out, TTL - 1', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const pkt = inner(1400);
    const frags = fragment6(tunnel(LW.b4a, pkt), 1280, 0x1234);
    expect(frags.length).toBe(2);
    const b = h.run(frags);
    expect(b.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(pkt)));
    expect(b.delta).toMatchObject({ tunnel_frag_held: 2, tunnel_reassembled: 1, decap_4in6: 1 });
    expect(drops(b.delta)).toEqual({});
    expect(h.framesFree()).toBe(free);
  });

  it('out of order and across batches', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const pkt = inner(1400);
    const frags = fragment6(tunnel(LW.b4a, pkt), 600, 0x99);
    expect(frags.length).toBe(3);
    const a = h.one(frags[2]);
    const b = h.one(frags[0]);
    expect(a.out.length + b.out.length).toBe(0);
    const c = h.one(frags[1]);
    expect(c.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(c.out[0].data, c.parsed[0]))).toEqual(Buffer.from(ttlMinus(pkt)));
    expect(sum(sum(a.delta, b.delta), c.delta)).toMatchObject({ tunnel_frag_held: 3, tunnel_reassembled: 1 });
    expect(h.framesFree()).toBe(free);
  });

  it('reversed, on Ethernet, interleaved with another datagram of the same id from another B4', () => {
    const h = new Harness(lwYaml(), 1);
    const eth = (ip: Uint8Array) => Uint8Array.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd, ...ip]);
    const p1 = inner(1000);
    const p2 = ipv4({ src: LW.addr, dst: HOST, payload: udp({ sport: LW.portB, dport: 80, payload: new Uint8Array(900).fill(1) }) });
    const f1 = fragment6(tunnel(LW.b4a, p1), 600, 7).reverse();
    const f2 = fragment6(tunnel(LW.b4b, p2), 600, 7);
    const b = h.run([f1[0], f2[0], f1[1], f2[1]].map(eth));
    expect(b.out).toHaveLength(2);
    expect(b.parsed.map((p) => p.eth!.type)).toEqual([0x0800, 0x0800]);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(p1)));
    expect(Buffer.from(ipBytes(b.out[1].data, b.parsed[1]))).toEqual(Buffer.from(ttlMinus(p2)));
  });

  it('a Destination Options header in the fragmentable part is not mistaken for data', () => {
    const h = new Harness(lwYaml());
    const pkt = inner(1400);
    const whole = ipv6({ src: LW.b4a, dst: BR, nextHeader: 4, payload: pkt, extensions: [{ type: 60, encode: (nh: number) => Uint8Array.from([nh, 0, 4, 1, 4, 1, 1, 0]) }] });
    const frags = fragment6(whole, 700, 3);
    const b = h.run(frags.reverse());
    expect(b.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(pkt)));
  });

  it('an atomic fragment (RFC 6946) is a whole packet', () => {
    const h = new Harness(lwYaml());
    const pkt = inner(200);
    const b = h.one(piece(LW.b4a, pkt, 0, false, 5));
    expect(b.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(b.out[0].data, b.parsed[0]))).toEqual(Buffer.from(ttlMinus(pkt)));
  });

  it('the reassembled packet is validated like any other: spoofed ones are dropped and their frame freed', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const b = h.run(fragment6(tunnel(LW.b4b, inner(1400)), 1280, 1));
    expect(drops(b.delta)).toEqual({ drop_tunnel_bad_outer_source: 1 });
    expect(b.parsed).toHaveLength(1); // ICMPv6 1/5 to B4 B
    expect(b.parsed[0]).toMatchObject({ dst: canonicalIpv6(LW.b4b), icmp: { type: 1, code: 5 } });
    expect(h.framesFree()).toBe(free);
  });

  it('a reassembled hairpin packet is re-encapsulated and fragmented again for the other B4', () => {
    const h = new Harness(lwYaml('mtu: { ipv4: 1500, ipv6: 1280 }'));
    const pkt = inner(1400, { dst: LW.addr, dport: LW.portB });
    const b = h.run(fragment6(tunnel(LW.b4a, pkt), 1280, 77));
    expect(b.out).toHaveLength(2);
    for (const p of b.parsed) expect(p.dst).toBe(canonicalIpv6(LW.b4b));
    expect(Buffer.from(new Uint8Array([...b.parsed[0].payload, ...b.parsed[1].payload]))).toEqual(Buffer.from(ttlMinus(pkt)));
    expect(b.delta.hairpin).toBe(1);
  });

  it('a reassembled packet that is itself an inner IPv4 fragment can wait for its first fragment', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const whole = inner(2400, { id: 0x3131 });
    const v4frags = fragment4(whole, 1400);
    expect(v4frags.length).toBe(2);
    // the second IPv4 fragment first, in two IPv6 fragments; then the first
    const b = h.run(fragment6(tunnel(LW.b4a, v4frags[1]), 700, 11));
    expect(b.out).toHaveLength(0);
    expect(b.delta).toMatchObject({ tunnel_reassembled: 1, frag_held: 1 });
    h.partialFragments = true; // checked whole below
    const c = h.run(fragment6(tunnel(LW.b4a, v4frags[0]), 1280, 12));
    expect(c.out).toHaveLength(2);
    expect(c.delta.frag_released).toBe(1);
    expect(h.framesFree()).toBe(free);
  });
});

describe('outer IPv6 reassembly: drops', () => {
  it('timeout (fragments.timeout-ms): held frames are freed and counted', () => {
    const h = new Harness(lwYaml('fragments: { timeout-ms: 100 }'));
    const free = h.framesFree();
    const frags = fragment6(tunnel(LW.b4a, inner(1400)), 1280, 0x55);
    let d = h.one(frags[0], 50).delta;
    expect(d.tunnel_frag_held).toBe(1);
    expect(h.framesFree()).toBe(free - 1);
    d = h.run([], 10).delta; // 60 ms: still waiting
    expect(drops(d)).toEqual({});
    h.now += 100;
    let total: Counters = {};
    for (let i = 0; i < 10; i++) total = sum(total, h.run([]).delta);
    expect(drops(total)).toEqual({ drop_tunnel_reasm_timeout: 1 });
    expect(h.framesFree()).toBe(free);
    // the late second fragment starts a datagram of its own, which times out too
    d = h.one(frags[1]).delta;
    expect(d.tunnel_frag_held).toBe(1);
    h.now += 200;
    d = h.one(frags[0]).delta; // the same key: the expired entry is freed, a new one started
    expect(drops(d)).toEqual({ drop_tunnel_reasm_timeout: 1 });
    h.now += 200;
    total = {};
    for (let i = 0; i < 10; i++) total = sum(total, h.run([]).delta);
    expect(drops(total)).toEqual({ drop_tunnel_reasm_timeout: 1 });
    expect(h.framesFree()).toBe(free);
  });

  it('too big for one frame: every fragment dropped, later ones too; 4 KiB frames take it', () => {
    const yaml = lwYaml('mtu: { ipv4: 4000, ipv6: 1500 }');
    const pkt = inner(1980);
    const frags = fragment6(tunnel(LW.b4a, pkt), 1280, 0x66);
    const h = new Harness(yaml);
    const free = h.framesFree();
    const b = h.run([frags[0], frags[1], frags[0]]);
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_reasm_too_big: 3 });
    expect(h.framesFree()).toBe(free);
    const big = new Harness(yaml, 101, { frameSize: 4096 });
    const c = big.run(frags);
    expect(c.out).toHaveLength(1);
    expect(Buffer.from(ipBytes(c.out[0].data, c.parsed[0]))).toEqual(Buffer.from(ttlMinus(pkt)));
  });

  it('overlapping fragments abandon the datagram (RFC 5722), duplicates included', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const data = inner(1000);
    const b = h.run([piece(LW.b4a, data.subarray(0, 512), 0, true, 9), piece(LW.b4a, data.subarray(256, 1000), 256, false, 9), piece(LW.b4a, data.subarray(512), 512, false, 9)]);
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_reasm_invalid: 3 });
    const c = h.run([piece(LW.b4a, data.subarray(0, 512), 0, true, 10), piece(LW.b4a, data.subarray(0, 512), 0, true, 10)]);
    expect(drops(c.delta)).toEqual({ drop_tunnel_reasm_invalid: 2 });
    expect(h.framesFree()).toBe(free);
  });

  it('a non-last fragment not a multiple of 8 bytes; two different ends; a fragment past the end', () => {
    const h = new Harness(lwYaml());
    const data = inner(1000);
    const b = h.one(piece(LW.b4a, data.subarray(0, 501), 0, true, 1));
    expect(drops(b.delta)).toEqual({ drop_tunnel_reasm_invalid: 1 });
    const c = h.run([piece(LW.b4a, data.subarray(512), 512, false, 2), piece(LW.b4a, data.subarray(600), 600, false, 2)]);
    expect(drops(c.delta)).toEqual({ drop_tunnel_reasm_invalid: 2 });
    const d = h.run([piece(LW.b4a, data.subarray(512, 600), 512, false, 3), piece(LW.b4a, data.subarray(600, 800), 600, true, 3)]);
    expect(drops(d.delta)).toEqual({ drop_tunnel_reasm_invalid: 2 });
  });

  it('more than 8 fragments for one datagram: full', () => {
    const h = new Harness(lwYaml());
    const free = h.framesFree();
    const data = inner(200);
    const pieces: Uint8Array[] = [];
    for (let o = 0; o < 200; o += 16) pieces.push(piece(LW.b4a, data.subarray(o, Math.min(o + 16, 200)), o, o + 16 < 200, 4));
    expect(pieces.length).toBe(13);
    const b = h.run(pieces);
    expect(b.out).toHaveLength(0);
    expect(drops(b.delta)).toEqual({ drop_tunnel_reasm_full: 13 });
    expect(h.framesFree()).toBe(free);
  });

  it('at most a quarter of the frames are held', () => {
    const h = new Harness(lwYaml(), 101, { frames: 128 });
    const free = h.framesFree();
    const firsts = Array.from({ length: 40 }, (_, i) => fragment6(tunnel(LW.b4a, inner(1400)), 1280, 1000 + i)[0]);
    const b = h.run(firsts);
    expect(b.delta.tunnel_frag_held).toBe(32);
    expect(drops(b.delta)).toEqual({ drop_tunnel_reasm_full: 8 });
    h.now += 5000;
    let total: Counters = {};
    for (let i = 0; i < 10; i++) total = sum(total, h.run([]).delta);
    expect(drops(total)).toEqual({ drop_tunnel_reasm_timeout: 32 });
    expect(h.framesFree()).toBe(free);
  });

  it('fragments to another address than br are not held', () => {
    const h = new Harness(lwYaml());
    const frags = fragment6(tunnel(LW.b4a, inner(1400), '2001:db8:ffff::2'), 1280, 1);
    const b = h.run(frags);
    expect(drops(b.delta)).toEqual({ drop_tunnel_bad_br_address: 2 });
    expect(b.delta.tunnel_frag_held).toBeUndefined();
  });
});
