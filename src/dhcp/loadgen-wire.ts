// The load generator's wire path, kept cheap so that the generator, which shares the
// machine with the server it measures, spends as little CPU as it can: each message
// kind is encoded once with the codec (client.ts) using sentinel values, and then
// copied and patched per client (xid, MAC, IAID, relay peer-address, requested
// address, server id, PSID); answers are read by walking only the fields the
// generator needs. Tests check the patched templates against the codec's own
// encoding (test/dhcp/loadgen.test.ts).
import { clientMessage, encodeQuery, type SimClient } from './client.js';
import { Dhcp4MessageType as T, ipv6ToBytes, type PortParams } from './codec/index.js';

const S_XID = Uint8Array.of(0x7a, 0x5b, 0x3c, 0x1d);
const S_MAC = Uint8Array.of(0x02, 0x00, 0xc1, 0xd2, 0xe3, 0xf4);
const S_IAID = Uint8Array.of(0x6e, 0x5f, 0x4a, 0x3b);
const S_PEER = '2001:7e57:ab12::1';
const S_REQ = Uint8Array.of(198, 18, 201, 202);
const S_SID = Uint8Array.of(198, 18, 203, 204);

function findAll(buf: Uint8Array, pat: Uint8Array): number[] {
  const out: number[] = [];
  outer: for (let i = 0; i + pat.length <= buf.length; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    out.push(i);
  }
  return out;
}

/** A query encoded once by the codec, and where its per-client fields are. */
export interface Template {
  buf: Uint8Array;
  xid: number[];
  mac: number[];
  iaid: number[];
  peer: number[];
  req: number[];
  sid: number[];
  /** Offset of the PSID field (2 octets) of option 159, -1 if none. */
  psid: number;
  psidLen: number;
}

const sentinelClient = (portAware: boolean): SimClient => ({ iaid: 0x6e5f4a3b, mac: S_MAC, portAware });

function template(buf: Uint8Array, pp?: PortParams): Template {
  const peerBytes = ipv6ToBytes(S_PEER);
  let psid = -1;
  if (pp !== undefined) {
    const at = findAll(buf, Uint8Array.of(159, 4, pp.offset, pp.psidLen));
    if (at.length !== 1) throw new Error('loadgen: option 159 not found once in the template');
    psid = at[0] + 4;
  }
  return {
    buf,
    xid: findAll(buf, S_XID),
    mac: findAll(buf, S_MAC),
    iaid: findAll(buf, S_IAID),
    peer: findAll(buf, peerBytes),
    req: findAll(buf, S_REQ),
    sid: findAll(buf, S_SID),
    psid,
    psidLen: pp?.psidLen ?? 0,
  };
}

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * What a REQUEST template answers: OFFERs with option 159 at this offset and PSID
 * length (null: none) and with a server identifier or without.
 */
export interface OfferShape {
  pp: { offset: number; psidLen: number } | null;
  serverId: boolean;
}

export interface Offer {
  yiaddr: number;
  serverId: number | null;
  pp: PortParams | null;
}

/** Builds DISCOVER and REQUEST (selecting) queries for simulated client n (client.ts simClient, loadgen.ts simB4). */
export class QueryFactory {
  private readonly discover: Template;
  private readonly requests = new Map<string, Template>();

  constructor(
    private readonly portAware: boolean,
    private readonly relayLink: string | null,
  ) {
    this.discover = template(this.encode(T.DISCOVER, {}));
  }

  private encode(type: number, f: { requestedAddress?: string; serverId?: string; portParams?: PortParams }): Uint8Array {
    const m = clientMessage(type, sentinelClient(this.portAware), { xid: 0x7a5b3c1d, ...f });
    return encodeQuery(m, false, this.relayLink === null ? undefined : { link: this.relayLink, peer: S_PEER });
  }

  private fill(t: Template, n: number, xid: number): Uint8Array {
    const b = t.buf.slice();
    for (const at of t.xid) put32(b, at, xid);
    for (const at of t.mac) put32(b, at + 2, n);
    for (const at of t.iaid) put32(b, at, n);
    const hi = 0x1000 + (n >>> 16);
    const lo = n & 0xffff;
    for (const at of t.peer) {
      b[at + 2] = hi >>> 8;
      b[at + 3] = hi & 0xff;
      b[at + 4] = lo >>> 8;
      b[at + 5] = lo & 0xff;
    }
    return b;
  }

  discoverFor(n: number, xid: number): Uint8Array {
    return this.fill(this.discover, n, xid);
  }

  /** The REQUEST template for OFFERs of this shape (built once per shape). */
  requestTemplate(shape: OfferShape): Template {
    const key = `${shape.pp?.offset ?? '-'}/${shape.pp?.psidLen ?? '-'}/${shape.serverId ? 's' : 'n'}`;
    let t = this.requests.get(key);
    if (t === undefined) {
      const pp = shape.pp === null ? undefined : { offset: shape.pp.offset, psidLen: shape.pp.psidLen, psid: 0 };
      t = template(this.encode(T.REQUEST, { requestedAddress: '198.18.201.202', serverId: shape.serverId ? '198.18.203.204' : undefined, portParams: pp }), pp);
      this.requests.set(key, t);
    }
    return t;
  }

  /** The DISCOVER template (bench/dhcpgen.c patches copies of it itself). */
  discoverTemplate(): Template {
    return this.discover;
  }

  requestFor(n: number, xid: number, offer: Offer): Uint8Array {
    const t = this.requestTemplate({ pp: offer.pp, serverId: offer.serverId !== null });
    const b = this.fill(t, n, xid);
    for (const at of t.req) put32(b, at, offer.yiaddr);
    if (offer.serverId !== null) for (const at of t.sid) put32(b, at, offer.serverId);
    if (t.psid >= 0 && offer.pp !== null && offer.pp.psidLen > 0) {
      const field = (offer.pp.psid << (16 - offer.pp.psidLen)) & 0xffff;
      b[t.psid] = field >>> 8;
      b[t.psid + 1] = field & 0xff;
    }
    return b;
  }
}

export interface Answer {
  xid: number;
  type: number;
  yiaddr: number;
  serverId: number | null;
  pp: PortParams | null;
}

const u16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/** Finds a DHCPv6 option in [from, end); returns [start, end) of its data or null. */
function option6(b: Uint8Array, from: number, end: number, code: number): [number, number] | null {
  let p = from;
  while (p + 4 <= end) {
    const c = u16(b, p);
    const len = u16(b, p + 2);
    if (p + 4 + len > end) return null;
    if (c === code) return [p + 4, p + 4 + len];
    p += 4 + len;
  }
  return null;
}

/** Reads a DHCPV4-RESPONSE (through any Relay-reply); null when it is anything else or malformed. */
export function readAnswer(b: Uint8Array): Answer | null {
  let start = 0;
  let end = b.length;
  for (let depth = 0; b[start] === 13 && depth < 32; depth++) {
    const rm = option6(b, start + 34, end, 9);
    if (rm === null) return null;
    [start, end] = rm;
  }
  if (end - start < 4 || b[start] !== 21) return null;
  const m = option6(b, start + 4, end, 87);
  if (m === null) return null;
  const [v, vend] = m;
  if (vend - v < 240) return null;
  const a: Answer = { xid: u32(b, v + 4), type: 0, yiaddr: u32(b, v + 16), serverId: null, pp: null };
  let p = v + 240;
  while (p < vend) {
    const code = b[p];
    if (code === 0) {
      p++;
      continue;
    }
    if (code === 255 || p + 1 >= vend) break;
    const len = b[p + 1];
    const d = p + 2;
    if (d + len > vend) return null;
    if (code === 53 && len === 1) a.type = b[d];
    else if (code === 54 && len === 4) a.serverId = u32(b, d);
    else if (code === 159 && len === 4) {
      const k = b[d + 1];
      a.pp = { offset: b[d], psidLen: k, psid: k === 0 ? 0 : u16(b, d + 2) >>> (16 - k) };
    }
    p = d + len;
  }
  return a;
}
