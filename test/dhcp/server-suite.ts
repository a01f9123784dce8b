// The 4o6 server in process (handleDatagram, a fake clock), over either lease store:
// the MUSTs of RFC 7618 and RFC 7341 section 11, the DHCPv4 state machine, the
// allocation order, the per-site limit, pools kept apart, expiry and restore, bad
// input. server.test.ts runs it over SQLite, server-pg.test.ts over PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simClient } from '../../src/dhcp/client.js';
import {
  Dhcp4MessageType as T,
  Dhcp4OptionCode,
  Dhcp6MessageType,
  decodeDhcp6Message,
  encodeDhcp6Message,
  findOption,
  findRawOptions,
  ipv6ToBytes,
  s46FromDhcp6Option,
  unwrapRelays,
  type Dhcp6Message,
} from '../../src/dhcp/codec/index.js';
import { parseIPv4 } from '../../src/map/ip.js';
import { portSetRanges } from '../../src/map/psid.js';
import { BASE_YAML, TestEnv, b4, lease, send, type StoreKind } from './server-helpers.js';

export function serverSuite(kind: StoreKind): void {
let env: TestEnv;
beforeEach(() => {
  env = new TestEnv(kind);
});
afterEach(async () => {
  await env.cleanup();
});

const SHARED_ONLY = `
mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  pools:
    - name: shared-a
      ipv4: 198.51.100.0/30
      psid-len: 2
      psid-offset: 6
`;

describe('DHCPv4-over-DHCPv6 exchange', () => {
  it('DISCOVER -> OFFER -> REQUEST -> ACK with OPTION_V4_PORTPARAMS, and the lw4o6 binding to the B4 address', async () => {
    const { s, sink } = await env.server();
    const c = simClient(1);
    const offer = await send(s, T.DISCOVER, c);
    expect(offer?.msgType).toBe(21); // DHCPV4-RESPONSE
    expect(offer?.flags).toBe(0);
    expect(offer?.v4.options.messageType).toBe(T.OFFER);
    expect(offer?.v4.yiaddr).toBe('198.51.100.0');
    expect(offer?.v4.options.portParams).toEqual({ offset: 6, psidLen: 2, psid: 0 });
    expect(offer?.v4.options.serverId).toBe('192.0.0.1');
    expect(offer?.v4.xid).toBe(0x1001);
    // RFC 6842: the client identifier comes back
    expect(offer?.v4.options.clientId).toEqual(clientIdOf(c));
    expect(sink.table.size).toBe(0); // an offer is no binding
    const ack = await send(s, T.REQUEST, c, { requestedAddress: offer!.v4.yiaddr, serverId: '192.0.0.1', portParams: offer!.v4.options.portParams });
    expect(ack?.v4.options.messageType).toBe(T.ACK);
    expect(ack?.v4.yiaddr).toBe('198.51.100.0');
    expect(ack?.v4.options.portParams).toEqual({ offset: 6, psidLen: 2, psid: 0 });
    expect(ack?.v4.options.leaseTime).toBe(3600);
    expect(ack?.v4.options.subnetMask).toBe('255.255.255.255');
    const b = sink.get(parseIPv4('198.51.100.0'), 0);
    expect(b).toBeDefined();
    expect(b!.prefixLen).toBe(128);
    expect(Array.from(b!.ipv6)).toEqual(Array.from(ipv6ToBytes(b4(1))));
    const rows = await s.store.all();
    expect(rows.filter((r) => r.state === 'bound')).toHaveLength(1);
  });

  it('map-t: the binding is the client source truncated to ce-prefix-length', async () => {
    const yaml = BASE_YAML.replace('mode: lw4o6\nbr: 2001:db8:ffff::1', 'mode: map-t\ndmr: 64:ff9b::/96');
    const { s, sink } = await env.server(yaml, { 'ce-prefix-length': '56' });
    const ack = await lease(s, simClient(7), {}, { from: '2001:db8:aa:bbcc:1::5' });
    expect(ack?.v4.options.messageType).toBe(T.ACK);
    const b = sink.get(parseIPv4(ack!.v4.yiaddr), ack!.v4.options.portParams!.psid)!;
    expect(b.prefixLen).toBe(56);
    expect(Array.from(b.ipv6)).toEqual(Array.from(ipv6ToBytes('2001:db8:aa:bb00::')));
  });

  it('a link-local source (ISC dhclient) gets its lease but no binding, counted', async () => {
    const { s, sink } = await env.server();
    const ack = await lease(s, simClient(2), {}, { from: 'fe80::1%lo' });
    expect(ack?.v4.options.messageType).toBe(T.ACK);
    expect(sink.table.size).toBe(0);
    expect(s.counters.get('binding-unroutable-source')).toBe(1);
  });

  it('RENEWING (Unicast flag, ciaddr, xid reused) extends the lease; REBINDING too', async () => {
    const { s } = await env.server();
    const c = simClient(3);
    const ack = await lease(s, c);
    const pp = ack!.v4.options.portParams;
    env.clock += 1000_000;
    const renew = await send(s, T.REQUEST, c, { ciaddr: ack!.v4.yiaddr, portParams: pp }, { unicast: true });
    expect(renew?.v4.options.messageType).toBe(T.ACK);
    expect(renew?.v4.ciaddr).toBe(ack!.v4.yiaddr);
    expect(renew?.flags).toBe(0); // RFC 7341 6.4, also when the query had U set
    const row = (await s.store.all()).find((r) => r.state === 'bound')!;
    expect(row.expiresAt).toBe(env.clock + 3600_000);
    const rebind = await send(s, T.REQUEST, c, { ciaddr: ack!.v4.yiaddr, portParams: pp }, { unicast: false });
    expect(rebind?.v4.options.messageType).toBe(T.ACK);
    expect(s.counters.get('v4-request-renewing')).toBe(1);
    expect(s.counters.get('v4-request-rebinding')).toBe(1);
  });

  it('RFC 7341 section 8: an unknown lease is NAKed when RENEWING (unicast) and ignored when REBINDING (broadcast)', async () => {
    const { s } = await env.server();
    const c = simClient(4);
    const pp = { offset: 6, psidLen: 2, psid: 1 };
    const renew = await send(s, T.REQUEST, c, { ciaddr: '198.51.100.1', portParams: pp }, { unicast: true });
    expect(renew?.v4.options.messageType).toBe(T.NAK);
    expect(renew?.v4.yiaddr).toBe('0.0.0.0');
    const rebind = await send(s, T.REQUEST, c, { ciaddr: '198.51.100.1', portParams: pp }, { unicast: false });
    expect(rebind).toBeNull();
    // An address that is not ours at all: REBINDING stays silent (another server's lease).
    expect(await send(s, T.REQUEST, c, { ciaddr: '192.0.2.1' }, { unicast: false })).toBeNull();
  });

  it('INIT-REBOOT (no server id, requested address + PSID) is ACKed for the holder, NAKed for another, silent without a record', async () => {
    const { s } = await env.server();
    const a = simClient(5);
    const ack = await lease(s, a);
    const pp = ack!.v4.options.portParams!;
    const again = await send(s, T.REQUEST, a, { requestedAddress: ack!.v4.yiaddr, portParams: pp });
    expect(again?.v4.options.messageType).toBe(T.ACK);
    const other = await send(s, T.REQUEST, simClient(6), { requestedAddress: ack!.v4.yiaddr, portParams: pp });
    expect(other?.v4.options.messageType).toBe(T.NAK);
    const none = await send(s, T.REQUEST, simClient(8), { requestedAddress: '198.51.100.3', portParams: { offset: 6, psidLen: 2, psid: 3 } });
    expect(none).toBeNull();
  });

  it('a REQUEST naming another server withdraws our offer', async () => {
    const { s } = await env.server();
    const c = simClient(9);
    const offer = await send(s, T.DISCOVER, c);
    const r = await send(s, T.REQUEST, c, { requestedAddress: offer!.v4.yiaddr, serverId: '192.0.2.99', portParams: offer!.v4.options.portParams });
    expect(r).toBeNull();
    const rows = await s.store.all();
    expect(rows.filter((x) => x.state === 'offered')).toHaveLength(0);
  });

  it('DECLINE takes the slot out of use; nobody is offered it', async () => {
    const { s, sink } = await env.server(SHARED_ONLY);
    const c = simClient(10);
    const ack = await lease(s, c);
    const pp = ack!.v4.options.portParams!;
    await send(s, T.DECLINE, c, { requestedAddress: ack!.v4.yiaddr, serverId: '192.0.0.1', portParams: pp });
    expect(sink.table.size).toBe(0);
    const offered = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await send(s, T.DISCOVER, simClient(100 + i));
      if (r) offered.add(`${r.v4.yiaddr}/${r.v4.options.portParams!.psid}`);
    }
    expect(offered.size).toBe(15); // 16 slots, one declined
    expect(offered.has(`${ack!.v4.yiaddr}/${pp.psid}`)).toBe(false);
  });

  it('INFORM gets an ACK without address or lease time', async () => {
    const { s } = await env.server();
    const r = await send(s, T.INFORM, simClient(11), { ciaddr: '198.51.100.2' });
    expect(r?.v4.options.messageType).toBe(T.ACK);
    expect(r?.v4.yiaddr).toBe('0.0.0.0');
    expect(r?.v4.ciaddr).toBe('198.51.100.2');
    expect(r?.v4.options.leaseTime).toBeUndefined();
    expect(r?.v4.options.portParams).toBeUndefined();
  });
});

function clientIdOf(c: ReturnType<typeof simClient>) {
  return { kind: 'rfc4361', iaid: c.iaid, duid: { type: 3, data: Uint8Array.of(0, 1, ...c.mac) } };
}

describe('RFC 7618 MUSTs', () => {
  it('section 8: no OPTION_V4_PORTPARAMS unless listed in the Parameter Request List (even if the client sent one)', async () => {
    const { s } = await env.server();
    const c = simClient(20, false);
    const ack = await lease(s, c, { portParams: { offset: 6, psidLen: 2, psid: 0 } });
    expect(ack?.v4.options.messageType).toBe(T.ACK);
    expect(ack?.v4.options.portParams).toBeUndefined();
  });

  it('section 6 items 2 and 4, section 8: OFFER and ACK carry OPTION_V4_PORTPARAMS with the address in the same message', async () => {
    const { s } = await env.server();
    const c = simClient(21);
    const offer = await send(s, T.DISCOVER, c);
    expect(offer?.v4.yiaddr).not.toBe('0.0.0.0');
    expect(offer?.v4.options.portParams).toBeDefined();
    const ack = await lease(s, c);
    expect(ack?.v4.yiaddr).toBe(offer?.v4.yiaddr);
    expect(ack?.v4.options.portParams).toEqual(offer?.v4.options.portParams);
  });

  it('section 8.1: a client without 159 in its PRL never gets a shared address', async () => {
    const { s } = await env.server();
    for (let i = 0; i < 4; i++) {
      const ack = await lease(s, simClient(30 + i, false));
      expect(ack?.v4.options.messageType).toBe(T.ACK);
      expect(ack?.v4.yiaddr.startsWith('203.0.113.')).toBe(true);
    }
    // the full pool (4 addresses) is exhausted: still no shared address
    expect(await send(s, T.DISCOVER, simClient(34, false))).toBeNull();
    expect(s.counters.get('drop-v4-exhausted')).toBe(1);
    // and a port-aware client gets a shared one while full addresses exist
    const shared = await lease(s, simClient(35));
    expect(shared?.v4.yiaddr.startsWith('198.51.100.')).toBe(true);
  });

  it('section 8.1: a server with only shared pools discards requests without 159 in the PRL', async () => {
    const { s } = await env.server(SHARED_ONLY);
    expect(await send(s, T.DISCOVER, simClient(40, false))).toBeNull();
    expect(await send(s, T.REQUEST, simClient(40, false), { requestedAddress: '198.51.100.0', serverId: '192.0.0.1' })).toBeNull();
    expect(s.counters.get('drop-v4-no-portparams-request-shared-only')).toBe(2);
    expect((await s.store.all()).length).toBe(0);
  });

  it('sections 8 and 9: port sets holding reserved ports are never leased (default 0-1023), configurable', async () => {
    const yaml = SHARED_ONLY.replace('psid-offset: 6', 'psid-offset: 0');
    // a = 0, k = 2: PSID 0 = ports 0-16383, which holds 0-1023.
    const { s } = await env.server(yaml);
    const got: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await lease(s, simClient(50 + i));
      if (r?.v4.options.messageType === T.ACK) got.push(r.v4.options.portParams!.psid);
    }
    expect(got).toHaveLength(12); // 4 addresses x PSIDs 1..3
    expect(got).not.toContain(0);
    for (const psid of got) for (const [lo] of portSetRanges(psid, 0, 2)) expect(lo).toBeGreaterThan(1023);
    await env.cleanup();
    env = new TestEnv(kind);
    const { s: s2 } = await env.server(yaml.replace('psid-offset: 0', 'psid-offset: 0\n      reserved-ports: none'));
    let n = 0;
    for (let i = 0; i < 20; i++) if ((await lease(s2, simClient(80 + i)))?.v4.options.messageType === T.ACK) n++;
    expect(n).toBe(16);
  });

  it('section 8: RELEASE is found by ciaddr and PSID, for that client only', async () => {
    const { s, sink } = await env.server();
    const c = simClient(60);
    const ack = await lease(s, c);
    const pp = ack!.v4.options.portParams!;
    await send(s, T.RELEASE, c, { ciaddr: ack!.v4.yiaddr, serverId: '192.0.0.1', portParams: { ...pp, psid: (pp.psid + 1) % 4 } });
    expect(sink.table.size).toBe(1);
    await send(s, T.RELEASE, simClient(61), { ciaddr: ack!.v4.yiaddr, serverId: '192.0.0.1', portParams: pp });
    expect(sink.table.size).toBe(1);
    await send(s, T.RELEASE, c, { ciaddr: ack!.v4.yiaddr, serverId: '192.0.0.1', portParams: pp });
    expect(sink.table.size).toBe(0);
    expect(s.counters.get('v4-released')).toBe(1);
    expect(s.counters.get('drop-v4-release-unknown')).toBe(2);
  });

  it('section 6: INIT-REBOOT with OPTION_V4_PORTPARAMS re-binds a previous lease (same source)', async () => {
    const { s } = await env.server();
    const c = simClient(62);
    const ack = await lease(s, c);
    await send(s, T.RELEASE, c, { ciaddr: ack!.v4.yiaddr, serverId: '192.0.0.1', portParams: ack!.v4.options.portParams });
    const r = await send(s, T.REQUEST, c, { requestedAddress: ack!.v4.yiaddr, portParams: ack!.v4.options.portParams });
    expect(r?.v4.options.messageType).toBe(T.ACK);
  });
});

describe('RFC 7618 section 8 selection order', () => {
  it('current binding first', async () => {
    const { s } = await env.server();
    const c = simClient(70);
    const ack = await lease(s, c);
    const again = await send(s, T.DISCOVER, c, { requestedAddress: '198.51.100.3', portParams: { offset: 6, psidLen: 2, psid: 3 } });
    expect(again?.v4.yiaddr).toBe(ack?.v4.yiaddr);
    expect(again?.v4.options.portParams).toEqual(ack?.v4.options.portParams);
    expect(s.counters.get('v4-offer-current')).toBe(1);
  });

  it('then the previous binding if still free, even when others were freed later', async () => {
    const { s } = await env.server();
    const c = simClient(71);
    const first = await lease(s, c);
    await send(s, T.RELEASE, c, { ciaddr: first!.v4.yiaddr, serverId: '192.0.0.1', portParams: first!.v4.options.portParams });
    const other = simClient(72);
    const o = await lease(s, other); // takes a never-used slot, not c's previous one
    expect(`${o!.v4.yiaddr}/${o!.v4.options.portParams!.psid}`).not.toBe(`${first!.v4.yiaddr}/${first!.v4.options.portParams!.psid}`);
    const back = await send(s, T.DISCOVER, c, { requestedAddress: '198.51.100.3', portParams: { offset: 6, psidLen: 2, psid: 3 } });
    expect(back?.v4.yiaddr).toBe(first?.v4.yiaddr);
    expect(back?.v4.options.portParams).toEqual(first?.v4.options.portParams);
    expect(s.counters.get('v4-offer-previous')).toBe(1);
  });

  it('then the requested address and PSID if valid and free; else a new slot', async () => {
    const { s } = await env.server();
    const a = simClient(73);
    const want = { offset: 6, psidLen: 2, psid: 3 };
    const r = await send(s, T.DISCOVER, a, { requestedAddress: '198.51.100.2', portParams: want });
    expect(r?.v4.yiaddr).toBe('198.51.100.2');
    expect(r?.v4.options.portParams).toEqual(want);
    expect(s.counters.get('v4-offer-requested')).toBe(1);
    // the same pair for another client: taken (offered) -> a new slot
    const b = await send(s, T.DISCOVER, simClient(74), { requestedAddress: '198.51.100.2', portParams: want });
    expect(`${b?.v4.yiaddr}/${b?.v4.options.portParams?.psid}`).not.toBe('198.51.100.2/3');
    // invalid PSID-len for the pool: not a valid pair -> a new slot
    const c = await send(s, T.DISCOVER, simClient(75), { requestedAddress: '198.51.100.1', portParams: { offset: 6, psidLen: 4, psid: 1 } });
    expect(s.counters.get('v4-offer-new')).toBe(2);
    expect(c?.v4.options.portParams?.psidLen).toBe(2);
  });

  it('PSID-len hint: pools of the hinted size first (psid-len-hint: prefer), pool order with ignore', async () => {
    const yaml = SHARED_ONLY.replace(
      'psid-offset: 6\n',
      'psid-offset: 6\n    - name: shared-b\n      ipv4: 192.0.2.0/30\n      psid-len: 4\n      psid-offset: 6\n',
    );
    const { s } = await env.server(yaml);
    const r = await send(s, T.DISCOVER, simClient(76), { portParams: { offset: 6, psidLen: 4, psid: 0 } });
    expect(r?.v4.yiaddr.startsWith('192.0.2.')).toBe(true);
    expect(r?.v4.options.portParams?.psidLen).toBe(4);
    const plain = await send(s, T.DISCOVER, simClient(77));
    expect(plain?.v4.yiaddr.startsWith('198.51.100.')).toBe(true);
    await env.cleanup();
    env = new TestEnv(kind);
    const { s: s2 } = await env.server(yaml, { 'psid-len-hint': 'ignore' });
    const r2 = await send(s2, T.DISCOVER, simClient(78), { portParams: { offset: 6, psidLen: 4, psid: 0 } });
    expect(r2?.v4.yiaddr.startsWith('198.51.100.')).toBe(true);
  });

  it('no (IPv4, PSID) is leased twice: 16 slots, 16 distinct leases, then exhaustion', async () => {
    const { s } = await env.server(SHARED_ONLY);
    const seen = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const r = await lease(s, simClient(200 + i));
      expect(r?.v4.options.messageType).toBe(T.ACK);
      seen.add(`${r!.v4.yiaddr}/${r!.v4.options.portParams!.psid}`);
    }
    expect(seen.size).toBe(16);
    expect(await send(s, T.DISCOVER, simClient(300))).toBeNull();
  });
});

describe('RFC 7618 section 10: per-site limit', () => {
  it('counts leases per client source prefix (site-prefix-length)', async () => {
    const { s } = await env.server(BASE_YAML.replace('max-leases-per-site: 1000', 'max-leases-per-site: 2'));
    const site = (n: number) => ({ from: `2001:db8:1:${n}::1` }); // one /56: 2001:db8:1::/56
    expect((await lease(s, simClient(1), {}, site(1)))?.v4.options.messageType).toBe(T.ACK);
    expect((await lease(s, simClient(2), {}, site(2)))?.v4.options.messageType).toBe(T.ACK);
    expect(await lease(s, simClient(3), {}, site(3))).toBeNull();
    expect(s.counters.get('drop-v4-site-limit')).toBe(1);
    // a lease holder is not refused its own lease again
    expect((await lease(s, simClient(1), {}, site(1)))?.v4.options.messageType).toBe(T.ACK);
    // another site
    expect((await lease(s, simClient(4), {}, { from: '2001:db8:1:100::1' }))?.v4.options.messageType).toBe(T.ACK);
  });

  it('counts by the relay link-address when relayed', async () => {
    const { s } = await env.server(BASE_YAML.replace('max-leases-per-site: 1000', 'max-leases-per-site: 1'));
    const r1 = await lease(s, simClient(1), {}, { relay: { link: '2001:db8:f::1', peer: '2001:db8:a::1' } });
    expect(r1?.v4.options.messageType).toBe(T.ACK);
    expect(r1?.relays).toHaveLength(1);
    expect(await lease(s, simClient(2), {}, { relay: { link: '2001:db8:f::1', peer: '2001:db8:b::1' } })).toBeNull();
    const r3 = await lease(s, simClient(3), {}, { relay: { link: '2001:db8:e::1', peer: '2001:db8:b::1' } });
    expect(r3?.v4.options.messageType).toBe(T.ACK);
  });
});

describe('relays (RFC 7341 section 10, RFC 8415 section 19)', () => {
  it('nested Relay-forward -> Relay-reply chain with hop-count, addresses and interface-id copied; binding from the innermost peer', async () => {
    const { s, sink } = await env.server();
    const { clientMessage, queryMessage, relayForward } = await import('../../src/dhcp/client.js');
    const c = simClient(90);
    const q = queryMessage(clientMessage(T.DISCOVER, c, { xid: 5 }));
    const inner = relayForward(q, '2001:db8:1::1', '2001:db8:99::7', 0, Uint8Array.of(1, 2, 3));
    const outer = relayForward(inner, '2001:db8:2::1', '2001:db8:1::1', 1, Uint8Array.of(9));
    const out = await s.handleDatagram(encodeDhcp6Message(outer), { address: '2001:db8:1::1', port: 547 });
    const m = decodeDhcp6Message(out!) as Dhcp6Message;
    const { relays, inner: resp } = unwrapRelays(m);
    expect(relays.map((r) => [r.msgType, r.hopCount, r.linkAddress, r.peerAddress])).toEqual([
      [Dhcp6MessageType.RELAY_REPL, 1, '2001:db8:2::1', '2001:db8:1::1'],
      [Dhcp6MessageType.RELAY_REPL, 0, '2001:db8:1::1', '2001:db8:99::7'],
    ]);
    expect(Array.from(findOption(relays[0].options, 'interface-id')!.id)).toEqual([9]);
    expect(Array.from(findOption(relays[1].options, 'interface-id')!.id)).toEqual([1, 2, 3]);
    expect(resp.msgType).toBe(21);
    void sink;
  });

  it('a Relay-forward past HOP_COUNT_LIMIT is dropped', async () => {
    const { s } = await env.server();
    const { clientMessage, queryMessage, relayForward } = await import('../../src/dhcp/client.js');
    const q = queryMessage(clientMessage(T.DISCOVER, simClient(91), { xid: 5 }));
    const out = await s.handleDatagram(encodeDhcp6Message(relayForward(q, '::', '2001:db8::1', 9)), { address: '2001:db8::2', port: 547 });
    expect(out).toBeNull();
    expect(s.counters.get('drop-v6-relay-hop-limit')).toBe(1);
  });
});

describe('RFC 7341 section 11 and section 6', () => {
  it('discards a DHCPv4-query without OPTION_DHCPV4_MSG', async () => {
    const { s } = await env.server();
    const buf = encodeDhcp6Message({ kind: 'client-server', msgType: 20, transactionId: 0, options: [] });
    expect(await s.handleDatagram(buf, { address: b4(1), port: 546 })).toBeNull();
    expect(s.counters.get('drop-decode-missing-option')).toBe(1);
  });

  it('ignores the MBZ flag bits of a query (section 6.3) and answers with flags 0 (section 6.4)', async () => {
    const { s } = await env.server();
    const { clientMessage, queryMessage } = await import('../../src/dhcp/client.js');
    const q = queryMessage(clientMessage(T.DISCOVER, simClient(92), { xid: 5 }));
    q.transactionId = 0x7fffff;
    const out = await s.handleDatagram(encodeDhcp6Message(q), { address: b4(92), port: 546 });
    const m = decodeDhcp6Message(out!);
    expect(m.kind === 'client-server' && m.msgType === 21 && m.transactionId === 0).toBe(true);
  });

  it('drops a DHCPv4-response sent to the server', async () => {
    const { s } = await env.server();
    const buf = encodeDhcp6Message({ kind: 'client-server', msgType: 21, transactionId: 0, options: [{ kind: 'raw', code: 87, data: new Uint8Array(240) }] });
    expect(await s.handleDatagram(buf, { address: b4(1), port: 546 })).toBeNull();
    expect(s.counters.get('drop-v4o6-response-received')).toBe(1);
  });
});

describe('DHCPv6 for the 4o6 client', () => {
  const duid = { type: 3, data: Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 1) };

  it('Information-request -> Reply with option 88 and the lw4o6 container when asked', async () => {
    const { s } = await env.server(BASE_YAML, { 'server-addresses': '["2001:db8::547"]' });
    const req = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.INFORMATION_REQUEST,
      transactionId: 0xabcdef,
      options: [{ kind: 'client-id', duid }, { kind: 'oro', codes: [88, 96] }],
    });
    const out = decodeDhcp6Message((await s.handleDatagram(req, { address: 'fe80::1', port: 546 }))!);
    expect(out.kind === 'client-server' && out.msgType === Dhcp6MessageType.REPLY && out.transactionId === 0xabcdef).toBe(true);
    const o88 = findRawOptions(out.options, 88)[0];
    expect(Array.from(o88.data)).toEqual(Array.from(ipv6ToBytes('2001:db8::547')));
    const c = s46FromDhcp6Option(findRawOptions(out.options, 96)[0]);
    expect(c).toEqual({ kind: 'cont-lw', options: [{ kind: 'br', address: '2001:db8:ffff::1' }] });
    expect(findOption(out.options, 'server-id')).toBeDefined();
  });

  it('Solicit with IA_NA -> Advertise: IA with NoAddrsAvail, option 88, MAP-T container (rules + DMR)', async () => {
    const yaml = BASE_YAML.replace(
      'mode: lw4o6\nbr: 2001:db8:ffff::1',
      'mode: map-t\ndmr: 64:ff9b::/96\nrules:\n  - ipv6-prefix: 2001:db8::/40\n    ipv4-prefix: 192.0.2.0/24\n    ea-len: 16\n    fmr: true',
    );
    const { s } = await env.server(yaml);
    const ia = { kind: 'raw' as const, code: 3, data: Uint8Array.of(0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0) };
    const req = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.SOLICIT,
      transactionId: 1,
      options: [{ kind: 'client-id', duid }, ia, { kind: 'oro', codes: [88, 95] }],
    });
    const out = decodeDhcp6Message((await s.handleDatagram(req, { address: 'fe80::1', port: 546 }))!);
    expect(out.kind === 'client-server' && out.msgType).toBe(Dhcp6MessageType.ADVERTISE);
    const iaOut = findRawOptions(out.options, 3)[0];
    expect(Array.from(iaOut.data.subarray(0, 4))).toEqual([0, 0, 0, 7]);
    expect(Array.from(iaOut.data.subarray(12, 18))).toEqual([0, 13, 0, 29, 0, 2]); // Status Code NoAddrsAvail
    expect(findRawOptions(out.options, 88)[0].data.length).toBe(0);
    const c = s46FromDhcp6Option(findRawOptions(out.options, 95)[0]);
    expect(c.kind).toBe('cont-mapt');
    if (c.kind === 'cont-mapt') {
      expect(c.options.map((o) => o.kind)).toEqual(['rule', 'dmr']);
      expect(c.options[0]).toMatchObject({ kind: 'rule', fmr: true, eaLen: 16, prefix4Len: 24, ipv4Prefix: '192.0.2.0', prefix6Len: 40 });
      expect(c.options[1]).toEqual({ kind: 'dmr', prefix6Len: 96, prefix: '64:ff9b::' });
    }
    // Request to another server id: dropped (RFC 8415 16.4)
    const bad = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.REQUEST,
      transactionId: 2,
      options: [{ kind: 'client-id', duid }, { kind: 'server-id', duid: { type: 3, data: Uint8Array.of(9, 9, 9) } }],
    });
    expect(await s.handleDatagram(bad, { address: 'fe80::1', port: 546 })).toBeNull();
    expect(s.counters.get('drop-v6-not-our-server-id')).toBe(1);
    // Request to our server id: Reply
    const good = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.REQUEST,
      transactionId: 3,
      options: [{ kind: 'client-id', duid }, { kind: 'server-id', duid: s.serverDuid }, ia, { kind: 'oro', codes: [88] }],
    });
    const rep = decodeDhcp6Message((await s.handleDatagram(good, { address: 'fe80::1', port: 546 }))!);
    expect(rep.kind === 'client-server' && rep.msgType).toBe(Dhcp6MessageType.REPLY);
  });
});

describe('MAP-E container', () => {
  it('Information-request asking for S46_CONT_MAPE gets rules (with S46_PORTPARAMS) and the BR', async () => {
    const yaml = BASE_YAML.replace(
      'mode: lw4o6\nbr: 2001:db8:ffff::1',
      'mode: map-e\nbr: 2001:db8:ffff::1\nrules:\n  - ipv6-prefix: 2001:db8:100::/40\n    ipv4-prefix: 192.0.2.0/24\n    ea-len: 14\n    psid-offset: 4',
    );
    const { s } = await env.server(yaml);
    const req = encodeDhcp6Message({
      kind: 'client-server',
      msgType: Dhcp6MessageType.INFORMATION_REQUEST,
      transactionId: 9,
      options: [{ kind: 'oro', codes: [88, 94] }],
    });
    const out = decodeDhcp6Message((await s.handleDatagram(req, { address: 'fe80::1', port: 546 }))!);
    const c = s46FromDhcp6Option(findRawOptions(out.options, 94)[0]);
    expect(c).toEqual({
      kind: 'cont-mape',
      options: [
        {
          kind: 'rule',
          fmr: false,
          eaLen: 14,
          prefix4Len: 24,
          ipv4Prefix: '192.0.2.0',
          prefix6Len: 40,
          ipv6Prefix: '2001:db8:100::',
          options: [{ kind: 'portparams', offset: 4, psidLen: 0, psid: 0 }],
        },
        { kind: 'br', address: '2001:db8:ffff::1' },
      ],
    });
    // no container the client did not ask for
    const plain = encodeDhcp6Message({ kind: 'client-server', msgType: Dhcp6MessageType.INFORMATION_REQUEST, transactionId: 10, options: [{ kind: 'oro', codes: [88] }] });
    const out2 = decodeDhcp6Message((await s.handleDatagram(plain, { address: 'fe80::1', port: 546 }))!);
    expect(findRawOptions(out2.options, 94)).toHaveLength(0);
    expect(findRawOptions(out2.options, 88)).toHaveLength(1);
  });
});

describe('expiry and restart', () => {
  it('an expired lease is freed and its binding removed; a restart restores unexpired ones', async () => {
    const { s, sink } = await env.server();
    await lease(s, simClient(1));
    env.clock += 1800_000;
    await lease(s, simClient(2));
    expect(sink.table.size).toBe(2);
    env.clock += 1800_000 + 1;
    expect(await s.sweep()).toBe(1);
    expect(sink.table.size).toBe(1);
    await s.stop();
    const { sink: sink2 } = await env.server();
    expect(sink2.table.size).toBe(1);
    expect(Array.from(sink2.table.values())[0].ipv6).toEqual(ipv6ToBytes(b4(2)));
  });
});

describe('bad input', () => {
  it('malformed, truncated, oversized, option-bombed DHCPv6 and DHCPv4 are dropped by reason, nothing leased', async () => {
    const { s } = await env.server();
    const from = { address: b4(1), port: 546 };
    const { clientMessage, queryMessage } = await import('../../src/dhcp/client.js');
    const good = encodeDhcp6Message(queryMessage(clientMessage(T.DISCOVER, simClient(1), { xid: 1 })));
    const cases: [Uint8Array, string][] = [
      [new Uint8Array(0), 'drop-decode-truncated'],
      [good.subarray(0, good.length - 10), 'drop-decode-truncated'],
      [new Uint8Array(70000), 'drop-decode-oversized'],
    ];
    // 300 empty options
    const bomb = new Uint8Array(4 + 300 * 4);
    bomb[0] = 20;
    for (let i = 0; i < 300; i++) bomb[4 + i * 4 + 1] = 99;
    cases.push([bomb, 'drop-decode-too-many-options']);
    // a DHCPv4 message with a bad cookie inside a good query
    const v4bad = clientMessage(T.DISCOVER, simClient(1), { xid: 1 });
    const q = queryMessage(v4bad);
    const raw = q.kind === 'client-server' ? (q.options[0] as { data: Uint8Array }).data : new Uint8Array();
    raw[236] = 0;
    cases.push([encodeDhcp6Message(q), 'drop-decode-bad-magic-cookie']);
    // DHCPv4 option bomb: 300 options of 1 octet
    const v4ok = (queryMessage(clientMessage(T.DISCOVER, simClient(1), { xid: 1 })) as { options: { data: Uint8Array }[] }).options[0].data;
    const v4bomb = new Uint8Array(v4ok.length - 1 + 300 * 3);
    v4bomb.set(v4ok.subarray(0, v4ok.length - 1));
    for (let i = 0; i < 300; i++) v4bomb.set([200, 1, 0], v4ok.length - 1 + i * 3);
    cases.push([encodeDhcp6Message({ kind: 'client-server', msgType: 20, transactionId: 0, options: [{ kind: 'raw', code: 87, data: v4bomb }] }), 'drop-decode-too-many-options']);
    // truncated DHCPv4
    cases.push([encodeDhcp6Message({ kind: 'client-server', msgType: 20, transactionId: 0, options: [{ kind: 'raw', code: 87, data: v4ok.subarray(0, 100) }] }), 'drop-decode-truncated']);
    // relay without relay-msg
    cases.push([Uint8Array.of(12, 0, ...new Uint8Array(32)), 'drop-decode-missing-option']);
    // bad option 159 (PSID padding bits set)
    const pp = clientMessage(T.DISCOVER, simClient(1), { xid: 1 });
    const enc = (queryMessage(pp) as { options: { data: Uint8Array }[] }).options[0].data;
    const withPp = new Uint8Array(enc.length - 1 + 7);
    withPp.set(enc.subarray(0, enc.length - 1));
    withPp.set([159, 4, 6, 2, 0x40, 0x01, 255], enc.length - 1);
    cases.push([encodeDhcp6Message({ kind: 'client-server', msgType: 20, transactionId: 0, options: [{ kind: 'raw', code: 87, data: withPp }] }), 'drop-decode-bad-port-params']);
    for (const [buf, counter] of cases) {
      const before = s.counters.get(counter);
      expect(await s.handleDatagram(buf, from), counter).toBeNull();
      expect(s.counters.get(counter), counter).toBe(before + 1);
    }
    expect(await s.store.all()).toHaveLength(0);
    // and a BOOTREPLY inside a query, and an unknown message type
    const reply = clientMessage(T.DISCOVER, simClient(1), { xid: 1 });
    reply.op = 2;
    expect(await s.handleDatagram(encodeDhcp6Message(queryMessage(reply)), from)).toBeNull();
    expect(s.counters.get('drop-v4-not-bootrequest')).toBe(1);
    expect(await s.handleDatagram(Uint8Array.of(99, 0, 0, 0), from)).toBeNull();
    expect(s.counters.get('drop-v6-unsupported-type-99')).toBe(1);
    // the server still works
    expect((await lease(s, simClient(1)))?.v4.options.messageType).toBe(T.ACK);
    void Dhcp4OptionCode;
  });

  it('mutated valid queries (direct and relayed) never throw, never hit an internal error, never lease twice', async () => {
    const { s } = await env.server();
    const { clientMessage } = await import('../../src/dhcp/client.js');
    const { encodeQuery } = await import('../../src/dhcp/client.js');
    let seed = 987654;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const seeds: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) {
      const c = simClient(500 + i);
      const relay = i % 2 === 0 ? { link: '2001:db8:9::1', peer: b4(500 + i) } : undefined;
      seeds.push(encodeQuery(clientMessage(T.DISCOVER, c, { xid: i }), false, relay));
      seeds.push(encodeQuery(clientMessage(T.REQUEST, c, { xid: i, requestedAddress: '198.51.100.1', serverId: '192.0.0.1', portParams: { offset: 6, psidLen: 2, psid: 1 } }), i % 3 === 0, relay));
      seeds.push(encodeQuery(clientMessage(T.RELEASE, c, { xid: i, ciaddr: '198.51.100.1', portParams: { offset: 6, psidLen: 2, psid: 1 } }), true, relay));
    }
    for (let i = 0; i < 3000; i++) {
      const b = seeds[i % seeds.length].slice();
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      const cut = rnd() < 0.1 ? Math.floor(rnd() * b.length) : b.length;
      await s.handleDatagram(b.subarray(0, cut), { address: b4(i % 50), port: 546 });
    }
    expect(s.counters.sum('drop-internal')).toBe(0);
    expect(s.counters.get('drop-store-error')).toBe(0);
    const rows = (await s.store.all()).filter((r) => r.state === 'bound' || r.state === 'offered');
    const clients = rows.map((r) => r.client);
    expect(new Set(rows.map((r) => `${r.ipv4}/${r.psid}`)).size).toBe(rows.length);
    // a client holds at most one slot per pool kind
    const perClient = new Map<string, number>();
    for (const r of rows) perClient.set(`${r.client}/${r.psidLen > 0}`, (perClient.get(`${r.client}/${r.psidLen > 0}`) ?? 0) + 1);
    expect(Math.max(0, ...perClient.values())).toBeLessThanOrEqual(1);
    void clients;
  });

  it('random garbage never throws and never leases', async () => {
    const { s } = await env.server();
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 2000; i++) {
      const n = Math.floor(rnd() * 400);
      const b = new Uint8Array(n);
      for (let j = 0; j < n; j++) b[j] = Math.floor(rnd() * 256);
      if (n > 0 && rnd() < 0.5) b[0] = [20, 12, 11, 1][Math.floor(rnd() * 4)];
      await s.handleDatagram(b, { address: b4(i), port: 546 });
    }
    expect((await s.store.all()).filter((r) => r.state === 'bound')).toHaveLength(0);
    expect(s.counters.sum('drop-internal')).toBe(0);
  });
});
}
