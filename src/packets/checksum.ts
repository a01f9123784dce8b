// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
// complement sum of the data taken as big-endian 16-bit words, an odd final byte
// padded with a zero byte. UDP, TCP and ICMPv6 add a pseudo-header to the sum
// (RFC 768, RFC 793, RFC 8200 section 8.1); ICMPv4 and the IPv4 header do not
// (RFC 792, RFC 791).

/**
 * Adds bytes[start, end) to a running one's complement sum and returns the new sum,
 * not folded (an unsigned 32-bit-safe integer; fold with `foldSum`). `initial` is a
 * previous (folded or unfolded) sum. Words are taken from `start`, so a caller that
 * sums a buffer in pieces must start every piece but the last at an even distance.
 */
export function sumBytes(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  const last = end - 1;
  for (; i < last; i += 2) {
    sum += (bytes[i] << 8) | bytes[i + 1];
    // Fold from time to time so the sum stays an exact integer (well below 2^53).
    if (sum > 0x7fffffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  if (i < end) sum += bytes[i] << 8;
  return sum;
}

/** Folds a sum into 16 bits with end-around carry (RFC 1071 section 4.1). */
export function foldSum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum field value: ~fold(sum) & 0xffff. */
export function finishChecksum(sum: number): number {
  return ~foldSum(sum) & 0xffff;
}

/** The Internet checksum of bytes[start, end) (what goes into a checksum field that was zero while summing). */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return finishChecksum(sumBytes(bytes, start, end));
}

/** The pseudo-header sum of RFC 768 / RFC 793 (IPv4): source, destination, zero, protocol, length. */
export function pseudoHeaderSum4(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  let sum = sumBytes(src, 0, 4) + sumBytes(dst, 0, 4);
  sum += protocol & 0xff;
  sum += length & 0xffff;
  return sum;
}

/** The pseudo-header sum of RFC 8200 section 8.1 (IPv6): source, destination, 32-bit length, next header. */
export function pseudoHeaderSum6(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  let sum = sumBytes(src, 0, 16) + sumBytes(dst, 0, 16);
  sum += Math.floor(length / 0x10000) & 0xffff;
  sum += length & 0xffff;
  sum += nextHeader & 0xff;
  return sum;
}

/**
 * A checksum value that is certainly wrong where `value` was right: one more, except
 * that 0xffff + 1 = 0x0000 is the same number in one's complement (and would mean "no
 * checksum" in UDP), so 0xffff becomes 0x0001.
 */
export function corruptChecksumValue(value: number): number {
  return value === 0xffff ? 0x0001 : (value + 1) & 0xffff;
}
