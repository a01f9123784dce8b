// A DHCP 4o6 load generator: simulated clients, each with its own RFC 4361 client
// identifier, run DISCOVER -> OFFER -> REQUEST -> ACK inside DHCPv4-query messages
// over one UDP socket, with a bounded number of clients in flight. Each client's
// query can be wrapped in a Relay-forward whose peer-address is its own B4 address
// (so each client is its own site and gets its own binding), as a relay in front of
// many CEs would send them.
//
// Used by bench/dhcp4o6.bench.ts (figures for xbr and for Kea) and by the durability
// test (a lease storm while the server is SIGKILLed). Bounded in count and time.
import dgram from 'node:dgram';
import { Dhcp4MessageType as T } from './codec/index.js';
import { QueryFactory, readAnswer, type Offer } from './loadgen-wire.js';
import { literalLookup } from './udp/lookup.js';

export interface LoadOptions {
  host: string;
  port: number;
  clients: number;
  /** Clients in flight at once. */
  inFlight: number;
  /** Client numbers start here (distinct runs: distinct client identifiers). */
  firstClient?: number;
  /** Wrap queries in Relay-forward with a per-client peer-address. Default true. */
  relay?: boolean;
  /** List OPTION_V4_PORTPARAMS (RFC 7618). Default true. */
  portAware?: boolean;
  /** Per-message timeout before a client starts over, and how many starts it gets. */
  timeoutMs?: number;
  tries?: number;
  /** Hard stop for the whole run. */
  deadlineMs?: number;
  /** Called for every ACK as it arrives. */
  onAck?: (a: Ack) => void;
  /** Stop early when this returns true (checked on every reply and tick). */
  stop?: () => boolean;
  /** The relay's link-address. Default '::' (site = the peer's prefix). */
  linkAddress?: string;
  /** Bind the generator's socket to this UDP port (Kea answers a fixed client port, its -P). Default: any. */
  localPort?: number;
}

export interface Ack {
  client: number;
  yiaddr: string;
  psid: number | null;
  psidLen: number;
  /** The client's 4o6 address (the relay peer-address), RFC 5952 text. */
  b4: string;
  at: number;
}

export interface LoadResult {
  acked: Ack[];
  failed: number;
  naks: number;
  timeouts: number;
  elapsedMs: number;
  /** ACKs per second over the run. */
  rate: number;
}

/**
 * The B4 address of simulated client n: one /48 each, 2001:(0x1000 + n/65536):(n mod 65536)::1,
 * written as RFC 5952 text (lower-case hex without leading zeros, the longest run of
 * zero groups as "::", which takes the third group too when that is 0), so an ACK's
 * b4 needs no parsing and re-printing.
 */
export function simB4(n: number): string {
  const hi = (0x1000 + (n >>> 16)).toString(16);
  const lo = n & 0xffff;
  return lo === 0 ? `2001:${hi}::1` : `2001:${hi}:${lo.toString(16)}::1`;
}

interface Flight {
  n: number;
  xid: number;
  state: 'discover' | 'request';
  sentAt: number;
  tries: number;
  offer?: Offer;
}

const dotted = (v: number) => `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const sock = dgram.createSocket({ type: o.host.includes(':') ? 'udp6' : 'udp4', lookup: literalLookup });
  await new Promise<void>((r) => sock.bind(o.localPort ?? 0, o.host.includes(':') ? '::' : '0.0.0.0', () => r()));
  try {
    sock.setRecvBufferSize(8 << 20);
    sock.setSendBufferSize(8 << 20);
  } catch {
    /* capped */
  }
  const relay = o.relay ?? true;
  const portAware = o.portAware ?? true;
  const timeoutMs = o.timeoutMs ?? 2000;
  const tries = o.tries ?? 5;
  const first = o.firstClient ?? 0;
  const link = o.linkAddress ?? '::';
  const flights = new Map<number, Flight>();
  const res: LoadResult = { acked: [], failed: 0, naks: 0, timeouts: 0, elapsedMs: 0, rate: 0 };
  let next = 0;
  const start = performance.now();

  const factory = new QueryFactory(portAware, relay ? link : null);
  const send = (f: Flight) => {
    f.sentAt = performance.now();
    const buf = f.state === 'discover' ? factory.discoverFor(f.n, f.xid) : factory.requestFor(f.n, f.xid, f.offer!);
    sock.send(buf, o.port, o.host);
  };

  const launch = () => {
    while (flights.size < o.inFlight && next < o.clients && !(o.stop?.() ?? false)) {
      const n = first + next++;
      const f: Flight = { n, xid: (0x40000000 + n) >>> 0, state: 'discover', sentAt: 0, tries: 1 };
      flights.set(f.xid, f);
      send(f);
    }
  };

  return new Promise<LoadResult>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearInterval(tick);
      res.elapsedMs = performance.now() - start;
      res.rate = res.acked.length / (res.elapsedMs / 1000);
      res.failed += flights.size + (o.clients - next);
      sock.close();
      resolve(res);
    };
    const check = () => {
      if (o.stop?.() || (flights.size === 0 && next >= o.clients)) finish();
      else launch();
    };
    sock.on('message', (buf) => {
      if (done) return;
      const r = readAnswer(buf);
      if (r === null) return;
      const f = flights.get(r.xid);
      if (f === undefined) return;
      const t = r.type;
      if (f.state === 'discover' && t === T.OFFER) {
        f.state = 'request';
        f.offer = { yiaddr: r.yiaddr, serverId: r.serverId, pp: r.pp };
        send(f);
      } else if (f.state === 'request' && t === T.ACK) {
        flights.delete(f.xid);
        const a: Ack = {
          client: f.n,
          yiaddr: dotted(r.yiaddr),
          psid: r.pp?.psid ?? null,
          psidLen: r.pp?.psidLen ?? 0,
          b4: simB4(f.n), // RFC 5952 text
          at: performance.now() - start,
        };
        res.acked.push(a);
        o.onAck?.(a);
      } else if (t === T.NAK) {
        res.naks++;
        restart(f);
      }
      check();
    });
    const restart = (f: Flight) => {
      if (++f.tries > tries) {
        flights.delete(f.xid);
        res.failed++;
        return;
      }
      f.state = 'discover';
      f.offer = undefined;
      send(f);
    };
    const tick = setInterval(() => {
      const now = performance.now();
      if (o.deadlineMs !== undefined && now - start > o.deadlineMs) return finish();
      for (const f of [...flights.values()]) {
        if (now - f.sentAt > timeoutMs) {
          res.timeouts++;
          restart(f);
        }
      }
      check();
    }, 25);
    launch();
  });
}
