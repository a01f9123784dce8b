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

  /** `n` zero octets. */
  zeros(n: number): this {
    this.grow(n);
    this.buf.fill(0, this.p, this.p + n);
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

  /** The octets written, in a Uint8Array of their own. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.p);
    out.set(this.buf.subarray(0, this.p));
    return out;
  }
}

export function checkUint(v: number, max: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${what}: ${v} is not an integer in 0..${max}`);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

/** Hex to bytes; whitespace, ':' and '-' are ignored ("00 01 02", "00:11:22"). */
export function fromHex(hex: string): Uint8Array {
  const s = hex.replace(/[\s:-]/g, '');
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) throw new RangeError(`fromHex: not hex: ${hex}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
