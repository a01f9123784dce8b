// One test per semantic error kind of validate.ts; each asserts that the message
// names the file, the line, the key path and the reason.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

const FILE = 'xbr.yaml';

function errors(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.message.split('\n');
  }
  return [];
}

/** Exactly one error, at `line`, for `path`, matching `reason`. */
function expectError(text: string, line: number, path: string, reason: RegExp): void {
  const lines = errors(text);
  expect(lines, lines.join('\n') || 'config was accepted').toHaveLength(1);
  const m = /^xbr\.yaml:(\d+):(\d+): (\S+): (.+)$/.exec(lines[0]);
  expect(m, lines[0]).not.toBeNull();
  expect({ line: Number(m![1]), path: m![3] }).toEqual({ line, path });
  expect(m![4]).toMatch(reason);
}

const HEAD_T = 'mode: map-t\ndmr: 2001:db8:ffff::/64\n'; // 2 lines
const RULE = (v6: string, v4: string, ea: number, extra = '') => `  - { ipv6-prefix: ${v6}, ipv4-prefix: ${v4}, ea-len: ${ea}${extra} }\n`;
const BIND = (v4: string, k: number, psid: number, v6: string, extra = '') => `  - { ipv4: ${v4}, psid-len: ${k}, psid: ${psid}, ipv6: ${v6}${extra} }\n`;

describe('mode-dependent keys', () => {
  it('map-t requires dmr', () => {
    expectError('mode: map-t\nrules: []\n', 1, 'dmr', /required in map-t mode/);
  });
  it('map-e and lw4o6 require br', () => {
    expectError('mode: map-e\n', 1, 'br', /required in map-e mode/);
    expectError('mode: lw4o6\n', 1, 'br', /required in lw4o6 mode/);
  });
  it('dmr must have an RFC 6052 length', () => {
    expectError('mode: map-t\ndmr: 2001:db8:ffff::/60\n', 2, 'dmr', /\/60 is not an RFC 6052 length/);
    expectError('mode: map-t\ndmr: 2001:db8:ffff::/128\n', 2, 'dmr', /not an RFC 6052 length/);
  });
  it('a /96 dmr needs bits 64..71 zero (RFC 6052 2.2)', () => {
    expectError('mode: map-t\ndmr: 2001:db8:0:0:100::/96\n', 2, 'dmr', /bits 64 to 71/);
  });
  it('prefixes must not have host bits', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.1/24', 16), 4, 'rules[0].ipv4-prefix', /bits beyond \/24 are set/);
  });
  it('in encap modes the ICMPv6 source is br', () => {
    expectError('mode: map-e\nbr: 2001:db8::1\nicmp: { ipv6-source: 2001:db8::2 }\n', 3, 'icmp.ipv6-source', /comes from br/);
  });
});

describe('EA-length consistency (RFC 7597 5.1, 5.2)', () => {
  it('k = ea-len - (32 - r) must be <= 16', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 25), 4, 'rules[0].ea-len', /k = ea-len - \(32 - 24\) = 17 exceeds 16/);
  });
  it('a + k must be <= 16', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 20, ', psid-offset: 6'), 4, 'rules[0].ea-len', /psid-offset 6 \+ PSID length 12 .* exceeds 16/);
  });
  it('ipv6 prefix length + ea-len must be <= 128', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/120', '192.0.2.0/24', 16), 4, 'rules[0].ea-len', /120 \+ ea-len 16 exceeds 128/);
  });
  it('an end-user prefix longer than 64 is fine for map-t (the IID overwrite handles it)', () => {
    expect(errors(HEAD_T + 'rules:\n' + RULE('2001:db8::/60', '192.0.2.0/24', 16))).toEqual([]);
  });
  it('divi-pd interface identifiers are for map-t only', () => {
    expectError('mode: map-e\nbr: 2001:db8::1\nrules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 16, ', interface-id: divi-pd'), 4, 'rules[0].interface-id', /translation/);
  });
});

describe('overlapping rules', () => {
  it('IPv4 prefixes', () => {
    expectError(
      HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 16) + RULE('2001:db8:100::/40', '192.0.2.128/25', 17),
      5,
      'rules[1].ipv4-prefix',
      /overlaps rules\[0\]\.ipv4-prefix 192\.0\.2\.0\/24/,
    );
  });
  it('IPv6 prefixes', () => {
    expectError(
      HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 16) + RULE('2001:db8::/48', '198.51.100.0/24', 8),
      5,
      'rules[1].ipv6-prefix',
      /overlaps rules\[0\]\.ipv6-prefix 2001:db8::\/40/,
    );
  });
});

describe('bindings', () => {
  it('PSID must fit in psid-len bits', () => {
    expectError(HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 64, '2001:db8:77::/64'), 4, 'bindings[0].psid', /PSID 64 does not fit in psid-len 6 bits/);
  });
  it('bindings on one address must agree on psid-len (RFC 7597 5.1)', () => {
    expectError(
      HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/64') + BIND('198.51.100.7', 7, 13, '2001:db8:78::/64'),
      5,
      'bindings[1].psid-len',
      /bindings\[0\] shares 198\.51\.100\.7 with psid-len 6 psid-offset 6/,
    );
  });
  it('bindings on one address must agree on psid-offset', () => {
    expectError(
      HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/64') + BIND('198.51.100.7', 6, 13, '2001:db8:78::/64', ', psid-offset: 4'),
      5,
      'bindings[1].psid-offset',
      /every binding on one address must use the same/,
    );
  });
  it('duplicate (ipv4, psid)', () => {
    expectError(
      HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/64') + BIND('198.51.100.7', 6, 12, '2001:db8:78::/64'),
      5,
      'bindings[1].psid',
      /duplicate of bindings\[0\]/,
    );
  });
  it('a binding port set must not reach into reserved-ports (RFC 7618 section 8)', () => {
    expectError(
      HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 0, '2001:db8:77::/64', ', psid-offset: 0'),
      4,
      'bindings[0].psid',
      /PSID 0 \(ports 0-1023, …\) reaches into reserved-ports 0-1023/,
    );
    // PSID 1 of the same layout is 1024-2047: fine
    expect(errors(HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 1, '2001:db8:77::/64', ', psid-offset: 0'))).toEqual([]);
  });
  it('lw4o6 bindings need a /128 B4 address', () => {
    expectError('mode: lw4o6\nbr: 2001:db8::1\nbindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/64'), 4, 'bindings[0].ipv6', /must be a \/128, not \/64/);
    expect(errors('mode: lw4o6\nbr: 2001:db8::1\nbindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::5'))).toEqual([]);
  });
  it('map-t / map-e bindings need an end-user prefix of /64 or shorter', () => {
    expectError(HEAD_T + 'bindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::5'), 4, 'bindings[0].ipv6', /\/64 or shorter, not \/128/);
    expectError('mode: map-e\nbr: 2001:db8::1\nbindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/72'), 4, 'bindings[0].ipv6', /not \/72/);
  });
  it('more bindings than binding-capacity', () => {
    expectError(
      HEAD_T + 'binding-capacity: 1\nbindings:\n' + BIND('198.51.100.7', 6, 12, '2001:db8:77::/64') + BIND('198.51.100.8', 6, 12, '2001:db8:78::/64'),
      5,
      'bindings',
      /2 bindings exceed binding-capacity 1/,
    );
  });
});

describe('rule port sets vs reserved-ports (RFC 7618 section 8)', () => {
  it('psid-offset 0 with k > 0 conflicts with the default 0-1023', () => {
    expectError(
      HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 14, ', psid-offset: 0'),
      4,
      'rules[0].psid-offset',
      /port sets reach into reserved-ports 0-1023 \(port 0 belongs to PSID 0/,
    );
  });
  it('psid-offset 8 leaves 256-1023 in the port sets', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 12, ', psid-offset: 8'), 4, 'rules[0].psid-offset', /port 256 belongs to PSID 0/);
  });
  it('is fine with reserved-ports none, or a range the port sets avoid', () => {
    expect(errors(HEAD_T + 'reserved-ports: none\nrules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 14, ', psid-offset: 0'))).toEqual([]);
    expect(errors(HEAD_T + 'reserved-ports: 0-4095\nrules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 12, ', psid-offset: 4'))).toEqual([]);
  });
});

describe('modulus-form rules (dIVI-pd section 4.1)', () => {
  it('accepts sharing-ratio + contiguous-ports when R fits the PSID bits exactly', () => {
    expect(errors(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 10, ', sharing-ratio: 3, contiguous-ports: 4'))).toEqual([]);
  });
  it('psid-offset is an alternative', () => {
    expectError(
      HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 10, ', psid-offset: 6, sharing-ratio: 3, contiguous-ports: 4'),
      4,
      'rules[0].psid-offset',
      /alternatives/,
    );
  });
  it('sharing-ratio needs contiguous-ports', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 10, ', sharing-ratio: 3'), 4, 'rules[0].contiguous-ports', /required with sharing-ratio/);
  });
  it('R must match the PSID length from ea-len', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 16, ', sharing-ratio: 3, contiguous-ports: 4'), 4, 'rules[0].ea-len', /needs a PSID length of 2 bits, but ea-len 16 gives 8/);
  });
  it('R*M small enough that the port sets skip well-known ports but 1024/(RM) rounds up correctly', () => {
    expectError(HEAD_T + 'rules:\n' + RULE('2001:db8::/40', '192.0.2.0/24', 10, ', sharing-ratio: 3, contiguous-ports: 20000'), 4, 'rules[0].contiguous-ports', /leaves no port range/);
  });
});

describe('other sections', () => {
  it('api on a non-loopback address needs a token-file', () => {
    expectError(HEAD_T + 'api:\n  listen: 0.0.0.0:8080\n', 3, 'api.token-file', /required when api.listen \(0\.0\.0\.0:8080\) is not a loopback/);
    expect(errors(HEAD_T + 'api:\n  listen: "[::1]:8080"\n')).toEqual([]);
  });
  it('dhcp4o6 pools: unique names, no overlap', () => {
    const lines = errors(
      HEAD_T + 'dhcp4o6:\n  pools:\n    - { name: a, ipv4: 198.51.100.0/28 }\n    - { name: a, ipv4: 198.51.100.8/29 }\n',
    );
    expect(lines).toEqual([
      'xbr.yaml:6:15: dhcp4o6.pools[1].name: duplicate of dhcp4o6.pools[0].name',
      'xbr.yaml:6:24: dhcp4o6.pools[1].ipv4: overlaps dhcp4o6.pools[0].ipv4 198.51.100.0/28',
    ]);
  });
});
