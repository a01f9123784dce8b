// Address helpers: strings <-> bytes for IPv4, IPv6 and MAC addresses.
import ipaddr from 'ipaddr.js';

/** Parses a dotted-quad IPv4 address into 4 bytes. Throws on anything else. */
export function ipv4Bytes(address: string | Uint8Array): Uint8Array {
  if (address instanceof Uint8Array) {
    if (address.length !== 4) throw new Error(`an IPv4 address has 4 bytes, not ${address.length}`);
    return address;
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) throw new Error(`not an IPv4 address: ${JSON.stringify(address)}`);
  return Uint8Array.from(ipaddr.IPv4.parse(address).toByteArray());
}

/** Parses an IPv6 address (any RFC 4291 text form) into 16 bytes. Throws on anything else. */
export function ipv6Bytes(address: string | Uint8Array): Uint8Array {
  if (address instanceof Uint8Array) {
    if (address.length !== 16) throw new Error(`an IPv6 address has 16 bytes, not ${address.length}`);
    return address;
  }
  if (!ipaddr.IPv6.isValid(address)) throw new Error(`not an IPv6 address: ${JSON.stringify(address)}`);
  return Uint8Array.from(ipaddr.IPv6.parse(address).toByteArray());
}

/** Formats the 4 bytes at `offset` as a dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Formats the 16 bytes at `offset` in the RFC 5952 canonical form (lower case, longest zero run compressed). */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1]);
  // Longest run of at least two zero words; the first one on a tie (RFC 5952 section 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => words.slice(from, to).map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Canonical text of an IPv6 address given in any form (for comparisons in tests). */
export function canonicalIpv6(address: string): string {
  return formatIpv6(ipv6Bytes(address));
}

/** Parses a MAC address (aa:bb:cc:dd:ee:ff or with '-') into 6 bytes. */
export function macBytes(address: string | Uint8Array): Uint8Array {
  if (address instanceof Uint8Array) {
    if (address.length !== 6) throw new Error(`a MAC address has 6 bytes, not ${address.length}`);
    return address;
  }
  const parts = address.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`not a MAC address: ${JSON.stringify(address)}`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

/** Formats the 6 bytes at `offset` as aa:bb:cc:dd:ee:ff. */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(bytes[offset + i].toString(16).padStart(2, '0'));
  return out.join(':');
}
