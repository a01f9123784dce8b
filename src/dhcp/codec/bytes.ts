/**
 * Bounds-checked big-endian reader and a growable writer. All DHCP fields are in
 * network byte order (RFC 8415 sections 8, 9; RFC 2131 section 2; RFC 2132 section 2).
 *
 * The reader never reads outside [start, end): every read checks first and throws
 * DhcpDecodeError('truncated'). Byte arrays it returns are copies, so a decoded value
 * never aliases (and never keeps alive) the caller's receive buffer.
 */
import { Buffer } from 'node:buffer';
import { DhcpDecodeError } from './errors.js';

export class ByteReader {
  private readonly buf: Uint8Array;
  private readonly end: number;
  private p: number;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    if (start < 0 || end > buf.length || start > end) throw new RangeError('ByteReader: bad window');
    this.buf = buf;
    this.p = start;
    this.end = end;
  }

  get pos(): number {
    return this.p;
  }

  get remaining(): number {
    return this.end - this.p;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.p) throw new DhcpDecodeError('truncated', `${what}: need ${n} octets, have ${this.end - this.p}`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.p++];
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = (this.buf[this.p] << 8) | this.buf[this.p + 1];
    this.p += 2;
    return v;
  }

  u24(what = 'u24'): number {
    this.need(3, what);
    const v = (this.buf[this.p] << 16) | (this.buf[this.p + 1] << 8) | this.buf[this.p + 2];
    this.p += 3;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v =
      this.buf[this.p] * 0x1000000 + ((this.buf[this.p + 1] << 16) | (this.buf[this.p + 2] << 8) | this.buf[this.p + 3]);
    this.p += 4;
    return v;
  }

  /** A copy of the next n octets. */
  bytes(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const v = this.buf.slice(this.p, this.p + n);
    this.p += n;
    return v;
  }

  /** A reader over the next n octets (no copy); this reader skips them. */
  sub(n: number, what = 'sub'): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, this.p, this.p + n);
    this.p += n;
    return r;
  }

  /** A copy of everything left. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
}

/**
 * Writer storage comes from Node's pre-allocated Buffer pool (allocUnsafe: a view on a
 * shared slab, not zero-filled), not a fresh zeroed Uint8Array per writer: every
 * message encoded makes several writers, and their allocation (and its garbage) was a
 * visible share of the server's time under load. The uninitialised octets are never
 * read: only [0, length) is, every octet of which was written (zeros() fills
 * explicitly), and finish() copies that range into an array of its own, so no result
 * aliases the pool.
 */
function storage(n: number): Uint8Array {
  return Buffer.allocUnsafe(n);
}

export class ByteWriter {
  private buf: Uint8Array;
  private p = 0;

  /** `capacity`: the expected size (a hint: the writer grows past it as needed). */
  constructor(capacity = 256) {
    this.buf = storage(Math.max(1, capacity));
  }

  get length(): number {
    return this.p;
  }

  private grow(n: number): void {
    if (this.p + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.p + n) cap *= 2;
    const nb = storage(cap);
    nb.set(this.buf.subarray(0, this.p));
    this.buf = nb;
  }

  u8(v: number): this {
    checkUint(v, 0xff, 'u8');
    this.grow(1);
    this.buf[this.p++] = v;
    return this;
  }

  u16(v: number): this {
    checkUint(v, 0xffff, 'u16');
    this.grow(2);
    this.buf[this.p++] = v >>> 8;
    this.buf[this.p++] = v & 0xff;
    return this;
  }

  u24(v: number): this {
    checkUint(v, 0xffffff, 'u24');
    this.grow(3);
    this.buf[this.p++] = v >>> 16;
    this.buf[this.p++] = (v >>> 8) & 0xff;
    this.buf[this.p++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    checkUint(v, 0xffffffff, 'u32');
    this.grow(4);
    this.buf[this.p++] = v >>> 24;
    this.buf[this.p++] = (v >>> 16) & 0xff;
    this.buf[this.p++] = (v >>> 8) & 0xff;
    this.buf[this.p++] = v & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.grow(b.length);
    this.buf.set(b, this.p);
    this.p += b.length;
    return this;
  }

  /**
   * `n` octets of `src` from `at` (bytes(src.subarray(at, at + n)) without the view:
   * on a Buffer, subarray builds a Buffer object, a cost per call the server's reply
   * writer, codec/fast4o6.ts, would pay for every copied field).
   */
  bytesAt(src: Uint8Array, at: number, n: number): this {
    if (at < 0 || n < 0 || at + n > src.length) throw new RangeError(`bytesAt: ${at}+${n} outside ${src.length} octets`);
    this.grow(n);
    for (let i = 0; i < n; i++) this.buf[this.p + i] = src[at + i];
    this.p += n;
    return this;
  }

  /** `n` zero octets. */
  zeros(n: number): this {
    this.grow(n);
    // TypedArray fill, not Buffer's (the storage is a Buffer): Buffer#fill's argument
    // handling in JS was a visible cost for the 192 zero octets of every DHCPv4 reply.
    Uint8Array.prototype.fill.call(this.buf, 0, this.p, this.p + n);
    this.p += n;
    return this;
  }

  /** Reserve a 16-bit length, run `body`, then write the body's length into it. */
  len16(body: () => void, what = 'option'): this {
    const at = this.p;
    this.u16(0);
    body();
    const n = this.p - at - 2;
    if (n > 0xffff) throw new RangeError(`${what}: length ${n} exceeds 65535`);
    this.buf[at] = n >>> 8;
    this.buf[at + 1] = n & 0xff;
    return this;
  }

  /**
   * Reserve a 16-bit length to be filled in by patch16 (the closure-free form of len16,
   * for the server's reply writer, codec/fast4o6.ts).
   */
  reserve16(): number {
    const at = this.p;
    this.u16(0);
    return at;
  }

  /** Overwrites the octet at `at` (written before) with `v`, 0..255. */
  patch8(at: number, v: number): void {
    checkUint(v, 0xff, 'u8');
    if (at < 0 || at >= this.p) throw new RangeError(`patch8: ${at} not written`);
    this.buf[at] = v;
  }

  /** Empties the writer, keeping its storage (a scratch writer used again and again). */
  reset(): this {
    this.p = 0;
    return this;
  }

  /** Writes into the length reserved at `at` the number of octets written after it. */
  patch16(at: number, what = 'option'): void {
    const n = this.p - at - 2;
    if (n > 0xffff) throw new RangeError(`${what}: length ${n} exceeds 65535`);
    this.buf[at] = n >>> 8;
    this.buf[at + 1] = n & 0xff;
  }

  /**
   * The octets written, as a view of the writer's storage (no copy). For output that
   * is sent at once and dropped (the server's replies): a view keeps its storage, a
   * slice of Node's Buffer pool, alive while it is held, which finish() avoids.
   */
  view(): Uint8Array {
    return this.buf.subarray(0, this.p);
  }

  /** The octets written, in a Uint8Array of their own. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.p);
    out.set(this.buf.subarray(0, this.p));
    return out;
  }
}

/**
 * An array of `n` octets (zeroed unless `unset`) that costs little to make: V8 keeps a
 * typed array of up to 64 octets on its own heap, but gives a larger one a buffer of
 * its own outside it, allocated and later freed by the collector one by one, ~0.6 µs
 * each; this takes a larger one's storage from Node's Buffer pool instead, ~0.1 µs
 * (bench/octets.bench.ts). Every DHCPv4 message decoded (and every one a client
 * builds, emptyDhcp4Message) holds a 128-octet 'file' field; in the server the gain
 * is within the noise of its profiles (bench/dhcp4o6-results.md, tenth session). The
 * array is a plain Uint8Array (slice() copies) whose `buffer` is the pool's: use it
 * with its byteOffset.
 */
export function octets(n: number, unset = false): Uint8Array {
  if (n <= 64) return new Uint8Array(n);
  const b = Buffer.allocUnsafe(n);
  if (!unset) b.fill(0);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

export function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what}: ${v} is not an integer in 0..${max}`);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Lower-case hex of the octets. Through Buffer's native hex conversion (a view, no
 * copy): every DHCPv4 message's client key is built with it (v4.ts clientKey), and a
 * string concatenation per octet was a visible share of the server's time.
 */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Hex to bytes; whitespace, ':' and '-' are ignored ("00 01 02", "00:11:22"). */
export function fromHex(hex: string): Uint8Array {
  const s = hex.replace(/[\s:-]/g, '');
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new RangeError(`fromHex: not hex: ${hex}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
