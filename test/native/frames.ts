// Minimal Ethernet/ARP/IPv4/IPv6/UDP/ICMPv6 frame builders for the AF_XDP tests
// (raw injection and TX). Independent of the project's packet code on purpose.
import { prefix } from '../../src/dataplane/xsk.js';

export function ip4(a: string): Uint8Array {
  return prefix(`${a}/32`).addr;
}
export function ip6(a: string): Uint8Array {
  return prefix(`${a}/128`).addr;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function be16(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

function be32(v: number): Uint8Array {
  return Uint8Array.of((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** Internet checksum of the concatenation of parts. */
export function csum(...parts: Uint8Array[]): number {
  const b = cat(...parts);
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export const ETH_IP = 0x0800;
export const ETH_ARP = 0x0806;
export const ETH_IP6 = 0x86dd;

export function eth(dst: Uint8Array, src: Uint8Array, type: number, payload: Uint8Array, vlanId?: number): Uint8Array {
  if (vlanId === undefined) return cat(dst, src, be16(type), payload);
  return cat(dst, src, be16(0x8100), be16(vlanId & 0x0fff), be16(type), payload);
}

export function ipv4(src: Uint8Array, dst: Uint8Array, proto: number, payload: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x45;
  h.set(be16(20 + payload.length), 2);
  h[6] = 0x40; // DF
  h[8] = 64;
  h[9] = proto;
  h.set(src, 12);
  h.set(dst, 16);
  h.set(be16(csum(h)), 10);
  return cat(h, payload);
}

export function udp4(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = cat(be16(sport), be16(dport), be16(8 + data.length), be16(0), data);
  const pseudo = cat(src, dst, Uint8Array.of(0, 17), be16(u.length));
  const c = csum(pseudo, u);
  u.set(be16(c === 0 ? 0xffff : c), 6);
  return ipv4(src, dst, 17, u);
}

export function ipv6(src: Uint8Array, dst: Uint8Array, nh: number, payload: Uint8Array, hop = 64): Uint8Array {
  return cat(Uint8Array.of(0x60, 0, 0, 0), be16(payload.length), Uint8Array.of(nh, hop), src, dst, payload);
}

function l4csum6(src: Uint8Array, dst: Uint8Array, nh: number, l4: Uint8Array): number {
  return csum(src, dst, be32(l4.length), Uint8Array.of(0, 0, 0, nh), l4);
}

export function udp6(src: Uint8Array, dst: Uint8Array, sport: number, dport: number, data: Uint8Array): Uint8Array {
  const u = cat(be16(sport), be16(dport), be16(8 + data.length), be16(0), data);
  const c = l4csum6(src, dst, 17, u);
  u.set(be16(c === 0 ? 0xffff : c), 6);
  return ipv6(src, dst, 17, u);
}

/** ICMPv6 Neighbor Solicitation (135) for target, with a source link-layer option. */
export function ns6(src: Uint8Array, dst: Uint8Array, target: Uint8Array, srcMac: Uint8Array): Uint8Array {
  const m = cat(Uint8Array.of(135, 0, 0, 0, 0, 0, 0, 0), target, Uint8Array.of(1, 1), srcMac);
  m.set(be16(l4csum6(src, dst, 58, m)), 2);
  return ipv6(src, dst, 58, m, 255);
}

/** ICMPv6 Echo Request (128). */
export function echo6(src: Uint8Array, dst: Uint8Array, data: Uint8Array): Uint8Array {
  const m = cat(Uint8Array.of(128, 0, 0, 0, 0x12, 0x34, 0, 1), data);
  m.set(be16(l4csum6(src, dst, 58, m)), 2);
  return ipv6(src, dst, 58, m);
}

export function arpRequest(srcMac: Uint8Array, srcIp: Uint8Array, targetIp: Uint8Array): Uint8Array {
  return cat(
    be16(1),
    be16(ETH_IP),
    Uint8Array.of(6, 4),
    be16(1),
    srcMac,
    srcIp,
    new Uint8Array(6),
    targetIp,
  );
}

export const BROADCAST = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}
