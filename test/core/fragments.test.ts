// Item 6: fragments at the BR (RFC 7599 10.2: only the first fragment has the port
// that selects the CE; later ones follow it through the fragment table,
// assembly/xlat/fragtable.ts): in order, out of order (held, then released),
// timeout (nowMs), table full, more than two held, and both directions.
import { describe, expect, it } from 'vitest';
import { fragment4, fragment6, ipv4, ipv6, udp } from '../../src/packets/index.js';
import { CE4, CE6, CE6_B, HOST4, HOST6, LINKTYPES, bytes, harness, icmpKinds, summary } from './helpers.js';

const datagram4 = (id: number, dport = 1232, size = 1500, ttl = 64) =>
  ipv4({ src: HOST4, dst: CE4, id, ttl, payload: udp({ sport: 53, dport, payload: bytes(size, id) }) });
const datagram6 = (size = 1500, src = CE6, dst = HOST6, sport = 1232, hopLimit = 64) =>
  ipv6({ src, dst, hopLimit, payload: udp({ sport, dport: 53, payload: bytes(size) }) });

describe.each(LINKTYPES)('fragments, linktype %i', (linktype) => {
  describe('in order', () => {
    it('IPv4 -> IPv6: every fragment goes to the CE its first fragment\'s port selects', () => {
      const h = harness({}, { linktype });
      const a = fragment4(datagram4(1, 1232), 600);
      const b = fragment4(datagram4(2, 1236), 600);
      const r = h.run([...a, ...b]);
      expect(r.v6.map((o) => o.p.dst)).toEqual([...a.map(() => CE6), ...b.map(() => CE6_B)]);
      expect(r.d).toMatchObject({ xlat_4to6: a.length + b.length });
      expect(r.d.frag_held).toBeUndefined();
      expect(h.incompleteFragments()).toBe(0); // both reassembled, checksums valid
    });
    it('IPv6 -> IPv4: non-first fragments are validated with their first fragment\'s source port', () => {
      const h = harness({}, { linktype });
      const f = fragment6(datagram6(1500), 600, 0x99);
      const r = h.run(f);
      expect(r.v4.length).toBe(f.length);
      expect(r.v4.every((o) => o.p.src === CE4)).toBe(true);
      expect(h.incompleteFragments()).toBe(0);
    });
    it('a first fragment from a port outside the PSID: its followers are refused for the same port, one 1/5 in all', () => {
      const h = harness({}, { linktype });
      const f = fragment6(datagram6(1500, CE6, HOST6, 1236), 600, 0x98);
      const r = h.run(f);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d.drop_ipv6_port_outside_psid).toBe(3);
      expect(icmpKinds(r.v6)).toEqual(['icmp6 1/5']);
    });
    it('flows are kept apart by source, destination, protocol and Identification', () => {
      const h = harness({}, { linktype });
      // same id 7, different destination ports (different CEs) and different sources
      const a = fragment4(datagram4(7, 1232), 600);
      const b = fragment4(ipv4({ src: '10.9.9.9', dst: CE4, id: 7, payload: udp({ sport: 53, dport: 1236, payload: bytes(1500) }) }), 600);
      const r = h.run([a[0], b[0], a[1], b[1], a[2], b[2]]);
      expect(r.v6.map((o) => o.p.dst)).toEqual([CE6, CE6_B, CE6, CE6_B, CE6, CE6_B]);
    });
  });

  describe('out of order: non-first fragments wait for the first (held, then released)', () => {
    it('IPv4: two fragments before the first are held, then sent right after it, in arrival order', () => {
      const h = harness({}, { linktype });
      const f = fragment4(datagram4(0x31, 1236), 600); // 3 fragments
      expect(f.length).toBe(3);
      const r1 = h.run([f[2], f[1]]);
      expect(summary(r1.out)).toEqual([]);
      expect(r1.d.frag_held).toBe(2);
      expect(h.held()).toBe(2);
      const r2 = h.run([f[0]]);
      expect(r2.d).toMatchObject({ frag_released: 2, xlat_4to6: 3 });
      expect(r2.v6.map((o) => [o.p.dst, o.p.fragment!.offset])).toEqual([
        [CE6_B, 0],
        [CE6_B, 1152],
        [CE6_B, 576],
      ]);
      expect(h.held()).toBe(0);
      expect(h.incompleteFragments()).toBe(0);
    });
    it('IPv4: held in one batch, released in the same batch when the first follows', () => {
      const h = harness({}, { linktype });
      const f = fragment4(datagram4(0x32), 600);
      const r = h.run([f[1], f[0], f[2]]);
      expect(r.d).toMatchObject({ frag_held: 1, frag_released: 1, xlat_4to6: 3 });
      expect(r.v6.map((o) => o.p.fragment!.offset)).toEqual([0, 576, 1152]);
    });
    it('IPv6: a non-first fragment from a shared-address CE is held until the first brings the port', () => {
      const h = harness({}, { linktype });
      const f = fragment6(datagram6(1500), 600, 0x77);
      const r1 = h.run([f[1]]);
      expect(r1.d.frag_held).toBe(1);
      const r2 = h.run([f[0], f[2]]);
      expect(r2.d).toMatchObject({ frag_released: 1, xlat_6to4: 3 });
      expect(r2.v4.map((o) => o.p.fragment!.offset)).toEqual([0, 552, 1104]);
      expect(h.incompleteFragments()).toBe(0);
    });
    it('IPv6: a held fragment of a flow whose first fragment turns out spoofed is released and dropped', () => {
      const h = harness({}, { linktype });
      const f = fragment6(datagram6(1500, CE6, HOST6, 1236), 600, 0x78);
      h.run([f[1]]);
      const r = h.run([f[0]]);
      expect(summary(r.v4)).toEqual([]);
      expect(r.d.frag_released).toBe(1);
      expect(r.d.drop_ipv6_port_outside_psid).toBe(2);
      expect(h.held()).toBe(0);
    });
    it('a third fragment before the first: dropped (drop_frag_no_first); at most two are held', () => {
      const h = harness({}, { linktype });
      const f = fragment4(datagram4(0x33, 1232, 3000), 600); // 6 fragments
      const r = h.run([f[1], f[2], f[3], f[4]]);
      expect(r.d).toMatchObject({ frag_held: 2, drop_frag_no_first: 2 });
      const r2 = h.run([f[0], f[5]]);
      expect(r2.d).toMatchObject({ frag_released: 2, xlat_4to6: 4 });
    });
  });

  describe('timeout (fragments.timeout-ms, on the clock given to processBatch)', () => {
    const cfg = { fragments: { 'timeout-ms': 500, 'table-size': 16 } };
    it('held frames are freed and counted as drop_frag_timeout once their flow expires', () => {
      const h = harness(cfg, { linktype, fragmentSlots: 16 });
      const f = fragment4(datagram4(0x41), 600);
      h.run([f[1], f[2]], { now: 10_000 });
      expect(h.held()).toBe(2);
      // not yet: still held at 10_499 (the sweep visits 8 of the 16 slots per batch)
      h.run([], { now: 10_499 });
      h.run([], { now: 10_499 });
      expect(h.held()).toBe(2);
      const r1 = h.run([], { now: 10_500 });
      const r2 = h.run([], { now: 10_500 });
      expect((r1.d.drop_frag_timeout ?? 0) + (r2.d.drop_frag_timeout ?? 0)).toBe(2);
      expect(h.held()).toBe(0);
      expect(h.engine.core.framesFree()).toBe(h.frames);
      // the first fragment, late: translated alone (its followers are gone)
      const r3 = h.run([f[0]], { now: 10_600 });
      expect(r3.d.xlat_4to6).toBe(1);
      expect(r3.d.frag_released).toBeUndefined();
    });
    it('an expired flow found by a later fragment frees its held frames at once (drop_frag_timeout)', () => {
      const h = harness(cfg, { linktype }); // 4096 slots: the sweep would take 512 batches
      const f = fragment4(datagram4(0x42), 600);
      h.run([f[1]], { now: 20_000 });
      const r = h.run([f[2]], { now: 21_000 });
      expect(r.d.drop_frag_timeout).toBe(1);
      expect(r.d.frag_held).toBe(1); // f[2] starts a new wait
      expect(h.held()).toBe(1);
    });
    it('a known flow lives timeout-ms after its last fragment', () => {
      const h = harness(cfg, { linktype });
      const f = fragment4(datagram4(0x43, 1236, 3000), 600); // 6 fragments
      h.run([f[0]], { now: 30_000 });
      h.run([f[1]], { now: 30_400 });
      h.run([f[2]], { now: 30_800 }); // 800 ms after the first, 400 after the last
      const r = h.run([f[3]], { now: 31_200 });
      expect(r.v6.map((o) => o.p.dst)).toEqual([CE6_B]);
      // 500 ms of silence: the flow is gone, the next fragment waits for a first that never comes
      const late = h.run([f[4]], { now: 31_700 });
      expect(late.d.frag_held).toBe(1);
    });
  });

  describe('table full (a small fragmentSlots)', () => {
    it('a follower that finds no free slot in its window: drop_frag_table_full', () => {
      const h = harness({}, { linktype, fragmentSlots: 16 });
      // 16 slots: 16 flows waiting for their first fragment fill the table
      const waiting = Array.from({ length: 40 }, (_, i) => fragment4(datagram4(0x500 + i), 600)[1]);
      const r = h.run(waiting);
      expect(r.d.frag_held).toBeLessThanOrEqual(16);
      expect(r.d.drop_frag_table_full).toBe(40 - r.d.frag_held);
      expect(h.held()).toBe(r.d.frag_held);
    });
    it('a first fragment is translated even with the table full, and counted once: as translated', () => {
      const h = harness({}, { linktype, fragmentSlots: 16 });
      h.run(Array.from({ length: 60 }, (_, i) => fragment4(datagram4(0x600 + i), 600)[1]));
      expect(h.held(), 'every slot holds a waiting flow').toBe(16);
      const f = fragment4(datagram4(0x700), 600);
      const r = h.run([f[0]]);
      expect(r.d.xlat_4to6).toBe(1);
      // every packet ends in exactly one fate (assembly/counters.ts); the harness checks the
      // identity, and a packet that was sent is not also a drop
      expect(r.d.drop_frag_table_full ?? 0).toBe(0);
      const r2 = h.run([f[1], f[2]]);
      expect(r2.d.drop_frag_table_full).toBe(2);
    });
    // KNOWN CORE BUG, left failing (not a small local fix, see the report): nothing bounds
    // the frames held for fragments waiting for their first fragment but the table
    // (HELD_MAX = 2 per slot, fragmentSlots slots), and 2 x 4096 slots > 4096 frames. A
    // flood of non-first fragments (2 per flow, within fragments.timeout-ms) takes every
    // frame: processBatch throws "no free frames in the core" (on AF_XDP the fill ring
    // runs dry and the BR stops receiving) until the flows expire. A fix: a cap on held
    // frames in assembly/xlat/fragtable.ts (a count kept in lookupFollower / recordFirst /
    // dropEntry, refused as drop_frag_table_full) below frameCount minus what a batch
    // needs.
    it('held fragments can never take every frame: with the default sizes (4096 frames, 4096 slots) a flood of first-less fragments leaves the BR working', () => {
      const h = harness({}, { linktype });
      let err: unknown;
      let id = 0;
      try {
        for (let b = 0; b < 100; b++) {
          const pkts: Uint8Array[] = [];
          for (let i = 0; i < 32; i++, id++) {
            const f = fragment4(datagram4(id & 0xffff, 1232, 1200), 400);
            pkts.push(f[1], f[2]);
          }
          h.run(pkts, { now: 50_000 });
        }
      } catch (e) {
        err = e;
      }
      expect(String(err ?? 'none'), `after ${id} flows, ${h.held()} frames held of ${h.frames}`).toBe('none');
      // and ordinary traffic still flows
      const r = h.run(Array.from({ length: 64 }, (_, i) => ipv4({ src: HOST4, dst: CE4, id: i, payload: udp({ sport: 53, dport: 1232 }) })), { now: 50_001 });
      expect(r.v6.length).toBe(64);
    });
  });

  describe('hairpinned fragments (RFC 7599 12.2 with 10.2)', () => {
    // a CE with a full address (no port needed to validate it) sends fragments to a
    // shared address: the IPv4 side needs the first fragment's destination port
    const rules = [
      { 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16 },
      { 'ipv6-prefix': '2001:db8:400::/40', 'ipv4-prefix': '198.51.100.0/24', 'ea-len': 8 },
    ];
    const full6 = '2001:db8:409::c633:6409:0'; // 198.51.100.9
    const CE4_VIA_DMR = '2001:db8:ffff:0:c0:2:1200:0';
    const dgram = () => ipv6({ src: full6, dst: CE4_VIA_DMR, hopLimit: 40, payload: udp({ sport: 7, dport: 1236, payload: bytes(1500) }) });

    it('in order: every fragment reaches the CE, hop limit decremented once, counted as hairpin', () => {
      const h = harness({ rules }, { linktype });
      const f = fragment6(dgram(), 600, 0x5151);
      const r = h.run(f);
      expect(r.v6.map((o) => [o.p.dst, o.p.ttl])).toEqual(f.map(() => [CE6_B, 39]));
      expect(r.d.hairpin).toBe(f.length);
      expect(h.incompleteFragments()).toBe(0);
    });
    // KNOWN CORE BUG, left failing (not local: assembly/xlat/fragtable.ts, dispatch.ts,
    // v4to6.ts): a hairpinned non-first fragment that must wait for its first fragment on
    // the IPv4 leg (its CE needs no port to validate, the destination does) is held as the
    // IPv4 packet v6to4 made of it, TTL already decremented. Released, dispatch.ts hands
    // it to v4to6 with hairpin = false: the TTL is decremented again (a fragment that
    // arrived with hop limit 2 is then dropped as drop_ipv4_ttl_expired while its first
    // fragment goes through), and it is counted as xlat_4to6, not hairpin. A held frame
    // would have to remember that it is a hairpin.
    it('out of order: the same (hop limit decremented once, counted as hairpin)', () => {
      const h = harness({ rules }, { linktype });
      const f = fragment6(dgram(), 600, 0x5152);
      const r = h.run([f[2], f[1], f[0]]);
      expect(r.v6.map((o) => [o.p.dst, o.p.ttl])).toEqual(f.map(() => [CE6_B, 39]));
      expect(r.d.hairpin).toBe(f.length);
      expect(r.d.xlat_4to6).toBeUndefined();
      expect(h.incompleteFragments()).toBe(0);
    });
  });
});
