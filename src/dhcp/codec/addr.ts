/**
 * IPv4 / IPv6 addresses as text at the codec boundary: decoders produce canonical text
 * (dotted quad; RFC 5952 for IPv6), encoders accept any valid text and throw RangeError
 * on anything else. Also the truncated-prefix wire form used by RFC 7598 (sections
 * 4.1, 4.3, 4.4: ceil(len/8) octets, right-padded with zero bits).
 */
import ipaddr from 'ipaddr.js';

/** Dotted quad, exactly four decimal parts 0..255 (no octal/hex/short forms). */
export function ipv4ToBytes(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${text}`);
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: ${text}`);
    out[i] = Number(p);
  }
  return out;
}

export function ipv4FromBytes(b: Uint8Array, at = 0): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** IPv6 text (no zone id) to 16 octets. */
export function ipv6ToBytes(text: string): Uint8Array {
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) throw new RangeError(`not an IPv6 address: ${text}`);
  return Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray());
}

/** 16 octets to RFC 5952 text. */
export function ipv6FromBytes(b: Uint8Array, at = 0): string {
  // fromByteArray returns an IPv6 for 16 octets.
  return (ipaddr.fromByteArray(Array.from(b.subarray(at, at + 16))) as ipaddr.IPv6).toRFC5952String();
}

/** Zero every bit after the first `len` bits of `b` (in place) and return it. */
export function maskBits(b: Uint8Array, len: number): Uint8Array {
  for (let i = 0; i < b.length; i++) {
    const keep = len - i * 8;
    if (keep >= 8) continue;
    b[i] = keep <= 0 ? 0 : b[i] & (0xff << (8 - keep)) & 0xff;
  }
  return b;
}

/**
 * RFC 7598 sections 4.1, 4.3, 4.4: a prefix of `len` bits is carried in ceil(len/8)
 * octets, "padded on the right with zero bits up to the nearest octet boundary".
 */
export function ipv6PrefixToWire(prefix: string, len: number): Uint8Array {
  if (!Number.isInteger(len) || len < 0 || len > 128) throw new RangeError(`IPv6 prefix length ${len} not in 0..128`);
  return maskBits(ipv6ToBytes(prefix).slice(0, Math.ceil(len / 8)), len);
}

/** Inverse of ipv6PrefixToWire: the prefix as a full address, bits after `len` zero. */
export function ipv6PrefixFromWire(wire: Uint8Array, len: number): string {
  const full = new Uint8Array(16);
  full.set(wire.subarray(0, Math.min(16, wire.length)));
  return ipv6FromBytes(maskBits(full, len));
}
