// The packet toolkit: builders, parser, checksum validators and reassembly, used by
// tests, examples, `xbr bench` and the lab.
export * from './addr.js';
export * from './checksum.js';
export * from './constants.js';
export * from './build.js';
export * from './parse.js';
export * from './check.js';
