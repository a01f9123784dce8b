// Test harness for the wasm core (MAP-T): a config -> blob -> Engine, packets in
// (raw IP, wrapped for the link type under test), packets out (unwrapped), and on
// *every* batch three checks that make every test in test/core also a test of the
// core's bookkeeping and of its checksums:
//
//   1. Checksums (item 8 of the brief): every emitted packet goes through the
//      packet toolkit's checkChecksums (IPv4 header, UDP/TCP/ICMP/ICMPv6 with their
//      pseudo-headers, the IPv4 header of an ICMP error's quote). Fragments have their
//      IPv4 header checked at once and their L4 checksum once the datagram is whole:
//      fragments are kept across batches and reassembled (toolkit `reassemble`) as
//      soon as a datagram is complete.
//   2. Accounting (assembly/counters.ts: every packet ends in a transmitted packet, one
//      drop counter, or held): see `checkAccounting`.
//   3. Frames: the core owns `frames` frames; after a batch every one is free except
//      the held fragments (no leak, no double free).
import { stringify } from 'yaml';
import { expect } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { compileBindings, compileRules } from '../../src/core/blob.js';
import { Engine, type EngineOptions } from '../../src/core/engine.js';
import {
  checkChecksums,
  ethernet,
  parsePacket,
  reassemble,
  type ParsedPacket,
} from '../../src/packets/index.js';
import type { XbrConfig } from '../../src/config/schema.js';

export type LinkType = 1 | 101;
export const LINKTYPES: LinkType[] = [101, 1];

// ---- the RFC 7599 Appendix A domain ------------------------------------------------

export const HOST4 = '10.2.3.4';
/** 10.2.3.4 under the DMR 2001:db8:ffff::/64 (RFC 7599 Appendix A example 2). */
export const HOST6 = '2001:db8:ffff:0:a:203:400:0';
export const CE4 = '192.0.2.18';
/** The MAP address of 192.0.2.18 PSID 0x34 (RFC 7599 Appendix A example 1). */
export const CE6 = '2001:db8:12:3400:0:c000:212:34';
/** Ports of PSID 0x34 with a = 6, k = 8: A*1024 + 0x34*4 + j. */
export const CE_PORTS = [1232, 1233, 1234, 1235, 2256, 64723];
/** Another CE of the same rule: 192.0.2.18 PSID 0x35 (ports 1236-1239, ...). */
export const CE6_B = '2001:db8:12:3500:0:c000:212:35';
export const CE_B_PORT = 1236;
/** The BR's own ICMPv6 source by default: DMR prefix + ::1 (src/core/blob.ts). */
export const BR6 = '2001:db8:ffff::1';

export const BASE_CONFIG = {
  mode: 'map-t',
  dmr: '2001:db8:ffff::/64',
  rules: [{ 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16, 'psid-offset': 6, fmr: true }],
  'reserved-ports': '0-1023',
  mtu: { ipv4: 1500, ipv6: 1500 },
  icmp: { errors: true, rate: 1000 },
} as const;

/** Parses (and validates) a config given as an object, the way xbr reads xbr.yaml. */
export function config(over: Record<string, unknown> = {}): XbrConfig {
  return parseConfig(stringify({ ...BASE_CONFIG, ...over }), 'test.yaml');
}

// ---- counters ----------------------------------------------------------------------

export type Counters = Record<string, number>;

/** Counters that follow a packet's fate but are not its (single) terminal outcome. */
const SECONDARY_DROPS = new Set(['drop_frag_timeout', 'drop_no_frame', 'drop_tx_full']);

export function sum(d: Counters, names: string[]): number {
  return names.reduce((n, k) => n + (d[k] ?? 0), 0);
}

export function dropNames(c: Counters): string[] {
  return Object.keys(c).filter((k) => k.startsWith('drop_'));
}

/** The drop counters that moved. */
export function drops(d: Counters): Counters {
  const out: Counters = {};
  for (const k of dropNames(d)) if (d[k]) out[k] = d[k];
  return out;
}

/**
 * The identities the core's counters obey over any stretch of batches (worked out
 * from assembly/dispatch.ts and the paths it calls):
 *
 *  A. inputs = rx4_packets + rx6_packets + drop_not_ip + drop_l2_truncated + drop_no_rules
 *     (those three are counted before a packet is classified as IPv4 or IPv6);
 *  B. inputs + frag_released = xlat_4to6 + xlat_6to4 + hairpin + encap_4in6 + decap_4in6
 *        + frag_held + every drop_* except drop_frag_timeout, drop_no_frame, drop_tx_full
 *     (each handling, of a received packet or of a held fragment released by its first
 *     fragment, ends in exactly one of these; drop_frag_timeout counts held frames
 *     freed later, which were counted as frag_held; drop_no_frame / drop_tx_full count
 *     extra packets (fragments, ICMP errors) that could not be sent);
 *  C. emitted packets = tx4_packets + tx6_packets, and the bytes match per side;
 *  D. emit attempts: emitted + drop_tx_full = (xlat_4to6 + xlat_6to4 + hairpin) - S
 *        + frag_out4 + frag_out6 + icmp4_sent + icmp6_sent, where S is the number of
 *     translations the core split into fragments itself (each counts one xlat and one
 *     frag_out per fragment); so 0 <= 2*S <= frag_out4 + frag_out6 + drop_no_frame.
 */
export function checkAccounting(d: Counters, inputs: number, out: { data: Uint8Array; port: 0 | 1 }[]): void {
  expect(accountingErrors(d, inputs, out), JSON.stringify(nonZero(d))).toEqual([]);
}

/** The identities above that do not hold, as messages (empty when all hold). */
export function accountingErrors(d: Counters, inputs: number, out: { data: Uint8Array; port: 0 | 1 }[]): string[] {
  const g = (k: string) => d[k] ?? 0;
  const errors: string[] = [];
  const check = (what: string, got: number, want: number) => {
    if (got !== want) errors.push(`${what}: ${got}, expected ${want}`);
  };
  // A
  check('identity A (rx)', g('rx4_packets') + g('rx6_packets') + g('drop_not_ip') + g('drop_l2_truncated') + g('drop_no_rules'), inputs);
  // B
  const terminalDrops = dropNames(d)
    .filter((k) => !SECONDARY_DROPS.has(k))
    .reduce((n, k) => n + g(k), 0);
  const terminal = g('xlat_4to6') + g('xlat_6to4') + g('hairpin') + g('encap_4in6') + g('decap_4in6') + g('frag_held') + terminalDrops;
  check('identity B (one fate per handling)', terminal, inputs + g('frag_released'));
  // C
  let n4 = 0;
  let n6 = 0;
  let b4 = 0;
  let b6 = 0;
  for (const o of out) {
    if (o.port === 0) {
      n4++;
      b4 += o.data.length;
    } else {
      n6++;
      b6 += o.data.length;
    }
  }
  check('identity C (tx4 packets)', g('tx4_packets'), n4);
  check('identity C (tx6 packets)', g('tx6_packets'), n6);
  check('identity C (tx4 bytes)', g('tx4_bytes'), b4);
  check('identity C (tx6 bytes)', g('tx6_bytes'), b6);
  // D
  const split = g('xlat_4to6') + g('xlat_6to4') + g('hairpin') + g('frag_out4') + g('frag_out6') + g('icmp4_sent') + g('icmp6_sent') - out.length - g('drop_tx_full');
  if (split < 0) errors.push(`identity D: ${split} split translations`);
  if (2 * split > g('frag_out4') + g('frag_out6') + g('drop_no_frame')) errors.push(`identity D: ${split} splits for ${g('frag_out4') + g('frag_out6')} fragments`);
  return errors;
}

export function nonZero(d: Counters): Counters {
  const o: Counters = {};
  for (const [k, v] of Object.entries(d)) if (v) o[k] = v;
  return o;
}

// ---- link layer --------------------------------------------------------------------

export const MAC_A = '02:00:00:00:00:01';
export const MAC_B = '02:00:00:00:00:02';

export function wrap(ip: Uint8Array, linktype: LinkType): Uint8Array {
  if (linktype === 101) return ip;
  const v = ip.length > 0 ? ip[0] >> 4 : 0;
  return ethernet({ src: MAC_A, dst: MAC_B, type: v === 6 ? 0x86dd : 0x0800, payload: ip });
}

// ---- checksums ---------------------------------------------------------------------

export interface Out {
  /** The frame as emitted (with its Ethernet header for linktype 1). */
  frame: Uint8Array;
  /** Its IP packet. */
  ip: Uint8Array;
  port: 0 | 1;
  p: ParsedPacket;
}

/**
 * Checks the checksums of emitted packets (item 8). Non-fragments at once; fragments
 * (their IPv4 header at once) are pooled in `pool` until their datagram is complete,
 * then reassembled and checked whole. Returns the error messages.
 */
export function checkOutputs(outs: Out[], linktype: LinkType, pool: Map<string, Uint8Array[]>): string[] {
  const errors: string[] = [];
  for (const o of outs) {
    const r = checkChecksums(o.frame, linktype);
    if (!r.ok) {
      errors.push(`${describePacket(o.p)}: ${r.errors.join('; ')}`);
      continue;
    }
    const f = o.p.fragment;
    if (f && (f.more || f.offset > 0)) {
      const key = `${o.p.version}|${o.p.src}|${o.p.dst}|${o.p.version === 6 ? f.nextHeader : o.p.protocol}|${f.id}`;
      const list = pool.get(key) ?? [];
      list.push(o.frame);
      pool.set(key, list);
      let whole: Uint8Array | undefined;
      try {
        whole = reassemble(list, linktype);
      } catch {
        whole = undefined; // not complete yet
      }
      if (whole) {
        pool.delete(key);
        const w = checkChecksums(whole, linktype);
        if (!w.ok) errors.push(`reassembled ${key}: ${w.errors.join('; ')}`);
      }
    }
  }
  return errors;
}

export function describePacket(p: ParsedPacket): string {
  return `IPv${p.version} ${p.src} -> ${p.dst} proto ${p.protocol}${p.sport !== undefined ? ` ${p.sport}->${p.dport}` : ''}${p.icmp ? ` icmp ${p.icmp.type}/${p.icmp.code}` : ''}`;
}

// ---- the harness -------------------------------------------------------------------

export interface RunOptions {
  /** nowMs for the batch (default: the harness clock, +1 ms per batch). */
  now?: number;
  /** Skip the checksum check (only for tests feeding deliberately bad checksums). */
  checksums?: boolean;
}

export interface Run {
  out: Out[];
  /** Counter deltas of this run (non-zero only). */
  d: Counters;
  /** Outputs on the IPv4 side / the IPv6 side. */
  v4: Out[];
  v6: Out[];
}

export interface HarnessOptions extends EngineOptions {
  linktype?: LinkType;
  /** Skip loading rules (to test drop_no_rules). */
  noRules?: boolean;
}

export class Harness {
  readonly engine: Engine;
  readonly linktype: LinkType;
  readonly config: XbrConfig;
  readonly frames: number;
  now = 1_000_000;
  private last: Counters;
  private pool = new Map<string, Uint8Array[]>();

  constructor(cfg: XbrConfig, opts: HarnessOptions = {}) {
    const { linktype = 101, noRules = false, ...eng } = opts;
    this.config = cfg;
    this.linktype = linktype;
    this.engine = Engine.createSync({ bindingCapacity: 1024, ...eng });
    this.frames = this.engine.layout.frames;
    if (!noRules) {
      this.engine.loadRules(compileRules(cfg));
      for (const b of compileBindings(cfg)) this.engine.putBinding(b);
    }
    this.engine.setLinkType(linktype);
    this.last = this.engine.counters();
  }

  counters(): Counters {
    return this.engine.counters();
  }

  /** Swaps in another configuration's rules and bindings (between batches, as a reload does). */
  reload(cfg: XbrConfig): void {
    this.engine.loadRules(compileRules(cfg));
    this.engine.core.bindingClear();
    for (const b of compileBindings(cfg)) this.engine.putBinding(b);
  }

  /** Frames the core holds for fragments waiting for their first fragment. */
  held(): number {
    const c = this.engine.counters();
    return c.frag_held - c.frag_released - c.drop_frag_timeout;
  }

  /** Runs raw IP packets (wrapped for the link type) through the core, in batches. */
  run(packets: Uint8Array[], opts: RunOptions = {}): Run {
    return this.runFrames(packets.map((p) => wrap(p, this.linktype)), opts);
  }

  /** Runs frames as given (already wrapped for the link type). */
  runFrames(frames: Uint8Array[], opts: RunOptions = {}): Run {
    const out: Out[] = [];
    const raw: { data: Uint8Array; port: 0 | 1 }[] = [];
    const batch = this.engine.batch;
    const now = opts.now ?? this.now;
    this.now = Math.max(this.now, now) + 1;
    for (let i = 0; i < frames.length || (i === 0 && frames.length === 0); i += batch) {
      const got = this.engine.processBatch(frames.slice(i, i + batch), now);
      raw.push(...got);
      if (frames.length === 0) break;
    }
    for (const o of raw) {
      let p: ParsedPacket;
      try {
        p = parsePacket(o.data, this.linktype);
      } catch (e) {
        throw new Error(`the core emitted a packet the toolkit cannot parse: ${(e as Error).message}; ${Buffer.from(o.data).toString('hex')}`);
      }
      expect(p.version, 'IPv4 leaves on port 0, IPv6 on port 1').toBe(o.port === 0 ? 4 : 6);
      out.push({ frame: o.data, ip: o.data.subarray(p.l3Offset), port: o.port, p });
    }
    const c = this.engine.counters();
    const d: Counters = {};
    for (const k of Object.keys(c)) d[k] = c[k] - (this.last[k] ?? 0);
    this.last = c;
    checkAccounting(d, frames.length, raw);
    expect(this.engine.core.framesFree(), 'frames: free + held = all').toBe(this.frames - this.held());
    if (opts.checksums !== false) {
      const errors = checkOutputs(out, this.linktype, this.pool);
      expect(errors, 'checksums of emitted packets').toEqual([]);
    }
    return { out, d: nonZero(d), v4: out.filter((o) => o.port === 0), v6: out.filter((o) => o.port === 1) };
  }

  /** Fragment datagrams emitted but never completed. */
  incompleteFragments(): number {
    return this.pool.size;
  }
}

export function harness(over: Record<string, unknown> = {}, opts: HarnessOptions = {}): Harness {
  return new Harness(config(over), opts);
}

// ---- small helpers -----------------------------------------------------------------

export const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7) & 0xff);

export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** The one output of a run, asserting there is exactly one. */
export function only(r: Run): Out {
  expect(r.out.length, `exactly one packet out; counters ${JSON.stringify(r.d)}`).toBe(1);
  return r.out[0];
}

/** One line per packet, for readable assertions and failure messages. */
export function summary(outs: Out[]): string[] {
  return outs.map((o) => describePacket(o.p));
}

/** The ICMP type/code of each output (undefined for a non-ICMP packet). */
export function icmpKinds(outs: Out[]): string[] {
  return outs.map((o) => (o.p.icmp ? `${o.p.version === 4 ? 'icmp4' : 'icmp6'} ${o.p.icmp.type}/${o.p.icmp.code}` : describePacket(o.p)));
}
