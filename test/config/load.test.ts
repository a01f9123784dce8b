import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load.js';

const FILE = 'site/xbr.yaml';

/** The error lines of a config that must be refused. */
function refuse(text: string): string[] {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const lines = (e as ConfigError).message.split('\n');
    expect(lines).toHaveLength((e as ConfigError).issues.length);
    return lines;
  }
  throw new Error('config was accepted');
}

/** Expects exactly one error line: file:line:col: path: reason. */
function oneError(text: string, line: number, path: string, reason: RegExp): void {
  const lines = refuse(text);
  expect(lines, lines.join('\n')).toHaveLength(1);
  const m = /^(.+?):(\d+):(\d+): (\S+): (.+)$/.exec(lines[0]);
  expect(m, lines[0]).not.toBeNull();
  expect(m![1]).toBe(FILE);
  expect(Number(m![2])).toBe(line);
  expect(m![4]).toBe(path);
  expect(m![5]).toMatch(reason);
}

const MAPT = `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
`;

describe('parseConfig: accepted configs and defaults', () => {
  it('applies the contract defaults', () => {
    const c = parseConfig(MAPT, FILE);
    expect(c.rules[0]).toMatchObject({ 'psid-offset': 6, 'interface-id': 'rfc7597', fmr: false });
    expect(c['reserved-ports']).toEqual([0, 1023]);
    expect(c.mtu).toEqual({ ipv4: 1500, ipv6: 1500 });
    expect(c.icmp).toEqual({ errors: true, rate: 1000, 'ipv4-source': '192.0.0.8' });
    expect(c.fragments).toEqual({ 'timeout-ms': 2000, 'table-size': 4096 });
    expect(c['binding-capacity']).toBe(65536);
    expect(c['encap-fragment']).toBe(true);
    expect(c.lw4o6).toEqual({ 'unreachable-on-miss': true });
    expect(c.bindings).toEqual([]);
    expect(c.dataplane).toBeUndefined();
  });

  it('loads examples/xbr.yaml', () => {
    const c = loadConfig(join(import.meta.dirname, '../../examples/xbr.yaml'));
    expect(c.mode).toBe('map-t');
    expect(c.rules).toHaveLength(1);
    expect(c.bindings).toHaveLength(1);
  });

  it('accepts the running-box sections of DESIGN.md', () => {
    const c = parseConfig(
      MAPT +
        `dataplane:
  ipv4-interface: eth0
  ipv6-interface: eth1
  queues: 1
  ipv4-next-hop: 192.0.2.254
  ipv6-next-hop: fe80::1
dhcp4o6:
  listen: ["[::]:547"]
  lease-store: sqlite:./xbr-leases.db
  lease-time: 3600
  max-leases-per-site: 4
  site-prefix-length: 56
  pools:
    - name: shared-a
      ipv4: 198.51.100.0/28
      psid-len: 6
      psid-offset: 6
    - name: full-a
      ipv4: 203.0.113.0/29
api:
  listen: 127.0.0.1:8080
  token-file: ./xbr-api.token
`,
      FILE,
    );
    expect(c.dataplane?.queues).toBe(1);
    expect(c.dhcp4o6?.pools[1]['psid-len']).toBe(0);
    expect(c.api?.listen).toBe('127.0.0.1:8080');
  });

  it('accepts a binding inside a rule IPv4 prefix (binding first, RFC 7599 12.1) and reserved-ports none', () => {
    const c = parseConfig(
      MAPT +
        `bindings:
  - { ipv4: 192.0.2.18, psid-len: 8, psid: 0x34, ipv6: 2001:db8:100::/56 }
reserved-ports: none
`,
      FILE,
    );
    expect(c['reserved-ports']).toBeNull();
    expect(c.bindings[0].psid).toBe(0x34);
  });

  it('accepts a full-address rule (k = 0) with psid-offset 0 despite the reserved ports', () => {
    parseConfig(
      `mode: map-e
br: 2001:db8:ffff::1
rules:
  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 8, psid-offset: 0 }
`,
      FILE,
    );
  });
});

describe('parseConfig: shape errors name the file, line:col, key path and reason', () => {
  it('YAML syntax', () => {
    const lines = refuse('mode: map-t\nrules: [\n');
    expect(lines[0]).toMatch(/^site\/xbr\.yaml:\d+:\d+: \(yaml\): /);
  });

  it('duplicate YAML key', () => {
    expect(refuse('mode: map-t\nmode: map-e\n')[0]).toMatch(/^site\/xbr\.yaml:2:1: \(yaml\): .*[Uu]nique|duplicate/);
  });

  it('unknown key (points at the key)', () => {
    oneError(MAPT + '    psid-ofset: 4\n', 7, 'rules[0].psid-ofset', /unknown key/);
    oneError(MAPT + 'mtu: { ipv4: 1500, ipv7: 1 }\n', 7, 'mtu.ipv7', /unknown key/);
  });

  it('missing required key', () => {
    oneError('dmr: 2001:db8:ffff::/64\n', 1, 'mode', /required/);
  });

  it('wrong type', () => {
    oneError(MAPT.replace('ea-len: 16', 'ea-len: sixteen'), 6, 'rules[0].ea-len', /expected number, got string "sixteen"/);
  });

  it('enum', () => {
    oneError(MAPT.replace('mode: map-t', 'mode: nat64'), 1, 'mode', /one of "map-t", "map-e", "lw4o6"/);
  });

  it('out of range', () => {
    oneError(MAPT.replace('ea-len: 16', 'ea-len: 49'), 6, 'rules[0].ea-len', /<= 48/);
    oneError(MAPT + 'mtu: { ipv6: 1000 }\n', 7, 'mtu.ipv6', />= 1280/);
  });

  it('bad address syntax', () => {
    oneError(MAPT.replace('192.0.2.0/24', '192.0.2/24'), 5, 'rules[0].ipv4-prefix', /not an IPv4 prefix/);
    oneError(MAPT.replace('dmr: 2001:db8:ffff::/64', 'dmr: 2001:db8:zzzz::/64'), 2, 'dmr', /not an IPv6 prefix/);
  });

  it('reserved-ports syntax', () => {
    oneError(MAPT + 'reserved-ports: 1023-0\n', 7, 'reserved-ports', /"lo-hi".*"none"/);
  });

  it('dhcp4o6 and api shapes', () => {
    oneError(MAPT + 'dhcp4o6: { lease-time: 10 }\n', 7, 'dhcp4o6.pools', /required/);
    oneError(MAPT + 'api: { listen: "localhost:80" }\n', 7, 'api.listen', /ipv4:port/);
    oneError(MAPT + 'dataplane: { ipv4-interface: eth0, ipv6-interface: eth1, ipv4-next-hop-mac: 11:22 }\n', 7, 'dataplane.ipv4-next-hop-mac', /MAC/);
  });

  it('reports every problem, one per line', () => {
    const lines = refuse(MAPT.replace('ea-len: 16', 'ea-len: x') + 'bogus: 1\nmtu: { ipv4: 10 }\n');
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.split(': ')[1]).sort()).toEqual(['bogus', 'mtu.ipv4', 'rules[0].ea-len']);
  });

  it('loadConfig refuses an unreadable file with a ConfigError', () => {
    expect(() => loadConfig('/nonexistent/xbr.yaml')).toThrow(ConfigError);
    expect(() => loadConfig('/nonexistent/xbr.yaml')).toThrow(/^\/nonexistent\/xbr\.yaml: \(file\): cannot read the file \(ENOENT\)/);
  });

  it('loadConfig names the path it was given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xbr-'));
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'mode: map-t\n');
    expect(() => loadConfig(path)).toThrow(new RegExp(`^${path.replace(/[.]/g, '\\.')}:1:1: dmr: required`));
  });
});
