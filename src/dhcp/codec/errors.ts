/**
 * Decode errors for every DHCP wire codec in this directory.
 *
 * A decoder either returns a value or throws a DhcpDecodeError whose `reason` is one
 * of the stable strings below; the 4o6 server counts dropped messages by reason
 * (DESIGN.md: "a malformed packet is dropped and counted under a named reason").
 * Renaming a reason is a breaking change for dashboards: add, never rename.
 */

export const DHCP_DECODE_REASONS = [
  /** The buffer ends before a fixed field, or before the end an option's length announces. */
  'truncated',
  /** An option's length does not fit its definition (e.g. subnet mask not 4 octets, ORO odd). */
  'bad-option-length',
  /** More than MAX_OPTIONS options in one option list (limits.ts). */
  'too-many-options',
  /** DHCPv4 options area does not start with 99.130.83.99 (RFC 2131 section 3, RFC 2132 section 2). */
  'bad-magic-cookie',
  /** More than MAX_RELAY_DEPTH nested Relay-forward/Relay-reply headers (limits.ts). */
  'relay-too-deep',
  /** A message longer than MAX_MESSAGE_SIZE (65535) octets. */
  'oversized',
  /** The message type is not one this decoder accepts (e.g. decodeDhcp4o6Message given a Solicit). */
  'bad-message-type',
  /** A mandatory option is absent (Relay Message in a relay message, DHCPv4 Message in 4o6). */
  'missing-option',
  /** An option that must appear once appears again (Relay Message, DHCPv4 Message). */
  'duplicate-option',
  /** A prefix length outside its range (IPv6 > 128, IPv4 > 32). */
  'bad-prefix-length',
  /** PSID offset > 15, PSID-len > 16, offset + PSID-len > 16, or non-zero PSID padding bits. */
  'bad-port-params',
  /** A field value outside the values its RFC allows (e.g. option overload not 1, 2 or 3). */
  'bad-value',
  /** A single-item decoder (one option TLV) was given octets after the item. */
  'trailing-bytes',
] as const;

export type DhcpDecodeReason = (typeof DHCP_DECODE_REASONS)[number];

export class DhcpDecodeError extends Error {
  override readonly name = 'DhcpDecodeError';
  readonly reason: DhcpDecodeReason;

  constructor(reason: DhcpDecodeReason, detail?: string) {
    super(detail === undefined ? reason : `${reason}: ${detail}`);
    this.reason = reason;
  }
}
