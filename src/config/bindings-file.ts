// `bindings-file:` — large binding tables (lw4o6's per-subscriber bindings, MAP
// EA-len-0 CEs) as CSV, one binding a line:
//
//   ipv4,psid-len,psid,ipv6[,psid-offset]
//   198.51.100.7,6,12,2001:db8:77::/64
//
// The header line names the columns (psid-offset is optional, default 6). `ipv6` is
// the CE's end-user prefix (map-t, map-e) or the B4 address (lw4o6, /128 when no
// length is given). Bindings are kept packed in typed arrays (24 bytes each here),
// so a million of them cost no per-binding objects.
//
// Errors stop at the first bad line, naming file, line and reason; duplicates and
// conflicting port-set parameters on one IPv4 address are errors too, since the data
// plane's table keys on (IPv4, PSID) and shares one psid-len/offset per address.

import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import type { PortRange } from '../map/psid.js';
import { portSetRanges, portSetIntersectsReserved } from '../map/psid.js';
import type { ResolvedBinding } from './rules.js';
import { SlotIndex } from '../map/slot-index.js';

export class BindingsFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
  }
}

/** Bindings in columns: binding i is ipv4[i], psidLen[i], … and ipv6[16i .. 16i+16). */
export class PackedBindings {
  count = 0;
  ipv4: Uint32Array;
  psid: Uint16Array;
  psidLen: Uint8Array;
  psidOffset: Uint8Array;
  prefixLen: Uint8Array;
  ipv6: Uint8Array;

  constructor(capacity: number) {
    this.ipv4 = new Uint32Array(capacity);
    this.psid = new Uint16Array(capacity);
    this.psidLen = new Uint8Array(capacity);
    this.psidOffset = new Uint8Array(capacity);
    this.prefixLen = new Uint8Array(capacity);
    this.ipv6 = new Uint8Array(capacity * 16);
  }

  /** How many bindings the columns hold room for. */
  get capacity(): number {
    return this.ipv4.length;
  }

  push(b: ResolvedBinding): void {
    this.set(this.count++, b);
  }

  /** Writes binding `b` into slot i (below capacity). */
  set(i: number, b: ResolvedBinding): void {
    this.ipv4[i] = b.ipv4 >>> 0;
    this.psid[i] = b.psid;
    this.psidLen[i] = b.psidLen;
    this.psidOffset[i] = b.psidOffset;
    this.prefixLen[i] = b.prefixLen;
    this.ipv6.set(b.ipv6.subarray(0, 16), i * 16);
  }

  /** Copies slot `from` over slot `to`. */
  move(from: number, to: number): void {
    this.ipv4[to] = this.ipv4[from];
    this.psid[to] = this.psid[from];
    this.psidLen[to] = this.psidLen[from];
    this.psidOffset[to] = this.psidOffset[from];
    this.prefixLen[to] = this.prefixLen[from];
    this.ipv6.copyWithin(to * 16, from * 16, from * 16 + 16);
  }

  /** Room for `capacity` bindings, the ones held kept. */
  grow(capacity: number): void {
    const g = <T extends Uint8Array | Uint16Array | Uint32Array>(a: T, n: number): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a.subarray(0, Math.min(a.length, n)));
      return b;
    };
    this.ipv4 = g(this.ipv4, capacity);
    this.psid = g(this.psid, capacity);
    this.psidLen = g(this.psidLen, capacity);
    this.psidOffset = g(this.psidOffset, capacity);
    this.prefixLen = g(this.prefixLen, capacity);
    this.ipv6 = g(this.ipv6, capacity * 16);
  }

  get(i: number): ResolvedBinding {
    return {
      ipv4: this.ipv4[i],
      psid: this.psid[i],
      psidLen: this.psidLen[i],
      psidOffset: this.psidOffset[i],
      prefixLen: this.prefixLen[i],
      ipv6: this.ipv6.subarray(i * 16, i * 16 + 16),
    };
  }
}

export interface BindingCheckOptions {
  mode: 'map-t' | 'map-e' | 'lw4o6';
  reserved: PortRange | null;
}

/** Tracks (IPv4, PSID) uniqueness and per-address parameters across sources. */
export class BindingSet {
  /**
   * The (IPv4, PSID) keys seen (the value is unused). A Set held a heap number per key:
   * loading a million-line file took ~3.0 s and ~140 MB of heap, with this index
   * ~2.5 s and ~80 MB (bench/encap.bench.ts's load step; bench/RESULTS.md).
   */
  private keys = new SlotIndex();
  private params = new Map<number, number>();
  /** Whether (psid, offset, length)'s port set meets reserved-ports: few distinct keys, many bindings. */
  private reservedHit = new Map<number, boolean>();

  /** null when fine, else the reason. */
  check(b: ResolvedBinding, opts: BindingCheckOptions): string | null {
    if (b.psidLen > 16 || b.psidOffset > 15 || b.psidLen + b.psidOffset > 16) return `psid-len ${b.psidLen} with psid-offset ${b.psidOffset} exceeds 16 bits`;
    if (b.psid >= 2 ** b.psidLen) return `psid ${b.psid} does not fit psid-len ${b.psidLen}`;
    if (opts.mode === 'lw4o6' && b.prefixLen !== 128) return `lw4o6 binds a B4 address (/128), not a /${b.prefixLen}`;
    if (opts.mode !== 'lw4o6' && b.prefixLen > 64) return `a CE prefix must be /64 or shorter, not /${b.prefixLen}`;
    if (b.psidLen > 0) {
      const rk = (b.psid * 32 + b.psidOffset) * 32 + b.psidLen;
      let hit = this.reservedHit.get(rk);
      if (hit === undefined) {
        hit = portSetIntersectsReserved(portSetRanges(b.psid, b.psidOffset, b.psidLen), opts.reserved);
        this.reservedHit.set(rk, hit);
      }
      if (hit) return `the port set of psid ${b.psid} reaches into reserved-ports (RFC 7618 section 8)`;
    }
    const key = b.ipv4 * 65536 + b.psid;
    if (this.keys.has(key)) return `duplicate binding for ${ipv4Text(b.ipv4)} psid ${b.psid}`;
    const p = b.psidLen * 256 + b.psidOffset;
    const had = this.params.get(b.ipv4);
    if (had !== undefined && had !== p) {
      return `${ipv4Text(b.ipv4)} already has bindings with psid-len ${had >> 8} psid-offset ${had & 255}: port sets on one address must not overlap`;
    }
    this.keys.set(key, 0);
    this.params.set(b.ipv4, p);
    return null;
  }
}

function ipv4Text(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIPv4Strict(s: string): number | null {
  const m = IPV4_RE.exec(s);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255 || (m[i].length > 1 && m[i][0] === '0')) return null;
    v = v * 256 + o;
  }
  return v;
}

function parseIntField(s: string, max: number): number | null {
  if (!/^\d{1,5}$/.test(s)) return null;
  const v = Number(s);
  return v <= max ? v : null;
}

/**
 * Reads a bindings file. `set` carries the bindings already known (the YAML list), so
 * duplicates across the two are found too. `progress` is called every 100 000 lines.
 */
export function loadBindingsFile(path: string, opts: BindingCheckOptions, set = new BindingSet(), progress?: (lines: number) => void): PackedBindings {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BindingsFileError(path, 0, `cannot read: ${(e as Error).message}`);
  }
  const lines = text.split('\n');
  const header = lines[0]?.trim().toLowerCase().split(',').map((c) => c.trim()) ?? [];
  const col = (name: string) => header.indexOf(name);
  const iV4 = col('ipv4');
  const iLen = col('psid-len');
  const iPsid = col('psid');
  const iV6 = col('ipv6');
  const iOff = col('psid-offset');
  if (iV4 < 0 || iLen < 0 || iPsid < 0 || iV6 < 0) {
    throw new BindingsFileError(path, 1, 'the header must name the columns ipv4,psid-len,psid,ipv6 (and optionally psid-offset)');
  }
  const out = new PackedBindings(Math.max(1, lines.length - 1));
  const v6bytes = new Uint8Array(16);
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(',');
    const fail = (reason: string): never => {
      throw new BindingsFileError(path, n + 1, reason);
    };
    if (f.length !== header.length) fail(`${f.length} fields, the header has ${header.length}`);
    const ipv4 = parseIPv4Strict(f[iV4].trim());
    if (ipv4 === null) fail(`ipv4: "${f[iV4]}" is not an IPv4 address`);
    const psidLen = parseIntField(f[iLen].trim(), 16);
    if (psidLen === null) fail(`psid-len: "${f[iLen]}" is not 0..16`);
    const psid = parseIntField(f[iPsid].trim(), 65535);
    if (psid === null) fail(`psid: "${f[iPsid]}" is not 0..65535`);
    const psidOffset = iOff >= 0 ? parseIntField(f[iOff].trim(), 15) : 6;
    if (psidOffset === null) fail(`psid-offset: "${f[iOff]}" is not 0..15`);
    const v6text = f[iV6].trim();
    let prefixLen = 128;
    let addrText = v6text;
    const slash = v6text.indexOf('/');
    if (slash >= 0) {
      addrText = v6text.slice(0, slash);
      const l = parseIntField(v6text.slice(slash + 1), 128);
      if (l === null) fail(`ipv6: "${v6text}" has a bad prefix length`);
      prefixLen = l as number;
    }
    let bytes: number[] = [];
    try {
      bytes = ipaddr.IPv6.parse(addrText).toByteArray();
    } catch {
      fail(`ipv6: "${v6text}" is not an IPv6 address or prefix`);
    }
    v6bytes.set(bytes);
    // host bits beyond the prefix length must be zero
    for (let bit = prefixLen; bit < 128; bit++) {
      if (v6bytes[bit >> 3] & (0x80 >> (bit & 7))) fail(`ipv6: "${v6text}" has bits set after /${prefixLen}`);
    }
    const b: ResolvedBinding = { ipv4: ipv4 as number, psidLen: psidLen as number, psid: psid as number, psidOffset: psidOffset as number, ipv6: v6bytes, prefixLen };
    const why = set.check(b, opts);
    if (why) fail(why);
    out.push(b);
    if (progress && n % 100_000 === 0) progress(n);
  }
  return out;
}
