/**
 * IPv4 / IPv6 addresses as text at the codec boundary: decoders produce canonical text
 * (dotted quad; RFC 5952 for IPv6), encoders accept any valid text and throw RangeError
 * on anything else. Also the truncated-prefix wire form used by RFC 7598 (sections
 * 4.1, 4.3, 4.4: ceil(len/8) octets, right-padded with zero bits).
 */
import ipaddr from 'ipaddr.js';

/**
 * Dotted quad, exactly four decimal parts 0..255 (no octal/hex/short forms): each part
 * is "0" or 1-3 digits without a leading zero. Scanned by hand rather than split +
 * regular expression: every reply encodes four of these (codec/dhcpv4.ts), and this
 * was a visible share of the server's time under load.
 */
export function ipv4ToBytes(text: string): Uint8Array {
  const v = ipv4ToU32(text);
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** ipv4ToBytes as a 32-bit unsigned number (the DHCPv4 encoder writes it without an array). */
export function ipv4ToU32(text: string): number {
  const n = text.length;
  let i = 0;
  let out = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= n || text.charCodeAt(i) !== 0x2e /* . */) throw new RangeError(`not an IPv4 address: ${text}`);
      i++;
    }
    const start = i;
    let v = 0;
    while (i < n) {
      const c = text.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || (len > 1 && text.charCodeAt(start) === 0x30) || v > 255) throw new RangeError(`not an IPv4 address: ${text}`);
    out = out * 256 + v;
  }
  if (i !== n) throw new RangeError(`not an IPv4 address: ${text}`);
  return out;
}

export function ipv4FromBytes(b: Uint8Array, at = 0): string {
  // 0.0.0.0, most of the four addresses of every DHCPv4 header: one string, not a new one each time.
  if ((b[at] | b[at + 1] | b[at + 2] | b[at + 3]) === 0 && b.length - at >= 4) return '0.0.0.0';
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/**
 * Recently converted addresses, text -> 16 octets. A relayed query's link- and
 * peer-address are decoded to text (ipv6FromBytes) and the reply's Relay-reply
 * encodes the same text again a moment later (RFC 8415 section 9.2 copies them), and a
 * client's address recurs in each of its messages: parsing that text with ipaddr.js
 * every time was a visible share of the server's time under load. Only texts known to
 * be valid go in (ipv6FromBytes output, or text ipaddr.js accepted), and every hit
 * returns a fresh copy, so callers may keep or modify what they get as before.
 * Bounded: cleared when full (the working set under load is the clients in flight).
 */
const V6_CACHE_MAX = 16384;
const v6Cache = new Map<string, Uint8Array>();

function remember(text: string, b: Uint8Array): void {
  if (v6Cache.size >= V6_CACHE_MAX) v6Cache.clear();
  v6Cache.set(text, b);
}

/** IPv6 text (no zone id) to 16 octets. */
export function ipv6ToBytes(text: string): Uint8Array {
  const known = v6Cache.get(text);
  if (known !== undefined) return known.slice(); // a Uint8Array of ours: slice() copies
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) throw new RangeError(`not an IPv6 address: ${text}`);
  const b = Uint8Array.from(ipaddr.IPv6.parse(text).toByteArray());
  remember(text, b.slice());
  return b;
}

/**
 * 16 octets to RFC 5952 text (section 4: lower-case hex without leading zeros; the
 * longest run of two or more zero groups, the first of equal runs, becomes "::"; no
 * dotted-quad form) — the same text ipaddr.js's toRFC5952String gives, built directly
 * (the ipaddr.js object, its string of all eight groups and its regular expression
 * were a hot spot in the server's per-message work).
 */
export function ipv6FromBytes(b: Uint8Array, at = 0): string {
  if (at < 0 || b.length - at < 16) throw new Error('ipaddr: the binary input is neither an IPv6 nor IPv4 address');
  // the longest run of zero groups (>= 2), leftmost on ties
  let bestAt = -1;
  let bestLen = 1;
  let runAt = -1;
  for (let g = 0; g < 8; g++) {
    const zero = b[at + 2 * g] === 0 && b[at + 2 * g + 1] === 0;
    if (zero) {
      if (runAt < 0) runAt = g;
      if (g - runAt + 1 > bestLen) {
        bestLen = g - runAt + 1;
        bestAt = runAt;
      }
    } else {
      runAt = -1;
    }
  }
  let s = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestAt) {
      s += '::';
      g += bestLen - 1;
      continue;
    }
    if (s.length > 0 && !s.endsWith(':')) s += ':';
    s += ((b[at + 2 * g] << 8) | b[at + 2 * g + 1]).toString(16);
  }
  // A copy of its own (new + set: `b` may be a Buffer, whose slice() is a view).
  const own = new Uint8Array(16);
  own.set(b.subarray(at, at + 16));
  remember(s, own);
  return s;
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
