// Packet parser: a structured view of an Ethernet (linktype 1) or raw IP (linktype
// 101) packet: addresses as strings, ports, protocol, fragment fields, ICMP type and
// code, the quoted packet of an ICMP error and the inner packet of an IP-in-IP
// (MAP-E / lw4o6) tunnel.
//
// The outer packet is parsed strictly (a length that points past the captured bytes
// is an error); a packet quoted in an ICMP error is parsed leniently, since it is
// normally cut short, and marked `truncated`.
import { formatIpv4, formatIpv6, formatMac } from './addr.js';
import { ETHERTYPE, LINKTYPE, PROTO, isIcmp4Error, isIcmp6Error } from './constants.js';

export class PacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketError';
  }
}

export interface EthernetInfo {
  dst: string;
  src: string;
  /** The EtherType after any VLAN tags. */
  type: number;
  /** 802.1Q / 802.1ad VLAN IDs, outermost first. */
  vlans: number[];
}

export interface Ipv4Info {
  ihl: number;
  id: number;
  rf: boolean;
  df: boolean;
  mf: boolean;
  /** Fragment offset in bytes. */
  offset: number;
  headerChecksum: number;
  options: Uint8Array;
}

export interface Ipv6Extension {
  /** The header's type (the Next Header value that announced it). */
  type: number;
  /** Byte offset of the header in the packet. */
  offset: number;
  length: number;
}

export interface Ipv6Info {
  payloadLength: number;
  extensions: Ipv6Extension[];
  /** The destination the upper-layer checksum uses: the last address of a Routing header with segments left (RFC 8200 section 8.1), else the destination. */
  finalDestination: string;
  /** Routing header fields, when there is one. */
  routing?: { routingType: number; segmentsLeft: number; addresses: string[] };
}

export interface FragmentInfo {
  /** Offset in bytes. */
  offset: number;
  more: boolean;
  /** IPv4 Identification (16 bits) or IPv6 Fragment header Identification (32 bits). */
  id: number;
  /** IPv6: the Fragment header's Next Header (the first header of the fragmentable part). */
  nextHeader?: number;
}

export interface UdpInfo {
  length: number;
  checksum: number;
}

export interface TcpInfo {
  seq: number;
  ack: number;
  /** The flag byte (CWR ECE URG ACK PSH RST SYN FIN). */
  flags: number;
  window: number;
  checksum: number;
  urgent: number;
  headerLength: number;
  options: Uint8Array;
}

export interface IcmpInfo {
  type: number;
  code: number;
  checksum: number;
  /** Bytes 4-7. */
  rest: number;
  /** Echo request/reply identifier and sequence. */
  id?: number;
  seq?: number;
  /** ICMPv4 3/4 next-hop MTU, ICMPv6 Packet Too Big MTU. */
  mtu?: number;
  /** ICMPv4 Parameter Problem pointer (a byte) / ICMPv6 Parameter Problem pointer. */
  pointer?: number;
  /** The quoted packet of an error message (parsed leniently: usually truncated). */
  inner?: ParsedPacket;
}

export interface ParsedPacket {
  linktype: number;
  /** Bytes of the whole packet view (from the L2 header, or the IP header if raw). */
  length: number;
  eth?: EthernetInfo;
  /** Offset of the IP header in the bytes given. */
  l3Offset: number;
  version: 4 | 6;
  src: string;
  dst: string;
  /** TTL or Hop Limit. */
  ttl: number;
  /** TOS or Traffic Class. */
  tos: number;
  flowLabel?: number;
  /** IPv4: IHL × 4; IPv6: 40 + every extension header before the upper layer (including a Fragment header). */
  ipHeaderLength: number;
  /** IPv4 Total Length; IPv6 40 + Payload Length. */
  ipLength: number;
  ipv4?: Ipv4Info;
  ipv6?: Ipv6Info;
  /** Present when the packet is a fragment: IPv4 with MF or an offset; IPv6 with a Fragment header (atomic fragments included). */
  fragment?: FragmentInfo;
  /** The upper-layer protocol (IPv6: after the extension headers). */
  protocol: number;
  /** Offset of the upper-layer header (or of a non-first fragment's data). */
  l4Offset: number;
  /** Upper-layer bytes in this packet per the IP length (fewer are present when truncated). */
  l4Length: number;
  sport?: number;
  dport?: number;
  udp?: UdpInfo;
  tcp?: TcpInfo;
  icmp?: IcmpInfo;
  /** IP-in-IP (protocol 4 or 41): the tunnelled packet. */
  encapsulated?: ParsedPacket;
  /** The data after the UDP/TCP/ICMP header; for a non-first fragment, its data. */
  payload: Uint8Array;
  /** Fewer bytes than the IP header says (allowed only in a quoted packet). */
  truncated: boolean;
  /** Bytes after the IP packet (e.g. Ethernet padding). */
  trailing: number;
}

export interface ParseOptions {
  /** Parse leniently (a packet quoted in an ICMP error): accept a packet cut short. */
  quoted?: boolean;
}

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** Offset of the IP header for a link type, and the Ethernet fields. */
export function l3Offset(bytes: Uint8Array, linktype: number): { offset: number; eth?: EthernetInfo } {
  if (linktype === LINKTYPE.RAW) return { offset: 0 };
  if (linktype !== LINKTYPE.ETHERNET) throw new PacketError(`link type ${linktype} is not supported (1 Ethernet, 101 raw IP)`);
  if (bytes.length < 14) throw new PacketError(`Ethernet frame of ${bytes.length} bytes is shorter than its 14-byte header`);
  let off = 12;
  let type = u16(bytes, off);
  const vlans: number[] = [];
  while (type === ETHERTYPE.VLAN || type === ETHERTYPE.QINQ) {
    if (bytes.length < off + 6) throw new PacketError('truncated VLAN tag');
    vlans.push(u16(bytes, off + 2) & 0xfff);
    off += 4;
    type = u16(bytes, off);
  }
  return { offset: off + 2, eth: { dst: formatMac(bytes, 0), src: formatMac(bytes, 6), type, vlans } };
}

/** Parses a packet of a link type (1 Ethernet, 101 raw IP). Throws PacketError on a malformed packet. */
export function parsePacket(bytes: Uint8Array, linktype: number = LINKTYPE.RAW): ParsedPacket {
  const { offset, eth } = l3Offset(bytes, linktype);
  if (eth && eth.type !== ETHERTYPE.IPV4 && eth.type !== ETHERTYPE.IPV6) {
    throw new PacketError(`EtherType 0x${eth.type.toString(16).padStart(4, '0')} is not IP`);
  }
  const p = parseIp(bytes, offset);
  p.linktype = linktype;
  p.length = bytes.length;
  if (eth) {
    p.eth = eth;
    const expected = eth.type === ETHERTYPE.IPV4 ? 4 : 6;
    if (p.version !== expected) throw new PacketError(`EtherType 0x${eth.type.toString(16)} carries an IPv${p.version} header`);
  }
  return p;
}

/** Parses the IP packet starting at `offset` of `bytes`. */
export function parseIp(bytes: Uint8Array, offset = 0, opts: ParseOptions = {}): ParsedPacket {
  if (bytes.length <= offset) throw new PacketError('no IP header: the packet is empty');
  const version = bytes[offset] >> 4;
  if (version === 4) return parseIpv4(bytes, offset, opts);
  if (version === 6) return parseIpv6(bytes, offset, opts);
  throw new PacketError(`IP version ${version} at byte ${offset} is neither 4 nor 6`);
}

function parseIpv4(b: Uint8Array, o: number, opts: ParseOptions): ParsedPacket {
  const avail = b.length - o;
  if (avail < 20) throw new PacketError(`IPv4 header cut short: ${avail} of 20 bytes`);
  const ihl = b[o] & 0xf;
  const hl = ihl * 4;
  if (ihl < 5) throw new PacketError(`IPv4 IHL ${ihl} is less than 5`);
  if (avail < hl) throw new PacketError(`IPv4 header cut short: ${avail} of ${hl} bytes`);
  const total = u16(b, o + 2);
  if (total < hl) throw new PacketError(`IPv4 total length ${total} is less than the header length ${hl}`);
  let truncated = false;
  if (total > avail) {
    if (!opts.quoted) throw new PacketError(`IPv4 total length ${total} is more than the ${avail} bytes present`);
    truncated = true;
  }
  const end = o + Math.min(total, avail);
  const fo = u16(b, o + 6);
  const ipv4: Ipv4Info = {
    ihl,
    id: u16(b, o + 4),
    rf: (fo & 0x8000) !== 0,
    df: (fo & 0x4000) !== 0,
    mf: (fo & 0x2000) !== 0,
    offset: (fo & 0x1fff) * 8,
    headerChecksum: u16(b, o + 10),
    options: b.slice(o + 20, o + hl),
  };
  const p: ParsedPacket = {
    linktype: LINKTYPE.RAW,
    length: b.length - o,
    l3Offset: o,
    version: 4,
    src: formatIpv4(b, o + 12),
    dst: formatIpv4(b, o + 16),
    ttl: b[o + 8],
    tos: b[o + 1],
    ipHeaderLength: hl,
    ipLength: total,
    ipv4,
    protocol: b[o + 9],
    l4Offset: o + hl,
    l4Length: total - hl,
    payload: new Uint8Array(0),
    truncated,
    trailing: Math.max(0, avail - total),
  };
  if (ipv4.mf || ipv4.offset > 0) p.fragment = { offset: ipv4.offset, more: ipv4.mf, id: ipv4.id };
  parseUpper(b, p, end, opts);
  return p;
}

function parseIpv6(b: Uint8Array, o: number, opts: ParseOptions): ParsedPacket {
  const avail = b.length - o;
  if (avail < 40) throw new PacketError(`IPv6 header cut short: ${avail} of 40 bytes`);
  const payloadLength = u16(b, o + 4);
  const total = 40 + payloadLength;
  let truncated = false;
  if (total > avail) {
    if (!opts.quoted) throw new PacketError(`IPv6 payload length ${payloadLength} is more than the ${avail - 40} bytes present`);
    truncated = true;
  }
  const end = o + Math.min(total, avail);
  const w = u32(b, o);
  const dst = formatIpv6(b, o + 24);
  const ipv6: Ipv6Info = { payloadLength, extensions: [], finalDestination: dst };
  const p: ParsedPacket = {
    linktype: LINKTYPE.RAW,
    length: b.length - o,
    l3Offset: o,
    version: 6,
    src: formatIpv6(b, o + 8),
    dst,
    ttl: b[o + 7],
    tos: (w >>> 20) & 0xff,
    flowLabel: w & 0xfffff,
    ipHeaderLength: 40,
    ipLength: total,
    ipv6,
    protocol: b[o + 6],
    l4Offset: o + 40,
    l4Length: payloadLength,
    payload: new Uint8Array(0),
    truncated,
    trailing: Math.max(0, avail - total),
  };
  // Walk the extension headers (RFC 8200 section 4).
  let nh = b[o + 6];
  let pos = o + 40;
  let nonFirstFragment = false;
  for (;;) {
    if (nh !== PROTO.HOPOPTS && nh !== PROTO.ROUTING && nh !== PROTO.FRAGMENT && nh !== PROTO.DSTOPTS && nh !== PROTO.AH) break;
    if (nh === PROTO.HOPOPTS && pos !== o + 40) throw new PacketError('a Hop-by-Hop Options header that does not follow the IPv6 header');
    if (end - pos < 8) {
      if (opts.quoted) {
        p.truncated = true;
        break;
      }
      throw new PacketError(`extension header ${nh} at byte ${pos} cut short`);
    }
    const len = nh === PROTO.FRAGMENT ? 8 : nh === PROTO.AH ? (b[pos + 1] + 2) * 4 : (b[pos + 1] + 1) * 8;
    if (pos + len > end && !opts.quoted) throw new PacketError(`extension header ${nh} at byte ${pos} (${len} bytes) runs past the packet`);
    ipv6.extensions.push({ type: nh, offset: pos, length: len });
    if (nh === PROTO.ROUTING && pos + Math.min(len, end - pos) >= pos + 8) {
      const addresses: string[] = [];
      for (let a = pos + 8; a + 16 <= Math.min(pos + len, end); a += 16) addresses.push(formatIpv6(b, a));
      const routingType = b[pos + 2];
      const segmentsLeft = b[pos + 3];
      ipv6.routing = { routingType, segmentsLeft, addresses };
      if (segmentsLeft > 0 && addresses.length > 0) {
        ipv6.finalDestination = routingType === 4 ? addresses[0] : addresses[addresses.length - 1];
      }
    }
    if (nh === PROTO.FRAGMENT) {
      const fo = u16(b, pos + 2);
      p.fragment = { offset: fo & 0xfff8, more: (fo & 1) !== 0, id: u32(b, pos + 4), nextHeader: b[pos] };
      if (p.fragment.offset > 0) nonFirstFragment = true;
    }
    nh = b[pos];
    pos += len;
    if (nonFirstFragment) break;
  }
  p.protocol = nh;
  p.l4Offset = pos;
  p.ipHeaderLength = pos - o;
  p.l4Length = total - (pos - o);
  if (p.l4Length < 0) throw new PacketError('extension headers run past the IPv6 payload length');
  parseUpper(b, p, end, opts);
  return p;
}

/** Parses the upper-layer header at p.l4Offset (bytes up to `end`). */
function parseUpper(b: Uint8Array, p: ParsedPacket, end: number, opts: ParseOptions): void {
  const o = p.l4Offset;
  const avail = Math.max(0, end - o);
  if (p.fragment && p.fragment.offset > 0) {
    p.payload = b.slice(o, end);
    return;
  }
  // A first fragment holds only part of the upper layer: read its header, but its lengths describe the whole datagram.
  const partial = opts.quoted || (p.fragment !== undefined && p.fragment.more);
  const need = (n: number, what: string): boolean => {
    if (avail >= n) return true;
    if (partial) {
      p.truncated ||= !p.fragment;
      return false;
    }
    throw new PacketError(`${what} cut short: ${avail} of ${n} bytes`);
  };
  switch (p.protocol) {
    case PROTO.UDP: {
      if (avail >= 4) {
        p.sport = u16(b, o);
        p.dport = u16(b, o + 2);
      }
      if (!need(8, 'UDP header')) return;
      p.udp = { length: u16(b, o + 4), checksum: u16(b, o + 6) };
      p.payload = b.slice(o + 8, end);
      return;
    }
    case PROTO.TCP: {
      if (avail >= 4) {
        p.sport = u16(b, o);
        p.dport = u16(b, o + 2);
      }
      if (!need(20, 'TCP header')) return;
      const hl = (b[o + 12] >> 4) * 4;
      if (hl < 20) throw new PacketError(`TCP data offset ${hl / 4} is less than 5`);
      if (!need(hl, 'TCP header with options')) return;
      p.tcp = {
        seq: u32(b, o + 4),
        ack: u32(b, o + 8),
        flags: b[o + 13],
        window: u16(b, o + 14),
        checksum: u16(b, o + 16),
        urgent: u16(b, o + 18),
        headerLength: hl,
        options: b.slice(o + 20, o + hl),
      };
      p.payload = b.slice(o + hl, end);
      return;
    }
    case PROTO.ICMP:
    case PROTO.ICMPV6: {
      if (!need(8, p.protocol === PROTO.ICMP ? 'ICMP header' : 'ICMPv6 header')) {
        if (avail >= 2) p.icmp = { type: b[o], code: b[o + 1], checksum: avail >= 4 ? u16(b, o + 2) : 0, rest: 0 };
        return;
      }
      const type = b[o];
      const code = b[o + 1];
      const rest = u32(b, o + 4);
      const icmp: IcmpInfo = { type, code, checksum: u16(b, o + 2), rest };
      const v4 = p.protocol === PROTO.ICMP;
      const echo = v4 ? type === 0 || type === 8 : type === 128 || type === 129;
      if (echo) {
        icmp.id = rest >>> 16;
        icmp.seq = rest & 0xffff;
      }
      if (v4 && type === 3 && code === 4) icmp.mtu = rest & 0xffff;
      if (v4 && type === 12) icmp.pointer = rest >>> 24;
      if (!v4 && type === 2) icmp.mtu = rest;
      if (!v4 && type === 4) icmp.pointer = rest;
      p.icmp = icmp;
      p.payload = b.slice(o + 8, end);
      const error = v4 ? isIcmp4Error(type) : isIcmp6Error(type);
      // The quoted packet: parsed from a copy that ends where this message ends.
      if (error && !opts.quoted && avail > 8) {
        try {
          icmp.inner = parseIp(b.subarray(0, end), o + 8, { quoted: true });
        } catch {
          // A quote too short to hold an IP header: leave `inner` undefined.
        }
      }
      return;
    }
    case PROTO.IPV4:
    case PROTO.IPV6: {
      p.payload = b.slice(o, end);
      if (opts.quoted || avail === 0 || (p.fragment && p.fragment.more)) return;
      try {
        p.encapsulated = parseIp(b.subarray(0, end), o);
      } catch (e) {
        throw new PacketError(`tunnelled packet: ${(e as Error).message}`);
      }
      return;
    }
    default:
      p.payload = b.slice(o, end);
  }
}

/** The IP packet of a link-layer packet (a view, without L2 header or trailing padding). */
export function ipPacket(bytes: Uint8Array, linktype: number): Uint8Array {
  const p = parsePacket(bytes, linktype);
  return bytes.subarray(p.l3Offset, p.l3Offset + p.ipLength);
}
