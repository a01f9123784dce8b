// Packet builders: Ethernet, IPv4, IPv6 (+ extension headers), UDP, TCP, ICMPv4,
// ICMPv6. Every builder returns wire bytes with correct lengths and checksums unless
// told otherwise (`checksum: n` forces a value, `badChecksum: true` makes the right
// one wrong, length fields can be overridden) so that tests can also build malformed
// input.
//
// Transport headers need the IP addresses for their pseudo-header checksum (RFC 768,
// RFC 793, RFC 8200 section 8.1), so `udp()`, `tcp()`, `icmp6()` … return a
// `Transport` that the enclosing `ipv4()` / `ipv6()` encodes once it knows them:
//
//   ipv4({ src: '10.2.3.4', dst: '192.0.2.18', payload: udp({ sport: 80, dport: 1232, payload: 'hi' }) })
//   ethernet({ payload: ipv6({ src, dst, payload: icmp6Echo({ id: 1, seq: 1 }) }) })
import { ipv4Bytes, ipv6Bytes, macBytes } from './addr.js';
import {
  corruptChecksumValue,
  finishChecksum,
  internetChecksum,
  pseudoHeaderSum4,
  pseudoHeaderSum6,
  sumBytes,
} from './checksum.js';
import { ETHERTYPE, ICMP4, ICMP6, LINKTYPE, PROTO } from './constants.js';

export type Payload = Uint8Array | string | number[];

/** The addresses a transport checksum is computed with. */
export interface PseudoHeader {
  version: 4 | 6;
  src: Uint8Array;
  /** IPv6: the final destination (the last address of a Routing header, RFC 8200 section 8.1). */
  dst: Uint8Array;
}

/** An upper-layer header and data whose checksum is computed by the enclosing IP builder. */
export interface Transport {
  readonly protocol: number;
  encode(pseudo: PseudoHeader): Uint8Array;
}

/** Options every checksummed header accepts. */
export interface ChecksumOptions {
  /** Put exactly this value in the checksum field. */
  checksum?: number;
  /** Put a wrong value in the checksum field (the right one, changed so it cannot verify). */
  badChecksum?: boolean;
}

export function toBytes(p: Payload | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'string') return new TextEncoder().encode(p);
  if (Array.isArray(p)) return Uint8Array.from(p);
  return p;
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 24) & 0xff;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function pseudoSum(pseudo: PseudoHeader, protocol: number, length: number): number {
  return pseudo.version === 4
    ? pseudoHeaderSum4(pseudo.src, pseudo.dst, protocol, length)
    : pseudoHeaderSum6(pseudo.src, pseudo.dst, protocol, length);
}

/** Applies the checksum options to a computed checksum. */
function chosen(computed: number, opts: ChecksumOptions): number {
  if (opts.checksum !== undefined) return opts.checksum & 0xffff;
  return opts.badChecksum ? corruptChecksumValue(computed) : computed;
}

// ---------------------------------------------------------------- UDP (RFC 768)

export interface UdpOptions extends ChecksumOptions {
  sport: number;
  dport: number;
  payload?: Payload;
  /** Override the UDP length field (default 8 + payload length). */
  length?: number;
  /** Send a zero checksum ("no checksum": legal over IPv4 only). */
  noChecksum?: boolean;
}

export function udp(o: UdpOptions): Transport {
  const data = toBytes(o.payload);
  return {
    protocol: PROTO.UDP,
    encode(pseudo) {
      const b = new Uint8Array(8 + data.length);
      put16(b, 0, o.sport);
      put16(b, 2, o.dport);
      const length = o.length ?? b.length;
      put16(b, 4, length);
      b.set(data, 8);
      let cs = 0;
      if (!o.noChecksum) {
        // The pseudo-header carries the UDP length field; the sum covers the datagram.
        cs = finishChecksum(sumBytes(b, 0, b.length, pseudoSum(pseudo, PROTO.UDP, length)));
        if (cs === 0) cs = 0xffff; // RFC 768: a computed zero is sent as all ones
        cs = chosen(cs, o);
      } else if (o.checksum !== undefined) {
        cs = o.checksum & 0xffff;
      }
      put16(b, 6, cs);
      return b;
    },
  };
}

// ---------------------------------------------------------------- TCP (RFC 793)

export type TcpOption =
  | { kind: 'eol' }
  | { kind: 'nop' }
  | { kind: 'mss'; value: number }
  | { kind: 'wscale'; shift: number }
  | { kind: 'sackPermitted' }
  | { kind: 'timestamp'; value: number; echo: number }
  | { kind: number; data?: Uint8Array };

export interface TcpOptions extends ChecksumOptions {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Letters of F S R P A U E C (e.g. 'SA'), or the flag byte's value. Default 'S'. */
  flags?: string | number;
  window?: number;
  urgent?: number;
  options?: TcpOption[] | Uint8Array;
  payload?: Payload;
  /** Override the data offset (in 32-bit words). */
  dataOffset?: number;
}

const TCP_FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 };

export function tcpFlags(flags: string | number): number {
  if (typeof flags === 'number') return flags & 0xff;
  let v = 0;
  for (const c of flags.toUpperCase()) {
    const bit = TCP_FLAG_BITS[c];
    if (bit === undefined) throw new Error(`unknown TCP flag ${JSON.stringify(c)} (use F S R P A U E C)`);
    v |= bit;
  }
  return v;
}

export function encodeTcpOptions(options: TcpOption[] | Uint8Array): Uint8Array {
  let raw: Uint8Array;
  if (options instanceof Uint8Array) raw = options;
  else {
    const parts: number[] = [];
    for (const opt of options) {
      switch (opt.kind) {
        case 'eol':
          parts.push(0);
          break;
        case 'nop':
          parts.push(1);
          break;
        case 'mss':
          parts.push(2, 4, (opt.value >>> 8) & 0xff, opt.value & 0xff);
          break;
        case 'wscale':
          parts.push(3, 3, opt.shift & 0xff);
          break;
        case 'sackPermitted':
          parts.push(4, 2);
          break;
        case 'timestamp': {
          const b = new Uint8Array(10);
          b[0] = 8;
          b[1] = 10;
          put32(b, 2, opt.value >>> 0);
          put32(b, 6, opt.echo >>> 0);
          parts.push(...b);
          break;
        }
        default: {
          const data = opt.data ?? new Uint8Array(0);
          parts.push(opt.kind & 0xff, data.length + 2, ...data);
        }
      }
    }
    raw = Uint8Array.from(parts);
  }
  // Pad to a multiple of 4 with zeros (End of Option List).
  const padded = new Uint8Array((raw.length + 3) & ~3);
  padded.set(raw);
  return padded;
}

export function tcp(o: TcpOptions): Transport {
  const data = toBytes(o.payload);
  const opts = encodeTcpOptions(o.options ?? new Uint8Array(0));
  if (opts.length > 40) throw new Error(`TCP options take at most 40 bytes, not ${opts.length}`);
  return {
    protocol: PROTO.TCP,
    encode(pseudo) {
      const hl = 20 + opts.length;
      const b = new Uint8Array(hl + data.length);
      put16(b, 0, o.sport);
      put16(b, 2, o.dport);
      put32(b, 4, (o.seq ?? 0) >>> 0);
      put32(b, 8, (o.ack ?? 0) >>> 0);
      b[12] = ((o.dataOffset ?? hl / 4) & 0xf) << 4;
      b[13] = tcpFlags(o.flags ?? 'S');
      put16(b, 14, o.window ?? 65535);
      put16(b, 18, o.urgent ?? 0);
      b.set(opts, 20);
      b.set(data, hl);
      const cs = finishChecksum(sumBytes(b, 0, b.length, pseudoSum(pseudo, PROTO.TCP, b.length)));
      put16(b, 16, chosen(cs, o));
      return b;
    },
  };
}

// ---------------------------------------------------------------- ICMPv4 (RFC 792) and ICMPv6 (RFC 4443)

export interface IcmpOptions extends ChecksumOptions {
  type: number;
  code?: number;
  /** The 32-bit "rest of header" (bytes 4-7): identifier+sequence, MTU, pointer, … */
  rest?: number;
  payload?: Payload;
}

function icmpMessage(o: IcmpOptions): Uint8Array {
  const data = toBytes(o.payload);
  const b = new Uint8Array(8 + data.length);
  b[0] = o.type;
  b[1] = o.code ?? 0;
  put32(b, 4, (o.rest ?? 0) >>> 0);
  b.set(data, 8);
  return b;
}

/** An ICMPv4 message (its checksum has no pseudo-header, RFC 792). */
export function icmp4(o: IcmpOptions): Transport {
  return {
    protocol: PROTO.ICMP,
    encode() {
      const b = icmpMessage(o);
      put16(b, 2, chosen(internetChecksum(b), o));
      return b;
    },
  };
}

/** An ICMPv6 message (its checksum covers the IPv6 pseudo-header, RFC 4443 section 2.3). */
export function icmp6(o: IcmpOptions): Transport {
  return {
    protocol: PROTO.ICMPV6,
    encode(pseudo) {
      const b = icmpMessage(o);
      const cs = finishChecksum(sumBytes(b, 0, b.length, pseudoSum(pseudo, PROTO.ICMPV6, b.length)));
      put16(b, 2, chosen(cs, o));
      return b;
    },
  };
}

export interface EchoOptions extends ChecksumOptions {
  id?: number;
  seq?: number;
  /** An echo reply instead of a request. */
  reply?: boolean;
  data?: Payload;
}

export function icmp4Echo(o: EchoOptions = {}): Transport {
  return icmp4({
    ...o,
    type: o.reply ? ICMP4.ECHO_REPLY : ICMP4.ECHO_REQUEST,
    rest: (((o.id ?? 0) & 0xffff) << 16) | ((o.seq ?? 0) & 0xffff),
    payload: o.data,
  });
}

export function icmp6Echo(o: EchoOptions = {}): Transport {
  return icmp6({
    ...o,
    type: o.reply ? ICMP6.ECHO_REPLY : ICMP6.ECHO_REQUEST,
    rest: (((o.id ?? 0) & 0xffff) << 16) | ((o.seq ?? 0) & 0xffff),
    payload: o.data,
  });
}

export interface IcmpErrorOptions extends ChecksumOptions {
  type: number;
  code?: number;
  /** The quoted (invoking) packet: an IP packet, from its IP header. */
  quote: Uint8Array;
  /** Quote at most this many bytes of it (default: all of it). */
  maxQuote?: number;
  /** ICMPv4 3/4 next-hop MTU (RFC 1191) or ICMPv6 2 MTU. */
  mtu?: number;
  /** ICMPv4 12 pointer (a byte) or ICMPv6 4 pointer (32 bits). */
  pointer?: number;
  /** Explicit bytes 4-7 (instead of mtu / pointer). */
  rest?: number;
}

/** An ICMPv4 error (types 3, 4, 5, 11, 12) quoting `quote`. */
export function icmp4Error(o: IcmpErrorOptions): Transport {
  let rest = o.rest ?? 0;
  if (o.rest === undefined) {
    if (o.mtu !== undefined) rest = o.mtu & 0xffff;
    else if (o.pointer !== undefined) rest = (o.pointer & 0xff) << 24;
  }
  const quote = o.maxQuote !== undefined ? o.quote.subarray(0, o.maxQuote) : o.quote;
  return icmp4({ ...o, rest, payload: quote });
}

/** An ICMPv6 error (types 1-4) quoting `quote`. */
export function icmp6Error(o: IcmpErrorOptions): Transport {
  let rest = o.rest ?? 0;
  if (o.rest === undefined) {
    if (o.mtu !== undefined) rest = o.mtu >>> 0;
    else if (o.pointer !== undefined) rest = o.pointer >>> 0;
  }
  const quote = o.maxQuote !== undefined ? o.quote.subarray(0, o.maxQuote) : o.quote;
  return icmp6({ ...o, rest, payload: quote });
}

/** Raw upper-layer bytes with a given protocol number (no checksum computed). */
export function rawTransport(protocol: number, payload: Payload): Transport {
  const data = toBytes(payload);
  return { protocol, encode: () => data };
}

// ---------------------------------------------------------------- IPv4 (RFC 791)

export interface Ipv4Options extends ChecksumOptions {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  /** A Transport (checksummed with these addresses) or raw bytes (then give `protocol`). */
  payload?: Transport | Payload;
  /** Protocol field (default: the Transport's). */
  protocol?: number;
  tos?: number;
  id?: number;
  df?: boolean;
  mf?: boolean;
  /** The reserved ("evil") flag bit. */
  rf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  offset?: number;
  ttl?: number;
  /** Options, padded with zeros (End of Option List) to a multiple of 4 bytes. */
  options?: Uint8Array | number[];
  /** Override the total length field. */
  totalLength?: number;
  /** Override the IHL field (in 32-bit words). */
  ihl?: number;
  /** Override the version nibble. */
  version?: number;
}

function isTransport(p: unknown): p is Transport {
  return typeof p === 'object' && p !== null && 'encode' in p && typeof (p as Transport).encode === 'function';
}

export function ipv4(o: Ipv4Options): Uint8Array {
  const src = ipv4Bytes(o.src);
  const dst = ipv4Bytes(o.dst);
  let protocol = o.protocol;
  let data: Uint8Array;
  if (isTransport(o.payload)) {
    data = o.payload.encode({ version: 4, src, dst });
    protocol ??= o.payload.protocol;
  } else {
    data = toBytes(o.payload as Payload | undefined);
  }
  if (protocol === undefined) throw new Error('ipv4(): give `protocol` with a raw payload');
  const rawOpts = toBytes(o.options);
  const opts = new Uint8Array((rawOpts.length + 3) & ~3);
  opts.set(rawOpts);
  if (opts.length > 40) throw new Error(`IPv4 options take at most 40 bytes, not ${opts.length}`);
  const hl = 20 + opts.length;
  const offset = o.offset ?? 0;
  if (offset % 8 !== 0 || offset < 0 || offset > 0xffff * 8) throw new Error(`IPv4 fragment offset ${offset} is not a multiple of 8 in 0..524280`);
  const b = new Uint8Array(hl + data.length);
  b[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? hl / 4) & 0xf);
  b[1] = o.tos ?? 0;
  put16(b, 2, o.totalLength ?? b.length);
  put16(b, 4, o.id ?? 0);
  const flags = (o.rf ? 0x8000 : 0) | (o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0);
  put16(b, 6, flags | (offset / 8));
  b[8] = o.ttl ?? 64;
  b[9] = protocol;
  b.set(src, 12);
  b.set(dst, 16);
  b.set(opts, 20);
  put16(b, 10, chosen(internetChecksum(b, 0, hl), o));
  b.set(data, hl);
  return b;
}

/** Recomputes the header checksum of the IPv4 header at `offset` in place. */
export function fixIpv4HeaderChecksum(b: Uint8Array, offset = 0): void {
  const hl = (b[offset] & 0xf) * 4;
  put16(b, offset + 10, 0);
  put16(b, offset + 10, internetChecksum(b, offset, offset + hl));
}

// ---------------------------------------------------------------- IPv6 (RFC 8200)

/** An IPv6 extension header: encoded once the following header's type is known. */
export interface Extension {
  readonly type: number;
  encode(nextHeader: number): Uint8Array;
  /** Routing headers: the final destination for the pseudo-header, when segments are left. */
  readonly finalDestination?: Uint8Array;
}

export interface Ipv6Option {
  type: number;
  data?: Uint8Array | number[];
}

/** Encodes Hop-by-Hop / Destination options (TLVs) and pads the header to a multiple of 8 with Pad1/PadN. */
function optionsHeader(type: number, options: Uint8Array | Ipv6Option[] | undefined): Extension {
  let tlvs: Uint8Array;
  if (options === undefined) tlvs = new Uint8Array(0);
  else if (options instanceof Uint8Array) tlvs = options;
  else {
    const parts: number[] = [];
    for (const opt of options) {
      if (opt.type === 0) {
        parts.push(0); // Pad1 has no length byte
        continue;
      }
      const d = toBytes(opt.data);
      parts.push(opt.type, d.length, ...d);
    }
    tlvs = Uint8Array.from(parts);
  }
  const total = (2 + tlvs.length + 7) & ~7;
  return {
    type,
    encode(nextHeader) {
      const b = new Uint8Array(total);
      b[0] = nextHeader;
      b[1] = total / 8 - 1;
      b.set(tlvs, 2);
      const pad = total - 2 - tlvs.length;
      if (pad === 1) b[2 + tlvs.length] = 0; // Pad1
      else if (pad >= 2) {
        b[2 + tlvs.length] = 1; // PadN
        b[3 + tlvs.length] = pad - 2;
      }
      return b;
    },
  };
}

export function hopByHop(o: { options?: Uint8Array | Ipv6Option[] } = {}): Extension {
  return optionsHeader(PROTO.HOPOPTS, o.options);
}

export function destinationOptions(o: { options?: Uint8Array | Ipv6Option[] } = {}): Extension {
  return optionsHeader(PROTO.DSTOPTS, o.options);
}

/** The Router Alert Hop-by-Hop option (RFC 2711). */
export function routerAlertOption(value = 0): Ipv6Option {
  return { type: 5, data: [(value >>> 8) & 0xff, value & 0xff] };
}

export interface RoutingOptions {
  /** Routing type: 0 (deprecated, RFC 5095), 2 (Mobile IPv6), 4 (Segment Routing, RFC 8754). Default 0. */
  routingType?: number;
  segmentsLeft?: number;
  addresses: (string | Uint8Array)[];
}

/**
 * A Routing header carrying addresses (the layout of types 0, 2 and 4). For type 4
 * the segment list is in reverse order (segment list[0] is the final segment), and
 * byte 4 is Last Entry.
 */
export function routing(o: RoutingOptions): Extension {
  const type = o.routingType ?? 0;
  const addrs = o.addresses.map((a) => ipv6Bytes(a));
  const segmentsLeft = o.segmentsLeft ?? addrs.length;
  let finalDestination: Uint8Array | undefined;
  if (segmentsLeft > 0 && addrs.length > 0) finalDestination = type === 4 ? addrs[0] : addrs[addrs.length - 1];
  return {
    type: PROTO.ROUTING,
    finalDestination,
    encode(nextHeader) {
      const b = new Uint8Array(8 + 16 * addrs.length);
      b[0] = nextHeader;
      b[1] = 2 * addrs.length;
      b[2] = type;
      b[3] = segmentsLeft;
      if (type === 4) b[4] = Math.max(0, addrs.length - 1);
      addrs.forEach((a, i) => b.set(a, 8 + 16 * i));
      return b;
    },
  };
}

export interface FragmentHeaderOptions {
  /** Fragment offset in bytes (a multiple of 8). */
  offset?: number;
  more?: boolean;
  id?: number;
}

export function fragmentHeader(o: FragmentHeaderOptions = {}): Extension {
  const offset = o.offset ?? 0;
  if (offset % 8 !== 0 || offset < 0 || offset > 8191 * 8) throw new Error(`IPv6 fragment offset ${offset} is not a multiple of 8 in 0..65528`);
  return {
    type: PROTO.FRAGMENT,
    encode(nextHeader) {
      const b = new Uint8Array(8);
      b[0] = nextHeader;
      put16(b, 2, offset | (o.more ? 1 : 0));
      put32(b, 4, (o.id ?? 0) >>> 0);
      return b;
    },
  };
}

/** Any other extension header: `body` follows the Next Header and Hdr Ext Len bytes; the total must be a multiple of 8. */
export function extensionHeader(type: number, body: Uint8Array): Extension {
  if ((body.length + 2) % 8 !== 0) throw new Error('an extension header is a multiple of 8 bytes long');
  return {
    type,
    encode(nextHeader) {
      const b = new Uint8Array(body.length + 2);
      b[0] = nextHeader;
      b[1] = (body.length + 2) / 8 - 1;
      b.set(body, 2);
      return b;
    },
  };
}

export interface Ipv6Options {
  src: string | Uint8Array;
  dst: string | Uint8Array;
  payload?: Transport | Payload;
  /** Next Header of the last header (default: the Transport's protocol). */
  nextHeader?: number;
  trafficClass?: number;
  flowLabel?: number;
  hopLimit?: number;
  extensions?: Extension[];
  /** Override the payload length field. */
  payloadLength?: number;
}

export function ipv6(o: Ipv6Options): Uint8Array {
  const src = ipv6Bytes(o.src);
  const dst = ipv6Bytes(o.dst);
  const exts = o.extensions ?? [];
  let finalDst = dst;
  for (const e of exts) if (e.finalDestination) finalDst = e.finalDestination;
  let upper = o.nextHeader;
  let data: Uint8Array;
  if (isTransport(o.payload)) {
    data = o.payload.encode({ version: 6, src, dst: finalDst });
    upper ??= o.payload.protocol;
  } else {
    data = toBytes(o.payload as Payload | undefined);
    if (data.length === 0) upper ??= PROTO.NONE;
  }
  if (upper === undefined) throw new Error('ipv6(): give `nextHeader` with a raw payload');
  const encoded: Uint8Array[] = [];
  for (let i = 0; i < exts.length; i++) encoded.push(exts[i].encode(i + 1 < exts.length ? exts[i + 1].type : upper));
  const first = exts.length > 0 ? exts[0].type : upper;
  const head = new Uint8Array(40);
  const tc = o.trafficClass ?? 0;
  const fl = o.flowLabel ?? 0;
  put32(head, 0, ((6 << 28) | ((tc & 0xff) << 20) | (fl & 0xfffff)) >>> 0);
  const payloadLength = encoded.reduce((n, e) => n + e.length, 0) + data.length;
  put16(head, 4, o.payloadLength ?? payloadLength);
  head[6] = first;
  head[7] = o.hopLimit ?? 64;
  head.set(src, 8);
  head.set(dst, 24);
  return concat([head, ...encoded, data]);
}

// ---------------------------------------------------------------- Ethernet

export interface EthernetOptions {
  src?: string | Uint8Array;
  dst?: string | Uint8Array;
  /** EtherType (default: from the payload's IP version). */
  type?: number;
  /** 802.1Q VLAN IDs, outermost first. */
  vlans?: number[];
  payload: Payload;
  /** Pad the frame to the 60-byte minimum (without FCS) with zeros. */
  pad?: boolean;
}

export const DEFAULT_MAC_SRC = '02:00:00:00:00:01';
export const DEFAULT_MAC_DST = '02:00:00:00:00:02';

export function ethernet(o: EthernetOptions): Uint8Array {
  const data = toBytes(o.payload);
  let type = o.type;
  if (type === undefined) {
    const v = data.length > 0 ? data[0] >> 4 : 0;
    if (v === 4) type = ETHERTYPE.IPV4;
    else if (v === 6) type = ETHERTYPE.IPV6;
    else throw new Error('ethernet(): give `type` for a payload that is not IP');
  }
  const vlans = o.vlans ?? [];
  const hl = 14 + 4 * vlans.length;
  const len = Math.max(hl + data.length, o.pad ? 60 : 0);
  const b = new Uint8Array(len);
  b.set(macBytes(o.dst ?? DEFAULT_MAC_DST), 0);
  b.set(macBytes(o.src ?? DEFAULT_MAC_SRC), 6);
  let off = 12;
  for (const vid of vlans) {
    put16(b, off, ETHERTYPE.VLAN);
    put16(b, off + 2, vid & 0xfff);
    off += 4;
  }
  put16(b, off, type);
  b.set(data, hl);
  return b;
}

/** Wraps an IP packet for a link type: Ethernet (1) or raw IP (101, returned as is). */
export function frame(linktype: number, ip: Uint8Array, eth: Omit<EthernetOptions, 'payload'> = {}): Uint8Array {
  if (linktype === LINKTYPE.RAW) return ip;
  if (linktype === LINKTYPE.ETHERNET) return ethernet({ ...eth, payload: ip });
  throw new Error(`link type ${linktype} is not supported (1 Ethernet, 101 raw IP)`);
}

// ---------------------------------------------------------------- fragmentation (of raw IP packets)

/**
 * Splits a raw IPv4 packet into fragments of at most `mtu` bytes (RFC 791): the first
 * fragment keeps every option, later ones only the options whose copied flag is set.
 * Fragmenting a fragment keeps its offset and its MF on the last piece. DF is ignored.
 */
export function fragment4(packet: Uint8Array, mtu: number): Uint8Array[] {
  const hl = (packet[0] & 0xf) * 4;
  const total = (packet[2] << 8) | packet[3];
  const fo = (packet[6] << 8) | packet[7];
  const baseOffset = (fo & 0x1fff) * 8;
  const lastMf = (fo & 0x2000) !== 0;
  const data = packet.subarray(hl, total);
  const header = packet.subarray(0, hl);
  // Options copied into non-first fragments.
  const copied: number[] = [];
  for (let i = 20; i < hl; ) {
    const t = header[i];
    if (t === 0) break;
    if (t === 1) {
      i++;
      continue;
    }
    const len = header[i + 1];
    if (len < 2 || i + len > hl) break;
    if (t & 0x80) copied.push(...header.subarray(i, i + len));
    i += len;
  }
  const laterHeader = new Uint8Array(20 + ((copied.length + 3) & ~3));
  laterHeader.set(header.subarray(0, 20));
  laterHeader.set(copied, 20);
  laterHeader[0] = (header[0] & 0xf0) | (laterHeader.length / 4);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < data.length || out.length === 0) {
    const h = out.length === 0 ? header : laterHeader;
    const room = Math.floor((mtu - h.length) / 8) * 8;
    if (room <= 0) throw new Error(`MTU ${mtu} leaves no room for data after a ${h.length}-byte header`);
    const n = Math.min(room, data.length - pos);
    const last = pos + n >= data.length;
    const f = new Uint8Array(h.length + n);
    f.set(h);
    f.set(data.subarray(pos, pos + n), h.length);
    put16(f, 2, f.length);
    const flags = (fo & 0xc000) | (last ? (lastMf ? 0x2000 : 0) : 0x2000);
    put16(f, 6, flags | ((baseOffset + pos) / 8));
    fixIpv4HeaderChecksum(f);
    out.push(f);
    pos += n;
  }
  return out;
}

/**
 * Splits a raw IPv6 packet into fragments of at most `mtu` bytes (RFC 8200 section
 * 4.5): the unfragmentable part (the IPv6 header up to and including the last
 * Hop-by-Hop or Routing header) is repeated in every fragment, followed by a Fragment
 * header with `id`.
 */
export function fragment6(packet: Uint8Array, mtu: number, id: number): Uint8Array[] {
  // Find the end of the unfragmentable part and the byte that holds its Next Header.
  let pos = 40;
  let unfragEnd = 40;
  let unfragNhPos = 6;
  let nh = packet[6];
  while (nh === PROTO.HOPOPTS || nh === PROTO.ROUTING || nh === PROTO.DSTOPTS) {
    const len = (packet[pos + 1] + 1) * 8;
    if (nh === PROTO.HOPOPTS || nh === PROTO.ROUTING) {
      unfragEnd = pos + len;
      unfragNhPos = pos;
    }
    nh = packet[pos];
    pos += len;
  }
  const total = 40 + ((packet[4] << 8) | packet[5]);
  const unfrag = packet.slice(0, unfragEnd);
  const firstFragmentable = packet[unfragNhPos];
  unfrag[unfragNhPos] = PROTO.FRAGMENT;
  const data = packet.subarray(unfragEnd, total);
  const room = Math.floor((mtu - unfrag.length - 8) / 8) * 8;
  if (room <= 0) throw new Error(`MTU ${mtu} leaves no room for data after a ${unfrag.length + 8}-byte header`);
  const out: Uint8Array[] = [];
  for (let p = 0; p < data.length || out.length === 0; p += room) {
    const n = Math.min(room, data.length - p);
    const more = p + n < data.length;
    const f = new Uint8Array(unfrag.length + 8 + n);
    f.set(unfrag);
    const fh = unfrag.length;
    f[fh] = firstFragmentable;
    put16(f, fh + 2, p | (more ? 1 : 0));
    put32(f, fh + 4, id >>> 0);
    f.set(data.subarray(p, p + n), fh + 8);
    put16(f, 4, f.length - 40);
    out.push(f);
    if (n === 0) break;
  }
  return out;
}
