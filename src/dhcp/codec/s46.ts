/**
 * Softwire46 DHCPv6 options, RFC 7598:
 *   S46_RULE (89, section 4.1), S46_BR (90, 4.2), S46_DMR (91, 4.3),
 *   S46_V4V6BIND (92, 4.4), S46_PORTPARAMS (93, 4.5), and the containers
 *   S46_CONT_MAPE (94, 5.1), S46_CONT_MAPT (95, 5.2), S46_CONT_LW (96, 5.3).
 * All follow the DHCPv6 option TLV (RFC 8415 section 21.1: 2-octet code, 2-octet length).
 *
 * Nesting is fixed by the RFC: container -> rule/BR/DMR/bind/port-params, rule or bind
 * -> port-params. The decoder follows exactly that (no open recursion): inside a
 * container, another container is kept raw; inside a rule or bind, anything but
 * S46_PORTPARAMS is kept raw.
 */
import { ByteReader, ByteWriter, checkUint } from './bytes.js';
import { ipv4FromBytes, ipv4ToBytes, ipv6FromBytes, ipv6PrefixFromWire, ipv6PrefixToWire, ipv6ToBytes, maskBits } from './addr.js';
import { type Dhcp6RawOption, rawOption } from './dhcpv6.js';
import { DhcpDecodeError } from './errors.js';
import { MAX_MESSAGE_SIZE, MAX_OPTIONS } from './limits.js';
import { type PortParams, decodePortParamsBody, encodePortParamsBody } from './portparams.js';

/** RFC 7598 section 10 (IANA). */
export const S46OptionCode = {
  RULE: 89,
  BR: 90,
  DMR: 91,
  V4V6BIND: 92,
  PORTPARAMS: 93,
  CONT_MAPE: 94,
  CONT_MAPT: 95,
  CONT_LW: 96,
} as const;

/**
 * RFC 7598 section 4.1, Figure 2: flags = |Reserved (7 bits)|F|; F is bit 7 counting
 * from the left, i.e. the least significant bit (0x01).
 */
export const S46_RULE_FLAG_F = 0x01;

/** Section 4.5, Figure 6. */
export interface S46PortParams extends PortParams {
  kind: 'portparams';
}

/** Section 4.1, Figure 1. */
export interface S46Rule {
  kind: 'rule';
  /** F-flag: the rule is also a Forwarding Mapping Rule. Reserved flag bits are sent as 0 and ignored. */
  fmr: boolean;
  /** EA-bit length, 0..48. */
  eaLen: number;
  /** 0..32. */
  prefix4Len: number;
  /** Rule IPv4 prefix; bits after prefix4Len are zeroed on encode and ignored on decode. */
  ipv4Prefix: string;
  /** 0..128. */
  prefix6Len: number;
  /** Rule IPv6 prefix, as a full address with the bits after prefix6Len zero. */
  ipv6Prefix: string;
  /** S46_RULE-options: S46_PORTPARAMS, or raw. */
  options: S46Option[];
}

/** Section 4.2, Figure 3. */
export interface S46Br {
  kind: 'br';
  address: string;
}

/** Section 4.3, Figure 4. */
export interface S46Dmr {
  kind: 'dmr';
  /** 0..128. */
  prefix6Len: number;
  /** DMR prefix (full address, bits after prefix6Len zero). */
  prefix: string;
}

/** Section 4.4, Figure 5. */
export interface S46V4V6Bind {
  kind: 'v4v6bind';
  ipv4Address: string;
  /** bindprefix6-len, 0..128. */
  prefix6Len: number;
  /** bind-ipv6-prefix (full address, bits after prefix6Len zero). */
  ipv6Prefix: string;
  /** S46_V4V6BIND-options: S46_PORTPARAMS, or raw. */
  options: S46Option[];
}

/** Sections 5.1-5.3: MAP-E (94), MAP-T (95), Lightweight 4over6 (96) containers. */
export interface S46Container {
  kind: 'cont-mape' | 'cont-mapt' | 'cont-lw';
  options: S46Option[];
}

export interface S46RawOption {
  kind: 'raw';
  code: number;
  data: Uint8Array;
}

export type S46Option = S46Rule | S46Br | S46Dmr | S46V4V6Bind | S46PortParams | S46Container | S46RawOption;

const CONTAINER_CODE = { 'cont-mape': 94, 'cont-mapt': 95, 'cont-lw': 96 } as const;

/** Where an option list sits: decides which codes are interpreted. */
type Level = 'top' | 'container' | 'rule';

// ---------------------------------------------------------------------------------
// Decoding

function prefixLen(v: number, max: number, what: string): number {
  if (v > max) throw new DhcpDecodeError('bad-prefix-length', `${what} ${v} > ${max}`);
  return v;
}

function badLen(code: number, len: number, rule: string): DhcpDecodeError {
  return new DhcpDecodeError('bad-option-length', `option ${code} length ${len}, ${rule}`);
}

function decodeList(r: ByteReader, level: Level): S46Option[] {
  const out: S46Option[] = [];
  while (r.remaining > 0) {
    if (out.length >= MAX_OPTIONS) throw new DhcpDecodeError('too-many-options', `more than ${MAX_OPTIONS} options`);
    const code = r.u16('option-code');
    const len = r.u16('option-len');
    out.push(decodeBody(code, r.sub(len, `option ${code} data`), level));
  }
  return out;
}

function decodeBody(code: number, r: ByteReader, level: Level): S46Option {
  const len = r.remaining;
  const typed =
    code === S46OptionCode.PORTPARAMS ||
    (level !== 'rule' && code >= S46OptionCode.RULE && code <= S46OptionCode.V4V6BIND) ||
    (level === 'top' && code >= S46OptionCode.CONT_MAPE && code <= S46OptionCode.CONT_LW);
  if (!typed) return { kind: 'raw', code, data: r.rest() };

  switch (code) {
    case S46OptionCode.RULE: {
      // 4.1: flags(1) ea-len(1) prefix4-len(1) ipv4-prefix(4) prefix6-len(1) ipv6-prefix(var) options.
      if (len < 8) throw badLen(code, len, 'S46_RULE needs at least 8 octets');
      const flags = r.u8();
      const eaLen = r.u8();
      // 4.1: ea-len "Allowed values range from 0 to 48".
      if (eaLen > 48) throw new DhcpDecodeError('bad-value', `ea-len ${eaLen} > 48`);
      const prefix4Len = prefixLen(r.u8(), 32, 'prefix4-len');
      // 4.1: bits after prefix4-len "MUST be initialized to zero by the sender and ignored by the receiver".
      const ipv4Prefix = ipv4FromBytes(maskBits(r.bytes(4), prefix4Len));
      const prefix6Len = prefixLen(r.u8(), 128, 'prefix6-len');
      const n = Math.ceil(prefix6Len / 8); // 4.1: padded to the nearest octet boundary
      if (r.remaining < n) throw badLen(code, len, `prefix6-len ${prefix6Len} needs ${n} prefix octets`);
      const ipv6Prefix = ipv6PrefixFromWire(r.bytes(n), prefix6Len);
      return {
        kind: 'rule',
        fmr: (flags & S46_RULE_FLAG_F) !== 0,
        eaLen,
        prefix4Len,
        ipv4Prefix,
        prefix6Len,
        ipv6Prefix,
        options: decodeList(r, 'rule'),
      };
    }
    case S46OptionCode.BR:
      // 4.2: option-length 16.
      if (len !== 16) throw badLen(code, len, 'must be 16');
      return { kind: 'br', address: ipv6FromBytes(r.bytes(16)) };
    case S46OptionCode.DMR: {
      // 4.3: option-length = 1 + length of dmr-ipv6-prefix in octets.
      if (len < 1) throw badLen(code, len, 'no dmr-prefix6-len');
      const prefix6Len = prefixLen(r.u8(), 128, 'dmr-prefix6-len');
      const n = Math.ceil(prefix6Len / 8);
      if (len !== 1 + n) throw badLen(code, len, `dmr-prefix6-len ${prefix6Len} needs exactly ${1 + n}`);
      return { kind: 'dmr', prefix6Len, prefix: ipv6PrefixFromWire(r.bytes(n), prefix6Len) };
    }
    case S46OptionCode.V4V6BIND: {
      // 4.4: ipv4-address(4) bindprefix6-len(1) bind-ipv6-prefix(var) options.
      if (len < 5) throw badLen(code, len, 'S46_V4V6BIND needs at least 5 octets');
      const ipv4Address = ipv4FromBytes(r.bytes(4));
      const prefix6Len = prefixLen(r.u8(), 128, 'bindprefix6-len');
      const n = Math.ceil(prefix6Len / 8);
      if (r.remaining < n) throw badLen(code, len, `bindprefix6-len ${prefix6Len} needs ${n} prefix octets`);
      const ipv6Prefix = ipv6PrefixFromWire(r.bytes(n), prefix6Len);
      return { kind: 'v4v6bind', ipv4Address, prefix6Len, ipv6Prefix, options: decodeList(r, 'rule') };
    }
    case S46OptionCode.PORTPARAMS: // 4.5
      return { kind: 'portparams', ...decodePortParamsBody(r.rest()) };
    case S46OptionCode.CONT_MAPE: // 5.1
      return { kind: 'cont-mape', options: decodeList(r, 'container') };
    case S46OptionCode.CONT_MAPT: // 5.2
      return { kind: 'cont-mapt', options: decodeList(r, 'container') };
    default: // CONT_LW, 5.3
      return { kind: 'cont-lw', options: decodeList(r, 'container') };
  }
}

/** Decode one S46 option TLV (code, length, body), exactly filling `buf`. */
export function decodeS46Option(buf: Uint8Array): S46Option {
  const list = decodeS46Options(buf);
  if (list.length !== 1) {
    throw new DhcpDecodeError(list.length === 0 ? 'truncated' : 'trailing-bytes', `${list.length} options, expected 1`);
  }
  return list[0];
}

/** Decode a list of S46 option TLVs (e.g. the options of a DHCPv6 message). */
export function decodeS46Options(buf: Uint8Array): S46Option[] {
  if (buf.length > MAX_MESSAGE_SIZE) throw new DhcpDecodeError('oversized', `${buf.length} octets`);
  return decodeList(new ByteReader(buf), 'top');
}

/** Interpret a raw option from a decoded DHCPv6 message (codes 89..96; others stay raw). */
export function s46FromDhcp6Option(o: Dhcp6RawOption): S46Option {
  return decodeBody(o.code, new ByteReader(o.data), 'top');
}

// ---------------------------------------------------------------------------------
// Encoding (RangeError for values the format cannot carry)

function codeOf(o: S46Option): number {
  switch (o.kind) {
    case 'rule':
      return S46OptionCode.RULE;
    case 'br':
      return S46OptionCode.BR;
    case 'dmr':
      return S46OptionCode.DMR;
    case 'v4v6bind':
      return S46OptionCode.V4V6BIND;
    case 'portparams':
      return S46OptionCode.PORTPARAMS;
    case 'raw':
      checkUint(o.code, 0xffff, 'option-code');
      return o.code;
    default:
      return CONTAINER_CODE[o.kind];
  }
}

function writeBody(w: ByteWriter, o: S46Option): void {
  switch (o.kind) {
    case 'rule': {
      checkUint(o.eaLen, 48, 'ea-len'); // 4.1: 0..48
      checkUint(o.prefix4Len, 32, 'prefix4-len'); // 4.1: 0..32
      checkUint(o.prefix6Len, 128, 'prefix6-len'); // 4.1: 0..128
      w.u8(o.fmr ? S46_RULE_FLAG_F : 0); // Reserved bits: 0
      w.u8(o.eaLen).u8(o.prefix4Len);
      w.bytes(maskBits(ipv4ToBytes(o.ipv4Prefix), o.prefix4Len)); // 4.1: bits after prefix4-len MUST be 0
      w.u8(o.prefix6Len).bytes(ipv6PrefixToWire(o.ipv6Prefix, o.prefix6Len));
      writeList(w, o.options);
      return;
    }
    case 'br':
      w.bytes(ipv6ToBytes(o.address)); // 4.2
      return;
    case 'dmr':
      checkUint(o.prefix6Len, 128, 'dmr-prefix6-len');
      w.u8(o.prefix6Len).bytes(ipv6PrefixToWire(o.prefix, o.prefix6Len)); // 4.3
      return;
    case 'v4v6bind':
      checkUint(o.prefix6Len, 128, 'bindprefix6-len');
      w.bytes(ipv4ToBytes(o.ipv4Address)).u8(o.prefix6Len).bytes(ipv6PrefixToWire(o.ipv6Prefix, o.prefix6Len)); // 4.4
      writeList(w, o.options);
      return;
    case 'portparams':
      w.bytes(encodePortParamsBody(o)); // 4.5
      return;
    case 'raw':
      w.bytes(o.data);
      return;
    default:
      writeList(w, o.options); // 5.1-5.3: encapsulated options
  }
}

function writeOne(w: ByteWriter, o: S46Option): void {
  const code = codeOf(o);
  w.u16(code).len16(() => writeBody(w, o), `option ${code}`);
}

function writeList(w: ByteWriter, list: readonly S46Option[]): void {
  if (list.length > MAX_OPTIONS) throw new RangeError(`more than ${MAX_OPTIONS} options`);
  for (const o of list) writeOne(w, o);
}

/** One S46 option as a TLV: code (2), length (2), body. */
export function encodeS46Option(o: S46Option): Uint8Array {
  const w = new ByteWriter();
  writeOne(w, o);
  return w.finish();
}

/** One S46 option as a raw DHCPv6 option, to put in a Dhcp6Message's option list. */
export function s46ToDhcp6Option(o: S46Option): Dhcp6RawOption {
  const w = new ByteWriter();
  writeBody(w, o);
  return rawOption(codeOf(o), w.finish());
}

// ---------------------------------------------------------------------------------
// Container rules

/**
 * RFC 7598 section 6, Table 1 (and sections 5.1-5.3): the options each container must,
 * may and must not hold. Returns the violations (empty when the container is valid).
 * "Softwire46 DHCPv6 clients that receive container options that violate any of the
 * above rules MUST silently ignore such container options", so a server must not send one.
 */
export function checkS46Container(c: S46Container): string[] {
  const count = (k: S46Option['kind']) => c.options.filter((o) => o.kind === k).length;
  const problems: string[] = [];
  const need = (k: S46Option['kind'], ok: (n: number) => boolean, rule: string) => {
    if (!ok(count(k))) problems.push(`${c.kind}: ${rule} (has ${count(k)})`);
  };
  const atLeastOne = (n: number) => n >= 1;
  const none = (n: number) => n === 0;
  switch (c.kind) {
    case 'cont-mape': // 5.1: at least one RULE and at least one BR
      need('rule', atLeastOne, 'needs at least one S46_RULE');
      need('br', atLeastOne, 'needs at least one S46_BR');
      need('dmr', none, 'S46_DMR not permitted');
      need('v4v6bind', none, 'S46_V4V6BIND not permitted');
      break;
    case 'cont-mapt': // 5.2: at least one RULE and exactly one DMR
      need('rule', atLeastOne, 'needs at least one S46_RULE');
      need('dmr', (n) => n === 1, 'needs exactly one S46_DMR');
      need('br', none, 'S46_BR not permitted');
      need('v4v6bind', none, 'S46_V4V6BIND not permitted');
      break;
    case 'cont-lw': // 5.3: at most one V4V6BIND and at least one BR
      need('v4v6bind', (n) => n <= 1, 'at most one S46_V4V6BIND');
      need('br', atLeastOne, 'needs at least one S46_BR');
      need('rule', none, 'S46_RULE not permitted');
      need('dmr', none, 'S46_DMR not permitted');
      break;
  }
  for (const o of c.options) {
    if (o.kind === 'cont-mape' || o.kind === 'cont-mapt' || o.kind === 'cont-lw') problems.push(`${c.kind}: nested container ${o.kind}`);
  }
  return problems;
}
