// A reload that changes the 4o6 pools waits for the messages in flight (server.ts
// reconfigure); when the lease store stops answering, it gives up after reloadDrainMs:
// the reload is refused with the reason, the running pools stay, new messages are not
// held, and the stuck message finishes with the old pools once the store answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { simClient } from '../../src/dhcp/client.js';
import { Dhcp4MessageType as T } from '../../src/dhcp/codec/index.js';
import { TableBindingSink } from '../../src/dhcp/bindings.js';
import { Dhcp4o6Server } from '../../src/dhcp/server.js';
import { SqliteLeaseStore } from '../../src/dhcp/store/sqlite.js';
import { parseConfig } from '../../src/config/load.js';
import { send } from './server-helpers.js';

const yaml = (pools: string) => `
mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  max-leases-per-site: 1000
  pools:
${pools}`;
const OLD = '    - { name: old, ipv4: 198.51.100.0/32, psid-len: 2 }\n';
const ADDED = '    - { name: added, ipv4: 203.0.113.0/30, psid-len: 2 }\n';

describe('a reload while the lease store does not answer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbr-drain-'));
  let s: Dhcp4o6Server | undefined;
  afterEach(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is refused after reloadDrainMs; the old pools stay and the stuck message ends with them', async () => {
    const store = new SqliteLeaseStore(join(dir, 'l.db'));
    // A store that can be made to hang: every transaction waits for `hold`.
    let release!: () => void;
    let hold: Promise<void> | undefined;
    const transaction = store.transaction.bind(store);
    store.transaction = async (units) => {
      if (hold !== undefined) await hold;
      return transaction(units);
    };
    s = await Dhcp4o6Server.create({ config: parseConfig(yaml(OLD), 'test.yaml'), sink: new TableBindingSink(), store, reloadDrainMs: 300 });

    hold = new Promise<void>((r) => (release = r));
    const stuck = send(s, T.DISCOVER, simClient(1)); // in flight: its allocation waits on the store
    await new Promise((r) => setTimeout(r, 20));

    const t0 = Date.now();
    await expect(s.reconfigure(parseConfig(yaml(OLD + ADDED), 'test.yaml'))).rejects.toThrow(/1 message\(s\) still in flight after 300 ms.*reload refused, the running pools stay/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(s.pools.map((p) => p.name)).toEqual(['old']);

    // the store answers again: the stuck DISCOVER is offered a slot of the old pool,
    // and a new message is not held by the reload that gave up
    hold = undefined;
    release();
    expect((await stuck)?.v4.yiaddr).toBe('198.51.100.0');
    const next = await send(s, T.DISCOVER, simClient(2));
    expect(next?.v4.options.messageType).toBe(T.OFFER);
    expect(next?.v4.yiaddr).toBe('198.51.100.0');

    // and the same reload, with nothing in flight, goes through
    const r = await s.reconfigure(parseConfig(yaml(OLD + ADDED), 'test.yaml'));
    expect(r.added).toEqual(['added']);
    expect(s.pools.map((p) => p.name)).toEqual(['old', 'added']);
  });
});
