/**
 * DHCP Unique Identifiers, RFC 8415 section 11.
 *
 * "Clients and servers MUST treat DUIDs as opaque values and MUST only compare DUIDs
 * for equality" (section 11): a Duid is its 2-octet type plus the opaque octets after
 * it. The builders below make the four defined types; parseDuid reads their fields
 * for display only.
 */
import { ByteReader, ByteWriter, bytesEqual, checkUint, toHex } from './bytes.js';
import { DhcpDecodeError } from './errors.js';

export interface Duid {
  /** DUID-Type, 2 octets (section 11.1, Table 2). Any value: types are not restricted. */
  type: number;
  /** Everything after the type: "at least 1 octet and at most 128 octets" (section 11.1). */
  data: Uint8Array;
}

/** RFC 8415 section 11.1, Table 2. */
export const DuidType = {
  LLT: 1,
  EN: 2,
  LL: 3,
  UUID: 4,
} as const;

/** Section 11.1: the identifier after the type code is 1..128 octets. */
export const DUID_MIN_DATA = 1;
export const DUID_MAX_DATA = 128;

function checkData(n: number): void {
  if (n < DUID_MIN_DATA || n > DUID_MAX_DATA) throw new RangeError(`DUID: ${n} octets after the type, must be 1..128`);
}

/** The checks duidToBytes makes, in its order (for writers that copy a DUID without it). */
export function checkDuid(d: Duid): void {
  checkUint(d.type, 0xffff, 'DUID type');
  checkData(d.data.length);
}

export function duidToBytes(d: Duid): Uint8Array {
  checkDuid(d);
  // Built directly (no writer): every client key and every reply encodes one.
  const out = new Uint8Array(2 + d.data.length);
  out[0] = d.type >>> 8;
  out[1] = d.type & 0xff;
  out.set(d.data, 2);
  return out;
}

/** Decode a whole buffer as a DUID (as carried in Client/Server Identifier options). */
export function duidFromBytes(b: Uint8Array): Duid {
  return duidFromBytesAt(b, 0, b.length);
}

/**
 * duidFromBytes of the `n` octets of `b` from `at` (in bounds), read in place: the
 * DHCPv4 decoder reads every client identifier's DUID this way. `data` is a copy.
 */
export function duidFromBytesAt(b: Uint8Array, at: number, n: number): Duid {
  if (n < 2 + DUID_MIN_DATA || n > 2 + DUID_MAX_DATA) {
    throw new DhcpDecodeError('bad-option-length', `DUID of ${n} octets, must be 3..130`);
  }
  const data = new Uint8Array(n - 2);
  for (let i = 0; i < data.length; i++) data[i] = b[at + 2 + i];
  return { type: (b[at] << 8) | b[at + 1], data };
}

/** Section 11: DUIDs are compared for equality only. */
export function duidEquals(a: Duid, b: Duid): boolean {
  return a.type === b.type && bytesEqual(a.data, b.data);
}

/** A stable text key (hex of the wire form), e.g. for lease tables. */
export function duidKey(d: Duid): string {
  return d.type.toString(16).padStart(4, '0') + toHex(d.data);
}

/** Section 11.2, Figure 4: DUID-LLT = type 1, hardware type (16), time (32), link-layer address. */
export function duidLlt(hardwareType: number, time: number, linkLayer: Uint8Array): Duid {
  checkUint(hardwareType, 0xffff, 'hardware type');
  checkUint(time, 0xffffffff, 'DUID-LLT time');
  const data = new ByteWriter().u16(hardwareType).u32(time).bytes(linkLayer).finish();
  checkData(data.length);
  return { type: DuidType.LLT, data };
}

/** Section 11.3, Figure 5: DUID-EN = type 2, enterprise number (32), identifier. */
export function duidEn(enterpriseNumber: number, identifier: Uint8Array): Duid {
  checkUint(enterpriseNumber, 0xffffffff, 'enterprise number');
  const data = new ByteWriter().u32(enterpriseNumber).bytes(identifier).finish();
  checkData(data.length);
  return { type: DuidType.EN, data };
}

/** Section 11.4, Figure 7: DUID-LL = type 3, hardware type (16), link-layer address. */
export function duidLl(hardwareType: number, linkLayer: Uint8Array): Duid {
  checkUint(hardwareType, 0xffff, 'hardware type');
  const data = new ByteWriter().u16(hardwareType).bytes(linkLayer).finish();
  checkData(data.length);
  return { type: DuidType.LL, data };
}

/** Section 11.5, Figure 8: DUID-UUID = type 4, 128-bit UUID (RFC 6355). */
export function duidUuid(uuid: Uint8Array): Duid {
  if (uuid.length !== 16) throw new RangeError(`DUID-UUID: UUID must be 16 octets, got ${uuid.length}`);
  return { type: DuidType.UUID, data: uuid.slice() };
}

export type DuidFields =
  | { type: 'llt'; hardwareType: number; time: number; linkLayer: Uint8Array }
  | { type: 'en'; enterpriseNumber: number; identifier: Uint8Array }
  | { type: 'll'; hardwareType: number; linkLayer: Uint8Array }
  | { type: 'uuid'; uuid: Uint8Array }
  | { type: 'other' };

/**
 * The fields of a DUID of a known type, for logs and the API. A DUID whose length does
 * not fit its type's layout is reported as 'other' (it stays a valid opaque DUID).
 */
export function parseDuid(d: Duid): DuidFields {
  const n = d.data.length;
  const r = new ByteReader(d.data);
  switch (d.type) {
    case DuidType.LLT:
      if (n >= 7) return { type: 'llt', hardwareType: r.u16(), time: r.u32(), linkLayer: r.rest() };
      break;
    case DuidType.EN:
      if (n >= 5) return { type: 'en', enterpriseNumber: r.u32(), identifier: r.rest() };
      break;
    case DuidType.LL:
      if (n >= 3) return { type: 'll', hardwareType: r.u16(), linkLayer: r.rest() };
      break;
    case DuidType.UUID:
      if (n === 16) return { type: 'uuid', uuid: r.rest() };
      break;
  }
  return { type: 'other' };
}
