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
import { ByteReader, ByteWriter, checkUint, octets } from './bytes.js';
import { ipv4FromBytes, ipv4ToBytes, ipv4ToU32 } from './addr.js';
import { type Duid, checkDuid, duidFromBytesAt, duidToBytes } from './duid.js';
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
    file: octets(FILE_LEN),
    options: { raw: [] },
  };
}

// ---------------------------------------------------------------------------------
// Decoding

/** Codes with a typed field; everything else (but 0, 52, 255) goes to `raw`. */
const TYPED_CODES: ReadonlySet<number> = new Set([1, 3, 6, 50, 51, 53, 54, 55, 56, 57, 58, 59, 61, 159]);

/**
 * Every option instance met while decoding one message — code, offset of its value,
 * length — in the order met (options, then file, then sname: RFC 2131 section 4.1).
 * Values are read where they lie and copied only when kept as octets: a Map of chunk
 * arrays and a copy per option value, per message, were a visible share of the
 * server's allocation. Module-level and reused: a decode runs start to end without
 * yielding, and at most MAX_OPTIONS instances are met before 'too-many-options'.
 */
const scanCode = new Int32Array(MAX_OPTIONS);
const scanAt = new Int32Array(MAX_OPTIONS);
const scanLen = new Int32Array(MAX_OPTIONS);
/** Instances recorded, and instances counted against MAX_OPTIONS (an overload option in file/sname counts, unrecorded). */
let scanN = 0;
let scanCount = 0;

/**
 * Scan one options area (RFC 2132 section 2: code, len, data; pad and end are one
 * octet). Stops at End or at the end of the area (a missing End is tolerated). An
 * option crossing the end of its area is 'truncated' (RFC 2131 4.1: "Any individual
 * option ... MUST be entirely contained in that field").
 */
function scanArea(buf: Uint8Array, start: number, end: number, skip52: boolean): void {
  let p = start;
  while (p < end) {
    const code = buf[p++];
    if (code === Dhcp4OptionCode.PAD) continue; // 3.1: one octet, no length
    if (code === Dhcp4OptionCode.END) return; // 3.2: end of valid information
    if (++scanCount > MAX_OPTIONS) throw new DhcpDecodeError('too-many-options', `more than ${MAX_OPTIONS} options`);
    if (p >= end) throw new DhcpDecodeError('truncated', `option ${code} length: need 1 octets, have 0`);
    const len = buf[p++];
    if (len > end - p) throw new DhcpDecodeError('truncated', `option ${code} data: need ${len} octets, have ${end - p}`);
    // RFC 2131 4.1: the overload option "MUST appear in the 'options' field"; one in
    // 'file' or 'sname' is not interpreted.
    if (!(skip52 && code === Dhcp4OptionCode.OVERLOAD)) {
      scanCode[scanN] = code;
      scanAt[scanN] = p;
      scanLen[scanN] = len;
      scanN++;
    }
    p += len;
  }
}

/** `n` octets of `src` from `at`, in a Uint8Array of their own (also when `src` is a Buffer, whose slice() is a view). */
function copyOf(src: Uint8Array, at: number, n: number): Uint8Array {
  if (n > 64) {
    const big = octets(n, true); // bytes.ts: from the Buffer pool
    big.set(src.subarray(at, at + n));
    return big;
  }
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = src[at + i];
  return out;
}

/**
 * The value of the option recorded at index `i`: RFC 2131 section 4.1 / RFC 3396, every
 * instance of its code concatenated in the order met (later instances are marked done,
 * code -1). One instance — the usual case — is read in place: [buf, at, len].
 */
interface Value {
  src: Uint8Array;
  at: number;
  len: number;
}

/** The one Value decoding uses (reset by each valueAt; a decode does not yield). */
const value0 = new Uint8Array(0);
const value: Value = { src: value0, at: 0, len: 0 };

function valueAt(buf: Uint8Array, i: number, v: Value): void {
  const code = scanCode[i];
  let total = scanLen[i];
  let more = false;
  for (let j = i + 1; j < scanN; j++) {
    if (scanCode[j] === code) {
      more = true;
      total += scanLen[j];
    }
  }
  if (!more) {
    v.src = buf;
    v.at = scanAt[i];
    v.len = total;
    return;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (let j = i; j < scanN; j++) {
    if (j > i && scanCode[j] !== code) continue;
    for (let k = 0; k < scanLen[j]; k++) out[o++] = buf[scanAt[j] + k];
    if (j > i) scanCode[j] = -1;
  }
  v.src = out;
  v.at = 0;
  v.len = total;
}

function badLen(code: number, len: number, rule: string): DhcpDecodeError {
  return new DhcpDecodeError('bad-option-length', `option ${code} length ${len}, ${rule}`);
}

function exactly(code: number, len: number, n: number): void {
  if (len !== n) throw badLen(code, len, `must be ${n}`);
}

function u32At(d: Uint8Array, at: number): number {
  return d[at] * 0x1000000 + ((d[at + 1] << 16) | (d[at + 2] << 8) | d[at + 3]);
}

function addressList(code: number, d: Uint8Array, at: number, len: number): string[] {
  // 3.5, 3.8: "minimum length ... 4 octets, and the length MUST always be a multiple of 4".
  if (len < 4 || len % 4 !== 0) throw badLen(code, len, 'must be a non-zero multiple of 4');
  const out: string[] = [];
  for (let i = 0; i < len; i += 4) out.push(ipv4FromBytes(d, at + i));
  return out;
}

function atLeastOne(code: number, len: number): void {
  if (len < 1) throw badLen(code, 0, 'minimum is 1');
}

function latin1(d: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(d[at + i]);
  return s;
}

/** Option 61 value (RFC 2132 9.14 type + identifier; RFC 4361 6.1 type 255 + IAID + DUID). */
export function decodeClientIdData(d: Uint8Array): Dhcp4ClientId {
  return clientIdAt(d, 0, d.length);
}

/** decodeClientIdData of the `len` octets of `d` from `at`, read in place (the arrays in it are copies). */
function clientIdAt(d: Uint8Array, at: number, len: number): Dhcp4ClientId {
  if (len < 1) throw badLen(61, 0, 'no type octet');
  const type = d[at];
  if (type !== CLIENT_ID_TYPE_RFC4361) return { kind: 'other', type, id: copyOf(d, at + 1, len - 1) };
  // RFC 4361 6.1: "The type field is immediately followed by the IAID, which is an
  // opaque 32-bit quantity. The IAID is immediately followed by the DUID, which
  // consumes the remaining contents" (a DUID is 3..130 octets, RFC 8415 11.1).
  if (len < 5) throw badLen(61, len, 'type 255 needs a 4-octet IAID and a DUID');
  const iaid = u32At(d, at + 1);
  return { kind: 'rfc4361', iaid, duid: duidFromBytesAt(d, at + 5, len - 5) };
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

/**
 * encodeClientIdData written at the end of `w`: the same checks in the same order, no
 * array of its own (every reply echoes the client identifier, RFC 6842, and the server
 * builds every client's key from it, v4.ts clientKey).
 */
export function writeClientIdData(w: ByteWriter, c: Dhcp4ClientId): void {
  if (c.kind === 'rfc4361') {
    checkUint(c.iaid, 0xffffffff, 'u32');
    checkDuid(c.duid);
    w.u8(CLIENT_ID_TYPE_RFC4361).u32(c.iaid).u16(c.duid.type).bytes(c.duid.data);
    return;
  }
  if (c.type === CLIENT_ID_TYPE_RFC4361) throw new RangeError("client id type 255 is RFC 4361: use kind 'rfc4361'");
  checkUint(c.type, 0xff, 'u8');
  w.u8(c.type).bytes(c.id);
}

/** The length of encodeClientIdData's result (no checks). */
function clientIdLength(c: Dhcp4ClientId): number {
  return c.kind === 'rfc4361' ? 7 + c.duid.data.length : 1 + c.id.length;
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function decodeTyped(code: number, d: Uint8Array, at: number, len: number, o: Dhcp4Options): void {
  switch (code) {
    case 1: // 3.3: length 4
      exactly(code, len, 4);
      o.subnetMask = ipv4FromBytes(d, at);
      return;
    case 3: // 3.5
      o.routers = addressList(code, d, at, len);
      return;
    case 6: // 3.8
      o.dnsServers = addressList(code, d, at, len);
      return;
    case 50: // 9.1: length 4
      exactly(code, len, 4);
      o.requestedAddress = ipv4FromBytes(d, at);
      return;
    case 51: // 9.2: length 4, u32
      exactly(code, len, 4);
      o.leaseTime = u32At(d, at);
      return;
    case 53: // 9.6: length 1
      exactly(code, len, 1);
      o.messageType = d[at];
      return;
    case 54: // 9.7: length 4
      exactly(code, len, 4);
      o.serverId = ipv4FromBytes(d, at);
      return;
    case 55: {
      // 9.8: minimum length 1
      atLeastOne(code, len);
      const list: number[] = new Array<number>(len);
      for (let i = 0; i < len; i++) list[i] = d[at + i];
      o.parameterRequestList = list;
      return;
    }
    case 56: // 9.9: minimum length 1, NVT ASCII
      atLeastOne(code, len);
      o.message = latin1(d, at, len);
      return;
    case 57: // 9.10: length 2, u16
      exactly(code, len, 2);
      o.maxMessageSize = (d[at] << 8) | d[at + 1];
      return;
    case 58: // 9.11: length 4
      exactly(code, len, 4);
      o.renewalTime = u32At(d, at);
      return;
    case 59: // 9.12: length 4
      exactly(code, len, 4);
      o.rebindingTime = u32At(d, at);
      return;
    case 61:
      o.clientId = clientIdAt(d, at, len);
      return;
    case 159: // RFC 7618 section 9: option-len 4
      o.portParams = decodePortParamsBody(copyOf(d, at, len));
      return;
  }
}

/**
 * Decode a DHCPv4 message. Every byte array in the result is a copy of its own, also
 * when `buf` is a Buffer (the server decodes a view of the received datagram).
 */
export function decodeDhcp4Message(buf: Uint8Array): Dhcp4Message {
  if (buf.length > MAX_MESSAGE_SIZE) throw new DhcpDecodeError('oversized', `${buf.length} octets`);
  if (buf.length < DHCP4_MIN_LENGTH) {
    throw new DhcpDecodeError('truncated', `${buf.length} octets, a DHCP message has at least ${DHCP4_MIN_LENGTH}`);
  }
  // RFC 2131 section 2, Figure 1 / Table 1 (read in place: the length is checked above).
  const op = buf[0];
  const htype = buf[1];
  const hlen = buf[2];
  const hops = buf[3];
  const xid = u32At(buf, 4);
  const secs = (buf[8] << 8) | buf[9];
  const flags = (buf[10] << 8) | buf[11];
  const ciaddr = ipv4FromBytes(buf, 12);
  const yiaddr = ipv4FromBytes(buf, 16);
  const siaddr = ipv4FromBytes(buf, 20);
  const giaddr = ipv4FromBytes(buf, 24);
  const chaddr = copyOf(buf, 28, 16);
  // RFC 2131 section 3 / RFC 2132 section 2: options start with the magic cookie.
  for (let i = 0; i < 4; i++) {
    if (buf[DHCP4_FIXED_LENGTH + i] !== DHCP_MAGIC_COOKIE[i]) throw new DhcpDecodeError('bad-magic-cookie');
  }

  // RFC 2131 section 4.1: 'options' first (to find the overload option), then 'file',
  // then 'sname'.
  scanN = 0;
  scanCount = 0;
  scanArea(buf, DHCP4_MIN_LENGTH, buf.length, false);
  const v = value;
  let overload = 0;
  for (let i = 0; i < scanN; i++) {
    if (scanCode[i] !== Dhcp4OptionCode.OVERLOAD) continue;
    // RFC 2132 9.3: length 1, value 1 (file), 2 (sname) or 3 (both).
    valueAt(buf, i, v);
    exactly(52, v.len, 1);
    overload = v.src[v.at];
    if (overload < 1 || overload > 3) throw new DhcpDecodeError('bad-value', `option overload value ${overload}`);
    scanCode[i] = -1;
    break;
  }
  let file: Uint8Array;
  let sname: Uint8Array;
  if (overload & 1) {
    scanArea(buf, FILE_AT, FILE_AT + FILE_LEN, true);
    file = octets(FILE_LEN);
  } else {
    file = copyOf(buf, FILE_AT, FILE_LEN);
  }
  if (overload & 2) {
    scanArea(buf, SNAME_AT, SNAME_AT + SNAME_LEN, true);
    sname = new Uint8Array(SNAME_LEN);
  } else {
    sname = copyOf(buf, SNAME_AT, SNAME_LEN);
  }

  // In order of first appearance, every instance of a code concatenated (valueAt).
  const options: Dhcp4Options = { raw: [] };
  for (let i = 0; i < scanN; i++) {
    const code = scanCode[i];
    if (code < 0) continue;
    valueAt(buf, i, v);
    if (TYPED_CODES.has(code)) decodeTyped(code, v.src, v.at, v.len, options);
    else options.raw.push({ code, data: v.src === buf ? copyOf(buf, v.at, v.len) : v.src });
  }
  v.src = value0; // not holding on to the datagram until the next decode
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

/**
 * The typed options, written in this order. Values of a fixed size go straight into
 * the writer (a Uint8Array per value and a (code, value) pair per option were a
 * visible share of the allocation per reply); the checks, their order and their
 * messages are those of ByteWriter.u16 / u32 and of ipv4ToBytes.
 */
function writeTyped(w: ByteWriter, o: Dhcp4Options): void {
  const addrs = (list: readonly string[], what: string): Uint8Array => {
    nonEmpty(list, what);
    const aw = new ByteWriter();
    for (const a of list) aw.bytes(ipv4ToBytes(a));
    return aw.finish();
  };
  // Message type first: not required by RFC 2132, but customary and cheap to classify.
  if (o.messageType !== undefined) {
    checkUint(o.messageType, 0xff, 'message type');
    w.u8(53).u8(1).u8(o.messageType);
  }
  // Then by ascending code; this puts subnet mask (1) before router (3), as RFC 2132
  // section 3.3 requires ("the subnet mask option MUST be first").
  if (o.subnetMask !== undefined) w.u8(1).u8(4).u32(ipv4ToU32(o.subnetMask));
  if (o.routers !== undefined) writeSplit(w, 3, addrs(o.routers, 'routers'));
  if (o.dnsServers !== undefined) writeSplit(w, 6, addrs(o.dnsServers, 'DNS servers'));
  if (o.requestedAddress !== undefined) w.u8(50).u8(4).u32(ipv4ToU32(o.requestedAddress));
  if (o.leaseTime !== undefined) w.u8(51).u8(4).u32(o.leaseTime);
  if (o.serverId !== undefined) w.u8(54).u8(4).u32(ipv4ToU32(o.serverId));
  if (o.parameterRequestList !== undefined) {
    nonEmpty(o.parameterRequestList, 'parameter request list');
    for (const c of o.parameterRequestList) checkUint(c, 0xff, 'requested option code');
    writeSplit(w, 55, Uint8Array.from(o.parameterRequestList));
  }
  if (o.message !== undefined) {
    nonEmpty(o.message, 'message');
    const b = new Uint8Array(o.message.length);
    for (let i = 0; i < b.length; i++) {
      const c = o.message.charCodeAt(i);
      if (c > 0xff) throw new RangeError('message: NVT ASCII only (RFC 2132 9.9)');
      b[i] = c;
    }
    writeSplit(w, 56, b);
  }
  if (o.maxMessageSize !== undefined) w.u8(57).u8(2).u16(o.maxMessageSize);
  if (o.renewalTime !== undefined) w.u8(58).u8(4).u32(o.renewalTime);
  if (o.rebindingTime !== undefined) w.u8(59).u8(4).u32(o.rebindingTime);
  if (o.clientId !== undefined) {
    // One instance (RFC 4361 type 255 is at most 135 octets): written in place.
    if (clientIdLength(o.clientId) <= 255) {
      const at = w.length;
      w.u8(61).u8(0);
      writeClientIdData(w, o.clientId);
      w.patch8(at + 1, w.length - at - 2);
    } else {
      writeSplit(w, 61, encodeClientIdData(o.clientId));
    }
  }
  if (o.portParams !== undefined) writeSplit(w, 159, encodePortParamsBody(o.portParams));
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
  writeDhcp4Message(w, m);
  return w.finish();
}

/**
 * encodeDhcp4Message, written at the end of `w` (the server writes its reply into
 * the DHCPv6 message around it, codec/fast4o6.ts, without a copy of its own). The same
 * checks: throws RangeError, having written part of the message, on a value the wire
 * format cannot carry or a message longer than MAX_MESSAGE_SIZE.
 */
export function writeDhcp4Message(w: ByteWriter, m: Dhcp4Message): void {
  const start = w.length;
  w.u8(m.op).u8(m.htype).u8(m.hlen).u8(m.hops).u32(m.xid).u16(m.secs).u16(m.flags);
  w.u32(ipv4ToU32(m.ciaddr)).u32(ipv4ToU32(m.yiaddr)).u32(ipv4ToU32(m.siaddr)).u32(ipv4ToU32(m.giaddr));
  writeFixed(w, m.chaddr, 16, 'chaddr');
  writeFixed(w, m.sname, SNAME_LEN, 'sname');
  writeFixed(w, m.file, FILE_LEN, 'file');
  w.bytes(DHCP_MAGIC_COOKIE);
  writeTyped(w, m.options);
  const raw = m.options.raw;
  const seen = raw.length > 0 ? new Set<number>() : undefined;
  for (const { code, data } of raw) {
    checkUint(code, 0xff, 'option code');
    if (code === 0 || code === 255 || code === 52 || TYPED_CODES.has(code) || seen!.has(code)) {
      throw new RangeError(`raw option ${code}: pad/end/overload, a typed option, or repeated`);
    }
    seen!.add(code);
    writeSplit(w, code, data);
  }
  w.u8(Dhcp4OptionCode.END);
  const n = w.length - start;
  if (n > MAX_MESSAGE_SIZE) throw new RangeError(`message of ${n} octets exceeds ${MAX_MESSAGE_SIZE}`);
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
