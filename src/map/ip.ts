// Parsing, formatting and bit arithmetic for IPv4 / IPv6 addresses and prefixes.
//
// Representation used across the control plane (and in the rule blob, src/core/abi.ts):
// an IPv4 address is its unsigned 32-bit numeric value (192.0.2.1 = 0xc0000201); an
// IPv6 address is 16 network-order bytes. BigInt is used for 128-bit arithmetic.
// Parsing goes through ipaddr.js, but strictly: only dotted-quad IPv4 (ipaddr.js also
// takes "1.2" or "0x7f.1", which no operator means in a config) and no IPv6 zone ids.
import ipaddr from 'ipaddr.js';

export interface IPv4Prefix {
  addr: number;
  len: number;
}

export interface IPv6Prefix {
  addr: Uint8Array;
  len: number;
}

const MASK128 = (1n << 128n) - 1n;

export function isIPv4(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text);
}

export function isIPv6(text: string): boolean {
  return !text.includes('%') && ipaddr.IPv6.isValid(text);
}

/** Parses a dotted-quad IPv4 address; throws on anything else. */
export function parseIPv4(text: string): number {
  if (!isIPv4(text)) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  const o = ipaddr.IPv4.parse(text).octets;
  return ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) >>> 0;
}

export function formatIPv4(addr: number): string {
  return [addr >>> 24, (addr >>> 16) & 0xff, (addr >>> 8) & 0xff, addr & 0xff].join('.');
}

/** Parses an IPv6 address (no zone id) into 16 network-order bytes. */
export function parseIPv6(text: string): Uint8Array {
  if (!isIPv6(text)) throw new Error(`not an IPv6 address: ${JSON.stringify(text)}`);
  return Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray());
}

/** RFC 5952 text form. */
export function formatIPv6(bytes: Uint8Array): string {
  const parts: number[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((bytes[i] << 8) | bytes[i + 1]);
  return new ipaddr.IPv6(parts).toRFC5952String();
}

function splitPrefix(text: string): [string, string] | null {
  const i = text.indexOf('/');
  if (i < 0) return null;
  return [text.slice(0, i), text.slice(i + 1)];
}

function prefixLength(text: string, max: number): number | null {
  if (!/^\d{1,3}$/.test(text)) return null;
  const n = Number(text);
  return n <= max ? n : null;
}

export function isIPv4Prefix(text: string): boolean {
  const parts = splitPrefix(text);
  return parts !== null && isIPv4(parts[0]) && prefixLength(parts[1], 32) !== null;
}

/**
 * True for "addr/len"; with `bareIsHost`, a bare address also counts (as /128).
 */
export function isIPv6Prefix(text: string, bareIsHost = false): boolean {
  const parts = splitPrefix(text);
  if (parts === null) return bareIsHost && isIPv6(text);
  return isIPv6(parts[0]) && prefixLength(parts[1], 128) !== null;
}

/** "a.b.c.d/len". Host bits are kept as written; see ipv4HostBitsSet. */
export function parseIPv4Prefix(text: string): IPv4Prefix {
  const parts = splitPrefix(text);
  const len = parts ? prefixLength(parts[1], 32) : null;
  if (!parts || len === null) throw new Error(`not an IPv4 prefix: ${JSON.stringify(text)}`);
  return { addr: parseIPv4(parts[0]), len };
}

/** "addr/len", or with `bareIsHost` a bare address as a /128. */
export function parseIPv6Prefix(text: string, bareIsHost = false): IPv6Prefix {
  const parts = splitPrefix(text);
  if (parts === null && bareIsHost) return { addr: parseIPv6(text), len: 128 };
  const len = parts ? prefixLength(parts[1], 128) : null;
  if (!parts || len === null) throw new Error(`not an IPv6 prefix: ${JSON.stringify(text)}`);
  return { addr: parseIPv6(parts[0]), len };
}

export function formatIPv4Prefix(p: IPv4Prefix): string {
  return `${formatIPv4(p.addr)}/${p.len}`;
}

export function formatIPv6Prefix(p: IPv6Prefix): string {
  return `${formatIPv6(p.addr)}/${p.len}`;
}

/** Network mask of an IPv4 prefix length as an unsigned number. */
export function ipv4Mask(len: number): number {
  return len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
}

export function ipv6ToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

export function bigIntToIPv6(v: bigint): Uint8Array {
  const out = new Uint8Array(16);
  let x = v & MASK128;
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** The 128-bit mask of an IPv6 prefix length. */
export function ipv6Mask(len: number): bigint {
  return len === 0 ? 0n : (MASK128 << BigInt(128 - len)) & MASK128;
}

export function ipv4HostBitsSet(p: IPv4Prefix): boolean {
  return (p.addr & ~ipv4Mask(p.len)) >>> 0 !== 0;
}

export function ipv6HostBitsSet(p: IPv6Prefix): boolean {
  return (ipv6ToBigInt(p.addr) & ~ipv6Mask(p.len) & MASK128) !== 0n;
}

export function ipv4InPrefix(addr: number, p: IPv4Prefix): boolean {
  const m = ipv4Mask(p.len);
  return ((addr & m) >>> 0) === ((p.addr & m) >>> 0);
}

export function ipv6InPrefix(addr: Uint8Array, p: IPv6Prefix): boolean {
  const m = ipv6Mask(p.len);
  return (ipv6ToBigInt(addr) & m) === (ipv6ToBigInt(p.addr) & m);
}

/** Two prefixes overlap iff one contains the other's network address. */
export function ipv4PrefixesOverlap(a: IPv4Prefix, b: IPv4Prefix): boolean {
  const len = Math.min(a.len, b.len);
  const m = ipv4Mask(len);
  return ((a.addr & m) >>> 0) === ((b.addr & m) >>> 0);
}

export function ipv6PrefixesOverlap(a: IPv6Prefix, b: IPv6Prefix): boolean {
  const m = ipv6Mask(Math.min(a.len, b.len));
  return (ipv6ToBigInt(a.addr) & m) === (ipv6ToBigInt(b.addr) & m);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
