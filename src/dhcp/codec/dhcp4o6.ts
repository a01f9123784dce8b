/**
 * DHCPv4 over DHCPv6, RFC 7341:
 *  - DHCPV4-QUERY (20) and DHCPV4-RESPONSE (21): msg-type + 24-bit flags + options
 *    (section 6.2, Figure 2). The header has the layout of a DHCPv6 client/server
 *    header (RFC 8415 section 8), with flags where the transaction-id would be, so
 *    the DHCPv6 codec frames these messages (also when nested in relay messages) and
 *    this file reinterprets them.
 *  - OPTION_DHCPV4_MSG (87): the DHCPv4 message, verbatim (section 7.1, Figure 4).
 *  - OPTION_DHCP4_O_DHCP6_SERVER (88): zero or more IPv6 addresses (section 7.2, Figure 5).
 */
import { ByteReader, ByteWriter, checkUint } from './bytes.js';
import { ipv6FromBytes, ipv6ToBytes } from './addr.js';
import {
  type Dhcp6ClientServerMessage,
  type Dhcp6Message,
  type Dhcp6Option,
  type Dhcp6RawOption,
  decodeDhcp6Message,
  encodeDhcp6Message,
  rawOption,
} from './dhcpv6.js';
import { DhcpDecodeError } from './errors.js';

/** RFC 7341 section 6.1. */
export const Dhcp4o6MessageType = {
  DHCPV4_QUERY: 20,
  DHCPV4_RESPONSE: 21,
} as const;

/** RFC 7341 sections 7.1, 7.2 (IANA section 13). */
export const Dhcp4o6OptionCode = {
  DHCPV4_MSG: 87,
  DHCP4_O_DHCP6_SERVER: 88,
} as const;

/**
 * RFC 7341 section 6.3, Figure 3: the Unicast flag U is bit 0 of the 24-bit flags
 * field, i.e. its most significant bit (the first octet after msg-type is 0x80 when
 * set). The other 23 bits are MBZ: "set to zero when sending and MUST be ignored when
 * receiving". DHCPv4-response defines no flags (section 6.4): all zero.
 */
export const DHCP4O6_FLAG_UNICAST = 0x800000;

export interface Dhcp4o6Message {
  msgType: typeof Dhcp4o6MessageType.DHCPV4_QUERY | typeof Dhcp4o6MessageType.DHCPV4_RESPONSE;
  /** The 24-bit flags field, as on the wire (see DHCP4O6_FLAG_UNICAST). */
  flags: number;
  /** The payload of OPTION_DHCPV4_MSG: a DHCPv4 message without IP/UDP headers (section 7.1). */
  dhcpv4Message: Uint8Array;
  /** The message's other DHCPv6 options, in order (section 6.2: IPv4-configuration options only). */
  options: Dhcp6Option[];
}

export function isDhcp4o6Type(t: number): t is Dhcp4o6Message['msgType'] {
  return t === Dhcp4o6MessageType.DHCPV4_QUERY || t === Dhcp4o6MessageType.DHCPV4_RESPONSE;
}

/** Section 8: the Unicast flag of a DHCPv4-query (always false for a response, section 6.4). */
export function isUnicast(m: Dhcp4o6Message): boolean {
  return m.msgType === Dhcp4o6MessageType.DHCPV4_QUERY && (m.flags & DHCP4O6_FLAG_UNICAST) !== 0;
}

/**
 * Reinterpret a framed DHCPv6 message (e.g. the inner message after unwrapRelays) as
 * DHCPv4-query/-response. Section 6.2: "The DHCPv4 Message Option ... MUST be carried
 * by the message"; more than one would be ambiguous and is refused.
 */
export function dhcp4o6FromDhcp6(m: Dhcp6Message): Dhcp4o6Message {
  if (m.kind !== 'client-server' || !isDhcp4o6Type(m.msgType)) {
    throw new DhcpDecodeError('bad-message-type', `msg-type ${m.msgType} is not DHCPV4-QUERY/RESPONSE`);
  }
  let dhcpv4Message: Uint8Array | undefined;
  const options: Dhcp6Option[] = [];
  for (const o of m.options) {
    if (o.kind === 'raw' && o.code === Dhcp4o6OptionCode.DHCPV4_MSG) {
      if (dhcpv4Message !== undefined) throw new DhcpDecodeError('duplicate-option', 'several OPTION_DHCPV4_MSG');
      dhcpv4Message = o.data;
    } else {
      options.push(o);
    }
  }
  if (dhcpv4Message === undefined) throw new DhcpDecodeError('missing-option', 'no OPTION_DHCPV4_MSG');
  return { msgType: m.msgType, flags: m.transactionId, dhcpv4Message, options };
}

/** The DHCPv6 framing of a 4o6 message; OPTION_DHCPV4_MSG goes first, then `options`. */
export function dhcp4o6ToDhcp6(m: Dhcp4o6Message): Dhcp6ClientServerMessage {
  if (!isDhcp4o6Type(m.msgType)) throw new RangeError(`msg-type ${m.msgType} is not DHCPV4-QUERY/RESPONSE`);
  checkUint(m.flags, 0xffffff, 'flags');
  for (const o of m.options) {
    if (o.kind === 'raw' && o.code === Dhcp4o6OptionCode.DHCPV4_MSG) {
      throw new RangeError('put the DHCPv4 message in dhcpv4Message, not in options');
    }
  }
  return {
    kind: 'client-server',
    msgType: m.msgType,
    transactionId: m.flags,
    options: [rawOption(Dhcp4o6OptionCode.DHCPV4_MSG, m.dhcpv4Message), ...m.options],
  };
}

/** Decode a bare (not relayed) DHCPv4-query/-response. */
export function decodeDhcp4o6Message(buf: Uint8Array): Dhcp4o6Message {
  return dhcp4o6FromDhcp6(decodeDhcp6Message(buf));
}

export function encodeDhcp4o6Message(m: Dhcp4o6Message): Uint8Array {
  return encodeDhcp6Message(dhcp4o6ToDhcp6(m));
}

/** Section 7.2: OPTION_DHCP4_O_DHCP6_SERVER with zero or more server addresses. */
export function dhcp4oDhcp6ServerOption(addresses: readonly string[]): Dhcp6RawOption {
  const w = new ByteWriter();
  for (const a of addresses) w.bytes(ipv6ToBytes(a));
  return rawOption(Dhcp4o6OptionCode.DHCP4_O_DHCP6_SERVER, w.finish());
}

/** Section 7.2: "option-len: ... multiple of 16 octets. Minimal length of this option is 0." */
export function decodeDhcp4oDhcp6ServerData(data: Uint8Array): string[] {
  if (data.length % 16 !== 0) {
    throw new DhcpDecodeError('bad-option-length', `OPTION_DHCP4_O_DHCP6_SERVER length ${data.length} not a multiple of 16`);
  }
  const r = new ByteReader(data);
  const out: string[] = [];
  while (r.remaining > 0) out.push(ipv6FromBytes(r.bytes(16)));
  return out;
}
