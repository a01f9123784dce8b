/** DHCP wire codecs: DHCPv6 (RFC 8415), DHCPv4 over DHCPv6 (RFC 7341), DHCPv4 (RFC 2131/2132), Softwire46 options (RFC 7598). */
export * from './errors.js';
export * from './limits.js';
export * from './bytes.js';
export * from './addr.js';
export * from './portparams.js';
export * from './dhcpv6.js';
export * from './dhcp4o6.js';
export * from './dhcpv4.js';
export * from './s46.js';
export * from './fast4o6.js';
