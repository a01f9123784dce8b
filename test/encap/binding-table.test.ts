// The binding table (assembly/map/bindings.ts) as the data plane sees it: one
// (IPv4, PSID) key per binding, one address entry per IPv4 address with its port-set
// parameters; capacity, conflicts, and changes that traffic sees at once.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/core/engine.js';
import { STATUS } from '../../src/core/abi.js';
import { canonicalIpv6, ipv4, udp } from '../../src/packets/index.js';
import { HOST, Harness, drops, lwYaml } from './helpers.js';

const b4 = (i: number) => Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0xb4, 0, 0, 0, 0, 0, 0, i >>> 24, (i >>> 16) & 255, (i >>> 8) & 255, i & 255]);

describe('binding table', () => {
  it('holds binding-capacity shared bindings, and 7/8 of it as full addresses', () => {
    const e = Engine.createSync({ bindingCapacity: 1024 });
    // psid-len 6: 16 addresses x 64
    for (let i = 0; i < 1024; i++) expect(e.tryPutBinding({ ipv4: 0x64400000 + (i >> 6), psidLen: 6, psidOffset: 6, psid: i & 63, ipv6: b4(i), prefixLen: 128 })).toBe(STATUS.OK);
    expect(e.bindingCount).toBe(1024);
    const f = Engine.createSync({ bindingCapacity: 1024 });
    let n = 0;
    while (f.tryPutBinding({ ipv4: 0x0a000000 + n, psidLen: 0, psidOffset: 0, psid: 0, ipv6: b4(n), prefixLen: 128 }) === STATUS.OK) n++;
    expect(n).toBe(896);
    expect(f.tryPutBinding({ ipv4: 0x0a000000 + n, psidLen: 0, psidOffset: 0, psid: 0, ipv6: b4(n), prefixLen: 128 })).toBe(STATUS.TABLE_FULL);
    expect(f.removeBinding(0x0a000000, 0)).toBe(true);
    expect(f.tryPutBinding({ ipv4: 0x0a000000 + n, psidLen: 0, psidOffset: 0, psid: 0, ipv6: b4(n), prefixLen: 128 })).toBe(STATUS.OK);
  });

  it('one address, one set of port-set parameters; bad arguments refused', () => {
    const e = Engine.createSync({ bindingCapacity: 64 });
    const put = (psidLen: number, psidOffset: number, psid: number) => e.tryPutBinding({ ipv4: 0xc6336407, psidLen, psidOffset, psid, ipv6: b4(psid), prefixLen: 128 });
    expect(put(6, 6, 12)).toBe(STATUS.OK);
    expect(put(6, 4, 13)).toBe(STATUS.PARAMS_CONFLICT);
    expect(put(8, 6, 13)).toBe(STATUS.PARAMS_CONFLICT);
    expect(put(0, 0, 0)).toBe(STATUS.PARAMS_CONFLICT);
    expect(put(6, 6, 64)).toBe(STATUS.BAD_ARGUMENT);
    expect(put(12, 6, 1)).toBe(STATUS.BAD_ARGUMENT);
    // once the address's last binding is gone, it may take other parameters
    expect(e.removeBinding(0xc6336407, 12)).toBe(true);
    expect(e.removeBinding(0xc6336407, 12)).toBe(false);
    expect(put(8, 4, 200)).toBe(STATUS.OK);
    expect(e.bindingCount).toBe(1);
  });

  it('replace and remove take effect for the next batch', () => {
    const h = new Harness(lwYaml());
    const pkt = () => ipv4({ src: HOST, dst: '198.51.100.7', payload: udp({ sport: 53, dport: 1216 }) });
    expect(h.one(pkt()).parsed[0].dst).toBe(canonicalIpv6('2001:db8:77::7'));
    h.engine.putBinding({ ipv4: 0xc6336407, psidLen: 6, psidOffset: 6, psid: 12, ipv6: b4(99), prefixLen: 128 });
    expect(h.one(pkt()).parsed[0].dst).toBe(canonicalIpv6('2001:db8:b4::63'));
    h.engine.removeBinding(0xc6336407, 12);
    let b = h.one(pkt());
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_binding: 1 }); // the address is still the BR's (PSID 13)
    h.engine.removeBinding(0xc6336407, 13);
    b = h.one(pkt());
    expect(drops(b.delta)).toEqual({ drop_ipv4_no_rule: 1 }); // no binding left on it: not the BR's
    expect(b.out).toHaveLength(0);
  });

  it('the IPv4 side finds bindings of many addresses among many more (collisions, backward-shift deletion)', () => {
    const e = Engine.createSync({ bindingCapacity: 4096 });
    const live = new Map<number, number>();
    let x = 99;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % n;
    };
    for (let step = 0; step < 40_000; step++) {
      const v4 = 0x64400000 + rnd(400);
      const psid = rnd(8);
      const k = v4 * 8 + psid;
      if (live.has(k) && rnd(3) === 0) {
        expect(e.removeBinding(v4, psid)).toBe(true);
        live.delete(k);
      } else if (live.size < 3000 || live.has(k)) {
        expect(e.tryPutBinding({ ipv4: v4, psidLen: 3, psidOffset: 6, psid, ipv6: b4(step), prefixLen: 128 })).toBe(STATUS.OK);
        live.set(k, step);
      }
    }
    expect(e.bindingCount).toBe(live.size);
    const mem = () => new Uint8Array(e.memory.buffer);
    for (let v = 0; v < 400; v++) {
      for (let psid = 0; psid < 8; psid++) {
        const port = (1 << 10) | (psid << 7);
        const r = e.core.lookupV4(0x64400000 + v, port, 1);
        const want = live.get((0x64400000 + v) * 8 + psid);
        if (want === undefined) expect(r).toBeGreaterThanOrEqual(0);
        else {
          expect(r).toBe(-1);
          const got = mem().slice(e.core.argPtr(), e.core.argPtr() + 16);
          expect(Buffer.from(got).toString('hex')).toBe(Buffer.from(b4(want)).toString('hex'));
        }
      }
    }
  });
});
