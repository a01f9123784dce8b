// The DHCP server's two UDP transports (src/dhcp/udp/): node:dgram, and the native
// batch socket (native/udp/udp.cc, recvmmsg/sendmmsg). Both must deliver every
// datagram whole with its source, answer that source, and count what they send. The
// native one also: replies queued in one event-loop turn leave in one call, a datagram
// the kernel refuses is skipped and counted while the rest of its batch leaves, a
// wildcard listen joins ff02::1:2. The addon is built by `npm ci` (prepare): without it
// the native cases are skipped locally and fail under CI=true. It also counts what the
// kernel dropped for a full receive buffer (SO_RXQ_OVFL).
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { batchAddon } from '../../src/dhcp/udp/batch.js';
import { openUdpEndpoint, pickUdpKind, type Source, type UdpEndpoint, type UdpKind } from '../../src/dhcp/udp/endpoint.js';
import { ALL_DHCP_RELAY_AGENTS_AND_SERVERS } from '../../src/dhcp/udp/dgram.js';

function nativeMissing(): string | null {
  try {
    batchAddon();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const missing = nativeMissing();
if (missing !== null && process.env.CI === 'true') throw new Error(`native UDP tests cannot run under CI: ${missing}`);
if (missing !== null) console.warn(`native UDP tests skipped: ${missing}`);
const kinds: UdpKind[] = missing === null ? ['native', 'dgram'] : ['dgram'];

const open: UdpEndpoint[] = [];
const clients: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((e) => e.close()));
  for (const c of clients.splice(0)) c.close();
});

interface Tx {
  tx: number;
  err: number;
  calls: number[];
}

/** An endpoint on [::1]:0 whose handler answers each datagram with its bytes reversed. */
async function echoEndpoint(kind: UdpKind, seen: Source[] = [], tx: Tx = { tx: 0, err: 0, calls: [] }): Promise<UdpEndpoint> {
  const ep: UdpEndpoint = await openUdpEndpoint(kind, {
    host: '::1',
    port: 0,
    bufferBytes: 4 << 20,
    joinAllServers: false,
    onDatagram: (msg, from) => {
      seen.push(from);
      // Answered later, as the server does after the lease store: the datagram must still be whole.
      void Promise.resolve().then(() => ep.send(Uint8Array.from(msg).reverse(), from));
    },
    count: (name, by) => {
      if (name === 'tx') {
        tx.tx += by;
        tx.calls.push(by);
      } else if (name === 'tx-error') tx.err += by;
      else throw new Error(`unexpected ${name} ${by}`);
    },
    log: () => {},
  });
  open.push(ep);
  return ep;
}

async function client(): Promise<dgram.Socket> {
  const c = dgram.createSocket('udp6');
  clients.push(c);
  await new Promise<void>((r) => c.bind(0, '::1', () => r()));
  c.setRecvBufferSize(4 << 20);
  return c;
}

/** Sends every payload at once; resolves with the answers, in the order they came. */
function exchange(c: dgram.Socket, port: number, payloads: Uint8Array[]): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    const got: Uint8Array[] = [];
    const t = setTimeout(() => reject(new Error(`${got.length} of ${payloads.length} answers in 5 s`)), 5000);
    c.on('message', (m) => {
      got.push(new Uint8Array(m));
      if (got.length === payloads.length) {
        clearTimeout(t);
        resolve(got);
      }
    });
    for (const p of payloads) c.send(p, port, '::1');
  });
}

/** Payload i: 4 bytes of i, then a size that varies (1 KiB steps up to ~1.4 KiB), each byte a function of i. */
function payload(i: number, size = 4 + ((i * 37) % 1400)): Uint8Array {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  for (let k = 4; k < size; k++) b[k] = (i * 7 + k) & 0xff;
  return b;
}

describe.each(kinds)('UDP endpoint (%s)', (kind) => {
  it('delivers 300 datagrams of varied sizes and a 60,000-byte one whole, and answers each source', async () => {
    const seen: Source[] = [];
    const tx: Tx = { tx: 0, err: 0, calls: [] };
    const ep = await echoEndpoint(kind, seen, tx);
    const c = await client();
    const payloads = [...Array.from({ length: 300 }, (_, i) => payload(i)), payload(300, 60_000)];
    const answers = await exchange(c, ep.address().port, payloads);
    const byIndex = new Map(answers.map((a) => [readIndex(a), a]));
    for (let i = 0; i <= 300; i++) expect(byIndex.get(i), `answer ${i}`).toEqual(Uint8Array.from(payloads[i]).reverse());
    expect(seen).toHaveLength(301);
    for (const s of seen) {
      expect(s.address).toBe('::1');
      expect(s.port).toBe(c.address().port);
      if (s.bytes !== undefined) expect([...s.bytes]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    }
    expect(tx.tx).toBe(301);
    expect(tx.err).toBe(0);
    expect(ep.kind).toBe(kind);
  });

  it('answers two senders whose datagrams interleave each at its own port', async () => {
    const seen: Source[] = [];
    const ep = await echoEndpoint(kind, seen);
    const [a, b] = [await client(), await client()];
    const answers = new Map<number, number[]>([[a.address().port, []], [b.address().port, []]]);
    for (const c of [a, b]) c.on('message', (m: Buffer) => answers.get(c.address().port)!.push(readIndex(m)));
    // a, b, a, b ...: consecutive datagrams from different ports, so each batch mixes them
    for (let i = 0; i < 200; i++) (i % 2 === 0 ? a : b).send(payload(i, 16), ep.address().port, '::1');
    const deadline = Date.now() + 5000;
    while ((answers.get(a.address().port)!.length < 100 || answers.get(b.address().port)!.length < 100) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(answers.get(a.address().port)!.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, k) => 2 * k));
    expect(answers.get(b.address().port)!.sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, k) => 2 * k + 1));
    expect(new Set(seen.map((s) => s.port))).toEqual(new Set([a.address().port, b.address().port]));
  });

  it('sends nothing after close', async () => {
    const seen: Source[] = [];
    const tx: Tx = { tx: 0, err: 0, calls: [] };
    const ep = await echoEndpoint(kind, seen, tx);
    const c = await client();
    await exchange(c, ep.address().port, [payload(1)]);
    let late = 0;
    c.on('message', () => late++);
    await ep.close();
    ep.send(payload(2), seen[0]);
    await new Promise((r) => setTimeout(r, 50));
    expect(tx.tx).toBe(1);
    expect(late).toBe(0);
  });
});

/** The index of a reversed payload: its last 4 bytes, reversed. */
function readIndex(a: Uint8Array): number {
  const n = a.length;
  return ((a[n - 1] << 24) | (a[n - 2] << 16) | (a[n - 3] << 8) | a[n - 4]) >>> 0;
}

describe.skipIf(missing !== null)('native batch socket', () => {
  it('sends the replies queued in one event-loop turn with one call', async () => {
    const tx: Tx = { tx: 0, err: 0, calls: [] };
    let ep: UdpEndpoint | undefined;
    const held: [Uint8Array, Source][] = [];
    ep = await openUdpEndpoint('native', {
      host: '::1',
      port: 0,
      bufferBytes: 1 << 20,
      joinAllServers: false,
      onDatagram: (msg, from) => held.push([msg, from]),
      count: (name, by) => (name === 'tx' ? tx.calls.push(by) : name === 'tx-error' ? (tx.err += by) : undefined),
      log: () => {},
    });
    open.push(ep);
    const c = await client();
    const got = new Promise<number>((resolve) => {
      let n = 0;
      c.on('message', () => ++n === 100 && resolve(n));
    });
    for (let i = 0; i < 100; i++) c.send(payload(i, 8), ep.address().port, '::1');
    while (held.length < 100) await new Promise((r) => setTimeout(r, 5));
    // All 100 answered in one turn (more than one sendmmsg's 64: the call splits them itself).
    for (const [m, from] of held) ep.send(m, from);
    expect(await got).toBe(100);
    expect(tx.calls).toEqual([100]);
    expect(tx.err).toBe(0);
  });

  it('a handler that throws on one datagram: logged, and the rest of its batch still handled', async () => {
    const logs: string[] = [];
    const got: number[] = [];
    const ep = await openUdpEndpoint('native', {
      host: '::1',
      port: 0,
      bufferBytes: 1 << 20,
      joinAllServers: false,
      onDatagram: (msg) => {
        if (msg[3] === 5) throw new Error('handler bug on datagram 5');
        got.push(msg[3]);
      },
      count: () => {},
      log: (l) => logs.push(l),
    });
    open.push(ep);
    const c = await client();
    for (let i = 0; i < 10; i++) c.send(payload(i, 8), ep.address().port, '::1');
    const until = Date.now() + 5000;
    while (got.length < 9 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(got.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 6, 7, 8, 9]);
    expect(logs).toEqual([expect.stringMatching(/handler bug on datagram 5/)]);
  });

  it('counts the queries the kernel dropped because the receive buffer was full (SO_RXQ_OVFL)', async () => {
    let received = 0;
    let dropped = 0;
    const ep = await openUdpEndpoint('native', {
      host: '::1',
      port: 0,
      bufferBytes: 1024, // the kernel's minimum: a handful of datagrams
      joinAllServers: false,
      onDatagram: () => received++,
      count: (name, by) => {
        if (name === 'drop-socket-buffer') dropped += by;
      },
      log: () => {},
    });
    open.push(ep);
    const c = await client();
    const port = ep.address().port;
    // Sent in one burst, before the endpoint's next chance to read: most cannot be queued.
    for (let i = 0; i < 300; i++) c.send(payload(i, 200), port, '::1');
    await new Promise((r) => setTimeout(r, 200));
    // The running count rides on the next datagram queued after a drop: one more collects it.
    c.send(payload(300, 200), port, '::1');
    const until = Date.now() + 5000;
    while (received + dropped < 301 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(dropped).toBeGreaterThan(0);
    expect(received + dropped).toBe(301);
  });

  it('skips and counts a datagram the kernel refuses; the rest of the batch leaves', async () => {
    const a = batchAddon();
    const rx = await client();
    const arrived: number[] = [];
    rx.on('message', (m) => arrived.push(m[0]));
    const s = new a.UdpSocket('::1', 0, 1 << 20, () => {});
    try {
      const buf = new Uint8Array(30);
      const meta = new Int32Array(3 * a.META_INTS);
      const octets = new Uint8Array(meta.buffer);
      for (let i = 0; i < 3; i++) {
        const m = i * a.META_INTS;
        buf[i * 10] = i;
        meta[m] = i * 10;
        meta[m + 1] = 10;
        meta[m + 2] = i === 1 ? 0 : rx.address().port; // port 0: EINVAL from udpv6_sendmsg
        octets[m * 4 + 16 + 15] = 1; // ::1
      }
      expect(s.send(buf, meta, 3)).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      expect(arrived.sort()).toEqual([0, 2]);
      // A datagram outside the buffer is the caller's bug: refused before anything is sent.
      meta[1] = 31;
      expect(() => s.send(buf, meta, 1)).toThrow(/outside the buffer/);
    } finally {
      s.close();
    }
    expect(() => s.recv(new Uint8Array(a.RECV_SLOT), new Int32Array(a.META_INTS))).toThrow(/closed/);
  });

  it('joins ff02::1:2 on an interface (RFC 8415 section 7.1), and names an interface that does not exist', () => {
    const a = batchAddon();
    const group = 'ff020000000000000000000000010002';
    const members = () => readFileSync('/proc/net/igmp6', 'utf8').split('\n').filter((l) => / lo /.test(l) && l.includes(group));
    const before = members().length === 0 ? 0 : Number(members()[0].trim().split(/\s+/)[3]);
    const s = new a.UdpSocket('::', 0, 1 << 20, () => {});
    try {
      s.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, 'lo');
      expect(Number(members()[0].trim().split(/\s+/)[3])).toBe(before + 1);
      expect(() => s.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, 'xbr-no-such0')).toThrow(/no interface xbr-no-such0/);
    } finally {
      s.close();
    }
  });

  it('refuses a host that is not an IPv6 literal, naming it', () => {
    const a = batchAddon();
    expect(() => new a.UdpSocket('192.0.2.1', 0, 1 << 20, () => {})).toThrow(/listen \[192\.0\.2\.1\]: not an IPv6 address/);
  });
});

describe('transport choice', () => {
  const saved = process.env.XBR_DHCP_UDP;
  afterEach(() => {
    if (saved === undefined) delete process.env.XBR_DHCP_UDP;
    else process.env.XBR_DHCP_UDP = saved;
  });
  it('dgram when asked; native when asked or by default if built; a bad XBR_DHCP_UDP named', () => {
    expect(pickUdpKind('dgram')).toBe('dgram');
    expect(pickUdpKind('auto')).toBe(missing === null ? 'native' : 'dgram');
    if (missing === null) expect(pickUdpKind('native')).toBe('native');
    else expect(() => pickUdpKind('native')).toThrow(/xbr_udp addon not built/);
    process.env.XBR_DHCP_UDP = 'dgram';
    expect(pickUdpKind()).toBe('dgram');
    process.env.XBR_DHCP_UDP = 'fast';
    expect(() => pickUdpKind()).toThrow(/XBR_DHCP_UDP=fast: must be native, dgram or auto/);
  });
});
