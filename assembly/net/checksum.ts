// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Sums are kept in the "load domain": 16-bit words are added as the little-endian
// loads give them. The one's-complement sum is byte-order independent (RFC 1071
// section 2(B)), so a sum taken this way and stored back with a little-endian store
// lands on the wire in the right order, with no byte swap per word. Adding a 32-bit
// load adds its two 16-bit halves, since 2^16 = 1 (mod 0xffff).

/** Adds `len` bytes at `p` to the accumulator. */
export function sum(p: usize, len: u32, acc: u64): u64 {
  let n = len;
  while (n >= 16) {
    acc += <u64>load<u32>(p) + <u64>load<u32>(p, 4) + <u64>load<u32>(p, 8) + <u64>load<u32>(p, 12);
    p += 16;
    n -= 16;
  }
  while (n >= 4) {
    acc += <u64>load<u32>(p);
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    acc += <u64>load<u16>(p);
    p += 2;
    n -= 2;
  }
  // A trailing odd byte is the high-order byte of a word padded with zero
  // (RFC 1071): in the load domain it is the low byte.
  if (n) acc += <u64>load<u8>(p);
  return acc;
}

/** Folds a 64-bit accumulator to 16 bits (load domain). */
@inline export function fold(acc: u64): u32 {
  acc = (acc & 0xffffffff) + (acc >> 32);
  acc = (acc & 0xffffffff) + (acc >> 32);
  let s = <u32>acc;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return s;
}

/** A value given in network order (e.g. a length or protocol) moved into the load domain. */
@inline export function net16(v: u32): u64 {
  return <u64>bswap<u16>(<u16>v);
}

/** The checksum of `len` bytes at `p` plus `acc`, ready to store with store<u16>. */
@inline export function finish(acc: u64): u16 {
  return <u16>~fold(acc);
}

/** True when the bytes (checksum field included) sum to 0xffff, i.e. are valid. */
@inline export function valid(p: usize, len: u32, acc: u64): bool {
  return fold(sum(p, len, acc)) == 0xffff;
}

/** The sum of a 16-byte IPv6 address at `p` (pseudo-header). */
@inline export function sum16B(p: usize): u64 {
  return <u64>load<u32>(p) + <u64>load<u32>(p, 4) + <u64>load<u32>(p, 8) + <u64>load<u32>(p, 12);
}

/** The complement of a 32-bit word's halves, for RFC 1624's ~m term. */
@inline export function neg32(v: u32): u64 {
  return <u64>(~v);
}

/**
 * RFC 1624 equation 3: HC' = ~(~HC + ~m + m'). `delta` is the sum of the ~m and m'
 * terms, built by the caller with neg32/sum16B; the field at `p` is updated in place.
 * `udp` keeps the result out of 0x0000, which in UDP means "no checksum" (RFC 768).
 */
@inline export function adjust(p: usize, delta: u64, udp: bool): void {
  let s = finish(<u64>(~load<u16>(p) & 0xffff) + delta);
  if (udp && s == 0) s = 0xffff;
  store<u16>(p, s);
}
