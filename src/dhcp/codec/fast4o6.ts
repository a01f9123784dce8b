/**
 * The server's hot path for DHCPv4-query (RFC 7341), framed as the generic codec
 * frames it (dhcpv6.ts, dhcp4o6.ts) but without building its objects:
 *
 *  - scanDhcp4Query finds, by offsets into the received datagram, the Relay-forward
 *    headers (RFC 8415 section 9.1) around a DHCPv4-query, each relay's Interface-Id
 *    (section 21.18) and the query's OPTION_DHCPV4_MSG (RFC 7341 section 7.1). The
 *    generic decoder built an object per option, copied every option's octets, made
 *    text of the link- and peer-addresses, and the server parsed that text back.
 *  - writeDhcp4Response writes the answer — the Relay-reply chain (section 9.2,
 *    19.3), the DHCPv4-response (RFC 7341 section 6.4) and the DHCPv4 message inside
 *    its option 87 — with one writer, instead of a DHCPv4 encoding copied into a
 *    DHCPv6 object tree that was encoded again.
 *
 * The scan accepts only what the generic decoder accepts and gives the same meaning
 * to: anything else — a malformed or truncated message, a relay-reply, an option the
 * generic decoder interprets and so validates (Client/Server Identifier, ORO, Status
 * Code), a repeated Relay Message, Interface-Id or DHCPv4 Message option, more options
 * or relay headers than limits.ts allows — makes it return null, and the server then
 * decodes the datagram with the generic codec, which drops and counts it by reason
 * exactly as before. The replies are byte-for-byte those of the generic encoders
 * (test/dhcp/fast4o6.test.ts).
 */
import { Buffer } from 'node:buffer';
import { ByteWriter } from './bytes.js';
import { type Dhcp4Message, writeDhcp4Message } from './dhcpv4.js';
import { Dhcp4o6MessageType, Dhcp4o6OptionCode } from './dhcp4o6.js';
import { Dhcp6MessageType, Dhcp6OptionCode, DHCP6_RELAY_HEADER_LENGTH } from './dhcpv6.js';
import { MAX_MESSAGE_SIZE, MAX_OPTIONS, MAX_RELAY_DEPTH } from './limits.js';

/** Where a DHCPv4-query's parts are in the datagram it came in. */
export interface Dhcp4QueryFrame {
  /** How many Relay-forward headers (0: a direct query). */
  depth: number;
  /**
   * Three numbers per relay, outermost first (one flat array, not three: this is built
   * per message): the offset of its header, the offset of its Interface-Id option's
   * value (-1 when it has none), the length of that value. See relayAt, ifidAt, ifidLen.
   */
  relays: number[];
  /** The query's 24-bit flags field (RFC 7341 section 6.3). */
  flags: number;
  /** OPTION_DHCPV4_MSG's value: offset and length. */
  v4At: number;
  v4Len: number;
}

/**
 * Option codes the generic decoder interprets (dhcpv6.ts decodeOption), so validates:
 * a message with one of them in a place the scan would pass over goes the generic way.
 */
function validatedElsewhere(code: number): boolean {
  return code === Dhcp6OptionCode.CLIENTID || code === Dhcp6OptionCode.SERVERID || code === Dhcp6OptionCode.ORO || code === Dhcp6OptionCode.STATUS_CODE;
}

// Results of walkOptions (module scratch: this runs per message, so no object per walk).
let foundAt = -1;
let foundLen = 0;
let extraAt = -1;
let extraLen = 0;

/**
 * Walks the options in [p, end): each at most once of `want` (its value at foundAt /
 * foundLen) and `extra` (extraAt / extraLen; 0 = none looked for). False — decode it
 * the generic way — for a truncated option, more than MAX_OPTIONS, a repeated `want`
 * or `extra`, or an option the generic decoder validates.
 */
function walkOptions(buf: Uint8Array, p: number, end: number, want: number, extra: number): boolean {
  foundAt = -1;
  foundLen = 0;
  extraAt = -1;
  extraLen = 0;
  let count = 0;
  while (p < end) {
    if (end - p < 4 || ++count > MAX_OPTIONS) return false;
    const code = (buf[p] << 8) | buf[p + 1];
    const len = (buf[p + 2] << 8) | buf[p + 3];
    p += 4;
    if (len > end - p) return false;
    if (code === want) {
      if (foundAt >= 0) return false;
      foundAt = p;
      foundLen = len;
    } else if (extra !== 0 && code === extra) {
      if (extraAt >= 0) return false;
      extraAt = p;
      extraLen = len;
    } else if (validatedElsewhere(code)) {
      return false;
    }
    p += len;
  }
  return true;
}

/** The frame of a well-formed (possibly relayed) DHCPv4-query, or null: decode it the generic way. */
export function scanDhcp4Query(buf: Uint8Array): Dhcp4QueryFrame | null {
  if (buf.length > MAX_MESSAGE_SIZE) return null;
  let at = 0;
  let end = buf.length;
  let depth = 0;
  const relays: number[] = [];
  while (end - at >= 1 && buf[at] === Dhcp6MessageType.RELAY_FORW) {
    // RFC 8415 section 9.1: msg-type, hop-count, link-address, peer-address, options.
    if (depth >= MAX_RELAY_DEPTH || end - at < DHCP6_RELAY_HEADER_LENGTH) return null;
    if (!walkOptions(buf, at + DHCP6_RELAY_HEADER_LENGTH, end, Dhcp6OptionCode.RELAY_MSG, Dhcp6OptionCode.INTERFACE_ID)) return null;
    if (foundAt < 0) return null;
    relays.push(at, extraAt, extraLen);
    depth++;
    at = foundAt;
    end = foundAt + foundLen;
  }
  // RFC 7341 section 6.2: msg-type, 3-octet flags, options.
  if (end - at < 4 || buf[at] !== Dhcp4o6MessageType.DHCPV4_QUERY) return null;
  const flags = (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3];
  if (!walkOptions(buf, at + 4, end, Dhcp4o6OptionCode.DHCPV4_MSG, 0)) return null;
  if (foundAt < 0) return null;
  return { depth, relays, flags, v4At: foundAt, v4Len: foundLen };
}

/** Offset of relay `i`'s header (0: the outermost). */
export function relayAt(f: Dhcp4QueryFrame, i: number): number {
  return f.relays[3 * i];
}

/** Offset of relay `i`'s Interface-Id value, -1 when it has none. */
export function ifidAt(f: Dhcp4QueryFrame, i: number): number {
  return f.relays[3 * i + 1];
}

/** Length of relay `i`'s Interface-Id value. */
export function ifidLen(f: Dhcp4QueryFrame, i: number): number {
  return f.relays[3 * i + 2];
}

/**
 * The DHCPv4-response carrying `answer`, inside the Relay-reply chain that answers the
 * query framed by `f` in `query` (hop-count, link- and peer-address and Interface-Id
 * copied, RFC 8415 sections 9.2 and 21.18) — the octets that encodeDhcp6Message(
 * buildRelayReply(relays, dhcp4o6ToDhcp6({ DHCPV4_RESPONSE, flags 0, answer }))) gives.
 *
 * Errors, as the generic path raises them: writing `answer` throws what
 * encodeDhcp4Message throws (a RangeError, before anything else is checked); a
 * length that does not fit the DHCPv6 framing throws EncodeLimitError. The result is
 * a Buffer of its own (a slice of Node's Buffer pool).
 */
export function writeDhcp4Response(query: Uint8Array, f: Dhcp4QueryFrame, answer: Dhcp4Message): Uint8Array {
  const k = f.depth;
  const w = scratch.reset();
  const lenAt: number[] = [];
  for (let i = 0; i < k; i++) {
    const r = relayAt(f, i);
    w.u8(Dhcp6MessageType.RELAY_REPL).u8(query[r + 1]).bytesAt(query, r + 2, 32);
    const ifa = ifidAt(f, i);
    if (ifa >= 0) w.u16(Dhcp6OptionCode.INTERFACE_ID).u16(ifidLen(f, i)).bytesAt(query, ifa, ifidLen(f, i));
    w.u16(Dhcp6OptionCode.RELAY_MSG);
    lenAt.push(w.reserve16());
  }
  // RFC 7341 section 6.4: "The DHCP 4o6 server MUST set all bits of this field to 0".
  w.u8(Dhcp4o6MessageType.DHCPV4_RESPONSE).u24(0);
  w.u16(Dhcp4o6OptionCode.DHCPV4_MSG);
  const v4LenAt = w.reserve16();
  writeDhcp4Message(w, answer);
  try {
    w.patch16(v4LenAt, `option ${Dhcp4o6OptionCode.DHCPV4_MSG}`);
    for (let i = k - 1; i >= 0; i--) w.patch16(lenAt[i], `option ${Dhcp6OptionCode.RELAY_MSG}`);
  } catch (e) {
    throw new EncodeLimitError(e instanceof Error ? e.message : String(e));
  }
  if (w.length > MAX_MESSAGE_SIZE) throw new EncodeLimitError(`message of ${w.length} octets exceeds ${MAX_MESSAGE_SIZE}`);
  // The reply in storage of its exact size, from Node's Buffer pool: a pool slab holds
  // twenty-odd replies this size, where a 1 KiB writer per reply used one every eight.
  const v = w.view();
  const out = Buffer.allocUnsafe(v.length);
  out.set(v);
  return out;
}

/**
 * The writer every reply is built in, then copied out (writeDhcp4Response runs from
 * start to end without yielding, so one is enough; it grows to the largest reply).
 */
const scratch = new ByteWriter(2048);

/** A reply that does not fit DHCPv6's lengths (the generic path's encodeDhcp6Message RangeError). */
export class EncodeLimitError extends RangeError {
  override name = 'EncodeLimitError';
}
