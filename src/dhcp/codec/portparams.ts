/**
 * The 4-octet port-parameters body shared by OPTION_V4_PORTPARAMS (DHCPv4 option 159,
 * RFC 7618 section 9) and OPTION_S46_PORTPARAMS (DHCPv6 option 93, RFC 7598 section
 * 4.5). RFC 7618 section 9: "The meanings of the offset, PSID-len, and PSID fields ...
 * are identical to those of ... the S46 Port Parameters option".
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   offset      |    PSID-len   |              PSID             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *                  (RFC 7598 Figure 6, without code/length)
 *
 * The PSID travels LEFT-ALIGNED: "The first k bits on the left of this field contain
 * the PSID binary value. The remaining (16 - k) bits on the right are padding zeros"
 * (RFC 7598 section 4.5; same words in RFC 7618 section 9). The API takes and returns
 * the PSID as the plain number 0 .. 2^k - 1; this file does the shifting.
 */
import { ByteReader } from './bytes.js';
import { DhcpDecodeError } from './errors.js';

export interface PortParams {
  /** PSID offset 'a' (RFC 7597 section 5.1); RFC 7598 4.5: "Allowed values are between 0 and 15". */
  offset: number;
  /** PSID length 'k'; 0 means no PSID ("the PSID field is to be ignored"). */
  psidLen: number;
  /** The PSID as a number, 0 .. 2^psidLen - 1 (0 when psidLen is 0). */
  psid: number;
}

export const PORT_PARAMS_LENGTH = 4;

/** Range checks shared by encode (RangeError) and decode (DhcpDecodeError). Returns a problem or null. */
function problem(p: PortParams): string | null {
  if (!Number.isInteger(p.offset) || p.offset < 0 || p.offset > 15) return `offset ${p.offset} not in 0..15`;
  // k is the width of a bit field inside the 16-bit PSID field (RFC 7598 4.5).
  if (!Number.isInteger(p.psidLen) || p.psidLen < 0 || p.psidLen > 16) return `PSID-len ${p.psidLen} not in 0..16`;
  // RFC 7597 section 5.1 (Figure 7): a + k + m = 16 bits of port, so a + k <= 16.
  if (p.offset + p.psidLen > 16) return `offset ${p.offset} + PSID-len ${p.psidLen} > 16`;
  if (!Number.isInteger(p.psid) || p.psid < 0 || p.psid >= 2 ** p.psidLen) {
    return `PSID ${p.psid} does not fit in ${p.psidLen} bits`;
  }
  return null;
}

/** The 16-bit wire value of the PSID field: the PSID shifted to the left edge. */
export function psidToField(psid: number, psidLen: number): number {
  return psidLen === 0 ? 0 : (psid << (16 - psidLen)) & 0xffff;
}

/** The PSID from the 16-bit wire field. Throws if padding bits are set. */
export function psidFromField(field: number, psidLen: number): number {
  // RFC 7598 4.5: "When set to 0, the PSID field is to be ignored."
  if (psidLen === 0) return 0;
  const pad = 16 - psidLen;
  // RFC 7598 4.5: the (16 - k) right bits "are padding zeros". Non-zero padding is
  // most likely a right-aligned PSID from a broken peer; refuse rather than guess.
  if ((field & ((1 << pad) - 1)) !== 0) {
    throw new DhcpDecodeError('bad-port-params', `PSID field 0x${field.toString(16)} has non-zero padding for PSID-len ${psidLen}`);
  }
  return field >>> pad;
}

export function encodePortParamsBody(p: PortParams): Uint8Array {
  const why = problem(p);
  if (why !== null) throw new RangeError(`port params: ${why}`);
  const f = psidToField(p.psid, p.psidLen);
  return Uint8Array.of(p.offset, p.psidLen, f >>> 8, f & 0xff);
}

/** Decode exactly 4 octets (the option body). */
export function decodePortParamsBody(data: Uint8Array): PortParams {
  // RFC 7598 4.5 / RFC 7618 9: option-length 4.
  if (data.length !== PORT_PARAMS_LENGTH) {
    throw new DhcpDecodeError('bad-option-length', `port params length ${data.length}, expected 4`);
  }
  const r = new ByteReader(data);
  const offset = r.u8();
  const psidLen = r.u8();
  const field = r.u16();
  if (offset > 15 || psidLen > 16 || offset + psidLen > 16) {
    throw new DhcpDecodeError('bad-port-params', `offset ${offset}, PSID-len ${psidLen}`);
  }
  return { offset, psidLen, psid: psidFromField(field, psidLen) };
}
