// The DHCP 4o6 server: UDP endpoints ([::]:547 by default; udp/: recvmmsg/sendmmsg
// through the native socket, or node:dgram), decode -> handler -> encode -> send, and
// a counter for every message dropped, by reason.
//
// Transport (RFC 7341):
//  - a DHCPV4-QUERY (20) carries the client's DHCPv4 message in OPTION_DHCPV4_MSG (87);
//    a query without one is discarded (section 11); the answer is a DHCPV4-RESPONSE
//    (21) whose flags are all zero (section 6.4) carrying the server's DHCPv4 message;
//  - the query's Unicast flag (section 6.3) tells the DHCPv4 state machine whether the
//    client would have unicast the message, i.e. RENEWING vs REBINDING (section 8);
//  - a direct query is answered by unicast to its source address and port, from the
//    socket it arrived on (section 11: "MUST be unicast from the interface on which
//    the original message was received"), also when that source is link-local (ISC
//    dhclient queries from its link-local address even to a global server address);
//  - a relayed query (one or more Relay-forward, section 10 / RFC 8415 section 19) is
//    answered with the matching Relay-reply chain (hop-count, link- and peer-address
//    and Interface-Id copied, RFC 8415 sections 9.2 and 21.18) sent to the relay's
//    source address and port (RFC 8357).
// Every other DHCPv6 message a 4o6 client needs goes to v6.ts.
//
// Bad input never throws out of handleDatagram: decode errors are counted as
// drop-decode-<reason> (codec/errors.ts), protocol violations under their own names,
// and an unexpected failure (e.g. the store is unreachable) as drop-internal-*; no
// lease changes unless its transaction committed.
//
// Live reload (reconfigure; SIGHUP and POST /v1/reload through box/dhcp-leases.ts):
// everything under dhcp4o6 but `listen` and `lease-store` (fixed at start: the sockets
// and the store are this server's), and the rest of the config the DHCPv6 side sends
// (S46 options), is taken from the new config. Messages are handled concurrently (the
// group commit batches their lease operations), so the pools are swapped *between*
// messages: the new pools are built and checked, new messages wait, those in flight
// finish with the old pools, the store reshapes its slots (store/types.ts init), the
// new pools take over and the waiting messages go on with them. Kea does the same on
// reconfiguration (packet processing paused in a critical section while the new
// configuration is applied). Leases outside the new pools: store/types.ts RETIRED_POOL
// and v4.ts (a REQUEST for one is NAKed).
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { XbrConfig } from '../config/schema.js';
import {
  DhcpDecodeError,
  Dhcp4o6MessageType,
  Dhcp6MessageType,
  HOP_COUNT_LIMIT,
  buildRelayReply,
  decodeDhcp4Message,
  decodeDhcp6Message,
  dhcp4o6FromDhcp6,
  dhcp4o6ToDhcp6,
  encodeDhcp4Message,
  encodeDhcp6Message,
  fromHex,
  ipv6ToBytes,
  isUnicast,
  unwrapRelays,
  DuidType,
  DHCP4O6_FLAG_UNICAST,
  EncodeLimitError,
  relayAt,
  scanDhcp4Query,
  writeDhcp4Response,
  type Dhcp4QueryFrame,
  type Dhcp6ClientServerMessage,
  type Duid,
} from './codec/index.js';
import { buildPools, checkPools, poolChanges, type Dhcp4o6Config, type Pool, type PoolChanges } from './allocator.js';
import { bindingOf, TableBindingSink, slotKey, slotOfKey, TrackingSink, type BindingSink } from './bindings.js';
import { Counters } from './counters.js';
import { ExpirySweeper } from './expiry.js';
import { StoreLeaseService, type LeaseService } from './lease-service.js';
import { openLeaseStore } from './store/open.js';
import { RETIRED_POOL, storeConcurrency, type LeaseStore } from './store/types.js';
import { Dhcp4Service, type RetiredLeases } from './v4.js';
import { Dhcp6Service } from './v6.js';
import { openUdpEndpoint, pickUdpKind, type Source, type UdpEndpoint, type UdpKind } from './udp/endpoint.js';
import { Serial } from '../serial.js';

export interface Dhcp4o6ServerOptions {
  config: XbrConfig;
  /** Where the configuration file is: a relative sqlite: path is resolved from here. */
  configDir?: string;
  /** The data plane's binding table (default: an in-memory TableBindingSink). */
  sink?: BindingSink;
  /** An open store (default: opened from dhcp4o6.lease-store). Closed by stop(). */
  store?: LeaseStore;
  /** Overrides dhcp4o6.listen. */
  listen?: string[];
  /** Accept ::1 as a binding address (tests and benchmarks on loopback). */
  allowLoopbackBindings?: boolean;
  /**
   * Run a SQLite store in a worker thread (store/sqlite-worker.ts). Default: yes when
   * running compiled (the worker script exists), no when running the TS sources.
   */
  sqliteWorker?: boolean;
  now?: () => number;
  log?: (line: string) => void;
  /**
   * The UDP transport (udp/endpoint.ts): "native" (recvmmsg/sendmmsg, the xbr_udp
   * addon), "dgram" (node:dgram), or "auto" (native when built). Default: the
   * XBR_DHCP_UDP environment variable, else "auto".
   */
  udp?: UdpKind | 'auto';
  /**
   * How long a reload that changes the pools waits for the messages in flight to finish
   * (ms; default RELOAD_DRAIN_MS). Past it the reload is refused and the running pools
   * stay: a lease store that stopped answering must not hang every later reload.
   */
  reloadDrainMs?: number;
}

/** Default of Dhcp4o6ServerOptions.reloadDrainMs: far above any commit, short enough for an operator waiting on `xbr reload`. */
export const RELOAD_DRAIN_MS = 10_000;

export type { Source } from './udp/endpoint.js';

/** "[addr]:port" -> { host, port } (schema.ts endpoint syntax). */
export function parseEndpoint(e: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(e);
  if (!m) throw new Error(`listen ${e}: must be "[ipv6]:port"`);
  if (m[1] === undefined) throw new Error(`listen ${e}: DHCPv6 listens on IPv6 addresses only ("[::]:547")`);
  return { host: m[1], port: Number(m[3]) };
}

/**
 * IPv6 text -> octets, memoised: relay peer/link addresses and client sources repeat
 * (every client sends several messages), and parsing text is a hot spot at load.
 */
const v6cache = new Map<string, Uint8Array>();
function v6bytes(text: string): Uint8Array {
  let b = v6cache.get(text);
  if (b === undefined) {
    b = ipv6ToBytes(text);
    if (v6cache.size >= 65536) v6cache.clear();
    v6cache.set(text, b);
  }
  return b;
}

/** 16 octets of `b` from `at`, in an array of their own (a Buffer's slice() would be a view of the datagram). */
function copy16(b: Uint8Array, at: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = b[at + i];
  return out;
}

/** A direct client's address: the transport's octets, or its text parsed (without the zone). */
function sourceBytes(from: Source): Uint8Array {
  return from.bytes ?? v6bytes(from.address.split('%')[0]);
}

/**
 * One configuration as the server runs it: a message is handled with the generation
 * current when it came in, from start to end (reconfigure swaps the whole object).
 */
interface Generation {
  config: XbrConfig;
  dhcp: Dhcp4o6Config;
  pools: Pool[];
  duid: Duid;
  v4: Dhcp4Service;
  v6: Dhcp6Service;
}

/** What a reload did (reconfigure), as logged. */
export interface ReconfigureResult extends PoolChanges {
  /** dhcp4o6 keys (besides pools) that changed; "s46" when the options the DHCPv6 side sends did. */
  settings: string[];
  /** Leases the store keeps outside every pool (store/types.ts RETIRED_POOL). */
  retired: number;
  /** Messages that were in flight when the swap began (they finished with the old pools). */
  drained: number;
  /** Messages that waited for the swap (handled with the new pools). */
  waited: number;
}


export class Dhcp4o6Server {
  readonly counters = new Counters();
  readonly sink: BindingSink;
  /**
   * Where this server's binding changes go: `sink`, through `tracked` when the store
   * has a change feed (PostgreSQL).
   */
  private readonly out: BindingSink;
  /**
   * `sink`, remembering which bindings this server holds there: what resync() removes
   * after a lost change feed. A store without one (SQLite: this server is its only
   * writer) needs no such record, and keeping it cost the datagram thread a set entry
   * per lease.
   */
  private readonly tracked: TrackingSink | undefined;
  readonly leases: LeaseService;
  /** This process's id in published changes (PostgreSQL). */
  readonly origin: string;
  private readonly sockets: UdpEndpoint[] = [];
  private gen: Generation;
  private readonly expiry: ExpirySweeper;
  private readonly log: (line: string) => void;
  private stopped = false;
  /** reconfigure and reshape, one at a time. */
  private readonly admin = new Serial();
  /** Messages between the gate and their reply; the gate is closed while pools are swapped. */
  private inFlight = 0;
  private drainWaiters: (() => void)[] = [];
  private gate: Promise<void> | undefined;
  private waited = 0;
  /** Leases outside every pool the store holds (store/types.ts RETIRED_POOL), and whether some ended since the last reshape. */
  private retiredHeld: number;
  private reshapeDue = false;
  private readonly retired: RetiredLeases;

  private constructor(
    private readonly opts: Dhcp4o6ServerOptions,
    readonly store: LeaseStore,
    duid: Duid,
    origin: string,
    pools: Pool[],
    retired: number,
  ) {
    const dhcp = opts.config.dhcp4o6;
    if (dhcp === undefined) throw new Error('the configuration has no dhcp4o6 section');
    this.origin = origin;
    this.log = opts.log ?? (() => {});
    this.sink = opts.sink ?? new TableBindingSink();
    this.tracked = store.follow !== undefined ? new TrackingSink(this.sink) : undefined;
    this.out = this.tracked ?? this.sink;
    this.leases = isLeaseService(store) ? store : new StoreLeaseService(store, dhcp['commit-batch'], storeConcurrency(store));
    this.retiredHeld = retired;
    const self = this;
    this.retired = {
      get held() {
        return self.retiredHeld;
      },
      ended(n: number) {
        self.retiredHeld = Math.max(0, self.retiredHeld - n);
        self.reshapeDue = true;
      },
    };
    this.gen = this.generation(opts.config, pools, duid);
    this.expiry = new ExpirySweeper(store, this.out, this.counters, dhcp['expiry-interval'] * 1000, opts.now);
    this.expiry.afterSweep = async (ended) => {
      const n = ended.filter((r) => r.pool === RETIRED_POOL).length;
      if (n > 0) this.retired.ended(n);
      if (this.reshapeDue) await this.reshape();
    };
  }

  /** The pools in force (a reload swaps them). */
  get pools(): Pool[] {
    return this.gen.pools;
  }

  /** The DHCPv6 server DUID in force (dhcp4o6.server-duid, else the one kept in the store). */
  get serverDuid(): Duid {
    return this.gen.duid;
  }

  private generation(config: XbrConfig, pools: Pool[], duid: Duid): Generation {
    const dhcp = config.dhcp4o6!;
    const bindingRule = { mode: config.mode, cePrefixLength: dhcp['ce-prefix-length'], allowLoopback: this.opts.allowLoopbackBindings };
    return {
      config,
      dhcp,
      pools,
      duid,
      v4: new Dhcp4Service({ dhcp, pools, leases: this.leases, sink: this.out, counters: this.counters, bindingRule, retired: this.retired, now: this.opts.now }),
      v6: new Dhcp6Service({ config, serverDuid: duid, counters: this.counters }),
    };
  }

  /**
   * Opens the store, creates the pools' slots, restores every unexpired lease as a
   * binding (before any traffic is served), and follows other servers' changes
   * (PostgreSQL). Does not open sockets: see listen(), or start() for both.
   */
  static async create(opts: Dhcp4o6ServerOptions): Promise<Dhcp4o6Server> {
    const dhcp = opts.config.dhcp4o6;
    if (dhcp === undefined) throw new Error('the configuration has no dhcp4o6 section');
    const pools = buildPools(opts.config);
    checkPools(pools);
    const origin = randomUUID();
    const worker = opts.sqliteWorker ?? existsSync(fileURLToPath(new URL('./store/sqlite-worker-main.js', import.meta.url)));
    const store = opts.store ?? (await openLeaseStore(dhcp['lease-store'], opts.configDir ?? process.cwd(), origin, worker));
    try {
      const retired = await store.init(pools);
      const duid = await serverDuid(dhcp['server-duid'], store);
      const server = new Dhcp4o6Server(opts, store, duid, origin, pools, retired);
      await server.restore();
      return server;
    } catch (e) {
      if (opts.store === undefined) await store.close();
      throw e;
    }
  }

  static async start(opts: Dhcp4o6ServerOptions): Promise<Dhcp4o6Server> {
    const s = await Dhcp4o6Server.create(opts);
    try {
      await s.listen();
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  private async restore(): Promise<void> {
    if (this.store.follow !== undefined) {
      // LISTEN first, then read: a change committed in between is seen (twice at worst; puts and removes are idempotent).
      await this.store.follow(
        (c) => {
          const b = bindingOf(c.row);
          if (c.op === 'put' && b !== null) this.out.put(b);
          else if (c.op === 'remove') this.out.remove(c.row.ipv4, c.row.psid);
          this.counters.inc(`followed-${c.op}`);
        },
        () => this.resync(),
      );
    }
    const n = await this.putActive();
    this.log(`restored ${n} bindings`);
    this.counters.inc('restored-bindings', n);
    this.expiry.start();
  }

  /** Puts every unexpired lease of the store into the sink; returns how many. */
  private async putActive(): Promise<number> {
    const now = (this.opts.now ?? Date.now)();
    let n = 0;
    for (const row of await this.store.active(now)) {
      const b = bindingOf(row);
      if (b !== null) {
        this.out.put(b);
        n++;
      }
    }
    return n;
  }

  /**
   * After the store's change feed was interrupted (PostgreSQL LISTEN connection lost):
   * the bindings become exactly the store's active leases again — every one put, and
   * every binding this server put that is no longer a lease removed.
   */
  private async resync(): Promise<void> {
    const now = (this.opts.now ?? Date.now)();
    const active = new Set<number>();
    for (const row of await this.store.active(now)) {
      const b = bindingOf(row);
      if (b === null) continue;
      active.add(slotKey(b.ipv4, b.psid));
      this.out.put(b);
    }
    for (const k of [...(this.tracked?.keys ?? [])]) {
      if (active.has(k)) continue;
      const { ipv4, psid } = slotOfKey(k);
      this.out.remove(ipv4, psid);
    }
    this.counters.inc('resyncs');
  }

  /** Binds the configured (or given) UDP endpoints. */
  async listen(): Promise<void> {
    const endpoints = this.opts.listen ?? this.gen.dhcp.listen;
    const kind = pickUdpKind(this.opts.udp);
    for (const e of endpoints) {
      const { host, port } = parseEndpoint(e);
      const ep: UdpEndpoint = await openUdpEndpoint(kind, {
        host,
        port,
        bufferBytes: 8 << 20,
        joinAllServers: host === '::',
        onDatagram: (msg, from) => {
          void this.handleDatagram(msg, from).then((reply) => {
            if (reply !== null && !this.stopped) ep.send(reply, from);
          });
        },
        count: (name, by) => this.counters.inc(name, by),
        log: this.log,
      });
      this.sockets.push(ep);
      this.log(`listening on ${e} (${kind === 'native' ? 'recvmmsg/sendmmsg' : 'node:dgram'})`);
    }
  }

  /** The bound endpoints (port 0 in the config becomes the real port). */
  addresses(): { address: string; port: number }[] {
    return this.sockets.map((s) => s.address());
  }

  /**
   * One datagram in, the reply datagram out (or null). Never throws.
   * `from` is the UDP source ("fe80::1%eth0" zones are accepted).
   */
  async handleDatagram(buf: Uint8Array, from: Source): Promise<Uint8Array | null> {
    // While a reload swaps the pools, new messages wait here (reconfigure).
    while (this.gate !== undefined) {
      this.waited++;
      await this.gate;
    }
    this.inFlight++;
    try {
      return await this.handle(this.gen, buf, from);
    } finally {
      if (--this.inFlight === 0 && this.drainWaiters.length > 0) {
        const w = this.drainWaiters;
        this.drainWaiters = [];
        for (const f of w) f();
      }
    }
  }

  /** drained(), or a refusal of the reload once `ms` passed (nothing has changed yet: the old pools stay). */
  private async drainedWithin(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
    try {
      const done = await Promise.race([this.drained().then(() => true as const), late]);
      if (!done) {
        throw new Error(`dhcp4o6: ${this.inFlight} message(s) still in flight after ${ms} ms (is the lease store answering?): reload refused, the running pools stay`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resolves when no message is between the gate and its reply. */
  private drained(): Promise<void> {
    return this.inFlight === 0 ? Promise.resolve() : new Promise((r) => this.drainWaiters.push(r));
  }

  private async handle(g: Generation, buf: Uint8Array, from: Source): Promise<Uint8Array | null> {
    const c = this.counters;
    c.inc('rx');
    try {
      // The hot message, a (relayed) DHCPv4-query, by offsets into the datagram; any
      // other message, or one the scan does not vouch for, the generic way below
      // (codec/fast4o6.ts: which drops and counts it by reason as before).
      const f = scanDhcp4Query(buf);
      if (f !== null) return await this.fastQuery(g, buf, f, from);
      let msg;
      try {
        msg = decodeDhcp6Message(buf);
      } catch (e) {
        if (e instanceof DhcpDecodeError) return this.drop(`decode-${e.reason}`);
        throw e;
      }
      let relays: ReturnType<typeof unwrapRelays>['relays'] = [];
      let inner: Dhcp6ClientServerMessage;
      if (msg.kind === 'relay') {
        ({ relays, inner } = unwrapRelays(msg));
        if (relays.some((r) => r.msgType !== Dhcp6MessageType.RELAY_FORW)) return this.drop('v6-relay-reply-received');
        // RFC 8415 section 19.1.1: a relay discards a Relay-forward whose hop-count reached HOP_COUNT_LIMIT;
        // a server seeing more than that many hops received something no conforming relay sent.
        if (relays.length > HOP_COUNT_LIMIT + 1 || relays[0].hopCount > HOP_COUNT_LIMIT) return this.drop('v6-relay-hop-limit');
        c.inc('rx-relayed');
      } else {
        inner = msg;
      }
      const innermost = relays.length > 0 ? relays[relays.length - 1] : undefined;
      const clientAddress = innermost !== undefined ? v6bytes(innermost.peerAddress) : sourceBytes(from);
      let reply: Dhcp6ClientServerMessage | null;
      if (inner.msgType === Dhcp4o6MessageType.DHCPV4_QUERY) {
        reply = await this.query(g, inner, clientAddress, innermost === undefined ? undefined : v6bytes(innermost.linkAddress));
      } else if (inner.msgType === Dhcp4o6MessageType.DHCPV4_RESPONSE) {
        return this.drop('v4o6-response-received');
      } else {
        reply = g.v6.handle(inner, clientAddress);
      }
      if (reply === null) return null;
      try {
        return encodeDhcp6Message(relays.length > 0 ? buildRelayReply(relays, reply) : reply);
      } catch {
        return this.drop('encode-error');
      }
    } catch (e) {
      if (e instanceof DhcpDecodeError) return this.drop(`decode-${e.reason}`);
      this.log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      return this.drop(`internal-${e instanceof Error ? e.name : 'error'}`);
    }
  }

  private drop(reason: string): null {
    this.counters.inc(`drop-${reason}`);
    return null;
  }

  /**
   * handle() and query() for a DHCPv4-query found by scanDhcp4Query: the same checks,
   * counters and drops in the same order, the DHCPv4 message decoded from a view of the
   * datagram (decodeDhcp4Message copies what it keeps) and the reply written in one
   * piece (writeDhcp4Response). Errors other than those caught here go to handle()'s
   * catch, as query()'s do.
   */
  private async fastQuery(g: Generation, buf: Uint8Array, f: Dhcp4QueryFrame, from: Source): Promise<Uint8Array | null> {
    const k = f.depth;
    let clientAddress: Uint8Array;
    let linkAddress: Uint8Array | undefined;
    if (k > 0) {
      // See handle(): RFC 8415 section 19.1.1, HOP_COUNT_LIMIT.
      if (k > HOP_COUNT_LIMIT + 1 || buf[relayAt(f, 0) + 1] > HOP_COUNT_LIMIT) return this.drop('v6-relay-hop-limit');
      this.counters.inc('rx-relayed');
      // The innermost relay's peer- and link-address (RFC 8415 section 9.1), copies of their own.
      const r = relayAt(f, k - 1);
      linkAddress = copy16(buf, r + 2);
      clientAddress = copy16(buf, r + 18);
    } else {
      clientAddress = sourceBytes(from);
    }
    const v4 = decodeDhcp4Message(buf.subarray(f.v4At, f.v4At + f.v4Len));
    this.counters.inc('rx-dhcpv4-query');
    let answer;
    try {
      answer = await g.v4.handle(v4, { unicast: (f.flags & DHCP4O6_FLAG_UNICAST) !== 0, clientAddress, linkAddress });
    } catch (e) {
      this.log(`lease store: ${e instanceof Error ? e.message : String(e)}`);
      return this.drop('store-error');
    }
    if (answer === null) return null;
    try {
      return writeDhcp4Response(buf, f, answer);
    } catch (e) {
      // Only the DHCPv6 framing's limits are an encode-error (handle()); a DHCPv4 answer
      // that cannot be encoded goes on to handle()'s catch, as from query().
      if (e instanceof EncodeLimitError) return this.drop('encode-error');
      throw e;
    }
  }

  private async query(g: Generation, inner: Dhcp6ClientServerMessage, clientAddress: Uint8Array, linkAddress: Uint8Array | undefined): Promise<Dhcp6ClientServerMessage | null> {
    // RFC 7341 section 11: "The server discards a packet without this option" (decode error missing-option).
    const q = dhcp4o6FromDhcp6(inner);
    const v4 = decodeDhcp4Message(q.dhcpv4Message);
    this.counters.inc('rx-dhcpv4-query');
    let answer;
    try {
      answer = await g.v4.handle(v4, { unicast: isUnicast(q), clientAddress, linkAddress });
    } catch (e) {
      // The transaction did not commit: nothing was leased, nothing is answered.
      this.log(`lease store: ${e instanceof Error ? e.message : String(e)}`);
      return this.drop('store-error');
    }
    if (answer === null) return null;
    // RFC 7341 section 6.4: "The DHCP 4o6 server MUST set all bits of this field to 0".
    return dhcp4o6ToDhcp6({ msgType: Dhcp4o6MessageType.DHCPV4_RESPONSE, flags: 0, dhcpv4Message: encodeDhcp4Message(answer), options: [] });
  }

  /** Expires leases now (tests). */
  sweep(): Promise<number> {
    return this.expiry.sweep();
  }

  /**
   * Takes a reloaded, validated config live (box/dhcp-leases.ts, on SIGHUP or POST
   * /v1/reload): its pools and every dhcp4o6 setting but `listen` and `lease-store`,
   * and the S46 options the DHCPv6 side sends. Throws — with nothing changed, the old
   * pools serving on — when the config cannot be taken: a pool that cannot be served
   * (`dhcp4o6.pools[i] (name): why`, the checks made at start), a key that takes a
   * restart, or the store failing to reshape its slots (one transaction: rolled back).
   *
   * Leases: kept in the store, with their bindings. One whose slot is in a new pool
   * goes on as before (also when its pool was renamed). One that fits no new pool is
   * kept, bound, until it expires or its client comes back: a REQUEST for it is NAKed
   * (RFC 2131 4.3.2) and it ends, a DISCOVER is offered a slot of the new pools
   * (v4.ts). Offers outside the new pools are withdrawn (their REQUEST is NAKed).
   * New settings apply to the next message: lease-time to the next ACK (a running lease
   * keeps its expiry), ce-prefix-length to the next binding made (a lease's binding
   * changes when it is renewed), max-leases-per-site to the next allocation.
   */
  reconfigure(config: XbrConfig): Promise<ReconfigureResult> {
    return this.admin.run(async () => {
      if (this.stopped) throw new Error('the 4o6 server is stopped');
      const old = this.gen;
      const dhcp = config.dhcp4o6;
      if (dhcp === undefined) throw new Error('dhcp4o6 removed: stopping the 4o6 server takes a restart');
      // Which sockets and which store: this server's own, opened at start (box/reload.ts
      // refuses these first); the mode decides what every binding is (bindings.ts).
      for (const key of ['listen', 'lease-store'] as const) {
        if (!isDeepStrictEqual(old.dhcp[key], dhcp[key])) throw new Error(`dhcp4o6.${key} changed: it takes a restart, not a reload`);
      }
      if (config.mode !== old.config.mode) throw new Error('mode changed: it takes a restart, not a reload');
      // 1. Everything built and checked before anything changes.
      const pools = buildPools(config);
      checkPools(pools);
      const duid = old.dhcp['server-duid'] === dhcp['server-duid'] ? old.duid : await serverDuid(dhcp['server-duid'], this.store);
      const next = this.generation(config, pools, duid);
      const changes = poolChanges(old.pools, pools);
      let drained = 0;
      let waited = 0;
      if (changes.added.length + changes.removed.length + changes.changed.length === 0) {
        // The same slots: nothing in the store changes, a message in flight finishes with
        // the generation it began with, the next one takes the new one.
        this.gen = next;
      } else {
        // 2. The swap, between messages: the gate holds new messages, the ones in flight
        //    finish (with the old pools), the store reshapes its slots, the new pools take
        //    over, the gate opens. No message sees two generations, and no message's
        //    lease operation runs while the store's slots change (expiry and API
        //    releases may: the store serializes init with every transaction).
        let open!: () => void;
        this.gate = new Promise<void>((r) => (open = r));
        this.waited = 0;
        try {
          drained = this.inFlight;
          await this.drainedWithin(this.opts.reloadDrainMs ?? RELOAD_DRAIN_MS);
          this.retiredHeld = await this.store.init(pools);
          this.reshapeDue = false;
          this.gen = next;
        } finally {
          waited = this.waited;
          this.gate = undefined;
          open();
        }
      }
      if (this.leases instanceof StoreLeaseService) this.leases.setMaxBatch(dhcp['commit-batch']);
      this.expiry.setIntervalMs(dhcp['expiry-interval'] * 1000);
      const result: ReconfigureResult = { ...changes, settings: changedSettings(old.config, config), retired: this.retiredHeld, drained, waited };
      this.log(describeReconfigure(result));
      return result;
    });
  }

  /**
   * After leases outside the pools ended: the store drops their rows and creates the
   * slots they blocked (store/types.ts init). The pools are the same, so messages go on
   * meanwhile (the store serializes init with the lease transactions).
   */
  private reshape(): Promise<void> {
    return this.admin.run(async () => {
      if (!this.reshapeDue || this.stopped) return;
      this.reshapeDue = false;
      try {
        this.retiredHeld = await this.store.init(this.gen.pools);
        this.counters.inc('store-reshapes');
      } catch (e) {
        this.reshapeDue = true; // the next sweep tries again
        this.log(`lease store: reshaping the slots failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    });
  }

  /**
   * A lease outside the pools ended elsewhere (released through the API,
   * box/dhcp-leases.ts): the store is reshaped at the next sweep.
   */
  retiredEnded(n = 1): void {
    this.retired.ended(n);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.sockets.map((s) => s.close()));
    this.sockets.length = 0;
    await this.expiry.stop();
    await this.leases.close();
    await this.store.close();
  }
}

/** dhcp4o6 keys other than pools that differ, and "s46" when what the DHCPv6 side sends (v6.ts s46Container) does. */
function changedSettings(a: XbrConfig, b: XbrConfig): string[] {
  const da = a.dhcp4o6 as Record<string, unknown> | undefined;
  const db = b.dhcp4o6 as Record<string, unknown> | undefined;
  const keys = [...new Set([...Object.keys(da ?? {}), ...Object.keys(db ?? {})])].filter((k) => k !== 'pools').sort();
  const out = keys.filter((k) => !isDeepStrictEqual(da?.[k], db?.[k]));
  if (['rules', 'dmr', 'br', 'bindings'].some((k) => !isDeepStrictEqual(a[k as keyof XbrConfig], b[k as keyof XbrConfig]))) out.push('s46');
  return out;
}

/** The one line a reload logs. */
function describeReconfigure(r: ReconfigureResult): string {
  const list = (what: string, names: string[]) => (names.length > 0 ? [`${what} [${names.join(', ')}]`] : []);
  const pools = [...list('added', r.added), ...list('removed', r.removed), ...list('changed', r.changed), ...list('unchanged', r.unchanged)];
  if (r.reordered) pools.push('reordered');
  const settings = r.settings.length > 0 ? `settings changed: ${r.settings.join(', ')}` : 'no setting changed';
  const retired = r.retired > 0 ? `; ${r.retired} lease(s) outside the pools kept until they end or their client returns` : '';
  return `reconfigured: pools ${pools.join(', ')}; ${settings}${retired}`;
}

function isLeaseService(s: LeaseStore): s is LeaseStore & LeaseService {
  return typeof (s as Partial<LeaseService>).allocate === 'function';
}

/** The server DUID: the configured one, else one generated once and kept in the store (RFC 8415 section 11: stable). */
async function serverDuid(configured: string | undefined, store: LeaseStore): Promise<Duid> {
  const fromBytes = (b: Uint8Array): Duid => ({ type: (b[0] << 8) | b[1], data: b.slice(2) });
  if (configured !== undefined) return fromBytes(fromHex(configured));
  const kept = await store.getMeta('server-duid');
  if (kept !== undefined) return fromBytes(fromHex(kept));
  const uuid = fromHex(randomUUID());
  const duid: Duid = { type: DuidType.UUID, data: uuid };
  const hex = '0004' + Buffer.from(uuid).toString('hex');
  await store.setMeta('server-duid', hex);
  return duid;
}

