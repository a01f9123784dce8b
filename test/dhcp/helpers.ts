import { expect } from 'vitest';
import { fromHex } from '../../src/dhcp/codec/bytes.js';
import { DhcpDecodeError, type DhcpDecodeReason } from '../../src/dhcp/codec/errors.js';

/** Hex written out by hand, in pieces (one piece per field, so each can carry a comment). */
export function hex(...parts: string[]): Uint8Array {
  return fromHex(parts.join(' '));
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `n` zero octets as hex, for the long all-zero fields of the DHCPv4 header. */
export function zeros(n: number): string {
  return '00'.repeat(n);
}

export function expectDecodeError(fn: () => unknown, reason: DhcpDecodeReason): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected DhcpDecodeError(${reason})`).toBeInstanceOf(DhcpDecodeError);
  expect((caught as DhcpDecodeError).reason).toBe(reason);
}
