// A UDP endpoint on node:dgram: the transport when the native batch socket is not built
// (or XBR_DHCP_UDP=dgram).
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { EndpointOptions, Source, UdpEndpoint } from './endpoint.js';
import { literalLookup } from './lookup.js';

/** RFC 8415 section 7.1: All_DHCP_Relay_Agents_and_Servers. */
export const ALL_DHCP_RELAY_AGENTS_AND_SERVERS = 'ff02::1:2';

/** Interfaces that have a non-internal IPv6 address: where a wildcard listen joins ff02::1:2. */
export function ipv6Interfaces(): string[] {
  return Object.entries(networkInterfaces())
    .filter(([, addrs]) => addrs?.some((a) => a.family === 'IPv6' && !a.internal))
    .map(([name]) => name);
}

export async function openDgramEndpoint(o: EndpointOptions): Promise<UdpEndpoint> {
  const sock = dgram.createSocket({ type: 'udp6', ipv6Only: true, reuseAddr: false, lookup: literalLookup });
  // One send callback per socket, not a closure per reply.
  const sent = (err: Error | null) => o.count(err ? 'tx-error' : 'tx', 1);
  sock.on('message', (msg, rinfo) => o.onDatagram(msg, rinfo));
  sock.on('error', (err) => o.log(`socket [${o.host}]:${o.port}: ${err.message}`));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address: o.host, port: o.port, exclusive: true }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  try {
    sock.setRecvBufferSize(o.bufferBytes);
    sock.setSendBufferSize(o.bufferBytes);
  } catch {
    /* capped by net.core.rmem_max: fine */
  }
  if (o.joinAllServers) {
    for (const name of ipv6Interfaces()) {
      try {
        sock.addMembership(ALL_DHCP_RELAY_AGENTS_AND_SERVERS, `::%${name}`);
      } catch {
        /* an interface without multicast: skip */
      }
    }
  }
  // As the native endpoint: a reply after close() is dropped, a second close() does nothing.
  let closed = false;
  return {
    kind: 'dgram',
    address: () => sock.address(),
    send: (reply: Uint8Array, to: Source) => {
      if (!closed) sock.send(reply, to.port, to.address, sent);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((r) => sock.close(() => r()));
    },
  };
}
