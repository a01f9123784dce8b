// The native load generator (bench/dhcpgen.c) against a scripted server on loopback:
// every query it sends is byte for byte what the TypeScript generator sends for the
// same client (QueryFactory), and it follows loadgen.ts's state machine: an OFFER is
// answered with a REQUEST carrying the offered address, server identifier and PSID; an
// ACK completes the client; a NAK or a lost answer starts it over; an OFFER of another
// shape than its REQUEST template fails the client as "unexpected".
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { runNativeLoad } from '../../bench/dhcpgen.js';
import {
  BOOTREPLY,
  Dhcp4MessageType as T,
  buildRelayReply,
  decodeDhcp6Message,
  dhcp4o6ToDhcp6,
  emptyDhcp4Message,
  encodeDhcp4Message,
  encodeDhcp6Message,
  unwrapRelays,
} from '../../src/dhcp/codec/index.js';
import { QueryFactory, type Offer } from '../../src/dhcp/loadgen-wire.js';

const dotted = (v: number) => `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A DHCPV4-RESPONSE to `query` (inside Relay-replies when the query was relayed). */
function answer(query: Uint8Array, xid: number, type: number, offer: Offer): Uint8Array {
  const m = emptyDhcp4Message(BOOTREPLY);
  m.xid = xid;
  m.yiaddr = dotted(offer.yiaddr);
  m.options.messageType = type;
  if (offer.serverId !== null) m.options.serverId = dotted(offer.serverId);
  if (offer.pp !== null) m.options.portParams = offer.pp;
  const resp = dhcp4o6ToDhcp6({ msgType: 21, flags: 0, dhcpv4Message: encodeDhcp4Message(m), options: [] });
  const { relays } = unwrapRelays(decodeDhcp6Message(query));
  return encodeDhcp6Message(relays.length > 0 ? buildRelayReply(relays, resp) : resp);
}

let sock: dgram.Socket | undefined;
afterEach(() => sock?.close());

describe('native load generator (bench/dhcpgen.c)', () => {
  for (const relay of [true, false]) {
    it(`sends the TypeScript generator's bytes and follows its state machine (relay ${relay})`, async () => {
      const portAware = relay; // the two ways the bench runs it: xbr (relayed, RFC 7618) and Kea (direct, full addresses)
      const shape = { pp: portAware ? { offset: 6, psidLen: 4 } : null, serverId: true };
      const factory = new QueryFactory(portAware, relay ? '::' : null);
      const first = 70_000; // peer-addresses past the first /32 (n >= 65536)
      const offerOf = (n: number): Offer => ({ yiaddr: 0x64400000 + n - first, serverId: 0xc0000201, pp: portAware ? { offset: 6, psidLen: 4, psid: (n % 15) + 1 } : null });
      const seen = { discover: new Map<number, number>(), request: new Map<number, number>(), mismatched: 0 };
      sock = dgram.createSocket('udp6');
      const s = sock;
      s.on('message', (buf, from) => {
        const q = new Uint8Array(buf);
        // find which client and which message it is by the bytes themselves
        for (let n = first; n < first + 6; n++) {
          const xid = (0x40000000 + n) >>> 0;
          const reply = (type: number, o: Offer) => s.send(answer(q, xid, type, o), from.port, from.address);
          if (same(q, factory.discoverFor(n, xid))) {
            const k = (seen.discover.get(n) ?? 0) + 1;
            seen.discover.set(n, k);
            if (n === first + 2 && k === 1) return; // lost: the client must time out and start over
            if (n === first + 4) return reply(T.OFFER, { ...offerOf(n), pp: portAware ? { offset: 6, psidLen: 5, psid: 3 } : null, serverId: portAware ? 0xc0000201 : null });
            return reply(T.OFFER, offerOf(n));
          }
          if (same(q, factory.requestFor(n, xid, offerOf(n)))) {
            const k = (seen.request.get(n) ?? 0) + 1;
            seen.request.set(n, k);
            return reply(n === first + 3 && k === 1 ? T.NAK : T.ACK, offerOf(n));
          }
        }
        seen.mismatched++;
      });
      await new Promise<void>((r) => s.bind(0, '::1', () => r()));
      const r = await runNativeLoad({
        host: '::1',
        port: s.address().port,
        clients: 6,
        inFlight: 3,
        firstClient: first,
        relay,
        portAware,
        offers: shape,
        timeoutMs: 150,
        tries: 3,
        deadlineMs: 10_000,
      });
      expect(seen.mismatched).toBe(0);
      // client 4's OFFER had another shape (PSID length 5, or no server identifier): it fails, unanswered
      expect(r).toMatchObject({ acked: 5, failed: 1, unexpected: 1, naks: 1, timeouts: 1 });
      expect(seen.request.has(first + 4)).toBe(false);
      // the lost DISCOVER and the NAK each cost one more start
      expect([...seen.discover.entries()].sort((a, b) => a[0] - b[0])).toEqual([
        [first, 1],
        [first + 1, 1],
        [first + 2, 2],
        [first + 3, 2],
        [first + 4, 1],
        [first + 5, 1],
      ]);
      expect(r.rate).toBeGreaterThan(0);
    });
  }

  it('gives up on a client after --tries starts and reports it failed', async () => {
    sock = dgram.createSocket('udp6');
    const s = sock;
    let queries = 0;
    s.on('message', () => queries++); // never answers
    await new Promise<void>((r) => s.bind(0, '::1', () => r()));
    const r = await runNativeLoad({
      host: '::1',
      port: s.address().port,
      clients: 2,
      inFlight: 2,
      relay: true,
      portAware: true,
      offers: { pp: { offset: 6, psidLen: 4 }, serverId: true },
      timeoutMs: 50,
      tries: 2,
      deadlineMs: 10_000,
    });
    expect(r).toMatchObject({ acked: 0, failed: 2, timeouts: 4 });
    expect(queries).toBe(4);
  });
});
