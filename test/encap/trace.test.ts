// Per-subscriber counters in the core (assembly/map/trace.ts): the trace slot lives in
// the binding slot, the packet paths note the source / destination binding, emit()
// counts. What a traced subscriber's counters must show, in every mode, and what they
// must not (other subscribers, drops, the BR's own errors).
import { describe, expect, it } from 'vitest';
import { fragment4, ipv4, ipv6, udp } from '../../src/packets/index.js';
import { TRACE_SLOTS } from '../../src/core/abi.js';
import { parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { HOST, LW, ME, Harness, lwYaml, meYaml, tunnel } from './helpers.js';

interface Sub {
  fromPackets: number;
  fromBytes: number;
  toPackets: number;
  toBytes: number;
}

function counters(h: Harness, slot: number): Sub {
  const c = h.engine.traceCounters();
  const at = (slot - 1) * 4;
  return { fromPackets: Number(c[at]), fromBytes: Number(c[at + 1]), toPackets: Number(c[at + 2]), toBytes: Number(c[at + 3]) };
}
const total = (h: Harness) => Array.from(h.engine.traceCounters(), Number).reduce((a, b) => a + b, 0);

const A = parseIPv4(LW.addr);
const toLw = (dport: number, payload = 'down') => ipv4({ src: HOST, dst: LW.addr, ttl: 60, payload: udp({ sport: 53, dport, payload }) });
const fromLw = (b4: string, sport: number, payload = 'up') => tunnel(b4, ipv4({ src: LW.addr, dst: HOST, ttl: 60, payload: udp({ sport, dport: 53, payload }) }));

describe('per-subscriber counters in the core: lw4o6', () => {
  it('counts the traced B4 only, both ways, in IP bytes of what the BR sends', () => {
    const h = new Harness(lwYaml());
    h.engine.traceSet(A, 12, 5);
    const b = h.run([toLw(LW.portA, 'abc'), toLw(LW.portB), fromLw(LW.b4a, LW.portA, 'hello'), fromLw(LW.b4b, LW.portB)]);
    expect(b.out).toHaveLength(4);
    // to A: IPv6 40 + IPv4 20 + UDP 8 + 3; from A: the decapsulated IPv4 20 + 8 + 5
    expect(counters(h, 5)).toEqual({ toPackets: 1, toBytes: 40 + 20 + 8 + 3, fromPackets: 1, fromBytes: 20 + 8 + 5 });
    expect(total(h)).toBe(1 + 71 + 1 + 33);
  });

  it('counts nothing while nobody is traced, and nothing for dropped packets', () => {
    const h = new Harness(lwYaml());
    h.run([toLw(LW.portA), fromLw(LW.b4a, LW.portA)]);
    expect(total(h)).toBe(0);
    h.engine.traceSet(A, 12, 1);
    // wrong B4 for A's port (spoofed), a port outside A's set, a TTL that expires
    const b = h.run([fromLw(LW.b4b, LW.portA), fromLw(LW.b4a, LW.portB), ipv4({ src: HOST, dst: LW.addr, ttl: 1, payload: udp({ sport: 53, dport: LW.portA, payload: 'x' }) })]);
    expect(b.delta.encap_4in6 ?? 0).toBe(0);
    expect(b.delta.decap_4in6 ?? 0).toBe(0);
    expect(counters(h, 1)).toEqual({ fromPackets: 0, fromBytes: 0, toPackets: 0, toBytes: 0 });
  });

  it('a hairpinned packet counts for the subscriber it reaches', () => {
    const h = new Harness(lwYaml());
    h.engine.traceSet(A, 12, 1);
    h.engine.traceSet(A, 13, 2);
    const inner = ipv4({ src: LW.addr, dst: LW.addr, ttl: 30, payload: udp({ sport: LW.portB, dport: LW.portA, payload: 'hairpin' }) });
    const b = h.one(tunnel(LW.b4b, inner));
    expect(b.delta.hairpin).toBe(1);
    expect(counters(h, 1)).toMatchObject({ toPackets: 1, fromPackets: 0 });
    expect(counters(h, 2)).toMatchObject({ toPackets: 0, fromPackets: 0 });
  });

  it('the trace survives the binding being removed and added again (a renewed lease), and stops when asked', () => {
    const h = new Harness(lwYaml());
    h.engine.traceSet(A, 12, 3);
    h.one(toLw(LW.portA));
    expect(h.engine.removeBinding(A, 12)).toBe(true);
    h.one(toLw(LW.portA)); // no binding: dropped, not counted
    h.engine.putBinding({ ipv4: A, psid: 12, psidLen: 6, psidOffset: 6, prefixLen: 128, ipv6: parseIPv6(LW.b4a) });
    h.one(toLw(LW.portA));
    expect(counters(h, 3).toPackets).toBe(2);
    h.engine.traceSet(A, 12, 0);
    expect(counters(h, 3).toPackets).toBe(0);
    h.one(toLw(LW.portA));
    expect(total(h)).toBe(0);
  });

  it('the flag moves with a binding the table shifts back on a delete', () => {
    // 24 bindings in a 64-slot table: clusters form; deleting their members shifts
    // the traced one back (backward-shift deletion) and its flag must go with it
    const h = new Harness(lwYaml(), 101, { bindingCapacity: 32 });
    const addr = parseIPv4('198.51.100.200');
    for (let p = 0; p < 24; p++) h.engine.putBinding({ ipv4: addr, psid: p, psidLen: 6, psidOffset: 6, prefixLen: 128, ipv6: parseIPv6(`2001:db8:99::${p + 1}`) });
    const port = (psid: number) => 1024 + psid * 16; // A = 1, offset 6, k 6
    h.engine.traceSet(addr, 17, 9);
    for (let p = 0; p < 24; p++) if (p !== 17) h.engine.removeBinding(addr, p);
    const b = h.run([ipv4({ src: HOST, dst: '198.51.100.200', payload: udp({ sport: 53, dport: port(17), payload: 'x' }) })]);
    expect(b.delta.encap_4in6).toBe(1);
    expect(counters(h, 9).toPackets).toBe(1);
  });

  it('non-first fragments count like their first', () => {
    const h = new Harness(lwYaml());
    h.engine.traceSet(A, 12, 1);
    const frags = fragment4(ipv4({ src: HOST, dst: LW.addr, id: 77, payload: udp({ sport: 53, dport: LW.portA, payload: 'y'.repeat(300) }) }), 128);
    expect(frags.length).toBeGreaterThan(2);
    const b = h.run(frags);
    expect(b.out).toHaveLength(frags.length);
    expect(counters(h, 1).toPackets).toBe(frags.length);
    expect(counters(h, 1).toBytes).toBe(frags.reduce((n, f) => n + 40 + f.length, 0));
  });

  it('refuses a slot out of range, a slot taken, or stopping what is not traced', () => {
    const h = new Harness(lwYaml());
    expect(() => h.engine.traceSet(A, 12, TRACE_SLOTS + 1)).toThrow(/out of range/);
    h.engine.traceSet(A, 12, 1);
    h.engine.traceSet(A, 12, 1); // again in its own slot: fine, counters kept
    expect(() => h.engine.traceSet(A, 13, 1)).toThrow(/taken/);
    expect(() => h.engine.traceSet(A, 12, 2)).toThrow(/taken/);
    expect(() => h.engine.traceSet(A, 13, 0)).toThrow(/not traced/);
    // every slot usable
    for (let s = 2; s <= TRACE_SLOTS; s++) h.engine.traceSet(A, 100 + s, s);
  });
});

describe('per-subscriber counters in the core: map-e and map-t bindings', () => {
  it('map-e: an EA-len-0 binding, both ways', () => {
    const h = new Harness(meYaml());
    const b4 = parseIPv4(ME.bind4);
    h.engine.traceSet(b4, 12, 4);
    const down = ipv4({ src: HOST, dst: ME.bind4, payload: udp({ sport: 53, dport: ME.bindPort, payload: 'abcd' }) });
    const up = tunnel(ME.bind6, ipv4({ src: ME.bind4, dst: HOST, payload: udp({ sport: ME.bindPort, dport: 53, payload: 'ab' }) }));
    const rule = ipv4({ src: HOST, dst: ME.ce4, payload: udp({ sport: 53, dport: ME.port, payload: 'x' }) });
    const b = h.run([down, up, rule]);
    expect(b.out).toHaveLength(3);
    expect(counters(h, 4)).toEqual({ toPackets: 1, toBytes: 40 + 20 + 8 + 4, fromPackets: 1, fromBytes: 20 + 8 + 2 });
  });

  it('map-t: translated packets of an EA-len-0 binding, in translated IP bytes', () => {
    const yaml = `mode: map-t
dmr: 2001:db8:ffff::/64
bindings:
  - { ipv4: 198.51.100.7, psid-len: 6, psid: 12, psid-offset: 6, ipv6: 2001:db8:100:77::/64 }
reserved-ports: 0-1023
`;
    const h = new Harness(yaml);
    h.engine.traceSet(parseIPv4('198.51.100.7'), 12, 2);
    const down = ipv4({ src: '10.2.3.4', dst: '198.51.100.7', payload: udp({ sport: 53, dport: 1216, payload: 'abc' }) });
    const up = ipv6({ src: '2001:db8:100:77:0:c633:6407:c', dst: '2001:db8:ffff:0:a:203:400:0', payload: udp({ sport: 1216, dport: 53, payload: 'hello' }) });
    const b = h.run([down, up]);
    expect(b.delta.xlat_4to6).toBe(1);
    expect(b.delta.xlat_6to4).toBe(1);
    expect(counters(h, 2)).toEqual({ toPackets: 1, toBytes: 40 + 8 + 3, fromPackets: 1, fromBytes: 20 + 8 + 5 });
  });
});
