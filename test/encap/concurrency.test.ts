// Bindings change while packets flow (the 4o6 server adds, replaces and removes one
// per lease): between every two batches a random set of changes is applied to the
// core's table and to a model of it; every packet of the next batch must come out
// translated with exactly the binding the model holds at that batch, or be dropped
// as a miss / a spoof. A stale or torn entry would show up as an output that
// differs, in any of its bytes, from the one the model predicts.
import { describe, expect, it } from 'vitest';
import { ipv4, ipv6, udp } from '../../src/packets/index.js';
import { prng } from '../../src/dataplane/synthetic.js';
import { BR, HOST, Harness, hex, ttlMinus } from './helpers.js';

const PSID_LEN = 6; // a = 6, m = 4: port = A·1024 + psid·16 + j
const ADDRS = 256;

interface Mode {
  name: 'lw4o6' | 'map-e';
  yaml: string;
  /** The binding's IPv6 value: the B4 address, or the CE's /64 prefix. */
  value(rnd: () => number): Uint8Array;
  prefixLen: number;
  /** The CE address the core must use for (v4, psid) with that value. */
  ceAddress(value: Uint8Array, v4: number, psid: number): Uint8Array;
}

const v4bytes = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const v4text = (v: number) => v4bytes(v).join('.');

const MODES: Mode[] = [
  {
    name: 'lw4o6',
    yaml: `mode: lw4o6\nbr: ${BR}\nicmp: { errors: false }\n`,
    prefixLen: 128,
    value: (rnd) => {
      const b = new Uint8Array(16);
      b.set([0x20, 0x01, 0x0d, 0xb8, 0xb4]);
      for (let i = 5; i < 16; i++) b[i] = Math.floor(rnd() * 256);
      return b;
    },
    ceAddress: (value) => value,
  },
  {
    name: 'map-e',
    yaml: `mode: map-e\nbr: ${BR}\nicmp: { errors: false }\n`,
    prefixLen: 64,
    value: (rnd) => {
      const b = new Uint8Array(16);
      b.set([0x20, 0x01, 0x0d, 0xb8, 0xce]);
      for (let i = 5; i < 8; i++) b[i] = Math.floor(rnd() * 256);
      return b;
    },
    // RFC 7597 section 6: 16 zero bits | IPv4 address | PSID
    ceAddress: (value, v4, psid) => Uint8Array.from([...value.subarray(0, 8), 0, 0, ...v4bytes(v4), psid >> 8, psid & 255]),
  },
];

function header6(src: Uint8Array, dst: Uint8Array, payloadLen: number): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h[4] = payloadLen >> 8;
  h[5] = payloadLen & 255;
  h[6] = 4;
  h[7] = 64;
  h.set(src, 8);
  h.set(dst, 24);
  return h;
}

function run(mode: Mode, batches: number, seed: number) {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const h = new Harness(mode.yaml, 101, { bindingCapacity: ADDRS * 64 });
  const framesAtStart = h.framesFree();
  const br = ipv6({ src: BR, dst: BR }).subarray(8, 24);
  const base = 0x64400000; // 100.64.0.0
  const model = new Map<number, Uint8Array>(); // key v4 * 64 + psid -> value
  const stale = new Map<number, Uint8Array>(); // a value the key had before
  const key = (v4: number, psid: number) => (v4 - base) * 64 + psid;
  const put = (v4: number, psid: number, value: Uint8Array) => {
    h.engine.putBinding({ ipv4: v4, psidLen: PSID_LEN, psidOffset: 6, psid, ipv6: value, prefixLen: mode.prefixLen });
    const k = key(v4, psid);
    const old = model.get(k);
    if (old) stale.set(k, old);
    model.set(k, value);
  };
  for (let i = 0; i < (ADDRS * 64) / 2; i++) {
    const v4 = base + int(ADDRS);
    const psid = int(64);
    if (!model.has(key(v4, psid))) put(v4, psid, mode.value(rnd));
  }
  const stats = { packets: 0, encapOk: 0, decapOk: 0, missed: 0, refused: 0, adds: 0, replaces: 0, removes: 0 };
  for (let b = 0; b < batches; b++) {
    // changes between batches: adds, replacements (a new IPv6 value), removals
    const changes = 1 + int(24);
    for (let c = 0; c < changes; c++) {
      const v4 = base + int(ADDRS);
      const psid = int(64);
      const k = key(v4, psid);
      const r = rnd();
      if (model.has(k) && r < 0.35) {
        expect(h.engine.removeBinding(v4, psid)).toBe(true);
        stale.set(k, model.get(k)!);
        model.delete(k);
        stats.removes++;
      } else {
        if (model.has(k)) stats.replaces++;
        else stats.adds++;
        put(v4, psid, mode.value(rnd));
      }
    }
    expect(h.engine.bindingCount).toBe(model.size);
    // a batch: traffic to and from bound, unbound and rebound subscribers
    const packets: Uint8Array[] = [];
    const expected: (Uint8Array | null)[] = [];
    for (let i = 0; i < 64; i++) {
      const v4 = base + int(ADDRS);
      const psid = int(64);
      const k = key(v4, psid);
      const port = ((1 + int(63)) << 10) | (psid << 4) | int(16);
      const cur = model.get(k);
      const ttl = 2 + int(200);
      if (rnd() < 0.5) {
        const pkt = ipv4({ src: HOST, dst: v4text(v4), ttl, id: i, payload: udp({ sport: 53, dport: port, payload: `to ${k}` }) });
        packets.push(pkt);
        const inner = ttlMinus(pkt);
        expected.push(cur ? Uint8Array.from([...header6(br, mode.ceAddress(cur, v4, psid), inner.length), ...inner]) : null);
      } else {
        // from the current CE, a former one of this key, or one made up
        const pick = rnd();
        const value = pick < 0.6 && cur ? cur : pick < 0.85 && stale.has(k) ? stale.get(k)! : mode.value(rnd);
        const inner = ipv4({ src: v4text(v4), dst: HOST, ttl, id: i, payload: udp({ sport: port, dport: 53, payload: `from ${k}` }) });
        packets.push(ipv6({ src: mode.ceAddress(value, v4, psid), dst: BR, nextHeader: 4, payload: inner }));
        const ok = cur !== undefined && hex(mode.ceAddress(cur, v4, psid)) === hex(mode.ceAddress(value, v4, psid));
        expected.push(ok ? ttlMinus(inner) : null);
      }
    }
    const before = h.counters();
    const { out } = h.run(packets);
    const after = h.counters();
    const got: (Uint8Array | null)[] = expected.map(() => null);
    for (const o of out) {
      expect(got[o.index], `one output per packet (batch ${b}, packet ${o.index})`).toBeNull();
      got[o.index] = o.data;
    }
    for (let i = 0; i < 64; i++) {
      const e = expected[i];
      const g = got[i];
      if (e === null) expect(g, `batch ${b} packet ${i}: must be dropped`).toBeNull();
      else expect(g && hex(g), `batch ${b} packet ${i}`).toBe(hex(e));
    }
    const d = (n: string) => (after[n] ?? 0) - (before[n] ?? 0);
    const encapOk = d('encap_4in6');
    const decapOk = d('decap_4in6');
    const missed = d('drop_ipv4_no_binding') + d('drop_ipv4_no_rule');
    const refused = d('drop_tunnel_bad_outer_source') + d('drop_tunnel_inner_source');
    expect(encapOk + decapOk + missed + refused).toBe(64);
    expect(encapOk + decapOk).toBe(expected.filter((e) => e !== null).length);
    stats.packets += 64;
    stats.encapOk += encapOk;
    stats.decapOk += decapOk;
    stats.missed += missed;
    stats.refused += refused;
  }
  expect(h.framesFree()).toBe(framesAtStart);
  return stats;
}

describe('bindings added, replaced and removed between batches while packets flow', () => {
  it('lw4o6: 102,400 packets, each translated with its batch\'s binding or dropped', () => {
    const s = run(MODES[0], 1600, 7);
    expect(s.packets).toBe(102_400);
    // every kind of outcome and change happened, many times
    for (const v of Object.values(s)) expect(v).toBeGreaterThan(1000);
  });

  it('map-e EA-len-0 bindings (the same table): 25,600 packets', () => {
    const s = run(MODES[1], 400, 11);
    expect(s.packets).toBe(25_600);
    expect(s.encapOk).toBeGreaterThan(1000);
    expect(s.decapOk).toBeGreaterThan(1000);
  });
});
