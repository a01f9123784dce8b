// The DHCP server's UDP endpoints, two ways: node:dgram (one event per datagram, one
// syscall per reply), or the native batch socket (native/udp/udp.cc: recvmmsg and
// sendmmsg, 64 datagrams a call). Same contract either way: every datagram reaches
// onDatagram with its source; send() answers a source onDatagram gave.
import { batchAddon, openBatchEndpoint } from './batch.js';
import { openDgramEndpoint } from './dgram.js';

/** Where a datagram came from (and where its reply goes). */
export interface Source {
  /** IPv6 text; a link-local source carries its zone ("fe80::1%eth0" or "%2"). */
  address: string;
  port: number;
  /** The address's 16 octets, when the transport has them already (saves parsing the text). */
  readonly bytes?: Uint8Array;
}

export type OnDatagram = (msg: Uint8Array, from: Source) => void;
/**
 * Counts (Counters.inc) replies sent (tx), refused by the kernel (tx-error), and
 * queries the kernel dropped because the socket's receive buffer was full
 * (drop-socket-buffer: the native socket only, from SO_RXQ_OVFL).
 */
export type Count = (name: 'tx' | 'tx-error' | 'drop-socket-buffer', by: number) => void;

export interface UdpEndpoint {
  /** "native" (recvmmsg/sendmmsg) or "dgram". */
  readonly kind: UdpKind;
  address(): { address: string; port: number };
  /** Sends `reply` to `to` (a Source this endpoint gave); may leave at the end of this event-loop turn. */
  send(reply: Uint8Array, to: Source): void;
  close(): Promise<void>;
}

export type UdpKind = 'native' | 'dgram';

export interface EndpointOptions {
  host: string;
  port: number;
  /** Socket receive and send buffer size asked for (capped by net.core.rmem_max / wmem_max). */
  bufferBytes: number;
  /** Join ff02::1:2 on every interface with IPv6 (a wildcard listen, RFC 8415 section 7.1). */
  joinAllServers: boolean;
  onDatagram: OnDatagram;
  count: Count;
  /** Socket errors after the bind (logged; the endpoint stays open). */
  log: (line: string) => void;
}

/**
 * Which transport: `want` (or XBR_DHCP_UDP) "native" requires the addon, "dgram" never
 * uses it, "auto" (the default) uses it when it is built.
 */
export function pickUdpKind(want: UdpKind | 'auto' | undefined = envKind()): UdpKind {
  if (want === 'dgram') return 'dgram';
  if (want === 'native') {
    batchAddon(); // throws, naming the fix, if not built
    return 'native';
  }
  try {
    batchAddon();
    return 'native';
  } catch {
    return 'dgram';
  }
}

function envKind(): UdpKind | 'auto' {
  const v = process.env.XBR_DHCP_UDP;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'native' || v === 'dgram') return v;
  throw new Error(`XBR_DHCP_UDP=${v}: must be native, dgram or auto`);
}

export async function openUdpEndpoint(kind: UdpKind, o: EndpointOptions): Promise<UdpEndpoint> {
  return kind === 'native' ? openBatchEndpoint(o) : openDgramEndpoint(o);
}
