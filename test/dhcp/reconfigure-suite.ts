// A live reload of the 4o6 server (Dhcp4o6Server.reconfigure), over either lease store:
// pools added, removed, reshaped and renamed; settings swapped; a config that cannot be
// served refused with the pool named while the old pools go on; what takes a restart
// refused; leases outside the new pools kept until they end or their client returns
// (then NAKed, RFC 2131 4.3.2); and a storm of exchanges through a reload that loses and
// doubles nothing. server.test.ts runs it over SQLite, server-pg.test.ts over PostgreSQL.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simClient, type SimClient } from '../../src/dhcp/client.js';
import { Dhcp4MessageType as T, Dhcp6MessageType, decodeDhcp6Message, encodeDhcp6Message, findRawOptions, ipv6ToBytes } from '../../src/dhcp/codec/index.js';
import type { Dhcp4o6Server } from '../../src/dhcp/server.js';
import { RETIRED_POOL } from '../../src/dhcp/store/types.js';
import { formatIPv4, parseIPv4 } from '../../src/map/ip.js';
import { TestEnv, lease, send, type StoreKind } from './server-helpers.js';

/** A config with these pool lines (YAML flow maps) and extra dhcp4o6 lines. */
function yaml(pools: string[], extra = ''): string {
  return `
mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  max-leases-per-site: 1000
${extra}  pools:
${pools.map((p) => `    - ${p}\n`).join('')}`;
}

/** 198.51.100.0, PSIDs 0-3 (a = 6, k = 2): four slots on one address. */
const OLD = '{ name: old, ipv4: 198.51.100.0/32, psid-len: 2 }';
/** 198.51.100.4-7, PSIDs 0-3: sixteen slots. */
const KEEP = '{ name: keep, ipv4: 198.51.100.4/30, psid-len: 2 }';
/** 203.0.113.0-3, PSIDs 0-3. */
const ADDED = '{ name: added, ipv4: 203.0.113.0/30, psid-len: 2 }';

const slot = (r: { v4: { yiaddr: string; options: { portParams?: { psid: number } } } } | null | undefined) =>
  `${r?.v4.yiaddr}/${r?.v4.options.portParams?.psid}`;

export function reconfigureSuite(kind: StoreKind): void {
  let env: TestEnv;
  beforeEach(() => {
    env = new TestEnv(kind);
  });
  afterEach(async () => {
    await env.cleanup();
  });

  /** The client's lease (ACK), or fails the test. */
  async function leased(s: Dhcp4o6Server, c: SimClient) {
    const r = await lease(s, c);
    expect(r?.v4.options.messageType).toBe(T.ACK);
    return r!;
  }

  const renew = (s: Dhcp4o6Server, c: SimClient, ack: Awaited<ReturnType<typeof leased>>, unicast = true) =>
    send(s, T.REQUEST, c, { ciaddr: ack.v4.yiaddr, portParams: ack.v4.options.portParams }, { unicast });

  const bound = async (s: Dhcp4o6Server) => (await s.store.all()).filter((r) => r.state === 'bound');

  describe('a reload swaps the pools in live', () => {
    it('a pool added: the next client gets an address from it; pool use follows at once', async () => {
      const { s, sink } = await env.server(yaml([OLD]));
      for (let i = 1; i <= 4; i++) await leased(s, simClient(i));
      expect(await send(s, T.DISCOVER, simClient(5))).toBeNull(); // four slots: exhausted
      const r = await s.reconfigure(env.config(yaml([OLD, ADDED])));
      expect(r).toMatchObject({ added: ['added'], removed: [], changed: [], unchanged: ['old'], retired: 0 });
      expect(s.pools.map((p) => p.name)).toEqual(['old', 'added']);
      const ack = await leased(s, simClient(5));
      expect(ack.v4.yiaddr.startsWith('203.0.113.')).toBe(true);
      expect((await bound(s)).map((x) => x.pool).sort()).toEqual(['added', 'old', 'old', 'old', 'old']);
      expect(sink.table.size).toBe(5);
    });

    it('a pool removed: its renewing client is NAKed and its lease and binding end; the other pool is untouched', async () => {
      const { s, sink } = await env.server(yaml([OLD, KEEP]));
      const c = [1, 2, 3, 4, 5, 6].map((n) => simClient(n));
      const acks: Awaited<ReturnType<typeof leased>>[] = [];
      for (const x of c) acks.push(await leased(s, x));
      expect(acks.slice(0, 4).every((a) => a.v4.yiaddr === '198.51.100.0')).toBe(true);
      expect(acks[4].v4.yiaddr.startsWith('198.51.100.')).toBe(true);
      expect(sink.table.size).toBe(6);

      const r = await s.reconfigure(env.config(yaml([KEEP])));
      expect(r).toMatchObject({ added: [], removed: ['old'], unchanged: ['keep'], retired: 4 });
      expect(s.pools.map((p) => p.name)).toEqual(['keep']);
      // kept, bound, until they end or their client returns
      expect(sink.table.size).toBe(6);
      expect((await bound(s)).filter((x) => x.pool === RETIRED_POOL)).toHaveLength(4);

      // RENEWING: NAK, the lease is free, the binding gone
      const oldSlot = (i: number) => [parseIPv4(acks[i].v4.yiaddr), acks[i].v4.options.portParams!.psid] as const;
      const nak = await renew(s, c[0], acks[0]);
      expect(nak?.v4.options.messageType).toBe(T.NAK);
      expect(nak?.v4.yiaddr).toBe('0.0.0.0');
      expect(sink.get(...oldSlot(0))).toBeUndefined();
      expect((await s.store.all()).find((x) => x.ipv4 === oldSlot(0)[0] && x.psid === oldSlot(0)[1])?.state).toBe('free');
      // REBINDING (broadcast) and INIT-REBOOT: we have its record, so NAK rather than silence
      expect((await renew(s, c[1], acks[1], false))?.v4.options.messageType).toBe(T.NAK);
      const reboot = await send(s, T.REQUEST, c[2], { requestedAddress: acks[2].v4.yiaddr, portParams: acks[2].v4.options.portParams });
      expect(reboot?.v4.options.messageType).toBe(T.NAK);
      expect(sink.get(...oldSlot(1))).toBeUndefined();
      expect(sink.get(...oldSlot(2))).toBeUndefined();
      // after the NAK the client starts over: a slot of the pools now configured
      const again = await leased(s, c[0]);
      expect(again.v4.yiaddr.startsWith('198.51.100.')).toBe(true);
      expect(again.v4.yiaddr).not.toBe('198.51.100.0');
      // a client in INIT (DISCOVER) is offered a new slot; its ACK ends the lease it held outside the pools
      const moved = await leased(s, c[3]);
      expect(moved.v4.yiaddr).not.toBe('198.51.100.0');
      expect(sink.get(...oldSlot(3))).toBeUndefined();
      expect(sink.get(parseIPv4(moved.v4.yiaddr), moved.v4.options.portParams!.psid)).toBeDefined();
      // the kept pool's clients: unaffected
      expect((await renew(s, c[4], acks[4]))?.v4.options.messageType).toBe(T.ACK);
      expect(sink.get(parseIPv4(acks[4].v4.yiaddr), acks[4].v4.options.portParams!.psid)).toBeDefined();
      expect(s.counters.get('v4-nak-outside-pools')).toBe(3);
      // a client with no lease there is answered as before: NAK when renewing, silence when rebinding
      expect((await send(s, T.REQUEST, simClient(40), { ciaddr: '198.51.100.0', portParams: { offset: 6, psidLen: 2, psid: 1 } }, { unicast: true }))?.v4.options.messageType).toBe(T.NAK);
      expect(await send(s, T.REQUEST, simClient(40), { ciaddr: '198.51.100.0', portParams: { offset: 6, psidLen: 2, psid: 1 } })).toBeNull();

      // every lease outside the pools ended: the next sweep drops their rows; nothing else changed
      expect(await s.sweep()).toBe(0);
      const rows = await s.store.all();
      expect(rows.filter((x) => x.pool !== 'keep')).toEqual([]);
      expect((await bound(s)).map((x) => `${x.ipv4}/${x.psid}`).sort()).toEqual(
        [again, moved, acks[4], acks[5]].map((a) => `${parseIPv4(a.v4.yiaddr)}/${a.v4.options.portParams!.psid}`).sort(),
      );
      expect(sink.table.size).toBe(4);
    });

    it('a lease outside the new pools whose client never returns ends at its expiry, binding and row', async () => {
      const { s, sink } = await env.server(yaml([OLD, KEEP]));
      const gone = await leased(s, simClient(1));
      env.clock += 1000_000;
      const stays = await leased(s, simClient(2));
      expect(stays.v4.yiaddr).toBe('198.51.100.0');
      await s.reconfigure(env.config(yaml([KEEP])));
      env.clock += 3600_000 - 1000_000 + 1; // the first lease's time is up, not the second's
      expect(await s.sweep()).toBe(1);
      expect(sink.get(parseIPv4(gone.v4.yiaddr), gone.v4.options.portParams!.psid)).toBeUndefined();
      expect(sink.table.size).toBe(1);
      expect((await s.store.all()).filter((x) => x.pool === RETIRED_POOL).map((x) => x.state)).toEqual(['bound']);
      expect(s.counters.get('store-reshapes')).toBe(1);
    });

    it('a lease outside the new pools can still be released (RELEASE): its binding goes, the next sweep drops its row', async () => {
      const { s, sink } = await env.server(yaml([OLD, KEEP]));
      const c = simClient(1);
      const ack = await leased(s, c);
      await s.reconfigure(env.config(yaml([KEEP])));
      await send(s, T.RELEASE, simClient(2), { ciaddr: ack.v4.yiaddr, serverId: '192.0.0.1', portParams: ack.v4.options.portParams });
      expect(sink.table.size).toBe(1); // not that client's
      await send(s, T.RELEASE, c, { ciaddr: ack.v4.yiaddr, serverId: '192.0.0.1', portParams: ack.v4.options.portParams });
      expect(sink.table.size).toBe(0);
      expect(s.counters.get('v4-released')).toBe(1);
      await s.sweep();
      expect(await s.store.all()).toEqual([]);
    });

    it('a pool reshaped (PSID-len 2 -> 4): no slot of the new size on an address whose old lease is held, until it ends', async () => {
      const A2 = '{ name: a, ipv4: 198.51.100.0/31, psid-len: 2 }';
      const A4 = '{ name: a, ipv4: 198.51.100.0/31, psid-len: 4 }';
      const { s, sink } = await env.server(yaml([A2]));
      const c1 = simClient(1);
      const held = await leased(s, c1);
      expect(held.v4.yiaddr).toBe('198.51.100.0');
      const r = await s.reconfigure(env.config(yaml([A4])));
      expect(r).toMatchObject({ changed: ['a'], retired: 1 });
      // 198.51.100.1's 16 new port sets are offered; none on 198.51.100.0 (they would overlap the held one's ports)
      const offered = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const o = await send(s, T.DISCOVER, simClient(100 + i));
        if (o !== null) {
          expect(o.v4.options.portParams?.psidLen).toBe(4);
          offered.add(slot(o));
        }
      }
      expect(offered.size).toBe(16);
      expect([...offered].every((x) => x.startsWith('198.51.100.1/'))).toBe(true);
      // its client returns: NAK (its port set is not one of the pool's now), the binding goes
      expect((await renew(s, c1, held))?.v4.options.messageType).toBe(T.NAK);
      expect(sink.table.size).toBe(0);
      await s.sweep(); // the store now makes 198.51.100.0's new slots
      const now = await leased(s, c1);
      expect(now.v4.yiaddr).toBe('198.51.100.0');
      expect(now.v4.options.portParams?.psidLen).toBe(4);
    });

    it('a renamed pool keeps its leases', async () => {
      const { s } = await env.server(yaml([KEEP]));
      const c = simClient(1);
      const ack = await leased(s, c);
      const r = await s.reconfigure(env.config(yaml([KEEP.replace('name: keep', 'name: kept')])));
      expect(r).toMatchObject({ added: ['kept'], removed: ['keep'], retired: 0 });
      expect((await renew(s, c, ack))?.v4.options.messageType).toBe(T.ACK);
      expect((await bound(s)).map((x) => x.pool)).toEqual(['kept']);
    });

    it('settings swap too: lease time, per-site limit, the server addresses sent in option 88', async () => {
      const { s } = await env.server(yaml([KEEP]));
      expect((await leased(s, simClient(1))).v4.options.leaseTime).toBe(3600);
      const next = yaml([KEEP], '  lease-time: 600\n  site-prefix-length: 32\n  server-addresses: ["2001:db8::547"]\n').replace('max-leases-per-site: 1000', 'max-leases-per-site: 1');
      const r = await s.reconfigure(env.config(next));
      expect(r.settings).toEqual(['lease-time', 'max-leases-per-site', 'server-addresses', 'site-prefix-length']);
      expect(r).toMatchObject({ unchanged: ['keep'], drained: 0 });
      expect((await leased(s, simClient(2))).v4.options.leaseTime).toBe(600);
      // every test client's source is in 2001:1000::/32: with site-prefix-length 32 one site,
      // which now holds one lease (client 2's; client 1's counts against its /56 of before)
      expect(await send(s, T.DISCOVER, simClient(3))).toBeNull();
      expect(s.counters.get('drop-v4-site-limit')).toBe(1);
      const duid = { type: 3, data: Uint8Array.of(0, 1, 2, 0, 0, 0, 0, 1) };
      const ask = encodeDhcp6Message({ kind: 'client-server', msgType: Dhcp6MessageType.INFORMATION_REQUEST, transactionId: 7, options: [{ kind: 'client-id', duid }] });
      const info = decodeDhcp6Message((await s.handleDatagram(ask, { address: 'fe80::1', port: 546 }))!);
      const o88 = findRawOptions(info.options, 88);
      expect(o88).toHaveLength(1);
      expect(Array.from(o88[0].data)).toEqual(Array.from(ipv6ToBytes('2001:db8::547')));
    });

    it('one log line per reload says what changed', async () => {
      const lines: string[] = [];
      const { s } = await env.server(yaml([OLD, KEEP]), {}, undefined, (l) => lines.push(l));
      await leased(s, simClient(1));
      lines.length = 0;
      await s.reconfigure(env.config(yaml([ADDED, KEEP.replace('psid-len: 2', 'psid-len: 3')], '  lease-time: 60\n')));
      expect(lines).toEqual([
        'reconfigured: pools added [added], removed [old], changed [keep]; settings changed: lease-time; 1 lease(s) outside the pools kept until they end or their client returns',
      ]);
    });
  });

  describe('what a reload cannot do is refused, and the old pools go on', () => {
    it('a pool that cannot be served is named with the reason; nothing changes', async () => {
      const { s } = await env.server(yaml([KEEP]));
      await leased(s, simClient(1));
      const bad = '{ name: bad, ipv4: 203.0.113.0/30, psid-len: 2, psid-offset: 0, reserved-ports: 0-65535 }';
      await expect(s.reconfigure(env.config(yaml([KEEP, bad], '  lease-time: 60\n')))).rejects.toThrow(
        /^dhcp4o6\.pools\[1\] \(bad\): every port set of PSID-len 2, offset 0 holds a reserved port$/,
      );
      expect(s.pools.map((p) => p.name)).toEqual(['keep']);
      const ack = await leased(s, simClient(2));
      expect(ack.v4.yiaddr.startsWith('198.51.100.')).toBe(true);
      expect(ack.v4.options.leaseTime).toBe(3600); // the refused config's lease-time is not in force either
      expect((await s.store.all()).filter((r) => r.pool !== 'keep')).toEqual([]);
    });

    it('listen, lease-store and the mode take a restart', async () => {
      const { s } = await env.server(yaml([KEEP]));
      const base = env.config(yaml([KEEP]));
      await expect(s.reconfigure({ ...base, dhcp4o6: { ...base.dhcp4o6!, listen: ['[::1]:5470'] } })).rejects.toThrow(/^dhcp4o6\.listen changed: it takes a restart/);
      await expect(s.reconfigure({ ...base, dhcp4o6: { ...base.dhcp4o6!, 'lease-store': 'sqlite:/elsewhere.db' } })).rejects.toThrow(
        /^dhcp4o6\.lease-store changed: it takes a restart/,
      );
      await expect(s.reconfigure({ ...base, mode: 'map-e' })).rejects.toThrow(/^mode changed/);
      await expect(s.reconfigure({ ...base, dhcp4o6: undefined })).rejects.toThrow(/^dhcp4o6 removed/);
      expect((await leased(s, simClient(1))).v4.yiaddr.startsWith('198.51.100.')).toBe(true);
    });
  });

  describe('a lease in flight during a reload is neither lost nor doubled', () => {
    it('a message under way when the reload begins is handled wholly with the old pools, the next with the new', async () => {
      const A2 = '{ name: a, ipv4: 198.51.100.0/30, psid-len: 2 }';
      const A4 = '{ name: a, ipv4: 198.51.100.0/30, psid-len: 4 }';
      const { s } = await env.server(yaml([A2]));
      const c1 = simClient(1);
      // under way: its lease operation is waiting for the store when the reload is asked for
      const before = send(s, T.DISCOVER, c1);
      const r = await s.reconfigure(env.config(yaml([A4])));
      expect(r.drained).toBe(1);
      // its offer is one of the old pool's port sets, not a slot the reshaped store made
      const offer = await before;
      expect(offer?.v4.options.messageType).toBe(T.OFFER);
      expect(offer?.v4.options.portParams?.psidLen).toBe(2);
      // that offer left with its pool: its REQUEST is NAKed, and the client starts over with the new pool
      const req = await send(s, T.REQUEST, c1, { requestedAddress: offer!.v4.yiaddr, serverId: '192.0.0.1', portParams: offer!.v4.options.portParams });
      expect(req?.v4.options.messageType).toBe(T.NAK);
      expect((await leased(s, c1)).v4.options.portParams?.psidLen).toBe(4);
      expect(await bound(s)).toHaveLength(1);
    });

    it('a storm of DISCOVER -> REQUEST exchanges with a reload in the middle', async () => {
      // 'gone' is removed, 'added' is added (first), 'a' stays: clients before the reload
      // get 'gone' then 'a', after it 'added' then 'a'.
      const GONE = '{ name: gone, ipv4: 198.51.100.64/30, psid-len: 2 }';
      const A = '{ name: a, ipv4: 198.51.100.0/28, psid-len: 4 }';
      const ADDED4 = '{ name: added, ipv4: 203.0.113.0/28, psid-len: 4 }';
      const { s, sink } = await env.server(yaml([GONE, A]));
      const LANES = 12;
      const PER = 8;
      const acked = new Map<number, string>(); // client -> its (IPv4, PSID)
      const naks = { n: 0 };
      let reloading: Promise<Awaited<ReturnType<Dhcp4o6Server['reconfigure']>>> | undefined;
      let extra: Promise<unknown> | undefined;
      const record = (n: number, r: Awaited<ReturnType<typeof lease>>) => {
        expect(acked.has(n)).toBe(false);
        acked.set(n, slot(r));
        if (acked.size === 30) {
          // one more exchange under way as the reload begins: it must be drained, not cut
          extra = client(999);
          reloading = s.reconfigure(env.config(yaml([ADDED4, A])));
        }
      };
      // a client tries again after a NAK (its offer's slot left the pools) like a real one
      const client = async (n: number) => {
        for (let attempt = 0; attempt < 3; attempt++) {
          const r = await lease(s, simClient(n));
          if (r?.v4.options.messageType === T.ACK) return record(n, r);
          naks.n++;
        }
        throw new Error(`client ${n} got no lease`);
      };
      const lanes = Array.from({ length: LANES }, async (_, lane) => {
        for (let i = 0; i < PER; i++) await client(1 + lane * PER + i);
      });
      await Promise.all(lanes);
      expect(reloading).toBeDefined();
      const r = await reloading!;
      await extra;
      expect(r).toMatchObject({ added: ['added'], removed: ['gone'], unchanged: ['a'] });
      expect(r.drained).toBeGreaterThanOrEqual(1);

      // every client has one lease; no (IPv4, PSID) twice
      expect(acked.size).toBe(LANES * PER + 1);
      const slots = [...acked.values()];
      expect(new Set(slots).size).toBe(slots.length);
      // the reload was in the middle: leases from the removed pool before it, from the added one after
      const within = (first: string, n: number) => (x: string) => parseIPv4(x.split('/')[0]) - parseIPv4(first) < n && parseIPv4(x.split('/')[0]) >= parseIPv4(first);
      const fromGone = slots.filter(within('198.51.100.64', 4)).length;
      expect(fromGone).toBeGreaterThan(0);
      expect(slots.filter(within('203.0.113.0', 16)).length).toBeGreaterThan(0);
      // every ACKed lease is in the store exactly once, bound, and nothing else is bound; every one is a binding
      const rows = await bound(s);
      const key = (v4: number, psid: number) => `${formatIPv4(v4)}/${psid}`;
      expect(rows.map((x) => key(x.ipv4, x.psid)).sort()).toEqual([...slots].sort());
      expect([...sink.table.values()].map((b) => key(b.ipv4, b.psid)).sort()).toEqual([...slots].sort());
      // leases of the removed pool made before the reload are kept, outside the pools
      expect(rows.filter((x) => x.pool === RETIRED_POOL)).toHaveLength(fromGone);
      expect(s.counters.sum('drop-internal')).toBe(0);
      expect(s.counters.get('drop-store-error')).toBe(0);
    });
  });
}
