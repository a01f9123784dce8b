// Checksum validators and fragment reassembly. The test suite proves with these that
// every packet xbr emits carries valid checksums:
//   - the IPv4 header checksum (RFC 791; the Internet checksum of RFC 1071);
//   - UDP (RFC 768; RFC 8200 section 8.1 for IPv6), TCP (RFC 793), ICMPv6 (RFC 4443
//     section 2.3) over their pseudo-header, ICMPv4 (RFC 792) without one;
//   - a zero UDP checksum over IPv4 means "none" and is legal; over IPv6 it is not;
//   - a fragment's upper-layer checksum covers the whole datagram, so it is verified
//     after `reassemble()` (`checkAll` does that for a list of packets).
// Verification sums the covered bytes including the checksum field: a valid one folds
// to 0xffff (RFC 1071 section 3), which accepts both encodings of zero.
import { ipv6Bytes } from './addr.js';
import { corruptChecksumValue, finishChecksum, foldSum, pseudoHeaderSum4, pseudoHeaderSum6, sumBytes } from './checksum.js';
import { LINKTYPE, PROTO } from './constants.js';
import { PacketError, parsePacket, type ParsedPacket } from './parse.js';

/**
 * The upper-layer verdict:
 * - ok: verified;  bad: wrong (see errors);
 * - zero: UDP over IPv4 without a checksum (legal, RFC 768);
 * - fragment: part of a fragmented datagram, verify it after reassemble();
 * - none: no checksum this validator knows (another protocol, a quoted packet);
 * - malformed: the packet could not be parsed or its lengths disagree.
 */
export type L4Status = 'ok' | 'bad' | 'zero' | 'fragment' | 'none' | 'malformed';

export interface ChecksumReport {
  /** No bad checksum and nothing malformed, here or in a quoted or tunnelled packet. */
  ok: boolean;
  version?: 4 | 6;
  protocol?: number;
  /** IPv4 only: the header checksum. */
  ipv4Header?: 'ok' | 'bad';
  l4: L4Status;
  /** An ICMP error's quoted packet: only its IPv4 header checksum is checked (the quote is usually cut short). */
  quoted?: ChecksumReport;
  /** An IP-in-IP packet's inner packet, checked fully. */
  encapsulated?: ChecksumReport;
  /** Human-readable findings, with the expected values. */
  errors: string[];
}

const hex = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;
const PROTO_NAME: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6' };

/** Verifies the checksums of a packet of a link type (1 Ethernet, 101 raw IP). Never throws. */
export function checkChecksums(bytes: Uint8Array, linktype: number = LINKTYPE.RAW): ChecksumReport {
  let p: ParsedPacket;
  try {
    p = parsePacket(bytes, linktype);
  } catch (e) {
    return { ok: false, l4: 'malformed', errors: [`malformed: ${(e as Error).message}`] };
  }
  return checkParsed(bytes, p);
}

/** Verifies the checksums of a packet already parsed from `bytes`. */
export function checkParsed(bytes: Uint8Array, p: ParsedPacket, quoted = false): ChecksumReport {
  const r: ChecksumReport = { ok: true, version: p.version, protocol: p.protocol, l4: 'none', errors: [] };
  const fail = (msg: string) => {
    r.ok = false;
    r.errors.push(msg);
  };
  if (p.version === 4) {
    const o = p.l3Offset;
    const hl = p.ipHeaderLength;
    if (bytes.length - o >= hl) {
      if (foldSum(sumBytes(bytes, o, o + hl)) === 0xffff) r.ipv4Header = 'ok';
      else {
        r.ipv4Header = 'bad';
        const copy = bytes.slice(o, o + hl);
        copy[10] = copy[11] = 0;
        fail(`IPv4 header checksum ${hex(p.ipv4!.headerChecksum)} should be ${hex(finishChecksum(sumBytes(copy)))}${quoted ? ' (quoted packet)' : ''}`);
      }
    }
  }
  if (quoted || p.truncated) return r;
  if (p.fragment && (p.fragment.offset > 0 || p.fragment.more)) {
    r.l4 = 'fragment';
    return r;
  }
  const o = p.l4Offset;
  const len = p.l4Length;
  let csOff: number;
  switch (p.protocol) {
    case PROTO.UDP:
      csOff = 6;
      if (len < 8) {
        r.l4 = 'malformed';
        fail(`UDP datagram of ${len} bytes is shorter than its header`);
        return r;
      }
      if (p.udp!.length !== len) {
        r.l4 = 'malformed';
        fail(`UDP length ${p.udp!.length} differs from the IP payload length ${len}`);
        return r;
      }
      if (p.udp!.checksum === 0) {
        if (p.version === 4) {
          r.l4 = 'zero';
          return r;
        }
        r.l4 = 'bad';
        fail('UDP checksum is zero over IPv6 (RFC 8200 section 8.1 forbids it)');
        return r;
      }
      break;
    case PROTO.TCP:
      csOff = 16;
      break;
    case PROTO.ICMP:
    case PROTO.ICMPV6:
      csOff = 2;
      if ((p.protocol === PROTO.ICMP) !== (p.version === 4)) {
        // A translator that forgot to change the protocol number.
        r.l4 = 'malformed';
        fail(`${PROTO_NAME[p.protocol]} (protocol ${p.protocol}) inside IPv${p.version}`);
        return r;
      }
      break;
    default:
      if (p.encapsulated) {
        r.encapsulated = checkParsed(bytes, p.encapsulated);
        if (!r.encapsulated.ok) {
          r.ok = false;
          r.errors.push(...r.encapsulated.errors.map((e) => `tunnelled packet: ${e}`));
        }
      }
      return r;
  }
  if (len < csOff + 2) {
    r.l4 = 'malformed';
    fail(`${PROTO_NAME[p.protocol]} message of ${len} bytes is shorter than its header`);
    return r;
  }
  let initial = 0;
  if (p.protocol !== PROTO.ICMP) initial = pseudoSum(bytes, p, len);
  const name = PROTO_NAME[p.protocol];
  if (foldSum(sumBytes(bytes, o, o + len, initial)) === 0xffff) r.l4 = 'ok';
  else {
    r.l4 = 'bad';
    const copy = bytes.slice(o, o + len);
    const have = (copy[csOff] << 8) | copy[csOff + 1];
    copy[csOff] = copy[csOff + 1] = 0;
    let want = finishChecksum(sumBytes(copy, 0, copy.length, initial));
    if (p.protocol === PROTO.UDP && want === 0) want = 0xffff;
    fail(`${name} checksum ${hex(have)} should be ${hex(want)}`);
  }
  if (p.icmp?.inner) {
    r.quoted = checkParsed(bytes, p.icmp.inner, true);
    if (!r.quoted.ok) {
      r.ok = false;
      r.errors.push(...r.quoted.errors);
    }
  }
  return r;
}

function pseudoSum(bytes: Uint8Array, p: ParsedPacket, len: number): number {
  const o = p.l3Offset;
  if (p.version === 4) return pseudoHeaderSum4(bytes.subarray(o + 12, o + 16), bytes.subarray(o + 16, o + 20), p.protocol, len);
  const dst = p.ipv6!.finalDestination === p.dst ? bytes.subarray(o + 24, o + 40) : ipv6Bytes(p.ipv6!.finalDestination);
  return pseudoHeaderSum6(bytes.subarray(o + 8, o + 24), dst, p.protocol, len);
}

// ---------------------------------------------------------------- reassembly

export class ReassemblyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReassemblyError';
  }
}

function fragmentKey(p: ParsedPacket): string {
  const f = p.fragment!;
  return `${p.version}|${p.src}|${p.dst}|${p.version === 6 ? f.nextHeader : p.protocol}|${f.id}`;
}

/**
 * Reassembles the fragments of one IPv4 or IPv6 datagram (RFC 791 section 3.2, RFC
 * 8200 section 4.5), given in any order. Returns the datagram as a packet of the same
 * link type (with the L2 header of the first fragment). Throws ReassemblyError if the
 * fragments belong to different datagrams, overlap, leave a hole, or end wrongly.
 */
export function reassemble(fragments: Uint8Array[], linktype: number = LINKTYPE.RAW): Uint8Array {
  if (fragments.length === 0) throw new ReassemblyError('no fragments');
  const parsed = fragments.map((f, i) => {
    let p: ParsedPacket;
    try {
      p = parsePacket(f, linktype);
    } catch (e) {
      throw new ReassemblyError(`fragment ${i}: ${(e as Error).message}`);
    }
    if (!p.fragment) throw new ReassemblyError(`packet ${i} is not a fragment`);
    return { p, bytes: f, index: i };
  });
  const key = fragmentKey(parsed[0].p);
  for (const x of parsed) {
    if (fragmentKey(x.p) !== key) {
      throw new ReassemblyError(`fragment ${x.index} (${fragmentKey(x.p)}) is not of the same datagram as fragment 0 (${key})`);
    }
  }
  parsed.sort((a, b) => a.p.fragment!.offset - b.p.fragment!.offset);
  const pieces: Uint8Array[] = [];
  let end = 0;
  parsed.forEach((x, i) => {
    const f = x.p.fragment!;
    const dataStart = x.p.version === 4 ? x.p.l4Offset : fragmentHeaderOffset(x.p) + 8;
    const data = x.bytes.subarray(dataStart, x.p.l3Offset + x.p.ipLength);
    if (f.offset < end) throw new ReassemblyError(`fragment ${x.index} at offset ${f.offset} overlaps the data before it (which ends at ${end})`);
    if (f.offset > end) throw new ReassemblyError(`hole in the datagram: bytes ${end}-${f.offset - 1} are missing`);
    const last = i === parsed.length - 1;
    if (!last && !f.more) throw new ReassemblyError(`fragment ${x.index} at offset ${f.offset} has MF clear but is not the last`);
    if (last && f.more) throw new ReassemblyError(`the last fragment (offset ${f.offset}) has MF set: the rest of the datagram is missing`);
    if (!last && data.length % 8 !== 0) throw new ReassemblyError(`fragment ${x.index} at offset ${f.offset} carries ${data.length} bytes, not a multiple of 8`);
    pieces.push(data);
    end = f.offset + data.length;
  });
  const first = parsed[0];
  const fp = first.p;
  const l2 = first.bytes.subarray(0, fp.l3Offset);
  if (fp.version === 4) {
    const hl = fp.ipHeaderLength;
    const total = hl + end;
    if (total > 0xffff) throw new ReassemblyError(`reassembled IPv4 datagram of ${total} bytes exceeds 65535`);
    const out = new Uint8Array(l2.length + total);
    out.set(l2);
    out.set(first.bytes.subarray(fp.l3Offset, fp.l3Offset + hl), l2.length);
    let pos = l2.length + hl;
    for (const d of pieces) {
      out.set(d, pos);
      pos += d.length;
    }
    const o = l2.length;
    out[o + 2] = total >> 8;
    out[o + 3] = total & 0xff;
    out[o + 6] &= 0x40; // keep DF; clear RF, MF and the offset
    out[o + 7] = 0;
    out[o + 10] = out[o + 11] = 0;
    const cs = finishChecksum(sumBytes(out, o, o + hl));
    out[o + 10] = cs >> 8;
    out[o + 11] = cs & 0xff;
    return out;
  }
  // IPv6: the unfragmentable part of the first fragment, then the data; the header
  // before the Fragment header now announces what the Fragment header announced.
  const fh = fragmentHeaderOffset(fp);
  const unfrag = first.bytes.subarray(fp.l3Offset, fh);
  const payload = unfrag.length - 40 + end;
  if (payload > 0xffff) throw new ReassemblyError(`reassembled IPv6 payload of ${payload} bytes exceeds 65535`);
  const out = new Uint8Array(l2.length + unfrag.length + end);
  out.set(l2);
  out.set(unfrag, l2.length);
  let pos = l2.length + unfrag.length;
  for (const d of pieces) {
    out.set(d, pos);
    pos += d.length;
  }
  const o = l2.length;
  out[o + 4] = payload >> 8;
  out[o + 5] = payload & 0xff;
  const exts = fp.ipv6!.extensions;
  const fi = exts.findIndex((e) => e.type === PROTO.FRAGMENT);
  const nhPos = fi === 0 ? o + 6 : o + (exts[fi - 1].offset - fp.l3Offset);
  out[nhPos] = first.bytes[fh];
  return out;
}

function fragmentHeaderOffset(p: ParsedPacket): number {
  const e = p.ipv6!.extensions.find((x) => x.type === PROTO.FRAGMENT);
  if (!e) throw new ReassemblyError('IPv6 fragment without a Fragment header');
  return e.offset;
}

// ---------------------------------------------------------------- many packets

export interface CheckAllOptions {
  /** Do not count fragments whose datagram is incomplete as errors. */
  allowIncomplete?: boolean;
}

export interface CheckAllReport {
  ok: boolean;
  /** Packets that are not fragments, checked one by one. */
  checked: number;
  /** Datagrams reassembled from fragments and checked. */
  reassembled: number;
  /** Fragment sets that could not be reassembled (missing pieces). */
  incomplete: number;
  /** "packet <i>: …" or "datagram of packets <i,j,…>: …". */
  errors: string[];
}

/**
 * Checks every packet of a list (e.g. what xbr emitted for a pcap): non-fragments one
 * by one, fragments grouped by datagram, reassembled, then checked whole.
 */
export function checkAll(packets: Uint8Array[], linktype: number = LINKTYPE.RAW, opts: CheckAllOptions = {}): CheckAllReport {
  const rep: CheckAllReport = { ok: true, checked: 0, reassembled: 0, incomplete: 0, errors: [] };
  const groups = new Map<string, number[]>();
  packets.forEach((bytes, i) => {
    let p: ParsedPacket;
    try {
      p = parsePacket(bytes, linktype);
    } catch (e) {
      rep.ok = false;
      rep.errors.push(`packet ${i}: malformed: ${(e as Error).message}`);
      return;
    }
    if (p.fragment && (p.fragment.more || p.fragment.offset > 0)) {
      // The IPv4 header checksum of each fragment is checked here, the rest once whole.
      const r = checkParsed(bytes, p);
      if (r.ipv4Header === 'bad') {
        rep.ok = false;
        rep.errors.push(...r.errors.map((e) => `packet ${i}: ${e}`));
      }
      const k = fragmentKey(p);
      const g = groups.get(k);
      if (g) g.push(i);
      else groups.set(k, [i]);
      return;
    }
    rep.checked++;
    const r = checkParsed(bytes, p);
    if (!r.ok) {
      rep.ok = false;
      rep.errors.push(...r.errors.map((e) => `packet ${i}: ${e}`));
    }
  });
  for (const idx of groups.values()) {
    const label = `datagram of packets ${idx.join(',')}`;
    let whole: Uint8Array;
    try {
      whole = reassemble(
        idx.map((i) => packets[i]),
        linktype,
      );
    } catch (e) {
      rep.incomplete++;
      if (!opts.allowIncomplete) {
        rep.ok = false;
        rep.errors.push(`${label}: ${(e as Error).message}`);
      }
      continue;
    }
    rep.reassembled++;
    const r = checkChecksums(whole, linktype);
    if (!r.ok) {
      rep.ok = false;
      rep.errors.push(...r.errors.map((e) => `${label}: ${e}`));
    }
  }
  return rep;
}

// ---------------------------------------------------------------- corruption

/** Byte offset of the checksum field inside an upper-layer header, or -1. */
export function l4ChecksumOffset(protocol: number): number {
  switch (protocol) {
    case PROTO.UDP:
      return 6;
    case PROTO.TCP:
      return 16;
    case PROTO.ICMP:
    case PROTO.ICMPV6:
      return 2;
    default:
      return -1;
  }
}

/** A copy of `bytes` whose IPv4 header checksum ('ip') or upper-layer checksum ('l4') is made wrong. */
export function corruptChecksum(bytes: Uint8Array, linktype: number, layer: 'ip' | 'l4'): Uint8Array {
  const p = parsePacket(bytes, linktype);
  const out = bytes.slice();
  let at: number;
  if (layer === 'ip') {
    if (p.version !== 4) throw new PacketError('an IPv6 header has no checksum');
    at = p.l3Offset + 10;
  } else {
    const off = l4ChecksumOffset(p.protocol);
    if (off < 0 || (p.fragment && p.fragment.offset > 0)) throw new PacketError(`no ${PROTO_NAME[p.protocol] ?? `protocol ${p.protocol}`} checksum in this packet`);
    at = p.l4Offset + off;
  }
  const v = corruptChecksumValue((out[at] << 8) | out[at + 1]);
  out[at] = v >> 8;
  out[at + 1] = v & 0xff;
  return out;
}
