// A UDP endpoint on the native batch socket (native/udp/udp.cc, xbr_udp.node).
//
// Receiving: one readiness callback takes up to RECV_ROUNDS x 64 datagrams with
// recvmmsg into one buffer; each is copied out (the handler awaits the lease store and
// the reply is written from the query's own bytes later) and handed on with a Source
// that keeps the peer's address as octets. Sending: replies are appended to a send
// buffer and leave together, one sendmmsg per 64, when the current event-loop turn's
// ticks run (process.nextTick from the first reply queued): the replies a store batch
// releases in one turn leave in one call.
//
// Buffer layout (native/udp/udp.cc): a receive slot of RECV_SLOT bytes per datagram;
// META_INTS (16) int32s of metadata per datagram: [length | send offset, send length,
// peer port, peer scope id, peer address (4 int32s holding the 16 octets in wire
// order), local address the datagram was sent to (4 int32s), its interface, 1 if that
// local address is unicast and so the reply's source, the kernel's running count of
// datagrams dropped on the socket (SO_RXQ_OVFL, unsigned), 1 unused].
//
// Why the local address: bound to [::], the kernel would pick a reply's source by
// routing. A server reached at a second or anycast address (several servers sharing
// leases over PostgreSQL behind one address) must answer from the address it was
// asked at, or the relay sees a stranger. dgram cannot do this (no IPV6_PKTINFO); the
// native socket does (test/dhcp/udp-source.test.ts).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../core/engine.js';
import { ipv6FromBytes } from '../codec/addr.js';
import type { EndpointOptions, Source, UdpEndpoint } from './endpoint.js';
import { ipv6Interfaces, ALL_DHCP_RELAY_AGENTS_AND_SERVERS } from './dgram.js';

interface NativeUdpSocket {
  readonly port: number;
  recv(buf: Uint8Array, meta: Int32Array): number;
  /** Returns how many datagrams the kernel refused (each skipped). */
  send(buf: Uint8Array, meta: Int32Array, count: number): number;
  joinGroup(group: string, ifname: string): void;
  close(): void;
}

export interface BatchAddon {
  UdpSocket: new (host: string, port: number, bufferBytes: number, onReadable: () => void) => NativeUdpSocket;
  RECV_SLOT: number;
  MAX_BATCH: number;
  META_INTS: number;
}

/**
 * Receive calls per readiness callback before the event loop gets its turn back (the
 * store worker's answers wait for it). 2 measured best (bench/dhcp4o6-results.md,
 * "Seventh session": 1 left batches small, 4 or "until empty" made the pipeline
 * lurch and lost a fifth of the rate).
 */
export const RECV_ROUNDS = 2;

function addonPath(): string {
  return join(packageRoot(), 'native', 'build', 'Release', 'xbr_udp.node');
}

let cached: BatchAddon | undefined;

/** The addon; throws naming the fix if it is not built. */
export function batchAddon(): BatchAddon {
  if (cached !== undefined) return cached;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new Error(`xbr_udp addon not built (${path} missing): run scripts/install-deps.sh, then npm run build:native`);
  }
  cached = createRequire(import.meta.url)(path) as BatchAddon;
  return cached;
}

/** A datagram's source as the kernel gave it: the octets and scope are what the reply is sent to. */
class BatchSource implements Source {
  private text: string | undefined;
  constructor(
    readonly bytes: Uint8Array,
    readonly port: number,
    readonly scope: number,
    /** The unicast address the datagram was sent to (the reply's source), or null (a multicast query). */
    readonly local: Uint8Array | null,
    readonly ifindex: number,
  ) {}

  get address(): string {
    // RFC 4007 section 11: a numeric zone index is a valid zone.
    this.text ??= ipv6FromBytes(this.bytes) + (this.scope !== 0 ? `%${this.scope}` : '');
    return this.text;
  }
}

/** Whether the datagram whose metadata is at int `m` (octet `b`) came from `s`: same peer, port, scope, and local address. */
function sameSource(s: BatchSource, bytes: Uint8Array, b: number, meta: Int32Array, m: number): boolean {
  if (s.port !== meta[m + 2] || s.scope !== meta[m + 3]) return false;
  for (let i = 0; i < 16; i++) if (s.bytes[i] !== bytes[b + 16 + i]) return false;
  if (meta[m + 13] !== 1) return s.local === null;
  if (s.local === null || s.ifindex !== meta[m + 12]) return false;
  for (let i = 0; i < 16; i++) if (s.local[i] !== bytes[b + 32 + i]) return false;
  return true;
}

export async function openBatchEndpoint(o: EndpointOptions): Promise<UdpEndpoint> {
  const a = batchAddon();
  const M = a.META_INTS;
  const slots = a.MAX_BATCH;
  const rbuf = new Uint8Array(slots * a.RECV_SLOT);
  const rmeta = new Int32Array(slots * M);
  const rbytes = new Uint8Array(rmeta.buffer);
  let sbuf = new Uint8Array(256 << 10);
  const smeta = new Int32Array(256 * M);
  const sbytes = new Uint8Array(smeta.buffer);
  let queued = 0;
  let used = 0;
  let scheduled = false;
  let closed = false;
  /** The kernel's running count of datagrams dropped on this socket, as last seen (SO_RXQ_OVFL). */
  let dropped = 0;
  /** The Source of the last datagram received. */
  let last: BatchSource | null = null;

  const onReadable = () => {
    for (let round = 0; round < RECV_ROUNDS && !closed; round++) {
      let n: number;
      try {
        n = sock.recv(rbuf, rmeta);
      } catch (e) {
        o.log(`socket [${o.host}]:${o.port}: ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
      for (let i = 0; i < n; i++) {
        const m = i * M;
        const len = rmeta[m];
        // A slot holds any UDP payload, so the kernel never truncates; were it to, the
        // datagram is not whole: dropped, not decoded.
        if (len < 0) {
          o.log(`socket [${o.host}]:${o.port}: a datagram larger than ${a.RECV_SLOT} bytes dropped`);
          continue;
        }
        const at = i * a.RECV_SLOT;
        // Copied out of the receive buffer, which the next recv reuses. allocUnsafe
        // takes small datagrams from Node's pool.
        const msg = Buffer.allocUnsafe(len);
        msg.set(rbuf.subarray(at, at + len));
        try {
          const b = m * 4;
          // A relay sends many clients' queries from one address and port: their
          // datagrams share one Source (read-only) instead of one each.
          if (last === null || !sameSource(last, rbytes, b, rmeta, m)) {
            const local = rmeta[m + 13] === 1 ? rbytes.slice(b + 32, b + 48) : null;
            last = new BatchSource(rbytes.slice(b + 16, b + 32), rmeta[m + 2], rmeta[m + 3], local, rmeta[m + 12]);
          }
          o.onDatagram(msg, last);
        } catch (e) {
          // The handler's own bug: logged; the rest of the batch is still handled.
          o.log(`socket [${o.host}]:${o.port}: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      if (n > 0) {
        // The count rides on each datagram received after a drop; the newest is the latest.
        const now = rmeta[(n - 1) * M + 14] >>> 0;
        if (now !== dropped && now !== 0) {
          o.count('drop-socket-buffer', (now - dropped) >>> 0);
          dropped = now;
        }
      }
      if (n < slots) break;
    }
  };

  const flush = () => {
    scheduled = false;
    if (queued === 0 || closed) return;
    const failed = sock.send(sbuf, smeta, queued);
    o.count('tx', queued - failed);
    if (failed > 0) o.count('tx-error', failed);
    queued = 0;
    used = 0;
  };

  const send = (reply: Uint8Array, to: Source) => {
    if (closed) return;
    if (!(to instanceof BatchSource)) throw new TypeError('native UDP endpoint: send() takes a Source this endpoint gave');
    if (queued * M === smeta.length || used + reply.length > sbuf.length) flush();
    if (reply.length > sbuf.length) sbuf = new Uint8Array(reply.length);
    sbuf.set(reply, used);
    const m = queued * M;
    smeta[m] = used;
    smeta[m + 1] = reply.length;
    smeta[m + 2] = to.port;
    smeta[m + 3] = to.scope;
    sbytes.set(to.bytes, m * 4 + 16);
    if (to.local !== null) {
      sbytes.set(to.local, m * 4 + 32);
      smeta[m + 12] = to.ifindex;
      smeta[m + 13] = 1;
    } else smeta[m + 13] = 0;
    used += reply.length;
    queued++;
    if (!scheduled) {
      scheduled = true;
      process.nextTick(flush);
    }
  };

  const sock = new a.UdpSocket(o.host, o.port, o.bufferBytes, onReadable);
  if (o.joinAllServers) {
    for (const name of ipv6Interfaces()) {
      try {
        sock.joinGroup(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, name);
      } catch {
        /* an interface without multicast: skip */
      }
    }
  }
  return {
    kind: 'native',
    address: () => ({ address: o.host, port: sock.port }),
    send,
    close: async () => {
      if (closed) return;
      closed = true;
      sock.close();
    },
  };
}
