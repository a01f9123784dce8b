/**
 * DHCPv4 wire format: the fixed BOOTP/DHCP header (RFC 2131 section 2, Figure 1,
 * Table 1), the magic cookie (RFC 2131 section 3; RFC 2132 section 2) and the options
 * this project uses (RFC 2132; RFC 4361 client identifier; RFC 7618 option 159).
 *
 * Options are decoded into one typed record. Following RFC 2131 section 4.1 ("The
 * client concatenates the values of multiple instances of the same option") and RFC
 * 3396, every instance of an option code, in the 'options' field, then 'file', then
 * 'sname' (when the overload option says so), is concatenated before the value is
 * interpreted; the encoder splits values longer than 255 octets the same way.
 * Options not interpreted here are kept raw (concatenated) in `raw`.
 */
import { ByteReader, ByteWriter, checkUint } from './bytes.js';
import { ipv4FromBytes, ipv4ToBytes } from './addr.js';
import { type Duid, duidFromBytes, duidToBytes } from './duid.js';
import { DhcpDecodeError } from './errors.js';
import { MAX_MESSAGE_SIZE, MAX_OPTIONS } from './limits.js';
import { type PortParams, decodePortParamsBody, encodePortParamsBody, PORT_PARAMS_LENGTH } from './portparams.js';

export type { PortParams } from './portparams.js';

/** RFC 2131 section 2, Table 1: op. */
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

/** RFC 2131 section 2, Figure 2: the BROADCAST (B) bit is the leftmost bit of 'flags'. */
export const DHCP4_FLAG_BROADCAST = 0x8000;

/** RFC 2132 section 2 / RFC 2131 section 3: 99.130.83.99. */
export const DHCP_MAGIC_COOKIE = Uint8Array.of(99, 130, 83, 99);

/** RFC 2131 Figure 1: octets from 'op' to the end of 'file'. */
export const DHCP4_FIXED_LENGTH = 236;
/** Fixed header + magic cookie: the smallest DHCP message. */
export const DHCP4_MIN_LENGTH = DHCP4_FIXED_LENGTH + 4;

/** Field offsets, RFC 2131 Figure 1. */
const SNAME_AT = 44;
const SNAME_LEN = 64;
const FILE_AT = 108;
const FILE_LEN = 128;

/** RFC 2132 section 9.6. */
export const Dhcp4MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;

export const Dhcp4OptionCode = {
  PAD: 0, // RFC 2132 3.1
  SUBNET_MASK: 1, // 3.3
  ROUTER: 3, // 3.5
  DNS: 6, // 3.8
  REQUESTED_ADDRESS: 50, // 9.1
  LEASE_TIME: 51, // 9.2
  OVERLOAD: 52, // 9.3
  MESSAGE_TYPE: 53, // 9.6
  SERVER_ID: 54, // 9.7
  PARAMETER_REQUEST_LIST: 55, // 9.8
  MESSAGE: 56, // 9.9
  MAX_MESSAGE_SIZE: 57, // 9.10
  RENEWAL_TIME: 58, // 9.11
  REBINDING_TIME: 59, // 9.12
  CLIENT_ID: 61, // 9.14, RFC 4361
  V4_PORTPARAMS: 159, // RFC 7618 section 9
  END: 255, // 3.2
} as const;

/** RFC 4361 section 6.1: client identifier type 255 = IAID + DUID. */
export const CLIENT_ID_TYPE_RFC4361 = 255;

/** Option 61 (RFC 2132 section 9.14, RFC 4361 section 6.1). */
export type Dhcp4ClientId =
  /** type 255, then a 32-bit IAID, then a DUID (RFC 4361 section 6.1). */
  | { kind: 'rfc4361'; iaid: number; duid: Duid }
  /** any other type (e.g. 1 = Ethernet + MAC; 0 = not a hardware address), then opaque octets. */
  | { kind: 'other'; type: number; id: Uint8Array };

export interface Dhcp4RawOption {
  code: number;
  data: Uint8Array;
}

export interface Dhcp4Options {
  /** 53: DHCP message type (RFC 2132 9.6), one octet. */
  messageType?: number;
  /** 1: subnet mask (3.3), 4 octets. */
  subnetMask?: string;
  /** 3: routers (3.5), n >= 1 addresses. */
  routers?: string[];
  /** 6: domain name servers (3.8), n >= 1 addresses. */
  dnsServers?: string[];
  /** 50: requested IP address (9.1). */
  requestedAddress?: string;
  /** 51: lease time in seconds (9.2), u32 (0xffffffff = infinite). */
  leaseTime?: number;
  /** 54: server identifier (9.7). */
  serverId?: string;
  /** 55: parameter request list (9.8), n >= 1 option codes. */
  parameterRequestList?: number[];
  /** 56: message (9.9), NVT ASCII, n >= 1 (decoded octet-per-character, latin1). */
  message?: string;
  /** 57: maximum DHCP message size (9.10), u16. */
  maxMessageSize?: number;
  /** 58: renewal (T1) time (9.11), u32 seconds. */
  renewalTime?: number;
  /** 59: rebinding (T2) time (9.12), u32 seconds. */
  rebindingTime?: number;
  /** 61: client identifier (9.14; RFC 4361). */
  clientId?: Dhcp4ClientId;
  /** 159: OPTION_V4_PORTPARAMS (RFC 7618 section 9). */
  portParams?: PortParams;
  /** Every other option (not pad, end or overload), value concatenated, in order of first appearance. */
  raw: Dhcp4RawOption[];
}

export interface Dhcp4Message {
  op: number; // 1 = BOOTREQUEST, 2 = BOOTREPLY
  htype: number; // hardware address type (1 = Ethernet)
  hlen: number; // hardware address length
  hops: number;
  xid: number; // u32
  secs: number; // u16
  flags: number; // u16, see DHCP4_FLAG_BROADCAST
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 octets. Encoding zero-pads a shorter array. */
  chaddr: Uint8Array;
  /**
   * 64 octets, null-terminated server host name. When the overload option said the
   * field held options, decoding returns 64 zero octets (its options are in `options`).
   */
  sname: Uint8Array;
  /** 128 octets, boot file name; all zero when it held options (see sname). */
  file: Uint8Array;
  options: Dhcp4Options;
}

/** A message to fill in: htype 1 / hlen 6 (Ethernet), every other field zero, no options. */
export function emptyDhcp4Message(op: number): Dhcp4Message {
  return {
    op,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: '0.0.0.0',
    chaddr: new Uint8Array(16),
    sname: new Uint8Array(SNAME_LEN),
    file: new Uint8Array(FILE_LEN),
    options: { raw: [] },
  };
}

// ---------------------------------------------------------------------------------
// Decoding

/** Codes with a typed field; everything else (but 0, 52, 255) goes to `raw`. */
const TYPED_CODES: ReadonlySet<number> = new Set([1, 3, 6, 50, 51, 53, 54, 55, 56, 57, 58, 59, 61, 159]);

interface Collected {
  /** code -> value chunks, in order of first appearance (Map keeps insertion order). */
  chunks: Map<number, Uint8Array[]>;
  count: number;
}

/**
 * Scan one options area (RFC 2132 section 2: code, len, data; pad and end are one
 * octet). Stops at End or at the end of the area (a missing End is tolerated). An
 * option crossing the end of its area is 'truncated' (RFC 2131 4.1: "Any individual
 * option ... MUST be entirely contained in that field").
 */
function scanArea(buf: Uint8Array, start: number, end: number, acc: Collected, skip52: boolean): void {
  const r = new ByteReader(buf, start, end);
  while (r.remaining > 0) {
    const code = r.u8('option code');
    if (code === Dhcp4OptionCode.PAD) continue; // 3.1: one octet, no length
    if (code === Dhcp4OptionCode.END) return; // 3.2: end of valid information
    if (++acc.count > MAX_OPTIONS) throw new DhcpDecodeError('too-many-options', `more than ${MAX_OPTIONS} options`);
    const len = r.u8(`option ${code} length`);
    const data = r.bytes(len, `option ${code} data`);
    // RFC 2131 4.1: the overload option "MUST appear in the 'options' field"; one in
    // 'file' or 'sname' is not interpreted.
    if (skip52 && code === Dhcp4OptionCode.OVERLOAD) continue;
    const list = acc.chunks.get(code);
    if (list === undefined) acc.chunks.set(code, [data]);
    else list.push(data);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

function badLen(code: number, len: number, rule: string): DhcpDecodeError {
  return new DhcpDecodeError('bad-option-length', `option ${code} length ${len}, ${rule}`);
}

function exactly(code: number, d: Uint8Array, n: number): ByteReader {
  if (d.length !== n) throw badLen(code, d.length, `must be ${n}`);
  return new ByteReader(d);
}

function addressList(code: number, d: Uint8Array): string[] {
  // 3.5, 3.8: "minimum length ... 4 octets, and the length MUST always be a multiple of 4".
  if (d.length < 4 || d.length % 4 !== 0) throw badLen(code, d.length, 'must be a non-zero multiple of 4');
  const out: string[] = [];
  for (let i = 0; i < d.length; i += 4) out.push(ipv4FromBytes(d, i));
  return out;
}

function atLeastOne(code: number, d: Uint8Array): Uint8Array {
  if (d.length < 1) throw badLen(code, 0, 'minimum is 1');
  return d;
}

function latin1(d: Uint8Array): string {
  let s = '';
  for (let i = 0; i < d.length; i++) s += String.fromCharCode(d[i]);
  return s;
}

/** Option 61 value (RFC 2132 9.14 type + identifier; RFC 4361 6.1 type 255 + IAID + DUID). */
export function decodeClientIdData(d: Uint8Array): Dhcp4ClientId {
  if (d.length < 1) throw badLen(61, 0, 'no type octet');
  const r = new ByteReader(d);
  const type = r.u8();
  if (type !== CLIENT_ID_TYPE_RFC4361) return { kind: 'other', type, id: r.rest() };
  // RFC 4361 6.1: "The type field is immediately followed by the IAID, which is an
  // opaque 32-bit quantity. The IAID is immediately followed by the DUID, which
  // consumes the remaining contents" (a DUID is 3..130 octets, RFC 8415 11.1).
  if (d.length < 5) throw badLen(61, d.length, 'type 255 needs a 4-octet IAID and a DUID');
  const iaid = r.u32();
  return { kind: 'rfc4361', iaid, duid: duidFromBytes(r.rest()) };
}

export function encodeClientIdData(c: Dhcp4ClientId): Uint8Array {
  // Built directly (no writer): every message's client key (v4.ts clientKey) and every
  // reply (RFC 6842 echo) encodes one. Checks in the order the fields are written.
  if (c.kind === 'rfc4361') {
    checkUint(c.iaid, 0xffffffff, 'u32');
    const duid = duidToBytes(c.duid);
    const out = new Uint8Array(5 + duid.length);
    out[0] = CLIENT_ID_TYPE_RFC4361;
    putU32(out, 1, c.iaid);
    out.set(duid, 5);
    return out;
  }
  if (c.type === CLIENT_ID_TYPE_RFC4361) throw new RangeError("client id type 255 is RFC 4361: use kind 'rfc4361'");
  checkUint(c.type, 0xff, 'u8');
  const out = new Uint8Array(1 + c.id.length);
  out[0] = c.type;
  out.set(c.id, 1);
  return out;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function decodeTyped(code: number, d: Uint8Array, o: Dhcp4Options): void {
  switch (code) {
    case 1: // 3.3: length 4
      o.subnetMask = ipv4FromBytes(exactly(code, d, 4).bytes(4));
      return;
    case 3: // 3.5
      o.routers = addressList(code, d);
      return;
    case 6: // 3.8
      o.dnsServers = addressList(code, d);
      return;
    case 50: // 9.1: length 4
      o.requestedAddress = ipv4FromBytes(exactly(code, d, 4).bytes(4));
      return;
    case 51: // 9.2: length 4, u32
      o.leaseTime = exactly(code, d, 4).u32();
      return;
    case 53: // 9.6: length 1
      o.messageType = exactly(code, d, 1).u8();
      return;
    case 54: // 9.7: length 4
      o.serverId = ipv4FromBytes(exactly(code, d, 4).bytes(4));
      return;
    case 55: // 9.8: minimum length 1
      o.parameterRequestList = Array.from(atLeastOne(code, d));
      return;
    case 56: // 9.9: minimum length 1, NVT ASCII
      o.message = latin1(atLeastOne(code, d));
      return;
    case 57: // 9.10: length 2, u16
      o.maxMessageSize = exactly(code, d, 2).u16();
      return;
    case 58: // 9.11: length 4
      o.renewalTime = exactly(code, d, 4).u32();
      return;
    case 59: // 9.12: length 4
      o.rebindingTime = exactly(code, d, 4).u32();
      return;
    case 61:
      o.clientId = decodeClientIdData(d);
      return;
    case 159: // RFC 7618 section 9: option-len 4
      o.portParams = decodePortParamsBody(d);
      return;
  }
}

export function decodeDhcp4Message(buf: Uint8Array): Dhcp4Message {
  if (buf.length > MAX_MESSAGE_SIZE) throw new DhcpDecodeError('oversized', `${buf.length} octets`);
  if (buf.length < DHCP4_MIN_LENGTH) {
    throw new DhcpDecodeError('truncated', `${buf.length} octets, a DHCP message has at least ${DHCP4_MIN_LENGTH}`);
  }
  // RFC 2131 section 2, Figure 1 / Table 1.
  const r = new ByteReader(buf);
  const op = r.u8();
  const htype = r.u8();
  const hlen = r.u8();
  const hops = r.u8();
  const xid = r.u32();
  const secs = r.u16();
  const flags = r.u16();
  const ciaddr = ipv4FromBytes(r.bytes(4));
  const yiaddr = ipv4FromBytes(r.bytes(4));
  const siaddr = ipv4FromBytes(r.bytes(4));
  const giaddr = ipv4FromBytes(r.bytes(4));
  const chaddr = r.bytes(16);
  let sname = r.bytes(SNAME_LEN);
  let file = r.bytes(FILE_LEN);
  // RFC 2131 section 3 / RFC 2132 section 2: options start with the magic cookie.
  const cookie = r.bytes(4);
  for (let i = 0; i < 4; i++) {
    if (cookie[i] !== DHCP_MAGIC_COOKIE[i]) throw new DhcpDecodeError('bad-magic-cookie');
  }

  // RFC 2131 section 4.1: 'options' first (to find the overload option), then 'file',
  // then 'sname'.
  const acc: Collected = { chunks: new Map(), count: 0 };
  scanArea(buf, DHCP4_MIN_LENGTH, buf.length, acc, false);
  let overload = 0;
  const ov = acc.chunks.get(Dhcp4OptionCode.OVERLOAD);
  if (ov !== undefined) {
    // RFC 2132 9.3: length 1, value 1 (file), 2 (sname) or 3 (both).
    overload = exactly(52, concat(ov), 1).u8();
    if (overload < 1 || overload > 3) throw new DhcpDecodeError('bad-value', `option overload value ${overload}`);
    acc.chunks.delete(Dhcp4OptionCode.OVERLOAD);
  }
  if (overload & 1) {
    scanArea(buf, FILE_AT, FILE_AT + FILE_LEN, acc, true);
    file = new Uint8Array(FILE_LEN);
  }
  if (overload & 2) {
    scanArea(buf, SNAME_AT, SNAME_AT + SNAME_LEN, acc, true);
    sname = new Uint8Array(SNAME_LEN);
  }

  const options: Dhcp4Options = { raw: [] };
  for (const [code, chunks] of acc.chunks) {
    const d = concat(chunks);
    if (TYPED_CODES.has(code)) decodeTyped(code, d, options);
    else options.raw.push({ code, data: d });
  }
  return { op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file, options };
}

// ---------------------------------------------------------------------------------
// Encoding

/**
 * One option, split into instances of at most 255 octets (RFC 3396 section 7; RFC
 * 2131 section 4.1). An empty value is one instance of length 0.
 */
function writeSplit(w: ByteWriter, code: number, d: Uint8Array): void {
  // The usual case, one instance: no subarray view to make.
  if (d.length <= 255) {
    w.u8(code).u8(d.length).bytes(d);
    return;
  }
  let at = 0;
  do {
    const n = Math.min(255, d.length - at);
    w.u8(code).u8(n).bytes(d.subarray(at, at + n));
    at += n;
  } while (at < d.length);
}

/** A field of `n` octets: `b`, zero-padded (written in place, no padded copy). */
function writeFixed(w: ByteWriter, b: Uint8Array, n: number, what: string): void {
  if (b.length > n) throw new RangeError(`${what}: ${b.length} octets, at most ${n}`);
  w.bytes(b).zeros(n - b.length);
}

function nonEmpty<T>(a: readonly T[] | string, what: string): void {
  if (a.length === 0) throw new RangeError(`${what}: minimum length is 1`);
}

// Option values built directly (a ByteWriter each was a visible cost per reply);
// the same checks and messages as ByteWriter.u16 / u32.
function u32(v: number): Uint8Array {
  checkUint(v, 0xffffffff, 'u32');
  const out = new Uint8Array(4);
  putU32(out, 0, v);
  return out;
}

function u16(v: number): Uint8Array {
  checkUint(v, 0xffff, 'u16');
  return Uint8Array.of(v >>> 8, v & 0xff);
}

/** Typed options as (code, value) pairs in the order they are written. */
function typedValues(o: Dhcp4Options): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  const addrs = (list: readonly string[], what: string): Uint8Array => {
    nonEmpty(list, what);
    const w = new ByteWriter();
    for (const a of list) w.bytes(ipv4ToBytes(a));
    return w.finish();
  };
  // Message type first: not required by RFC 2132, but customary and cheap to classify.
  if (o.messageType !== undefined) {
    checkUint(o.messageType, 0xff, 'message type');
    out.push([53, Uint8Array.of(o.messageType)]);
  }
  // Then by ascending code; this puts subnet mask (1) before router (3), as RFC 2132
  // section 3.3 requires ("the subnet mask option MUST be first").
  if (o.subnetMask !== undefined) out.push([1, ipv4ToBytes(o.subnetMask)]);
  if (o.routers !== undefined) out.push([3, addrs(o.routers, 'routers')]);
  if (o.dnsServers !== undefined) out.push([6, addrs(o.dnsServers, 'DNS servers')]);
  if (o.requestedAddress !== undefined) out.push([50, ipv4ToBytes(o.requestedAddress)]);
  if (o.leaseTime !== undefined) out.push([51, u32(o.leaseTime)]);
  if (o.serverId !== undefined) out.push([54, ipv4ToBytes(o.serverId)]);
  if (o.parameterRequestList !== undefined) {
    nonEmpty(o.parameterRequestList, 'parameter request list');
    for (const c of o.parameterRequestList) checkUint(c, 0xff, 'requested option code');
    out.push([55, Uint8Array.from(o.parameterRequestList)]);
  }
  if (o.message !== undefined) {
    nonEmpty(o.message, 'message');
    const b = new Uint8Array(o.message.length);
    for (let i = 0; i < b.length; i++) {
      const c = o.message.charCodeAt(i);
      if (c > 0xff) throw new RangeError('message: NVT ASCII only (RFC 2132 9.9)');
      b[i] = c;
    }
    out.push([56, b]);
  }
  if (o.maxMessageSize !== undefined) out.push([57, u16(o.maxMessageSize)]);
  if (o.renewalTime !== undefined) out.push([58, u32(o.renewalTime)]);
  if (o.rebindingTime !== undefined) out.push([59, u32(o.rebindingTime)]);
  if (o.clientId !== undefined) out.push([61, encodeClientIdData(o.clientId)]);
  if (o.portParams !== undefined) out.push([159, encodePortParamsBody(o.portParams)]);
  return out;
}

/**
 * A writer's first size for a message: 576 octets, the size every DHCP client accepts
 * (RFC 2131 section 2), which a typical reply stays under, so it is written without
 * growing the buffer.
 */
const DHCP4_ENCODE_CAPACITY = 576;

/**
 * Encode a DHCPv4 message: header, magic cookie, options, End. All options go in the
 * 'options' field: this encoder never overloads 'sname'/'file' (RFC 2131 4.1 permits,
 * never requires it) and adds no padding after End.
 */
export function encodeDhcp4Message(m: Dhcp4Message): Uint8Array {
  const w = new ByteWriter(DHCP4_ENCODE_CAPACITY);
  w.u8(m.op).u8(m.htype).u8(m.hlen).u8(m.hops).u32(m.xid).u16(m.secs).u16(m.flags);
  w.bytes(ipv4ToBytes(m.ciaddr)).bytes(ipv4ToBytes(m.yiaddr)).bytes(ipv4ToBytes(m.siaddr)).bytes(ipv4ToBytes(m.giaddr));
  writeFixed(w, m.chaddr, 16, 'chaddr');
  writeFixed(w, m.sname, SNAME_LEN, 'sname');
  writeFixed(w, m.file, FILE_LEN, 'file');
  w.bytes(DHCP_MAGIC_COOKIE);
  for (const [code, d] of typedValues(m.options)) writeSplit(w, code, d);
  const seen = new Set<number>();
  for (const { code, data } of m.options.raw) {
    checkUint(code, 0xff, 'option code');
    if (code === 0 || code === 255 || code === 52 || TYPED_CODES.has(code) || seen.has(code)) {
      throw new RangeError(`raw option ${code}: pad/end/overload, a typed option, or repeated`);
    }
    seen.add(code);
    writeSplit(w, code, data);
  }
  w.u8(Dhcp4OptionCode.END);
  if (w.length > MAX_MESSAGE_SIZE) throw new RangeError(`message of ${w.length} octets exceeds ${MAX_MESSAGE_SIZE}`);
  return w.finish();
}

// ---------------------------------------------------------------------------------
// OPTION_V4_PORTPARAMS (159) as a stand-alone TLV, RFC 7618 section 9:
//   option-code 159 (1 octet), option-len 4 (1 octet), offset, PSID-len, PSID (16 bits,
//   left-aligned; see portparams.ts).

export function encodeV4PortParamsOption(p: PortParams): Uint8Array {
  return new ByteWriter().u8(Dhcp4OptionCode.V4_PORTPARAMS).u8(PORT_PARAMS_LENGTH).bytes(encodePortParamsBody(p)).finish();
}

export function decodeV4PortParamsOption(buf: Uint8Array): PortParams {
  const r = new ByteReader(buf);
  const code = r.u8('option code');
  if (code !== Dhcp4OptionCode.V4_PORTPARAMS) throw new DhcpDecodeError('bad-value', `option code ${code}, expected 159`);
  const len = r.u8('option length');
  const p = decodePortParamsBody(r.bytes(len, 'option 159 data'));
  if (r.remaining > 0) throw new DhcpDecodeError('trailing-bytes', `${r.remaining} octets after option 159`);
  return p;
}
