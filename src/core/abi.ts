// The binary contract between the control plane (TypeScript) and the wasm core
// (assembly/). Both sides read these numbers; assembly/blob.ts mirrors them.
//
// The rule blob: the compiled configuration. The control plane writes it once per
// (re)load, the worker copies it into wasm memory at `blobPtr()` and calls
// `rulesLoad(len)` between two batches, so a batch sees either the old or the new
// rules, never a mix. All multi-byte integers are little-endian; IPv4 addresses are
// stored as their numeric value (192.0.2.1 = 0xc0000201), IPv6 addresses as their 16
// network-order bytes.

export const BLOB_MAGIC = 0x31524258; // "XBR1"

export const MODE = { 'map-t': 0, 'map-e': 1, lw4o6: 2 } as const;
export type Mode = keyof typeof MODE;

/** Header flag bits (byte 5). */
export const FLAG = {
  ICMP_ERRORS: 1 << 0, // emit ICMP errors (icmp.errors)
  MAC4: 1 << 1, // v4-side MAC addresses below are valid
  MAC6: 1 << 2, // v6-side MAC addresses below are valid
  LW_UNREACH: 1 << 3, // lw4o6: ICMPv4 3/1 on a binding miss for an address the BR owns
  FRAGMENT_ENCAP: 1 << 4, // encap modes: fragment the outer IPv6 (else Fragmentation Needed)
  NO_HAIRPIN: 1 << 5, // hairpinning: false — CE-to-CE through the BR is dropped (RFC 7596 6.2)
} as const;

/** Byte offsets of the blob header. */
export const HDR = {
  MAGIC: 0, // u32
  MODE: 4, // u8
  FLAGS: 5, // u8
  MTU4: 6, // u16
  MTU6: 8, // u16
  RESERVED_LO: 10, // u16  reserved ports [lo, hi]; lo > hi means none
  RESERVED_HI: 12, // u16
  DMR_LEN: 14, // u8   RFC 6052 prefix length: 32 40 48 56 64 96
  DMR: 16, // 16 B
  BR: 32, // 16 B   map-e / lw4o6 tunnel endpoint; map-t: source of the BR's own ICMPv6
  ICMP_RATE: 48, // u32  ICMP errors per second per worker
  ICMP_SRC4: 52, // u32  source of the BR's own ICMPv4 and of untranslatable ICMPv6 (RFC 6791)
  MAC4_SRC: 56, // 6 B  the BR's MAC on the IPv4 side
  MAC4_DST: 62, // 6 B  the IPv4 next hop's MAC
  MAC6_SRC: 68, // 6 B
  MAC6_DST: 74, // 6 B
  FRAG_TIMEOUT_MS: 80, // u32 how long a fragment flow's state (and held fragments) live
  RULE_COUNT: 84, // u32
  RULES: 88, // RULE_SIZE * RULE_COUNT
} as const;

export const RULE_SIZE = 48;
/** Byte offsets inside one rule record. */
export const RULE = {
  IPV6: 0, // 16 B rule IPv6 prefix
  IPV6_LEN: 16, // u8
  IPV4_LEN: 17, // u8
  EA_LEN: 18, // u8
  PSID_OFFSET: 19, // u8  'a' (RFC 7597 5.1)
  PSID_LEN: 20, // u8  'k' = ea-len - (32 - ipv4 prefix length), 0 when negative
  FLAGS: 21, // u8  RULE_FLAG
  IPV4: 24, // u32 rule IPv4 prefix (numeric)
  SHARING_RATIO: 28, // u16 R of the generalized modulus form (RULE_FLAG.MODULUS)
  CONTIGUOUS: 30, // u16 M of the generalized modulus form
} as const;

export const RULE_FLAG = {
  FMR: 1 << 0, // also a Forwarding Mapping Rule
  DIVI_PD: 1 << 1, // interface identifier of the dIVI-pd draft (Figure 4)
  MODULUS: 1 << 2, // PSID = floor(P / M) % R instead of the bit layout
} as const;

export const BLOB_MAX_RULES = 4096;
export const BLOB_CAPACITY = HDR.RULES + RULE_SIZE * BLOB_MAX_RULES;

/** Return codes of rulesLoad / bindingPut / bindingRemove. */
export const STATUS = {
  OK: 0,
  BAD_MAGIC: 1,
  TOO_MANY_RULES: 2,
  TABLE_FULL: 3,
  PARAMS_CONFLICT: 4, // a binding's psid-len/offset differs from other bindings on its IPv4 address
  NOT_FOUND: 5,
  BAD_ARGUMENT: 6,
  BLOB_TRUNCATED: 7,
} as const;

/**
 * Packet descriptors (rx and tx arrays in wasm memory), 8 bytes each:
 *   u32 address  wasm-memory address of the packet's first byte (L2 header, or IP for raw)
 *   u16 length
 *   u8  port     0 = IPv4 side, 1 = IPv6 side
 *   u8  index    rx: 0; tx: the index in its batch of the received packet that
 *                produced it (batches are at most 256 packets)
 */
export const DESC_SIZE = 8;
export const PORT_V4 = 0;
export const PORT_V6 = 1;

/** Link types of a batch (setLinkType). Values are pcap's. */
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;

/**
 * Per-subscriber trace slots of a core (assembly/map/trace.ts TRACE_MAX): slot t
 * (1..TRACE_SLOTS) has four u64 counters at traceCountersPtr() + (t - 1) * 32, in
 * TRACE_COUNTER order.
 */
export const TRACE_SLOTS = 64;
export const TRACE_COUNTER = { FROM_PACKETS: 0, FROM_BYTES: 1, TO_PACKETS: 2, TO_BYTES: 3 } as const;
