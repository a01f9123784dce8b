// The server on real UDP sockets ([::1], a free port): RFC 7341 section 11 — a direct
// DHCPv4-query is answered by unicast from the socket (address, port) it arrived on,
// to the query's source address and port; a relayed one with a Relay-reply to the
// relay's source. And the sequence ISC dhclient 4.4 (--enable-dhcpv4o6) runs:
// Information-request for option 88 first, then DHCPv4-queries carrying only option
// 87, flags 0 for DISCOVER and the first REQUEST, the Unicast flag and the same xid on
// renewal, from its link-local address.
import dgram from 'node:dgram';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clientMessage, decodeResponse, encodeQuery, simClient } from '../../src/dhcp/client.js';
import { Dhcp4MessageType as T, Dhcp6MessageType, decodeDhcp6Message, encodeDhcp6Message, findRawOptions } from '../../src/dhcp/codec/index.js';
import { Dhcp4o6Server } from '../../src/dhcp/server.js';
import { pickUdpKind, type UdpKind } from '../../src/dhcp/udp/endpoint.js';
import { TestEnv, send } from './server-helpers.js';

let env: TestEnv;
beforeEach(() => {
  env = new TestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

async function udpExchange(port: number, payload: Uint8Array): Promise<{ msg: Uint8Array; from: dgram.RemoteInfo; local: number }> {
  const sock = dgram.createSocket('udp6');
  await new Promise<void>((r) => sock.bind(0, '::1', () => r()));
  try {
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer in 5 s')), 5000);
      sock.once('message', (msg, from) => {
        clearTimeout(t);
        resolve({ msg: new Uint8Array(msg), from, local: sock.address().port });
      });
      sock.send(payload, port, '::1');
    });
  } finally {
    setTimeout(() => sock.close(), 0);
  }
}

// Both transports (src/dhcp/udp/): the native batch socket where it is built (udp-endpoint.test.ts fails under CI=true if not).
const kinds: UdpKind[] = pickUdpKind('auto') === 'native' ? ['native', 'dgram'] : ['dgram'];

describe.each(kinds)('UDP transport (%s)', (udp) => {
  it('answers from the socket the query arrived on, to the source address and port (RFC 7341 section 11)', async () => {
    const s = await Dhcp4o6Server.start({ config: env.config(), allowLoopbackBindings: true, udp });
    env.servers.push(s);
    const { port } = s.addresses()[0];
    const q = encodeQuery(clientMessage(T.DISCOVER, simClient(1), { xid: 77 }));
    const r = await udpExchange(port, q);
    expect(r.from.address).toBe('::1');
    expect(r.from.port).toBe(port);
    const resp = decodeResponse(r.msg);
    expect(resp.msgType).toBe(21);
    expect(resp.v4.options.messageType).toBe(T.OFFER);
    expect(resp.v4.xid).toBe(77);
    // relayed: the Relay-reply goes back to the relay (the source), RFC 8415 section 19.3 / RFC 8357
    const rq = encodeQuery(clientMessage(T.DISCOVER, simClient(2), { xid: 78 }), false, { link: '2001:db8:5::1', peer: '2001:db8:55::2' });
    const rr = await udpExchange(port, rq);
    expect(rr.from.port).toBe(port);
    const m = decodeDhcp6Message(rr.msg);
    expect(m.kind === 'relay' && m.msgType === Dhcp6MessageType.RELAY_REPL && m.peerAddress === '2001:db8:55::2').toBe(true);
    expect(s.counters.get('tx')).toBe(2);
  });
});

describe('ISC dhclient 4.4 with --enable-dhcpv4o6', () => {
  it('Information-request, then DISCOVER/REQUEST with flags 0 and only option 87, renewal with U and the same xid, from a link-local source', async () => {
    const { s, sink } = await env.server();
    const from = 'fe80::21a:2bff:fe3c:4d5e%eth0';
    // 1. its DHCPv6 half: an Information-request asking for option 88
    const ir = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.INFORMATION_REQUEST,
      transactionId: 0x1a2b3c,
      options: [{ kind: 'client-id', duid: { type: 1, data: Uint8Array.of(0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e) } }, { kind: 'oro', codes: [88] }],
    });
    const rep = decodeDhcp6Message((await s.handleDatagram(ir, { address: from, port: 546 }))!);
    expect(rep.kind === 'client-server' && findRawOptions(rep.options, 88).length).toBe(1);
    // 2. DHCPv4 over DHCPv6: DISCOVER and the first REQUEST with flags 0 (the codec's query carries only option 87)
    const c = simClient(42);
    const offer = await send(s, T.DISCOVER, c, { xid: 0x5555 }, { from });
    expect(offer?.v4.options.messageType).toBe(T.OFFER);
    const ack = await send(s, T.REQUEST, c, { xid: 0x5555, requestedAddress: offer!.v4.yiaddr, serverId: offer!.v4.options.serverId, portParams: offer!.v4.options.portParams }, { from });
    expect(ack?.v4.options.messageType).toBe(T.ACK);
    // 3. renewal: Unicast flag, ciaddr, the same xid
    const renew = await send(s, T.REQUEST, c, { xid: 0x5555, ciaddr: ack!.v4.yiaddr, portParams: ack!.v4.options.portParams }, { from, unicast: true });
    expect(renew?.v4.options.messageType).toBe(T.ACK);
    expect(renew?.v4.xid).toBe(0x5555);
    expect(s.counters.get('v4-request-renewing')).toBe(1);
    // a link-local B4 address is no tunnel endpoint: leased, not bound (bindings.ts)
    expect(sink.table.size).toBe(0);
  });
});
