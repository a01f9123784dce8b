// The DHCPv4 server state machine inside DHCP 4o6 (RFC 2131 section 4.3, RFC 7618),
// over the lease operations of leases.ts (lease-service.ts: group commit, durable).
//
// Replies are built only after the lease change they report has committed; the
// data plane's binding is updated (BindingSink) before the reply leaves.
import { ipv4FromBytes, ipv4ToU32, toHex } from './codec/index.js';
import {
  BOOTREPLY,
  BOOTREQUEST,
  Dhcp4MessageType as T,
  Dhcp4OptionCode,
  writeClientIdData,
  ByteWriter,
  type Dhcp4Message,
  type PortParams,
} from './codec/index.js';
import { parseIPv4 } from '../map/ip.js';
import { eligiblePools, planAllocation, siteOf, slotOf, type Dhcp4o6Config, type Pool } from './allocator.js';
import { bindingAddress, bindingOf, type BindingRule, type BindingSink } from './bindings.js';
import type { Counters } from './counters.js';
import type { Holder, RequestKind } from './leases.js';
import type { LeaseService, Slot } from './lease-service.js';
import type { LeaseRow } from './store/types.js';

/** What the transport knows about a DHCPv4 message (server.ts). */
export interface V4Context {
  /** RFC 7341 section 6.3: the DHCPv4-query's Unicast flag. */
  unicast: boolean;
  /** The client's 4o6 source address (16 octets): UDP source, or the innermost relay's peer-address. */
  clientAddress: Uint8Array;
  /** The innermost Relay-forward's link-address, when relayed. */
  linkAddress?: Uint8Array;
}

/**
 * The leases a reload left outside every pool (store/types.ts RETIRED_POOL), as the
 * server (server.ts) counts them.
 */
export interface RetiredLeases {
  /** How many the store holds (exact after each reshape of the store); 0 skips every look-up. */
  readonly held: number;
  /** `n` of them ended (their client came back): the server reshapes the store's slots soon. */
  ended(n: number): void;
}

/**
 * One configuration's settings and pools. The server builds a Dhcp4Service per
 * configuration and swaps the whole service on a reload (server.ts reconfigure), so a
 * message is handled with one configuration from start to end.
 */
export interface V4Options {
  dhcp: Dhcp4o6Config;
  pools: Pool[];
  leases: LeaseService;
  sink: BindingSink;
  counters: Counters;
  bindingRule: BindingRule;
  retired?: RetiredLeases;
  now?: () => number;
}

/**
 * The client's key (RFC 7341 section 9 and RFC 7618 section 6: the client identifier,
 * built per RFC 4361): option 61 in hex. Without one, RFC 2131 section 4.2's fallback,
 * the hardware type and chaddr.
 */
export function clientKey(m: Dhcp4Message): string {
  // The hex of encodeClientIdData's octets, written in a scratch writer (no array per message).
  if (m.options.clientId !== undefined) {
    keyScratch.reset();
    writeClientIdData(keyScratch, m.options.clientId);
    return 'id:' + toHex(keyScratch.view());
  }
  return `hw:${m.htype.toString(16)}:` + toHex(m.chaddr.subarray(0, Math.min(16, m.hlen)));
}

const keyScratch = new ByteWriter(256);

/** The replies' sname and file (see base()): shared, as an array of no octets has nothing to change. */
const NO_OCTETS = new Uint8Array(0);

export class Dhcp4Service {
  private readonly serverId: string;
  private readonly now: () => number;
  /** pools(): eligiblePools for a client that asked for OPTION_V4_PORTPARAMS, and for one that did not. */
  private eligibleWith: Pool[] | 'discard' | undefined;
  private eligibleWithout: Pool[] | 'discard' | undefined;
  /** The names of an eligible list (request: bind's eligible pools), by list. */
  private readonly names = new Map<readonly Pool[], readonly string[]>();

  constructor(private readonly o: V4Options) {
    this.serverId = o.dhcp['server-id'];
    this.now = o.now ?? Date.now;
  }

  /** Handles one DHCPv4 message; resolves with the reply, or null for none (then a counter says why). */
  async handle(req: Dhcp4Message, ctx: V4Context): Promise<Dhcp4Message | null> {
    const c = this.o.counters;
    if (req.op !== BOOTREQUEST) return this.drop('v4-not-bootrequest');
    if (req.hlen > 16) return this.drop('v4-bad-hlen');
    const type = req.options.messageType;
    if (type === undefined) return this.drop('v4-no-message-type');
    c.inc(rxName(type));
    switch (type) {
      case T.DISCOVER:
        return this.discover(req, ctx);
      case T.REQUEST:
        return this.request(req, ctx);
      case T.DECLINE:
        await this.decline(req);
        return null;
      case T.RELEASE:
        await this.release(req);
        return null;
      case T.INFORM:
        return this.inform(req);
      default:
        return this.drop('v4-unexpected-message-type');
    }
  }

  private drop(reason: string): null {
    this.o.counters.inc(`drop-${reason}`);
    return null;
  }

  /** RFC 7618 section 8: the client asked for OPTION_V4_PORTPARAMS in its Parameter Request List. */
  private wantsPortParams(req: Dhcp4Message): boolean {
    return req.options.parameterRequestList?.includes(Dhcp4OptionCode.V4_PORTPARAMS) ?? false;
  }

  private holder(req: Dhcp4Message, ctx: V4Context): Holder {
    const b = bindingAddress(ctx.clientAddress, this.o.bindingRule);
    return {
      client: clientKey(req),
      site: siteOf(ctx.clientAddress, ctx.linkAddress, this.o.dhcp['site-prefix-length']),
      siteLimit: this.o.dhcp['max-leases-per-site'],
      ipv6: b?.ipv6 ?? null,
      prefixLen: b?.prefixLen ?? 0,
    };
  }

  private namesOf(pools: readonly Pool[]): readonly string[] {
    let n = this.names.get(pools);
    if (n === undefined) {
      n = Object.freeze(pools.map((p) => p.name));
      this.names.set(pools, n);
    }
    return n;
  }

  /** The pools for this client, or null after counting a discard (RFC 7618 section 8.1). */
  private pools(req: Dhcp4Message): Pool[] | null {
    // A service's pools never change (a reload makes a new service): the two possible
    // answers are computed once, not filtered twice per message.
    const want = this.wantsPortParams(req);
    let e = want ? this.eligibleWith : this.eligibleWithout;
    if (e === undefined) {
      e = eligiblePools(this.o.pools, want);
      if (want) this.eligibleWith = e;
      else this.eligibleWithout = e;
    }
    if (e === 'discard') {
      this.o.counters.inc('drop-v4-no-portparams-request-shared-only');
      return null;
    }
    return e;
  }

  private async discover(req: Dhcp4Message, ctx: V4Context): Promise<Dhcp4Message | null> {
    const pools = this.pools(req);
    if (pools === null) return null;
    const plan = planAllocation(pools, req.options.requestedAddress, req.options.portParams, this.o.dhcp['psid-len-hint']);
    const h = this.holder(req, ctx);
    const now = this.now();
    const r = await this.o.leases.allocate(h, plan, now, now + this.o.dhcp['offer-time'] * 1000);
    if (!r.ok) return this.drop(`v4-${r.why}`);
    this.o.counters.inc(named('v4-offer-', r.how));
    return this.lease(req, T.OFFER, r.row);
  }

  private async request(req: Dhcp4Message, ctx: V4Context): Promise<Dhcp4Message | null> {
    const o = req.options;
    const ciaddr = req.ciaddr !== '0.0.0.0' ? req.ciaddr : undefined;
    let kind: RequestKind;
    let address: string | undefined;
    if (o.serverId !== undefined) {
      kind = 'selecting';
      address = o.requestedAddress ?? ciaddr;
    } else if (o.requestedAddress !== undefined && ciaddr === undefined) {
      kind = 'init-reboot';
      address = o.requestedAddress;
    } else if (ciaddr !== undefined) {
      // RFC 7341 section 8: the Unicast flag tells RENEWING (unicast) from REBINDING (broadcast).
      kind = ctx.unicast ? 'renewing' : 'rebinding';
      address = ciaddr;
    } else {
      return this.drop('v4-request-without-address');
    }
    this.o.counters.inc(named('v4-request-', kind));
    const pools = this.pools(req);
    if (pools === null) return null;
    const h = this.holder(req, ctx);
    const now = this.now();
    const names = this.namesOf(pools);
    if (kind === 'selecting' && o.serverId !== this.serverId) {
      // RFC 2131 4.3.2: the client chose another server's offer; ours is free again.
      await this.o.leases.withdrawOffers(h.client, names, now);
      return this.drop('v4-request-for-other-server');
    }
    if (address === undefined) return this.drop('v4-request-without-address');
    // The address is a decoder's dotted quad (or ciaddr's): parsed here without ipaddr.js.
    const slot = bare(slotOf(pools, ipv4ToU32(address), o.portParams));
    const until = now + this.o.dhcp['lease-time'] * 1000;
    const r = await this.o.leases.bind(h, slot, names, kind, now, until);
    if (r.kind !== 'ack' && (r.why === 'no-record' || r.why === 'not-our-address') && (await this.endRetired(h.client, address, now)) > 0) {
      // The client holds this address, but a reload took it out of every pool (or gave its
      // pool other port sets). RFC 2131 4.3.2: the server SHOULD send a DHCPNAK when the
      // client's notion of its address is not correct for its network, and it has a record
      // of this client, so REBINDING and INIT-REBOOT are NAKed too rather than ignored. The
      // lease has ended (endRetired) and its binding is gone; the client goes back to INIT
      // (RFC 2131 4.4.1) and its DISCOVER is offered a slot of the pools now configured.
      this.o.counters.inc('v4-nak-outside-pools');
      return this.nak(req, 'outside-pools');
    }
    if (r.kind === 'silent') return this.drop(`v4-request-silent-${r.why}`);
    if (r.kind === 'nak') {
      this.o.counters.inc(`v4-nak-${r.why}`);
      return this.nak(req, r.why);
    }
    const b = bindingOf(r.row);
    if (b !== null) this.o.sink.put(b);
    else this.o.counters.inc('binding-unroutable-source');
    // A client in SELECTING came from INIT: it gave up any address it had (RFC 2131
    // 4.4.1), so a lease of it that a reload left outside the pools ends now rather than
    // at its expiry (Kea's allocation engine likewise removes a client's previous lease
    // when it grants it another address: ALLOC_ENGINE_V4_REQUEST_REMOVE_LEASE).
    // (Checked here first: the call is an async function, a promise per ACK, for nothing when none is held.)
    if (kind === 'selecting' && (this.o.retired?.held ?? 0) > 0) await this.endRetired(h.client, undefined, now);
    this.o.counters.inc('v4-ack');
    return this.lease(req, T.ACK, r.row);
  }

  /**
   * Ends the client's leases outside every pool (on `address`, or all): durably freed,
   * bindings removed. Returns how many. No store access while there are none.
   */
  private async endRetired(client: string, address: string | undefined, now: number): Promise<number> {
    const retired = this.o.retired;
    if (retired === undefined || retired.held === 0) return 0;
    const rows = await this.o.leases.dropRetired(client, address === undefined ? undefined : parseIPv4(address), now);
    for (const r of rows) if (r.ipv6 !== null) this.o.sink.remove(r.ipv4, r.psid);
    if (rows.length > 0) {
      retired.ended(rows.length);
      this.o.counters.inc('v4-retired-ended', rows.length);
    }
    return rows.length;
  }

  private async release(req: Dhcp4Message): Promise<void> {
    if (req.options.serverId !== undefined && req.options.serverId !== this.serverId) {
      this.drop('v4-release-for-other-server');
      return;
    }
    // A RELEASE carries no Parameter Request List: the lease is found by address in any pool.
    const pools = this.o.pools;
    const client = clientKey(req);
    const names = pools.map((p) => p.name);
    const slot = req.ciaddr === '0.0.0.0' ? undefined : bare(slotOf(pools, req.ciaddr, req.options.portParams));
    const now = this.now();
    const row = await this.o.leases.release(client, slot, names, now);
    if (row === null) {
      // A lease a reload left outside the pools is released like any other (RFC 2131 4.3.4).
      if (req.ciaddr !== '0.0.0.0' && (await this.endRetired(client, req.ciaddr, now)) > 0) this.o.counters.inc('v4-released');
      else this.drop('v4-release-unknown');
      return;
    }
    this.o.sink.remove(row.ipv4, row.psid);
    this.o.counters.inc('v4-released');
  }

  private async decline(req: Dhcp4Message): Promise<void> {
    if (req.options.serverId !== undefined && req.options.serverId !== this.serverId) {
      this.drop('v4-decline-for-other-server');
      return;
    }
    // Like RELEASE: found by address in any pool.
    const pools = this.o.pools;
    const client = clientKey(req);
    const names = pools.map((p) => p.name);
    const address = req.options.requestedAddress;
    const slot = address === undefined ? undefined : bare(slotOf(pools, address, req.options.portParams));
    const until = this.now() + this.o.dhcp['decline-time'] * 1000;
    const row = await this.o.leases.decline(client, slot, names, until);
    if (row === 'ignored') {
      // Outside the pools its slot is leased to nobody again: it just ends.
      if (address !== undefined && (await this.endRetired(client, address, this.now())) > 0) this.o.counters.inc('v4-declined');
      else this.drop('v4-decline-unknown');
      return;
    }
    if (row !== null) this.o.sink.remove(row.ipv4, row.psid);
    this.o.counters.inc('v4-declined');
  }

  /** RFC 2131 4.3.5: DHCPACK with the parameters, no lease time, no yiaddr. */
  private inform(req: Dhcp4Message): Dhcp4Message {
    const m = this.base(req, T.ACK);
    m.ciaddr = req.ciaddr;
    this.o.counters.inc('v4-ack-inform');
    return m;
  }

  private base(req: Dhcp4Message, type: number): Dhcp4Message {
    // RFC 2131 section 4.3.1, Table 3: htype, hlen, xid, flags, giaddr, chaddr from the
    // client, the rest zero. Built as one literal (emptyDhcp4Message's three zeroed
    // arrays, one of them off the JS heap, were garbage at once): sname and file are
    // empty arrays, which the encoder zero-pads to their 64 and 128 octets.
    const m: Dhcp4Message = {
      op: BOOTREPLY,
      htype: req.htype,
      hlen: req.hlen,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: '0.0.0.0',
      yiaddr: '0.0.0.0',
      siaddr: '0.0.0.0',
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      sname: NO_OCTETS,
      file: NO_OCTETS,
      options: { raw: [], messageType: type, serverId: this.serverId },
    };
    // RFC 6842: a server MUST echo the client identifier.
    if (req.options.clientId !== undefined) m.options.clientId = req.options.clientId;
    return m;
  }

  private lease(req: Dhcp4Message, type: number, row: LeaseRow): Dhcp4Message {
    const m = this.base(req, type);
    m.yiaddr = ipv4Text(row.ipv4 >>> 0);
    if (type === T.ACK && req.ciaddr !== '0.0.0.0') m.ciaddr = req.ciaddr;
    const t = this.o.dhcp['lease-time'];
    m.options.leaseTime = t;
    m.options.renewalTime = Math.floor(t / 2); // RFC 2131 4.4.5: T1 defaults to 0.5 * lease
    m.options.rebindingTime = Math.floor((t * 7) / 8); // T2 defaults to 0.875 * lease
    // A shared address is not a subnet: its mask is /32 (the client must not ARP, RFC 7618 7.1).
    if (req.options.parameterRequestList?.includes(Dhcp4OptionCode.SUBNET_MASK)) {
      m.options.subnetMask = row.psidLen > 0 ? '255.255.255.255' : prefixMask(this.o.pools.find((p) => p.name === row.pool));
    }
    // RFC 7618 section 8: "MUST NOT reply with OPTION_V4_PORTPARAMS unless the client has
    // explicitly listed the Option Code in the Parameter Request List"; for a shared
    // lease it is sent in OFFER and ACK (section 6, items 2 and 4). A full address has none.
    if (this.wantsPortParams(req) && row.psidLen > 0) {
      const pp: PortParams = { offset: row.psidOffset, psidLen: row.psidLen, psid: row.psid };
      m.options.portParams = pp;
    }
    return m;
  }

  private nak(req: Dhcp4Message, why: string): Dhcp4Message {
    // RFC 2131 4.3.2 / Table 3: DHCPNAK, yiaddr and ciaddr 0, server id, optional message.
    const m = this.base(req, T.NAK);
    m.options.message = why;
    return m;
  }
}

/** The slot without its pool (what crosses to the store, possibly another thread). */
function bare(s: ReturnType<typeof slotOf>): Slot {
  return s === undefined ? undefined : { ipv4: s.ipv4, psid: s.psid };
}

function prefixMask(pool: Pool | undefined): string {
  if (pool === undefined) return '255.255.255.255';
  const len = 32 - Math.log2(pool.count);
  return ipv4FromBytes(Uint8Array.of(...[24, 16, 8, 0].map((s) => ((len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0) >>> s) & 0xff)));
}

const TYPE_NAMES = new Map<number, string>(Object.entries(T).map(([k, v]) => [v, k.toLowerCase()]));
function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `type-${t}`;
}

// Counter names, built once: a name made per message (a template string) is a new
// string to allocate, and to hash again at every Map look-up in Counters.
const RX_NAMES = new Map<number, string>();
function rxName(t: number): string {
  let n = RX_NAMES.get(t);
  if (n === undefined) {
    n = `v4-rx-${typeName(t)}`;
    if (RX_NAMES.size < 256) RX_NAMES.set(t, n); // a message type is one octet
  }
  return n;
}

const NAMES = new Map<string, Map<string, string>>();
/** prefix + suffix, memoised (the suffixes are a few fixed words: how, kind). */
function named(prefix: string, suffix: string): string {
  let m = NAMES.get(prefix);
  if (m === undefined) NAMES.set(prefix, (m = new Map()));
  let n = m.get(suffix);
  if (n === undefined) {
    n = prefix + suffix;
    if (m.size < 64) m.set(suffix, n);
  }
  return n;
}

/** Dotted quad of a 32-bit address (map/ip.ts formatIPv4 without its array and join). */
function ipv4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

