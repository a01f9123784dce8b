/**
 * Hard bounds applied by every decoder, so that no input can make a decoder allocate
 * without limit, loop without limit, or recurse without limit.
 */

/**
 * Largest message accepted. A DHCPv6 message travels in one UDP datagram whose
 * length field is 16 bits (RFC 768); a DHCPv4 message inside OPTION_DHCPV4_MSG is
 * bounded by the 16-bit option-len (RFC 7341 section 7.1, RFC 8415 section 21.1).
 */
export const MAX_MESSAGE_SIZE = 65535;

/** At most this many options in one option list (one message, or one container). */
export const MAX_OPTIONS = 256;

/**
 * At most this many nested Relay-forward / Relay-reply headers. RFC 3315 section 5.1
 * had HOP_COUNT_LIMIT = 32; RFC 8415 section 7.6 lowered it to 8. The decoder keeps
 * the older, larger bound as a structural safety limit (relays built to RFC 3315 may
 * still be deployed); the server applies HOP_COUNT_LIMIT as policy.
 */
export const MAX_RELAY_DEPTH = 32;

/** RFC 8415 section 7.6: maximum hop count in a Relay-forward message. */
export const HOP_COUNT_LIMIT = 8;
