// The load generator's patched templates are byte for byte what the codec encodes,
// and its minimal answer reader agrees with the codec's decoder.
import { describe, expect, it } from 'vitest';
import { clientMessage, encodeQuery, simClient } from '../../src/dhcp/client.js';
import { Dhcp4MessageType as T, encodeDhcp6Message, buildRelayReply, unwrapRelays, decodeDhcp6Message, dhcp4o6ToDhcp6, encodeDhcp4Message, emptyDhcp4Message, BOOTREPLY, ipv6FromBytes, ipv6ToBytes } from '../../src/dhcp/codec/index.js';
import { simB4 } from '../../src/dhcp/loadgen.js';
import { QueryFactory, readAnswer } from '../../src/dhcp/loadgen-wire.js';

describe('load generator wire path', () => {
  for (const relay of [true, false]) {
    for (const portAware of [true, false]) {
      it(`templates equal the codec's encoding (relay ${relay}, port-aware ${portAware})`, () => {
        const f = new QueryFactory(portAware, relay ? '::' : null);
        for (const n of [0, 1, 255, 65535, 65536, 123456, 0xfffffff]) {
          const c = simClient(n, portAware);
          const via = relay ? { link: '::', peer: simB4(n) } : undefined;
          const xid = (0x40000000 + n) >>> 0;
          expect(Array.from(f.discoverFor(n, xid))).toEqual(Array.from(encodeQuery(clientMessage(T.DISCOVER, c, { xid }), false, via)));
          const pp = portAware ? { offset: 6, psidLen: 4, psid: n % 16 } : undefined;
          const offer = { yiaddr: 0x64400000 + (n & 0xffff), serverId: 0xc0000001, pp: pp ?? null };
          const want = clientMessage(T.REQUEST, c, { xid, requestedAddress: `100.64.${(n >>> 8) & 0xff}.${n & 0xff}`, serverId: '192.0.0.1', portParams: pp });
          expect(Array.from(f.requestFor(n, xid, offer))).toEqual(Array.from(encodeQuery(want, false, via)));
        }
      });
    }
  }

  it("writes a client's B4 address as the codec's RFC 5952 text", () => {
    for (const n of [0, 1, 15, 16, 255, 4096, 65535, 65536, 65537, 131072, 123456, 0xfffffff, 0xefffffff]) {
      const hi = 0x1000 + (n >>> 16);
      const lo = n & 0xffff;
      const octets = Uint8Array.of(0x20, 0x01, hi >>> 8, hi & 0xff, lo >>> 8, lo & 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
      expect(simB4(n)).toBe(ipv6FromBytes(octets));
      expect(ipv6ToBytes(simB4(n))).toEqual(octets);
    }
  });

  it('reads an answer through relay replies like the codec', () => {
    const m = emptyDhcp4Message(BOOTREPLY);
    m.xid = 0xdeadbeef;
    m.yiaddr = '100.64.1.2';
    m.options.messageType = T.ACK;
    m.options.serverId = '192.0.0.1';
    m.options.portParams = { offset: 6, psidLen: 5, psid: 17 };
    const resp = dhcp4o6ToDhcp6({ msgType: 21, flags: 0, dhcpv4Message: encodeDhcp4Message(m), options: [] });
    const q = decodeDhcp6Message(encodeQuery(clientMessage(T.DISCOVER, simClient(1), { xid: 1 }), false, { link: '::', peer: '2001:db8::1' }));
    const { relays } = unwrapRelays(q);
    for (const buf of [encodeDhcp6Message(resp), encodeDhcp6Message(buildRelayReply(relays, resp))]) {
      expect(readAnswer(buf)).toEqual({ xid: 0xdeadbeef, type: T.ACK, yiaddr: 0x64400102, serverId: 0xc0000001, pp: { offset: 6, psidLen: 5, psid: 17 } });
    }
    expect(readAnswer(new Uint8Array(10))).toBeNull();
  });
});
