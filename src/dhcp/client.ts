// A minimal DHCP 4o6 client-side message kit: builds the DHCPv4 messages a 4o6
// client sends (RFC 2131, RFC 4361 client identifier, RFC 7618 option 159), wraps
// them in DHCPv4-query (RFC 7341) and optionally Relay-forward, and reads the
// server's answers. Used by the tests and the load generator (bench/dhcp4o6.bench.ts).
import {
  BOOTREQUEST,
  Dhcp4MessageType,
  Dhcp4OptionCode,
  Dhcp4o6MessageType,
  Dhcp6MessageType,
  DHCP4O6_FLAG_UNICAST,
  decodeDhcp4Message,
  decodeDhcp6Message,
  dhcp4o6FromDhcp6,
  dhcp4o6ToDhcp6,
  emptyDhcp4Message,
  encodeDhcp4Message,
  encodeDhcp6Message,
  unwrapRelays,
  type Dhcp4Message,
  type Dhcp6ClientServerMessage,
  type Dhcp6Message,
  type Dhcp6RelayMessage,
  type PortParams,
} from './codec/index.js';

export interface SimClient {
  /** RFC 4361 client identifier: IAID + DUID-LL (type 3, Ethernet) from the MAC. */
  iaid: number;
  mac: Uint8Array;
  /** Lists OPTION_V4_PORTPARAMS in its Parameter Request List (RFC 7618 section 7). */
  portAware: boolean;
}

/** Client number n: MAC 02:00:nn:nn:nn:nn, IAID n. */
export function simClient(n: number, portAware = true): SimClient {
  const mac = Uint8Array.of(2, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  return { iaid: n >>> 0, mac, portAware };
}

export interface V4Fields {
  xid: number;
  ciaddr?: string;
  requestedAddress?: string;
  serverId?: string;
  portParams?: PortParams;
  /** Extra codes in the Parameter Request List. */
  prl?: number[];
}

export function clientMessage(type: number, c: SimClient, f: V4Fields): Dhcp4Message {
  const m = emptyDhcp4Message(BOOTREQUEST);
  m.xid = f.xid >>> 0;
  m.chaddr = new Uint8Array(16);
  m.chaddr.set(c.mac);
  if (f.ciaddr !== undefined) m.ciaddr = f.ciaddr;
  m.options.messageType = type;
  m.options.clientId = { kind: 'rfc4361', iaid: c.iaid, duid: { type: 3, data: Uint8Array.of(0, 1, ...c.mac) } };
  const prl = [Dhcp4OptionCode.SUBNET_MASK, ...(f.prl ?? [])];
  if (c.portAware) prl.push(Dhcp4OptionCode.V4_PORTPARAMS);
  if (type !== Dhcp4MessageType.RELEASE && type !== Dhcp4MessageType.DECLINE) m.options.parameterRequestList = prl;
  if (f.requestedAddress !== undefined) m.options.requestedAddress = f.requestedAddress;
  if (f.serverId !== undefined) m.options.serverId = f.serverId;
  if (f.portParams !== undefined) m.options.portParams = f.portParams;
  return m;
}

/** A DHCPv4-query carrying `m` (RFC 7341 section 6.2); `unicast` sets the U flag (section 6.3). */
export function queryMessage(m: Dhcp4Message, unicast = false): Dhcp6ClientServerMessage {
  return dhcp4o6ToDhcp6({
    msgType: Dhcp4o6MessageType.DHCPV4_QUERY,
    flags: unicast ? DHCP4O6_FLAG_UNICAST : 0,
    dhcpv4Message: encodeDhcp4Message(m),
    options: [],
  });
}

/** Wraps a message in a Relay-forward (RFC 8415 section 9). */
export function relayForward(inner: Dhcp6Message, linkAddress: string, peerAddress: string, hopCount = 0, interfaceId?: Uint8Array): Dhcp6RelayMessage {
  return {
    kind: 'relay',
    msgType: Dhcp6MessageType.RELAY_FORW,
    hopCount,
    linkAddress,
    peerAddress,
    options: [...(interfaceId ? [{ kind: 'interface-id' as const, id: interfaceId }] : []), { kind: 'relay-msg', message: inner }],
  };
}

export function encodeQuery(m: Dhcp4Message, unicast = false, relay?: { link: string; peer: string }): Uint8Array {
  const q = queryMessage(m, unicast);
  return encodeDhcp6Message(relay ? relayForward(q, relay.link, relay.peer) : q);
}

export interface Response {
  relays: Dhcp6RelayMessage[];
  msgType: number;
  flags: number;
  v4: Dhcp4Message;
}

/** Reads a DHCPv4-response (possibly inside Relay-reply); throws on anything else. */
export function decodeResponse(buf: Uint8Array): Response {
  const { relays, inner } = unwrapRelays(decodeDhcp6Message(buf));
  const r = dhcp4o6FromDhcp6(inner);
  return { relays, msgType: r.msgType, flags: r.flags, v4: decodeDhcp4Message(r.dhcpv4Message) };
}
