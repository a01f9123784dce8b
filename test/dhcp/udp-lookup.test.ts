// The DHCP sockets' lookup answers address literals itself, as dns.lookup would, and
// leaves names to dns.lookup.
import dgram from 'node:dgram';
import dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import { literalLookup } from '../../src/dhcp/udp/lookup.js';

const viaLiteral = (address: string, family: number) =>
  new Promise<[string, number]>((resolve, reject) => literalLookup(address, family, (err, a, f) => (err ? reject(err) : resolve([a, f]))));
const viaDns = (address: string, family: number) =>
  new Promise<[string, number]>((resolve, reject) => dns.lookup(address, family, (err, a, f) => (err ? reject(err) : resolve([a, f]))));

describe('literalLookup', () => {
  it('answers literals at once, with what dns.lookup gives', async () => {
    for (const [a, fam] of [['::1', 6], ['2001:db8::1', 6], ['fe80::1%lo', 6], ['127.0.0.1', 4], ['127.0.0.1', 6], ['::ffff:192.0.2.1', 6]] as const) {
      let sync: [string, number] | undefined;
      literalLookup(a, fam, (err, addr, f) => {
        expect(err).toBeNull();
        sync = [addr, f];
      });
      expect(sync).toEqual(await viaDns(a, fam));
      expect(await viaLiteral(a, fam)).toEqual(sync); // and again, remembered
    }
  });

  it('leaves names to dns.lookup', async () => {
    expect(await viaLiteral('localhost', 4)).toEqual(await viaDns('localhost', 4));
  });

  it('carries datagrams on a udp6 socket', async () => {
    const rx = dgram.createSocket('udp6');
    const tx = dgram.createSocket({ type: 'udp6', lookup: literalLookup });
    await new Promise<void>((r) => rx.bind(0, '::1', () => r()));
    const got = new Promise<Buffer>((r) => rx.once('message', (m) => r(m)));
    await new Promise<void>((resolve, reject) => tx.send(Buffer.from('x4o6'), rx.address().port, '::1', (e) => (e ? reject(e) : resolve())));
    expect((await got).toString()).toBe('x4o6');
    tx.close();
    rx.close();
  });
});
