/**
 * DHCPv6 wire format, RFC 8415:
 *  - client/server messages: msg-type + 3-octet transaction-id + options (section 8, Figure 2);
 *  - Relay-forward / Relay-reply: msg-type, hop-count, link-address, peer-address,
 *    options, with the relayed message nested in a Relay Message option (section 9,
 *    Figure 3; section 21.10);
 *  - the option TLV (section 21.1, Figure 12) and the options this project interprets:
 *    Client Identifier (21.2), Server Identifier (21.3), Option Request (21.7),
 *    Relay Message (21.10), Status Code (21.13), Interface-Id (21.18).
 * Every other option is kept as raw octets, in order, and re-encoded verbatim. The
 * DHCPv4-over-DHCPv6 (RFC 7341) and Softwire46 (RFC 7598) options are raw here and
 * read by dhcp4o6.ts and s46.ts.
 */
import { ByteReader, ByteWriter, checkUint } from './bytes.js';
import { ipv6FromBytes, ipv6ToBytes } from './addr.js';
import { type Duid, duidFromBytes, duidToBytes } from './duid.js';
import { DhcpDecodeError } from './errors.js';
import { MAX_MESSAGE_SIZE, MAX_OPTIONS, MAX_RELAY_DEPTH } from './limits.js';

export * from './duid.js';

/** RFC 8415 section 7.3 (message types). */
export const Dhcp6MessageType = {
  SOLICIT: 1,
  ADVERTISE: 2,
  REQUEST: 3,
  CONFIRM: 4,
  RENEW: 5,
  REBIND: 6,
  REPLY: 7,
  RELEASE: 8,
  DECLINE: 9,
  RECONFIGURE: 10,
  INFORMATION_REQUEST: 11,
  RELAY_FORW: 12,
  RELAY_REPL: 13,
} as const;

/** Option codes interpreted here (RFC 8415 sections 21.2, 21.3, 21.7, 21.10, 21.13, 21.18). */
export const Dhcp6OptionCode = {
  CLIENTID: 1,
  SERVERID: 2,
  ORO: 6,
  RELAY_MSG: 9,
  STATUS_CODE: 13,
  INTERFACE_ID: 18,
} as const;

/** RFC 8415 section 21.13, Table 3. */
export const Dhcp6StatusCode = {
  Success: 0,
  UnspecFail: 1,
  NoAddrsAvail: 2,
  NoBinding: 3,
  NotOnLink: 4,
  UseMulticast: 5,
  NoPrefixAvail: 6,
} as const;

/** Any option this module does not interpret, kept verbatim (section 21.1). */
export interface Dhcp6RawOption {
  kind: 'raw';
  code: number;
  data: Uint8Array;
}

export type Dhcp6Option =
  /** Section 21.2: OPTION_CLIENTID (1), the client's DUID. */
  | { kind: 'client-id'; duid: Duid }
  /** Section 21.3: OPTION_SERVERID (2), the server's DUID. */
  | { kind: 'server-id'; duid: Duid }
  /** Section 21.7: OPTION_ORO (6), requested option codes (2 octets each). */
  | { kind: 'oro'; codes: number[] }
  /** Section 21.13: OPTION_STATUS_CODE (13), status-code (2 octets) + UTF-8 status-message. */
  | { kind: 'status-code'; status: number; message: string }
  /** Section 21.10: OPTION_RELAY_MSG (9). Interpreted only inside relay messages; elsewhere raw. */
  | { kind: 'relay-msg'; message: Dhcp6Message }
  /** Section 21.18: OPTION_INTERFACE_ID (18), opaque relay interface identifier. */
  | { kind: 'interface-id'; id: Uint8Array }
  | Dhcp6RawOption;

/** Section 8, Figure 2. For DHCPv4-query/-response (RFC 7341) the 24 bits are flags, see dhcp4o6.ts. */
export interface Dhcp6ClientServerMessage {
  kind: 'client-server';
  msgType: number;
  /** 3-octet transaction-id, 0 .. 0xffffff. */
  transactionId: number;
  options: Dhcp6Option[];
}

/** Section 9, Figure 3. */
export interface Dhcp6RelayMessage {
  kind: 'relay';
  msgType: typeof Dhcp6MessageType.RELAY_FORW | typeof Dhcp6MessageType.RELAY_REPL;
  hopCount: number;
  linkAddress: string;
  peerAddress: string;
  /** Exactly one 'relay-msg' option (sections 9.1, 9.2: "MUST include a Relay Message option"). */
  options: Dhcp6Option[];
}

export type Dhcp6Message = Dhcp6ClientServerMessage | Dhcp6RelayMessage;

/** Section 8: msg-type (1) + transaction-id (3). */
export const DHCP6_HEADER_LENGTH = 4;
/** Section 9: msg-type (1) + hop-count (1) + link-address (16) + peer-address (16). */
export const DHCP6_RELAY_HEADER_LENGTH = 34;

export function isRelayType(t: number): t is Dhcp6RelayMessage['msgType'] {
  return t === Dhcp6MessageType.RELAY_FORW || t === Dhcp6MessageType.RELAY_REPL;
}

export function rawOption(code: number, data: Uint8Array): Dhcp6RawOption {
  return { kind: 'raw', code, data };
}

// ---------------------------------------------------------------------------------
// Decoding

// Non-fatal: invalid sequences become U+FFFD (a bad status text is not worth a drop);
// ignoreBOM keeps a leading U+FEFF as a character instead of silently eating it.
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

function decodeOption(code: number, body: ByteReader, relayDepth: number | null): Dhcp6Option {
  const len = body.remaining;
  switch (code) {
    case Dhcp6OptionCode.CLIENTID: // 21.2: option-len = length of DUID
      return { kind: 'client-id', duid: duidFromBytes(body.rest()) };
    case Dhcp6OptionCode.SERVERID: // 21.3
      return { kind: 'server-id', duid: duidFromBytes(body.rest()) };
    case Dhcp6OptionCode.ORO: {
      // 21.7: option-len = 2 * number of requested options.
      if (len % 2 !== 0) throw new DhcpDecodeError('bad-option-length', `ORO length ${len} is odd`);
      const codes: number[] = [];
      while (body.remaining > 0) codes.push(body.u16());
      return { kind: 'oro', codes };
    }
    case Dhcp6OptionCode.STATUS_CODE: {
      // 21.13: option-len = 2 + length of status-message.
      if (len < 2) throw new DhcpDecodeError('bad-option-length', `Status Code length ${len} < 2`);
      const status = body.u16();
      return { kind: 'status-code', status, message: utf8.decode(body.rest()) };
    }
    case Dhcp6OptionCode.INTERFACE_ID: // 21.18: opaque, option-len octets
      return { kind: 'interface-id', id: body.rest() };
    case Dhcp6OptionCode.RELAY_MSG:
      // 21.10: only meaningful in Relay-forward/Relay-reply (sections 9.1, 9.2).
      if (relayDepth !== null) return { kind: 'relay-msg', message: decodeMessage(body, relayDepth) };
      break;
  }
  return rawOption(code, body.rest());
}

/**
 * Section 21.1: options are stored serially, no padding. `relayDepth` is non-null
 * only for the options of a relay message (then it is the depth of the nested message).
 */
function decodeOptionList(r: ByteReader, relayDepth: number | null): Dhcp6Option[] {
  const out: Dhcp6Option[] = [];
  while (r.remaining > 0) {
    if (out.length >= MAX_OPTIONS) throw new DhcpDecodeError('too-many-options', `more than ${MAX_OPTIONS} options`);
    const code = r.u16('option-code');
    const len = r.u16('option-len');
    out.push(decodeOption(code, r.sub(len, `option ${code} data`), relayDepth));
  }
  return out;
}

/** `depth`: how many relay headers enclose this message (0 at top level). */
function decodeMessage(r: ByteReader, depth: number): Dhcp6Message {
  const msgType = r.u8('msg-type');
  if (!isRelayType(msgType)) {
    // Section 8: transaction-id, a 3-octet field; options fill the rest.
    const transactionId = r.u24('transaction-id');
    return { kind: 'client-server', msgType, transactionId, options: decodeOptionList(r, null) };
  }
  // This is relay header number depth + 1; at most MAX_RELAY_DEPTH (limits.ts).
  if (depth >= MAX_RELAY_DEPTH) throw new DhcpDecodeError('relay-too-deep', `more than ${MAX_RELAY_DEPTH} relay headers`);
  const hopCount = r.u8('hop-count'); // 9.1: a 1-octet field
  const linkAddress = ipv6FromBytes(r.bytes(16, 'link-address')); // 9.1: 16 octets
  const peerAddress = ipv6FromBytes(r.bytes(16, 'peer-address')); // 9.1: 16 octets
  const options = decodeOptionList(r, depth + 1);
  const n = options.filter((o) => o.kind === 'relay-msg').length;
  // 9.1, 9.2: options "MUST include a Relay Message option"; two would be ambiguous.
  if (n === 0) throw new DhcpDecodeError('missing-option', 'relay message without OPTION_RELAY_MSG');
  if (n > 1) throw new DhcpDecodeError('duplicate-option', 'relay message with several OPTION_RELAY_MSG');
  return { kind: 'relay', msgType, hopCount, linkAddress, peerAddress, options };
}

/** Decode one DHCPv6 message (a UDP payload). Relays are decoded down to the client message. */
export function decodeDhcp6Message(buf: Uint8Array): Dhcp6Message {
  if (buf.length > MAX_MESSAGE_SIZE) throw new DhcpDecodeError('oversized', `${buf.length} octets`);
  return decodeMessage(new ByteReader(buf), 0);
}

/** Decode a bare option list (not inside a relay message: option 9 stays raw). */
export function decodeDhcp6Options(buf: Uint8Array): Dhcp6Option[] {
  if (buf.length > MAX_MESSAGE_SIZE) throw new DhcpDecodeError('oversized', `${buf.length} octets`);
  return decodeOptionList(new ByteReader(buf), null);
}

// ---------------------------------------------------------------------------------
// Encoding (throws RangeError on values the wire format cannot carry)

const utf8enc = new TextEncoder();

function writeOption(w: ByteWriter, o: Dhcp6Option, depth: number): void {
  const code = optionCode(o);
  w.u16(code);
  w.len16(() => {
    switch (o.kind) {
      case 'client-id':
      case 'server-id':
        w.bytes(duidToBytes(o.duid));
        break;
      case 'oro':
        for (const c of o.codes) w.u16(c);
        break;
      case 'status-code':
        w.u16(o.status).bytes(utf8enc.encode(o.message));
        break;
      case 'relay-msg':
        writeMessage(w, o.message, depth + 1);
        break;
      case 'interface-id':
        w.bytes(o.id);
        break;
      case 'raw':
        w.bytes(o.data);
        break;
    }
  }, `option ${code}`);
}

export function optionCode(o: Dhcp6Option): number {
  switch (o.kind) {
    case 'client-id':
      return Dhcp6OptionCode.CLIENTID;
    case 'server-id':
      return Dhcp6OptionCode.SERVERID;
    case 'oro':
      return Dhcp6OptionCode.ORO;
    case 'status-code':
      return Dhcp6OptionCode.STATUS_CODE;
    case 'relay-msg':
      return Dhcp6OptionCode.RELAY_MSG;
    case 'interface-id':
      return Dhcp6OptionCode.INTERFACE_ID;
    case 'raw':
      checkUint(o.code, 0xffff, 'option-code');
      return o.code;
  }
}

function writeMessage(w: ByteWriter, m: Dhcp6Message, depth: number): void {
  if (m.kind === 'client-server') {
    if (isRelayType(m.msgType)) throw new RangeError(`msg-type ${m.msgType} is a relay type; use kind 'relay'`);
    w.u8(m.msgType).u24(m.transactionId);
  } else {
    if (depth >= MAX_RELAY_DEPTH) throw new RangeError(`more than ${MAX_RELAY_DEPTH} relay headers`);
    if (!isRelayType(m.msgType)) throw new RangeError(`msg-type ${m.msgType} is not RELAY-FORW or RELAY-REPL`);
    const n = m.options.filter((o) => o.kind === 'relay-msg').length;
    if (n !== 1) throw new RangeError(`relay message needs exactly one relay-msg option, has ${n}`);
    w.u8(m.msgType).u8(m.hopCount).bytes(ipv6ToBytes(m.linkAddress)).bytes(ipv6ToBytes(m.peerAddress));
  }
  if (m.options.length > MAX_OPTIONS) throw new RangeError(`more than ${MAX_OPTIONS} options`);
  for (const o of m.options) writeOption(w, o, depth);
}

export function encodeDhcp6Message(m: Dhcp6Message): Uint8Array {
  // Room for a relayed DHCPv4-response (a DHCPv4 message in option 87, in one or two
  // Relay-reply headers) without growing the buffer.
  const w = new ByteWriter(1024);
  writeMessage(w, m, 0);
  if (w.length > MAX_MESSAGE_SIZE) throw new RangeError(`message of ${w.length} octets exceeds ${MAX_MESSAGE_SIZE}`);
  return w.finish();
}

export function encodeDhcp6Options(opts: Dhcp6Option[]): Uint8Array {
  if (opts.length > MAX_OPTIONS) throw new RangeError(`more than ${MAX_OPTIONS} options`);
  const w = new ByteWriter();
  for (const o of opts) writeOption(w, o, 0);
  return w.finish();
}

// ---------------------------------------------------------------------------------
// Helpers

/** The first option of a kind (e.g. findOption(m.options, 'client-id')?.duid). */
export function findOption<K extends Dhcp6Option['kind']>(
  opts: readonly Dhcp6Option[],
  kind: K,
): Extract<Dhcp6Option, { kind: K }> | undefined {
  return opts.find((o) => o.kind === kind) as Extract<Dhcp6Option, { kind: K }> | undefined;
}

/** All raw options with a code, in order. */
export function findRawOptions(opts: readonly Dhcp6Option[], code: number): Dhcp6RawOption[] {
  return opts.filter((o): o is Dhcp6RawOption => o.kind === 'raw' && o.code === code);
}

/**
 * Peel the Relay-forward chain (section 9.1): `relays[0]` is the outermost relay (the
 * one that sent the datagram to the server), `inner` the client's message.
 */
export function unwrapRelays(m: Dhcp6Message): { relays: Dhcp6RelayMessage[]; inner: Dhcp6ClientServerMessage } {
  const relays: Dhcp6RelayMessage[] = [];
  let cur: Dhcp6Message = m;
  while (cur.kind === 'relay') {
    if (relays.length >= MAX_RELAY_DEPTH) throw new RangeError(`more than ${MAX_RELAY_DEPTH} relay headers`);
    relays.push(cur);
    const rm = findOption(cur.options, 'relay-msg');
    if (rm === undefined) throw new RangeError('relay message without relay-msg option');
    cur = rm.message;
  }
  return { relays, inner: cur };
}

/**
 * Section 19.3: the reply goes back through the same relays. For each Relay-forward,
 * a Relay-reply copying hop-count, link-address and peer-address (section 9.2) and the
 * Interface-Id option ("The server MUST copy the Interface-Id option", section 21.18),
 * whose Relay Message option carries the next inner message. `relays` as returned by
 * unwrapRelays (outermost first).
 */
export function buildRelayReply(relays: readonly Dhcp6RelayMessage[], reply: Dhcp6ClientServerMessage): Dhcp6Message {
  let cur: Dhcp6Message = reply;
  for (let i = relays.length - 1; i >= 0; i--) {
    const fw = relays[i];
    const options: Dhcp6Option[] = [];
    const ifid = findOption(fw.options, 'interface-id');
    if (ifid !== undefined) options.push({ kind: 'interface-id', id: ifid.id });
    options.push({ kind: 'relay-msg', message: cur });
    cur = {
      kind: 'relay',
      msgType: Dhcp6MessageType.RELAY_REPL,
      hopCount: fw.hopCount,
      linkAddress: fw.linkAddress,
      peerAddress: fw.peerAddress,
      options,
    };
  }
  return cur;
}
