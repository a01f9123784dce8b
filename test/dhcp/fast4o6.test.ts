// The server's DHCPv4-query hot path (codec/fast4o6.ts) against the generic codec:
// the scan accepts only messages the generic decoder accepts, finding the same parts,
// and the reply it writes is byte-for-byte the generic encoders' reply.
import { describe, expect, it } from 'vitest';
import { Buffer } from 'node:buffer';
import {
  DhcpDecodeError,
  Dhcp4MessageType,
  Dhcp4o6MessageType,
  EncodeLimitError,
  buildRelayReply,
  decodeDhcp4Message,
  decodeDhcp6Message,
  dhcp4o6FromDhcp6,
  dhcp4o6ToDhcp6,
  emptyDhcp4Message,
  encodeDhcp4Message,
  encodeDhcp6Message,
  rawOption,
  scanDhcp4Query,
  unwrapRelays,
  writeDhcp4Response,
  type Dhcp4Message,
  type Dhcp6Message,
  type Dhcp6Option,
} from '../../src/dhcp/codec/index.js';

function v4Request(): Uint8Array {
  const m = emptyDhcp4Message(1);
  m.xid = 0x12345678;
  m.chaddr = Uint8Array.of(2, 0, 0, 0, 0, 7);
  m.options.messageType = Dhcp4MessageType.DISCOVER;
  m.options.parameterRequestList = [1, 159];
  m.options.clientId = { kind: 'rfc4361', iaid: 7, duid: { type: 3, data: Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 7) } };
  m.options.raw.push({ code: 77, data: Uint8Array.of(1, 2, 3) });
  return encodeDhcp4Message(m);
}

function answer(): Dhcp4Message {
  const m = emptyDhcp4Message(2);
  m.xid = 0x12345678;
  m.yiaddr = '100.64.0.9';
  m.chaddr = Uint8Array.of(2, 0, 0, 0, 0, 7);
  m.options.messageType = Dhcp4MessageType.OFFER;
  m.options.serverId = '192.0.2.1';
  m.options.leaseTime = 3600;
  m.options.renewalTime = 1800;
  m.options.rebindingTime = 3150;
  m.options.subnetMask = '255.255.255.255';
  m.options.portParams = { offset: 6, psidLen: 4, psid: 3 };
  m.options.clientId = { kind: 'rfc4361', iaid: 7, duid: { type: 3, data: Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 7) } };
  return m;
}

/** A DHCPv4-query in `depth` Relay-forwards; `ifid` gives relay i an Interface-Id; `extra` options go in the query and relays. */
function query(depth: number, opts: { ifid?: boolean; extra?: boolean; flags?: number } = {}): Dhcp6Message {
  const qopts: Dhcp6Option[] = [rawOption(87, v4Request())];
  if (opts.extra) qopts.push(rawOption(88, new Uint8Array(16)), rawOption(9, Uint8Array.of(1)));
  let m: Dhcp6Message = { kind: 'client-server', msgType: Dhcp4o6MessageType.DHCPV4_QUERY, transactionId: opts.flags ?? 0x800000, options: qopts };
  for (let i = 0; i < depth; i++) {
    const ro: Dhcp6Option[] = [];
    if (opts.extra) ro.push(rawOption(37, Uint8Array.of(0, 0, 0, 9, 1)));
    ro.push({ kind: 'relay-msg', message: m });
    if (opts.ifid) ro.push({ kind: 'interface-id', id: Uint8Array.of(i, 0xee, i) });
    m = { kind: 'relay', msgType: 12, hopCount: depth - 1 - i, linkAddress: `2001:db8:${i}::1`, peerAddress: `fe80::${i + 1}`, options: ro };
  }
  return m;
}

/** The reply the generic path builds (server.ts handle/query before the fast path). */
function genericReply(buf: Uint8Array, a: Dhcp4Message): Uint8Array {
  const msg = decodeDhcp6Message(buf);
  const { relays, inner } = msg.kind === 'relay' ? unwrapRelays(msg) : { relays: [], inner: msg };
  const resp = dhcp4o6ToDhcp6({ msgType: 21, flags: 0, dhcpv4Message: encodeDhcp4Message(a), options: [] });
  return encodeDhcp6Message(relays.length > 0 ? buildRelayReply(relays, resp) : resp);
}

/** What the generic decoder finds: relay headers, Interface-Ids, flags, the DHCPv4 message — or null when it refuses the message. */
function genericParts(buf: Uint8Array) {
  let msg;
  try {
    msg = decodeDhcp6Message(buf);
  } catch (e) {
    if (e instanceof DhcpDecodeError) return null;
    throw e;
  }
  const { relays, inner } = msg.kind === 'relay' ? unwrapRelays(msg) : { relays: [], inner: msg };
  if (inner.msgType !== Dhcp4o6MessageType.DHCPV4_QUERY || relays.some((r) => r.msgType !== 12)) return null;
  let q;
  try {
    q = dhcp4o6FromDhcp6(inner);
  } catch (e) {
    if (e instanceof DhcpDecodeError) return null;
    throw e;
  }
  return { depth: relays.length, flags: q.flags, v4: q.dhcpv4Message };
}

describe('scanDhcp4Query / writeDhcp4Response (codec/fast4o6.ts)', () => {
  for (const depth of [0, 1, 2, 3]) {
    for (const ifid of [false, true]) {
      for (const extra of [false, true]) {
        it(`depth ${depth}, interface-id ${ifid}, other options ${extra}: same parts, same reply octets`, () => {
          const buf = encodeDhcp6Message(query(depth, { ifid, extra }));
          for (const b of [buf, Buffer.from(buf)]) {
            const f = scanDhcp4Query(b);
            expect(f).not.toBeNull();
            const g = genericParts(b)!;
            expect(f!.depth).toBe(g.depth);
            expect(f!.flags).toBe(g.flags);
            expect(Uint8Array.from(b.subarray(f!.v4At, f!.v4At + f!.v4Len))).toEqual(Uint8Array.from(g.v4));
            expect(Uint8Array.from(writeDhcp4Response(b, f!, answer()))).toEqual(genericReply(b, answer()));
          }
        });
      }
    }
  }

  it('leaves to the generic path what it does not vouch for', () => {
    const v4 = rawOption(87, v4Request());
    const q = (options: Dhcp6Option[], msgType: number = 20): Dhcp6Message => ({ kind: 'client-server', msgType, transactionId: 0, options });
    const relay = (m: Dhcp6Message, extra: Dhcp6Option[] = [], msgType: 12 | 13 = 12): Dhcp6Message => ({
      kind: 'relay',
      msgType,
      hopCount: 0,
      linkAddress: '::',
      peerAddress: 'fe80::1',
      options: [{ kind: 'relay-msg', message: m }, ...extra],
    });
    const cases: [string, Dhcp6Message][] = [
      ['no OPTION_DHCPV4_MSG', q([])],
      ['two OPTION_DHCPV4_MSG', q([v4, v4])],
      ['a DHCPv4-response', q([v4], 21)],
      ['a Solicit', q([v4], 1)],
      ['a Client Identifier (validated by the generic decoder)', q([v4, { kind: 'client-id', duid: { type: 3, data: Uint8Array.of(1) } }])],
      ['an ORO in the query', q([v4, { kind: 'oro', codes: [1] }])],
      ['a Relay-reply', relay(q([v4]), [], 13)],
      ['two Interface-Ids', relay(q([v4]), [{ kind: 'interface-id', id: Uint8Array.of(1) }, { kind: 'interface-id', id: Uint8Array.of(2) }])],
      ['a Status Code in a relay', relay(q([v4]), [{ kind: 'status-code', status: 0, message: '' }])],
    ];
    for (const [what, m] of cases) expect(scanDhcp4Query(encodeDhcp6Message(m)), what).toBeNull();
    // Two Relay Message options (the generic encoder refuses to build one).
    const one = encodeDhcp6Message(relay(q([v4])));
    const opt = one.subarray(34);
    const two = new Uint8Array(one.length + opt.length);
    two.set(one);
    two.set(opt, one.length);
    expect(scanDhcp4Query(two)).toBeNull();
    expect(genericParts(two)).toBeNull();
    // MAX_RELAY_DEPTH (32) relay headers, and one more (built by hand: the encoder refuses).
    const wrap = (inner: Uint8Array): Uint8Array => {
      const out = new Uint8Array(34 + 4 + inner.length);
      out[0] = 12;
      out[35] = 9;
      out[36] = inner.length >> 8;
      out[37] = inner.length & 0xff;
      out.set(inner, 38);
      return out;
    };
    let deep = encodeDhcp6Message(q([v4]));
    for (let i = 0; i < 32; i++) deep = wrap(deep);
    expect(scanDhcp4Query(deep)?.depth).toBe(32);
    expect(genericParts(deep)?.depth).toBe(32);
    deep = wrap(deep);
    expect(scanDhcp4Query(deep)).toBeNull();
    expect(genericParts(deep)).toBeNull();
  });

  it('accepts only what the generic decoder accepts, finding the same parts (every truncation, random octet changes)', () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const bases = [0, 1, 2].flatMap((d) => [encodeDhcp6Message(query(d, { ifid: true, extra: true })), encodeDhcp6Message(query(d))]);
    const check = (b: Uint8Array) => {
      const f = scanDhcp4Query(b);
      if (f === null) return;
      const g = genericParts(b);
      expect(g).not.toBeNull();
      expect(f.depth).toBe(g!.depth);
      expect(f.flags).toBe(g!.flags);
      expect(b.subarray(f.v4At, f.v4At + f.v4Len)).toEqual(g!.v4);
    };
    for (const base of bases) {
      for (let n = 0; n < base.length; n++) check(base.subarray(0, n));
      for (let k = 0; k < 2000; k++) {
        const b = base.slice();
        const changes = 1 + (rnd() % 3);
        for (let c = 0; c < changes; c++) b[rnd() % Math.min(b.length, 120)] = rnd() & 0xff;
        check(b);
      }
    }
  });

  it('a reply too long for DHCPv6 framing is an EncodeLimitError; a DHCPv4 answer that cannot be encoded throws what encodeDhcp4Message throws', () => {
    const buf = encodeDhcp6Message(query(1));
    const f = scanDhcp4Query(buf)!;
    const big = answer();
    // A DHCPv4 message just under 65535 octets: it encodes, its DHCPv6 framing does not fit.
    for (let code = 160; code < 160 + 64; code++) big.options.raw.push({ code, data: new Uint8Array(1000) });
    const filler = { code: 230, data: new Uint8Array(0) };
    big.options.raw.push(filler);
    while (encodeDhcp4Message(big).length < 65500) filler.data = new Uint8Array(filler.data.length + 1);
    expect(encodeDhcp4Message(big).length).toBeLessThanOrEqual(65535);
    expect(() => genericReply(buf, big)).toThrow(RangeError);
    expect(() => writeDhcp4Response(buf, f, big)).toThrow(EncodeLimitError);
    const bad = answer();
    bad.yiaddr = 'not an address';
    expect(() => encodeDhcp4Message(bad)).toThrow('not an IPv4 address: not an address');
    let err: unknown;
    try {
      writeDhcp4Response(buf, f, bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RangeError);
    expect(err).not.toBeInstanceOf(EncodeLimitError);
  });
});

describe('decodeDhcp4Message copies what it keeps', () => {
  it('from a Buffer too: changing the datagram afterwards changes nothing decoded', () => {
    const bytes = Buffer.from(v4Request());
    const m = decodeDhcp4Message(bytes);
    const before = structuredClone(m);
    bytes.fill(0xaa);
    expect(m).toEqual(before);
    expect(m.chaddr).not.toBeInstanceOf(Buffer);
    expect(m.options.raw[0].data).not.toBeInstanceOf(Buffer);
  });

  it('concatenates repeated instances of an option in the order met (RFC 3396), across options, file and sname', () => {
    const m = emptyDhcp4Message(1);
    m.options.messageType = 1;
    const base = encodeDhcp4Message(m);
    // options: 53, overload = 3, 77 [1 2], end; file: 77 [3], end; sname: 77 [4], 61 [0 9 9], end.
    const b = new Uint8Array(base.length + 16);
    b.set(base.subarray(0, 240));
    b.set([53, 1, 1, 52, 1, 3, 77, 2, 1, 2, 255], 240);
    b.set([77, 1, 3, 255], 108);
    b.set([77, 1, 4, 61, 3, 0, 9, 9, 255], 44);
    const d = decodeDhcp4Message(b);
    expect(d.options.raw).toEqual([{ code: 77, data: Uint8Array.of(1, 2, 3, 4) }]);
    expect(d.options.clientId).toEqual({ kind: 'other', type: 0, id: Uint8Array.of(9, 9) });
    expect(d.file).toEqual(new Uint8Array(128));
    expect(d.sname).toEqual(new Uint8Array(64));
  });
});
