// The shape of xbr.yaml: DESIGN.md's "Configuration contract", key for key
// (kebab-case, RFC 7598's names), as zod strict objects so that an unknown or
// misspelt key is an error rather than silently ignored. Defaults live here;
// cross-field and semantic rules live in validate.ts.
//
// Extensions beyond DESIGN.md's contract are marked "EXTENSION" below.
import { z } from 'zod';
import { isIPv4, isIPv4Prefix, isIPv6, isIPv6Prefix } from '../map/ip.js';
import type { PortRange } from '../map/psid.js';

const ipv4Address = z.string().refine(isIPv4, { message: 'not an IPv4 address (a.b.c.d)' });
const ipv6Address = z.string().refine(isIPv6, { message: 'not an IPv6 address' });
const ipv4Prefix = z.string().refine(isIPv4Prefix, { message: 'not an IPv4 prefix (a.b.c.d/len)' });
const ipv6Prefix = z.string().refine((s) => isIPv6Prefix(s), { message: 'not an IPv6 prefix (addr/len)' });
/** An IPv6 prefix, or a bare address meaning /128 (an lw4o6 B4 address). */
const ipv6PrefixOrAddress = z.string().refine((s) => isIPv6Prefix(s, true), { message: 'not an IPv6 prefix or address' });
const macAddress = z
  .string()
  .regex(/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$/, { message: 'not a MAC address (xx:xx:xx:xx:xx:xx)' });
const int = (min: number, max: number) => z.number().int().min(min).max(max);
const nonEmpty = z.string().min(1, { message: 'must not be empty' });

/**
 * "lo-hi" (inclusive) or "none". Parsed to a PortRange, or null for none.
 * RFC 7618 section 8: the reservation policy SHOULD be configurable.
 */
const reservedPorts = z.string().transform((s, ctx): PortRange | null => {
  if (s.trim() === 'none') return null;
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(s);
  const lo = m ? Number(m[1]) : NaN;
  const hi = m ? Number(m[2]) : NaN;
  if (!m || lo > 65535 || hi > 65535 || lo > hi) {
    ctx.addIssue({ code: 'custom', message: 'must be "lo-hi" with 0 <= lo <= hi <= 65535, or "none"' });
    return z.NEVER;
  }
  return [lo, hi];
});

/** A host:port endpoint: "[v6]:port" or "v4:port". */
const endpoint = z.string().refine(
  (s) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(s);
    if (!m || Number(m[3]) > 65535) return false;
    return m[1] !== undefined ? isIPv6(m[1]) : isIPv4(m[2]);
  },
  { message: 'must be "ipv4:port" or "[ipv6]:port"' },
);

/** A Basic / Forwarding Mapping Rule (RFC 7597 5.1, 5.2; RFC 7598 S46_RULE). */
export const ruleSchema = z
  .strictObject({
    'ipv6-prefix': ipv6Prefix,
    'ipv4-prefix': ipv4Prefix,
    'ea-len': int(0, 48), // RFC 7597 5.2: "can be between 0 and 48"
    /** 'a' bits; default 6 unless the modulus form below is used. */
    'psid-offset': int(0, 15).optional(),
    /** EXTENSION (DESIGN.md, last paragraph of the contract): dIVI-pd section 4.1 R. */
    'sharing-ratio': int(1, 32768).optional(),
    /** EXTENSION: dIVI-pd section 4.1 M, given together with sharing-ratio. */
    'contiguous-ports': int(1, 32768).optional(),
    'interface-id': z.enum(['rfc7597', 'divi-pd']).default('rfc7597'),
    fmr: z.boolean().default(false),
  })
  .transform((r) => ({
    ...r,
    'psid-offset': r['psid-offset'] ?? (r['sharing-ratio'] === undefined && r['contiguous-ports'] === undefined ? 6 : undefined),
  }));

/** A per-subscriber binding, EA-len 0 (RFC 7598 S46_V4V6BIND + S46_PORTPARAMS). */
export const bindingSchema = z.strictObject({
  ipv4: ipv4Address,
  'psid-len': int(0, 16).default(0),
  psid: int(0, 65535).default(0),
  'psid-offset': int(0, 15).default(6),
  /** map-t, map-e: the CE's end-user prefix; lw4o6: the B4's address (/128, or bare). */
  ipv6: ipv6PrefixOrAddress,
});

export const dataplaneSchema = z.strictObject({
  'ipv4-interface': nonEmpty,
  'ipv6-interface': nonEmpty,
  queues: int(1, 1024).default(1),
  'ipv4-next-hop': ipv4Address.optional(),
  'ipv6-next-hop': ipv6Address.optional(),
  'ipv4-next-hop-mac': macAddress.optional(),
  'ipv6-next-hop-mac': macAddress.optional(),
  /** EXTENSION: the BR's own MAC on the IPv4 side (else read from the interface). */
  'ipv4-mac': macAddress.optional(),
  /** EXTENSION: the BR's own MAC on the IPv6 side. */
  'ipv6-mac': macAddress.optional(),
});

export const poolSchema = z.strictObject({
  name: nonEmpty,
  ipv4: ipv4Prefix,
  /** Absent or 0: full addresses, for clients that don't ask for option 159. */
  'psid-len': int(0, 16).default(0),
  'psid-offset': int(0, 15).default(6),
  /**
   * EXTENSION: this pool's reserved ports (RFC 7618 section 8: "The reservation policy
   * SHOULD be configurable"); absent: the top-level reserved-ports. A PSID whose port
   * set holds a reserved port is never leased (RFC 7618 section 9).
   */
  'reserved-ports': reservedPorts.optional(),
});

export const dhcp4o6Schema = z.strictObject({
  listen: z.array(endpoint).min(1).default(['[::]:547']),
  'lease-store': z
    .string()
    .regex(/^(sqlite:.+|postgres(ql)?:\/\/.+)$/, { message: 'must be "sqlite:PATH" or "postgres://…"' })
    .default('sqlite:./xbr-leases.db'),
  'lease-time': int(1, 2 ** 31 - 1).default(3600),
  'max-leases-per-site': int(1, 65536).default(4), // RFC 7618 section 10
  'site-prefix-length': int(0, 128).default(56),
  pools: z.array(poolSchema).min(1, { message: 'needs at least one pool' }),
  /**
   * EXTENSION: the DHCPv4 server identifier (option 54) the 4o6 server puts in its
   * replies. DHCP 4o6 has no IPv4 interface to take it from; the default is the
   * well-known AFTR address 192.0.0.1 (RFC 6333 section 5.7). Clients only echo it.
   */
  'server-id': ipv4Address.default('192.0.0.1'),
  /** EXTENSION: the DHCPv6 server DUID (hex, type included); default: a DUID-UUID generated once and kept in the lease store. */
  'server-duid': z
    .string()
    .regex(/^([0-9a-fA-F]{2}[:-]?){3,130}$/, { message: 'must be the DUID in hex (3..130 octets)' })
    .optional(),
  /**
   * EXTENSION: the addresses sent in OPTION_DHCP4_O_DHCP6_SERVER (88, RFC 7341
   * section 7.2) in DHCPv6 replies; empty: the option is sent empty, which tells the
   * client to use All_DHCP_Relay_Agents_and_Servers.
   */
  'server-addresses': z.array(ipv6Address).default([]),
  /** EXTENSION: seconds an offered (IPv4, PSID) stays reserved for its client (RFC 2131 4.3.2). */
  'offer-time': int(1, 3600).default(60),
  /** EXTENSION: seconds a declined (IPv4, PSID) stays out of the pool (RFC 2131 4.3.3). */
  'decline-time': int(0, 2 ** 31 - 1).default(86400),
  /**
   * EXTENSION, map-t / map-e: the binding of a lease is the client's 4o6 source address
   * (its innermost relay's peer-address when relayed) truncated to this many bits: the
   * CE's end-user prefix for EA-len 0 (see src/dhcp/bindings.ts). lw4o6 always binds
   * the full /128 B4 address (RFC 7596 section 5.1).
   */
  'ce-prefix-length': int(0, 64).default(64),
  /**
   * EXTENSION: how a PSID-len in the client's OPTION_V4_PORTPARAMS is used (RFC 7618
   * section 6 item 2: "MAY allocate a port set of the requested size ... (depending on
   * policy)"). prefer: shared pools with that PSID-len are tried first; ignore: pool order.
   */
  'psid-len-hint': z.enum(['prefer', 'ignore']).default('prefer'),
  /** EXTENSION: at most this many lease changes in one durable transaction (group commit). */
  'commit-batch': int(1, 65536).default(512),
  /** EXTENSION: seconds between expiry sweeps. */
  'expiry-interval': int(1, 3600).default(1),
});

export const apiSchema = z.strictObject({
  listen: endpoint.default('127.0.0.1:8080'),
  /** Required for changes, and for any non-loopback listen (checked in validate.ts). */
  'token-file': nonEmpty.optional(),
});

export const configSchema = z.strictObject({
  mode: z.enum(['map-t', 'map-e', 'lw4o6']),
  /** map-t: Default Mapping Rule, the BR prefix (RFC 6052 lengths). */
  dmr: ipv6Prefix.optional(),
  /** map-e, lw4o6: the BR's IPv6 tunnel endpoint. */
  br: ipv6Address.optional(),
  rules: z.array(ruleSchema).default([]),
  bindings: z.array(bindingSchema).default([]),
  /**
   * EXTENSION: a CSV file of bindings (ipv4,psid-len,psid,ipv6[,psid-offset]) for
   * large tables; relative to the config file. See src/config/bindings-file.ts.
   */
  'bindings-file': nonEmpty.optional(),
  'reserved-ports': reservedPorts.default([0, 1023] as PortRange),
  mtu: z
    .strictObject({
      ipv4: int(68, 65535).default(1500), // RFC 791 minimum
      ipv6: int(1280, 65535).default(1500), // RFC 8200 minimum link MTU
    })
    .prefault({}),
  icmp: z
    .strictObject({
      errors: z.boolean().default(true),
      rate: int(0, 2 ** 32 - 1).default(1000),
      /**
       * EXTENSION: source of the ICMPv4 the BR sends, and of ICMPv6 errors translated
       * from an IPv6 source with no IPv4 form (RFC 6791). Default 192.0.0.8, the IPv4
       * dummy address (RFC 7600).
       */
      'ipv4-source': ipv4Address.default('192.0.0.8'),
      /** EXTENSION: source of the BR's own ICMPv6. Default: `br`, else the DMR prefix + ::1. */
      'ipv6-source': ipv6Address.optional(),
    })
    .prefault({}),
  /** EXTENSION: IPv4 fragment flows (translation needs the first fragment's ports). */
  fragments: z
    .strictObject({
      'timeout-ms': int(1, 600_000).default(2000),
      'table-size': int(1, 1 << 24).default(4096),
    })
    .prefault({}),
  /** EXTENSION: size of the data plane's binding table (static bindings + leases). */
  'binding-capacity': int(1, 1 << 24).default(65536),
  /**
   * EXTENSION, map-e / lw4o6: fragment the outer IPv6 packet when an encapsulated packet
   * exceeds mtu.ipv6 (RFC 2473 section 7); false: answer ICMPv4 Fragmentation Needed.
   */
  'encap-fragment': z.boolean().default(true),
  /**
   * EXTENSION: CE-to-CE traffic through the BR (RFC 7599 12.2 hub-and-spoke, RFC 7596
   * section 6.2, where the hairpinning policy MUST be configurable). false: such
   * packets are dropped (drop_hairpin_disabled).
   */
  hairpinning: z.boolean().default(true),
  /** EXTENSION, lw4o6. */
  lw4o6: z
    .strictObject({
      /** ICMPv4 3/1 for an owned address with no binding for the port (RFC 7596 6.2). */
      'unreachable-on-miss': z.boolean().default(true),
    })
    .prefault({}),
  dataplane: dataplaneSchema.optional(),
  dhcp4o6: dhcp4o6Schema.optional(),
  api: apiSchema.optional(),
});

/** A configuration as parsed, defaults applied (not yet validated semantically). */
export type XbrConfig = z.output<typeof configSchema>;
export type RuleConfig = z.output<typeof ruleSchema>;
export type BindingConfig = z.output<typeof bindingSchema>;
export type Mode = XbrConfig['mode'];
