// lw4o6 with one port-set layout (map/bindings.ts): while every bound address has the
// same (psid-len, offset), the core looks the binding up straight from the port
// (lookup4.ts) instead of reading the address entry first. These tests hold that path
// to the general one: the same traffic through a table with one layout and through
// the same table plus an address of another layout (which turns the direct path off)
// must give the same bytes and the same drop reasons, and the switch between the two
// as bindings come and go must never misdirect a packet.
import { describe, expect, it } from 'vitest';
import { canonicalIpv6, ipv4, udp, rawTransport } from '../../src/packets/index.js';
import { prng } from '../../src/dataplane/synthetic.js';
import { parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import { BR, HOST, Harness, drops, hex, tunnel } from './helpers.js';

const YAML = `mode: lw4o6\nbr: ${BR}\nreserved-ports: 0-1023\n`;
const BASE = parseIPv4('100.64.0.0');
const v4text = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
const b4 = (v4: number, psid: number) => `2001:db8:b4::${((v4 - BASE) & 0xffff).toString(16)}:${psid.toString(16)}`;
/** psid-len 6, offset 6: port = A·1024 + psid·16 + j, A in 1..63 */
const port = (psid: number, a = 1, j = 0) => (a << 10) | (psid << 4) | j;

function shared(h: Harness, v4: number, psid: number): void {
  h.engine.putBinding({ ipv4: v4, psidLen: 6, psidOffset: 6, psid, prefixLen: 128, ipv6: parseIPv6(b4(v4, psid)) });
}
const OTHER = parseIPv4('100.65.0.1'); // an address of another layout: a whole address

function tables(): { direct: Harness; general: Harness } {
  const direct = new Harness(YAML);
  const general = new Harness(YAML);
  for (const h of [direct, general]) for (let a = 0; a < 8; a++) for (let p = 0; p < 64; p += 3) shared(h, BASE + a, p);
  general.engine.putBinding({ ipv4: OTHER, psidLen: 0, psidOffset: 0, psid: 0, prefixLen: 128, ipv6: parseIPv6('2001:db8:b4::ff') });
  return { direct, general };
}

describe('lw4o6, one port-set layout: the direct look-up', () => {
  it('gives the same bytes and drop reasons as the general path, on random traffic both ways', () => {
    const { direct, general } = tables();
    const rnd = prng(7);
    const int = (n: number) => Math.floor(rnd() * n);
    for (let b = 0; b < 40; b++) {
      const batch: Uint8Array[] = [];
      for (let i = 0; i < 64; i++) {
        const v4 = BASE + int(10); // 8 bound addresses, 2 not
        const psid = int(64);
        const r = rnd();
        const p = r < 0.05 ? int(1024) : port(psid, 1 + int(63), int(16)); // some reserved ports
        if (rnd() < 0.5) {
          const payload = rnd() < 0.05 ? rawTransport(47, 'gre') : udp({ sport: 53, dport: p, payload: `to ${i}` });
          batch.push(ipv4({ src: HOST, dst: v4text(v4), id: i, ttl: 2 + int(60), payload }));
        } else {
          const claimed = rnd() < 0.8 ? psid : int(64); // a B4 sending from another's port set
          const inner = ipv4({ src: v4text(v4), dst: HOST, id: i, ttl: 2 + int(60), payload: udp({ sport: p, dport: 53, payload: `from ${i}` }) });
          batch.push(tunnel(b4(v4, claimed), inner));
        }
      }
      const x = direct.run(batch);
      const y = general.run(batch);
      expect(x.out.map((o) => hex(o.data))).toEqual(y.out.map((o) => hex(o.data)));
      expect(drops(x.delta)).toEqual(drops(y.delta));
    }
    const c = direct.counters();
    // the traffic did reach both outcomes
    expect(c.encap_4in6).toBeGreaterThan(100);
    expect(c.decap_4in6).toBeGreaterThan(100);
    expect(c.drop_ipv4_no_binding + c.drop_ipv4_port_unmapped + c.drop_ipv4_no_port).toBeGreaterThan(50);
  });

  it('keeps sending to the right B4 as a binding of another layout comes and goes', () => {
    const h = new Harness(YAML);
    for (let p = 0; p < 64; p++) shared(h, BASE, p);
    const to = (v4: number, dport: number) => ipv4({ src: HOST, dst: v4text(v4), payload: udp({ sport: 53, dport, payload: 'x' }) });
    const check = () => {
      const b = h.run([to(BASE, port(5)), to(BASE, port(63, 9, 15)), to(BASE, 80)]);
      expect(b.parsed[0].dst).toBe(canonicalIpv6(b4(BASE, 5)));
      expect(b.parsed[1].dst).toBe(canonicalIpv6(b4(BASE, 63)));
      expect(drops(b.delta)).toEqual({ drop_ipv4_port_unmapped: 1 }); // port 80 is reserved
    };
    check();
    // a whole address (psid-len 0) and an address with another offset: two more layouts
    h.engine.putBinding({ ipv4: OTHER, psidLen: 0, psidOffset: 0, psid: 0, prefixLen: 128, ipv6: parseIPv6('2001:db8:b4::ff') });
    h.engine.putBinding({ ipv4: OTHER + 1, psidLen: 6, psidOffset: 4, psid: 1, prefixLen: 128, ipv6: parseIPv6('2001:db8:b4::fe') });
    check();
    expect(h.run([to(OTHER, 80)]).parsed[0].dst).toBe(canonicalIpv6('2001:db8:b4::ff'));
    // offset 4: port = A·4096 + psid·64 + j; PSID 1 -> 4096 + 64
    expect(h.run([to(OTHER + 1, 4096 + 64 + 3)]).parsed[0].dst).toBe(canonicalIpv6('2001:db8:b4::fe'));
    h.engine.removeBinding(OTHER, 0);
    check();
    h.engine.removeBinding(OTHER + 1, 1);
    check(); // one layout again: the direct path, same answers
    // only whole addresses left: psid-len 0 is a layout of its own
    for (let p = 0; p < 64; p++) h.engine.removeBinding(BASE, p);
    h.engine.putBinding({ ipv4: OTHER, psidLen: 0, psidOffset: 0, psid: 0, prefixLen: 128, ipv6: parseIPv6('2001:db8:b4::ff') });
    const b = h.run([to(OTHER, 80), to(OTHER, 40000), to(BASE, port(5))]);
    expect(b.parsed.slice(0, 2).map((p) => p.dst)).toEqual([canonicalIpv6('2001:db8:b4::ff'), canonicalIpv6('2001:db8:b4::ff')]);
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_rule: 1 }); // 100.64.0.0 has nothing left
  });
});
