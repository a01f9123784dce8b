// The example capture examples/map-t.pcap: traffic for the MAP-T domain of RFC 7599
// Appendix A as configured in examples/xbr.yaml:
//   rule 2001:db8::/40 <-> 192.0.2.0/24, ea-len 16 (PSID length 8), psid-offset 6,
//   DMR 2001:db8:ffff::/64;
//   the CE with end-user prefix 2001:db8:12:3400::/56 is 192.0.2.18 PSID 0x34, ports
//   1232-1235, 2256-2259, …; its MAP address is 2001:db8:12:3400:0:c000:212:34;
//   the IPv4 host 10.2.3.4 is 2001:db8:ffff:0:a:203:400:0 on the IPv6 side;
//   a binding 198.51.100.7 PSID 12 (psid-len 6, offset 6: ports 1216-1231, …) for
//   the end-user prefix 2001:db8:100:77::/64.
//
// Regenerate with `node dist/src/packets/examples.js [out.pcap] [linktype]` after
// `npm run build:ts`.
import { pathToFileURL } from 'node:url';
import { writeFileSync } from 'node:fs';
import { encodePcap } from '../pcap/writer.js';
import { fragment4, frame, icmp4Echo, icmp4Error, icmp6Echo, ipv4, ipv6, tcp, udp } from './build.js';

export const EXAMPLE = {
  ceIpv4: '192.0.2.18',
  ceIpv6: '2001:db8:12:3400:0:c000:212:34',
  /** 10.2.3.4 through the DMR 2001:db8:ffff::/64 (RFC 6052, RFC 7599 Appendix A example 2). */
  hostIpv4: '10.2.3.4',
  hostIpv6: '2001:db8:ffff:0:a:203:400:0',
  bindingIpv4: '198.51.100.7',
  /** First ports of PSID 0x34 (a = 6, k = 8): A·1024 + 0x34·4 + j. */
  cePorts: [1232, 1233, 1234, 1235, 2256, 2257, 2258, 2259],
  /** First port of the binding's PSID 12 (a = 6, k = 6): 1024 + 12·16. */
  bindingPort: 1216,
  /** 2024-01-01T00:00:00Z */
  epoch: 1704067200,
} as const;

export interface ExamplePacket {
  /** What the packet is and what the BR should do with it. */
  note: string;
  /** A raw IP packet. */
  ip: Uint8Array;
}

/** The example traffic, in capture order. */
export function examplePackets(): ExamplePacket[] {
  const E = EXAMPLE;
  const out: ExamplePacket[] = [];
  const add = (note: string, ip: Uint8Array) => out.push({ note, ip });

  // IPv4 -> IPv6: the Internet side toward the CE's shared address.
  add('IPv4->IPv6 UDP 10.2.3.4:53 -> 192.0.2.18:1232 (PSID 0x34): translated to the CE', ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0101, ttl: 60, payload: udp({ sport: 53, dport: 1232, payload: 'example dns answer' }) }));
  add(
    'IPv4->IPv6 TCP SYN-ACK 10.2.3.4:80 -> 192.0.2.18:1233 (RFC 7599 Appendix A example 2 flow): translated',
    ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0102, df: true, ttl: 60, payload: tcp({ sport: 80, dport: 1233, seq: 1000, ack: 2001, flags: 'SA', window: 64240, options: [{ kind: 'mss', value: 1460 }] }) }),
  );
  add('IPv4->IPv6 ICMP echo request to 192.0.2.18, identifier 1234 (in the port set): translated to ICMPv6 128', ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0103, payload: icmp4Echo({ id: 1234, seq: 1, data: 'ping from 10.2.3.4' }) }));
  add('IPv4->IPv6 ICMP echo reply to 192.0.2.18, identifier 2257: translated to ICMPv6 129', ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0104, payload: icmp4Echo({ id: 2257, seq: 7, reply: true, data: 'pong' }) }));
  const big = ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x1111, ttl: 60, payload: udp({ sport: 53, dport: 2258, payload: new Uint8Array(2400).map((_, i) => i & 0xff) }) });
  fragment4(big, 1280).forEach((f, i, all) =>
    add(`IPv4->IPv6 fragment ${i + 1}/${all.length} of a UDP datagram to 192.0.2.18:2258: translated with an IPv6 Fragment header`, f),
  );
  add('IPv4->IPv6 UDP to the binding 198.51.100.7:1216 (PSID 12): translated to 2001:db8:100:77::/64', ipv4({ src: E.hostIpv4, dst: E.bindingIpv4, id: 0x0105, payload: udp({ sport: 123, dport: E.bindingPort, payload: 'ntp' }) }));
  add('IPv4 UDP to 203.0.113.9, an address no rule covers: dropped silently', ipv4({ src: E.hostIpv4, dst: '203.0.113.9', id: 0x0106, payload: udp({ sport: 53, dport: 1232, payload: 'not ours' }) }));
  add('IPv4->IPv6 UDP to 192.0.2.18:1232 with TTL 1: ICMPv4 time exceeded back to 10.2.3.4', ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0107, ttl: 1, payload: udp({ sport: 53, dport: 1232, payload: 'ttl 1' }) }));
  const quoted = ipv4({ src: E.ceIpv4, dst: E.hostIpv4, id: 0x0201, df: true, ttl: 63, payload: udp({ sport: 1232, dport: 53, payload: 'x'.repeat(1400) }) });
  add(
    'IPv4->IPv6 ICMP 3/4 (MTU 1400) from 10.2.3.4 quoting a packet sent from 192.0.2.18:1232: translated to ICMPv6 Packet Too Big for the CE',
    ipv4({ src: E.hostIpv4, dst: E.ceIpv4, id: 0x0108, payload: icmp4Error({ type: 3, code: 4, mtu: 1400, quote: quoted, maxQuote: 28 }) }),
  );

  // IPv6 -> IPv4: the CE toward the Internet, through the DMR.
  add('IPv6->IPv4 UDP 2001:db8:12:3400:0:c000:212:34 port 1232 -> 10.2.3.4:53: translated', ipv6({ src: E.ceIpv6, dst: E.hostIpv6, hopLimit: 64, payload: udp({ sport: 1232, dport: 53, payload: 'example dns query' }) }));
  add('IPv6->IPv4 TCP SYN from the CE port 1233 -> 10.2.3.4:80: translated', ipv6({ src: E.ceIpv6, dst: E.hostIpv6, flowLabel: 0x12345, payload: tcp({ sport: 1233, dport: 80, seq: 2000, flags: 'S', window: 64800, options: [{ kind: 'mss', value: 1440 }, { kind: 'sackPermitted' }, { kind: 'timestamp', value: 1, echo: 0 }, { kind: 'nop' }, { kind: 'wscale', shift: 7 }] }) }));
  add('IPv6->IPv4 ICMPv6 echo request from the CE, identifier 1234 -> 10.2.3.4: translated to ICMP 8', ipv6({ src: E.ceIpv6, dst: E.hostIpv6, payload: icmp6Echo({ id: 1234, seq: 1, data: 'ping from the CE' }) }));
  add(
    'IPv6 UDP from 2001:db8:12:3400:0:c000:212:35 (interface id says PSID 0x35, the prefix 0x34): spoofed, not translated (counted; ICMPv6 1/5 back when errors are on)',
    ipv6({ src: '2001:db8:12:3400:0:c000:212:35', dst: E.hostIpv6, payload: udp({ sport: 1232, dport: 53, payload: 'spoofed' }) }),
  );
  add('IPv6 UDP from the CE with source port 5000 (PSID 0xe2, not 0x34): spoofed, not translated (counted; ICMPv6 1/5 back when errors are on)', ipv6({ src: E.ceIpv6, dst: E.hostIpv6, payload: udp({ sport: 5000, dport: 53, payload: 'wrong port' }) }));
  return out;
}

/** The example packets as pcap records: link type 101 (raw IP) or 1 (Ethernet), 1 ms apart from 2024-01-01. */
export function examplePcap(linktype: 1 | 101 = 101): Uint8Array {
  const recs = examplePackets().map((p, i) => ({ data: frame(linktype, p.ip), tsSec: EXAMPLE.epoch, tsFrac: i * 1000 }));
  return encodePcap({ linktype, snaplen: 65535 }, recs);
}

/** Writes examples/map-t.pcap (or `path`). */
export function writeExamplePcap(path: string, linktype: 1 | 101 = 101): void {
  writeFileSync(path, examplePcap(linktype));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2] ?? 'examples/map-t.pcap';
  const linktype = process.argv[3] === '1' ? 1 : 101;
  writeExamplePcap(path, linktype);
  process.stdout.write(`${path}: ${examplePackets().length} packets, link type ${linktype}\n`);
}
