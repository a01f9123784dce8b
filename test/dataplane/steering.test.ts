// What the XDP program is told to steer: the config's prefixes, plus binding
// addresses outside them merged into the fewest aligned blocks.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { coveredBy, mergeAddresses, steeringFor } from '../../src/dataplane/steering.js';

const v4 = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const text = (p: { addr: Uint8Array; len: number }) => `${[...p.addr].join('.')}/${p.len}`;

const config = parseConfig(
  `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 16, psid-offset: 6 }
`,
  'steer.yaml',
);

describe('steering sets', () => {
  it('merges contiguous addresses into aligned CIDR blocks', () => {
    const addrs = ['10.0.0.0', '10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.5', '10.0.0.6'].map(v4);
    expect(mergeAddresses(addrs).map(text)).toEqual(['10.0.0.0/30', '10.0.0.5/32', '10.0.0.6/32']);
    expect(mergeAddresses([v4('10.0.0.7'), v4('10.0.0.7')]).map(text)).toEqual(['10.0.0.7/32']);
  });

  it('steers the rule prefix and the DMR, and binding addresses only outside the rules', () => {
    const s = steeringFor(config, [v4('192.0.2.77'), v4('198.51.100.7')]);
    expect(s.v4.map(text)).toEqual(['192.0.2.0/24', '198.51.100.7/32']);
    expect(s.v6.map((p) => p.len)).toEqual([64]);
  });

  it('tells which addresses the config covers already', () => {
    const covered = coveredBy(config);
    expect(covered(v4('192.0.2.18'))).toBe(true);
    expect(covered(v4('192.0.3.1'))).toBe(false);
  });
});
