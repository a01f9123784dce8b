// The source address of a reply on a wildcard ([::]) bind. A server reached at one of
// several addresses (a second address, an anycast address shared by servers over
// PostgreSQL) must answer from the address it was asked at: a relay expects the
// Relay-reply from the server it sent to. The native socket reads each datagram's
// local address (IPV6_PKTINFO) and sends the reply from it; node:dgram cannot, and the
// kernel then picks the source by routing, which here is another address. A query to
// ff02::1:2 (RFC 8415 section 7.1) is answered from an address of the kernel's
// choice: a group is no source.
//
// Runs in a network namespace of its own (root): a veth pair, two addresses on one end.
// Skipped locally without root or the native build; a failure under CI=true.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchAddon } from '../../src/dhcp/udp/batch.js';
import { ensureBuilt } from './cli-helpers.js';

function missing(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (a network namespace)';
  try {
    batchAddon();
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}
const why = missing();
if (why !== null && process.env.CI === 'true') throw new Error(`reply-source test cannot run under CI: ${why}`);
if (why !== null) console.warn(`reply-source test skipped: ${why}`);

const NS = `xsrc-${process.pid % 100000}`;
const ROOT = resolve(import.meta.dirname, '..', '..');
const ip = (...a: string[]) => execFileSync('ip', a, { encoding: 'utf8', timeout: 10_000 });
const inNs = (...a: string[]) => ip('netns', 'exec', NS, ...a);

// Runs inside the namespace: an echo endpoint on [::]:0 (the transport given), and a
// client that asks it at each target and reports the address each answer came from.
const SCRIPT = `
import dgram from 'node:dgram';
const { openUdpEndpoint } = await import(process.argv[2] + '/dist/src/dhcp/udp/endpoint.js');
const kind = process.argv[3];
const ep = await openUdpEndpoint(kind, {
  host: '::', port: 0, bufferBytes: 1 << 20, joinAllServers: true,
  onDatagram: (msg, from) => ep.send(msg, from), count: () => {}, log: (l) => console.error(l),
});
const port = ep.address().port;
const out = {};
for (const [bind, target] of JSON.parse(process.argv[4])) {
  const c = dgram.createSocket('udp6');
  await new Promise((r) => c.bind(0, bind, r));
  out[target] = await new Promise((res) => {
    const t = setTimeout(() => res('no answer'), 2000);
    c.once('message', (m, r) => { clearTimeout(t); res(r.address.split('%')[0]); });
    c.send(Buffer.from('hello'), port, target);
  });
  c.close();
}
await ep.close();
console.log(JSON.stringify(out));
`;

let dir = '';
let linkLocal = '';
const QUERIES = () => [
  ['fd00:547::2', 'fd00:547::1'], // from the server's other address to the one it is asked at
  ['fd00:547::1', 'fd00:547::2'],
  ['::1', '::1'],
  [`${linkLocal}%xd0`, 'ff02::1:2%xd0'], // RFC 8415 section 7.1: a directly connected client's multicast
];

function run(kind: 'native' | 'dgram'): Record<string, string> {
  const out = inNs(process.execPath, join(dir, 'echo.mjs'), ROOT, kind, JSON.stringify(QUERIES()));
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, string>;
}

describe.skipIf(why !== null)('reply source on a wildcard bind', () => {
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'xbr-src-'));
    writeFileSync(join(dir, 'echo.mjs'), SCRIPT);
    ip('netns', 'add', NS);
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('ip', 'link', 'add', 'xd0', 'type', 'veth', 'peer', 'name', 'xd1');
    inNs('ip', 'link', 'set', 'xd0', 'up');
    inNs('ip', 'link', 'set', 'xd1', 'up');
    inNs('ip', '-6', 'addr', 'add', 'fd00:547::1/64', 'dev', 'xd0', 'nodad');
    inNs('ip', '-6', 'addr', 'add', 'fd00:547::2/64', 'dev', 'xd0', 'nodad');
    inNs('ip', '-6', 'addr', 'add', 'fe80::547/64', 'dev', 'xd0', 'nodad');
    linkLocal = 'fe80::547';
  });
  afterAll(() => {
    try {
      ip('netns', 'del', NS);
    } catch {
      /* already gone */
    }
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('native: every answer leaves from the address it was asked at; a multicast query is answered from the link', () => {
    const got = run('native');
    expect(got['fd00:547::1']).toBe('fd00:547::1');
    expect(got['fd00:547::2']).toBe('fd00:547::2');
    expect(got['::1']).toBe('::1');
    expect(got['ff02::1:2%xd0']).toMatch(/^fe80::/);
  });

  it('node:dgram answers from the kernel\'s choice, not the address asked (why the native socket reads IPV6_PKTINFO)', () => {
    const got = run('dgram');
    // The kernel prefers the destination itself as the source (RFC 6724 rule 1): the
    // case above would fail for a socket that ignored the local address.
    expect(got['fd00:547::1']).toBe('fd00:547::2');
    expect(got['fd00:547::2']).toBe('fd00:547::1');
  });
});
