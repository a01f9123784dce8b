// `xbr check` and `xbr calc`, called through their action functions.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { calcAction, formatPortSet, type CalcOptions } from '../../src/cli/calc.js';
import { checkAction } from '../../src/cli/check.js';
import { registerCommands } from '../../src/cli/commands.js';
import type { CommandIO } from '../../src/cli/io.js';

const EXAMPLE = join(import.meta.dirname, '../../examples/xbr.yaml');

function capture(): CommandIO & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

/** Runs calc; returns the exit code and the table as { label: value }. */
function calc(opts: CalcOptions) {
  const io = capture();
  const code = calcAction(opts, io);
  const rows: Record<string, string> = {};
  for (const line of io.outLines) {
    const m = /^(\S+(?: \S+)?)\s{2,}(.*)$/.exec(line);
    if (m) rows[m[1]] = m[2];
  }
  return { code, rows, out: io.outLines, err: io.errLines };
}

function tempConfig(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'xbr-cli-')), 'xbr.yaml');
  writeFileSync(path, text);
  return path;
}

describe('xbr check', () => {
  it('accepts examples/xbr.yaml with a summary and exit 0', () => {
    const io = capture();
    expect(checkAction({ config: EXAMPLE }, io)).toBe(0);
    expect(io.errLines).toEqual([]);
    expect(io.outLines[0]).toBe(`${EXAMPLE}: ok`);
    expect(io.outLines.join('\n')).toMatch(/mode\s+map-t\nrules\s+1 \(1 FMR\)\nbindings\s+1\nrule blob\s+136 bytes/);
  });

  it('refuses a bad config with every error on stderr, exit 2, no stack', () => {
    const path = tempConfig('mode: map-t\nrules:\n  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 30 }\nextra: 1\n');
    const io = capture();
    expect(checkAction({ config: path }, io)).toBe(2);
    expect(io.outLines).toEqual([]);
    expect(io.errLines).toEqual([`${path}:4:1: extra: unknown key`]);
    // after the shape is fixed, the semantic errors all come at once
    const path2 = tempConfig('mode: map-t\nrules:\n  - { ipv6-prefix: 2001:db8::/40, ipv4-prefix: 192.0.2.0/24, ea-len: 30 }\n');
    const io2 = capture();
    expect(checkAction({ config: path2 }, io2)).toBe(2);
    expect(io2.errLines).toEqual([
      `${path2}:1:1: dmr: required in map-t mode: the Default Mapping Rule, the BR prefix (RFC 7599 section 5)`,
      `${path2}:3:70: rules[0].ea-len: PSID length k = ea-len - (32 - 24) = 22 exceeds 16`,
    ]);
    expect(io2.errLines.join('\n')).not.toMatch(/\s+at /);
  });

  it('is registered on the program', () => {
    const program = new Command();
    registerCommands(program);
    expect(program.commands.map((c) => c.name())).toEqual(expect.arrayContaining(['check', 'calc']));
  });
});

describe('xbr calc', () => {
  it('forward: RFC 7599 Appendix A example 1 from the example config', () => {
    const r = calc({ config: EXAMPLE, ipv4: '192.0.2.18', port: '1232' });
    expect(r.code).toBe(0);
    expect(r.rows).toMatchObject({
      ipv4: '192.0.2.18',
      port: '1232',
      psid: '52 (0x34)',
      ports: '1232-1235, 2256-2259, 3280-3283, …, 64720-64723 (63 ranges, 252 ports)',
      'end-user prefix': '2001:db8:12:3400::/56',
      'map address': '2001:db8:12:3400:0:c000:212:34',
    });
    expect(r.rows.rule).toMatch(/^rules\[0\] 2001:db8::\/40 ↔ 192\.0\.2\.0\/24, ea-len 16, psid-offset 6, PSID length 8/);
    // the table is aligned: every value starts in the same column
    const cols = new Set(r.out.map((l) => l.search(/(?<=\S {2,})\S/)));
    expect(cols.size).toBe(1);
  });

  it('forward with --psid instead of a port', () => {
    expect(calc({ config: EXAMPLE, ipv4: '192.0.2.18', psid: '0x34' }).rows['map address']).toBe('2001:db8:12:3400:0:c000:212:34');
  });

  it('reverse: the MAP address gives back the IPv4 address, PSID and port set', () => {
    const r = calc({ config: EXAMPLE, ipv6: '2001:db8:12:3400:0:c000:212:34' });
    expect(r.code).toBe(0);
    expect(r.rows).toMatchObject({ ipv4: '192.0.2.18', psid: '52 (0x34)', valid: 'yes' });
    expect(r.rows.ports).toMatch(/^1232-1235/);
  });

  it('reverse: an address that disagrees with its EA bits is reported invalid, exit 1', () => {
    const r = calc({ config: EXAMPLE, ipv6: '2001:db8:12:3400:0:c000:212:35' });
    expect(r.code).toBe(1);
    expect(r.err.join('\n')).toMatch(/not a valid MAP address under this rule \(the MAP address would be 2001:db8:12:3400:0:c000:212:34\)/);
  });

  it('uses a binding first for its address (RFC 7599 12.1)', () => {
    const r = calc({ config: EXAMPLE, ipv4: '198.51.100.7', port: '1216' });
    expect(r.code).toBe(0);
    expect(r.rows).toMatchObject({
      psid: '12 (0xc)',
      ports: '1216-1231, 2240-2255, 3264-3279, …, 64704-64719 (63 ranges, 1008 ports)',
      'end-user prefix': '2001:db8:100:77::/64',
      'map address': '2001:db8:100:77:0:c633:6407:c',
    });
    expect(calc({ config: EXAMPLE, ipv6: '2001:db8:100:77:0:c633:6407:c' }).rows.valid).toBe('yes');
    expect(calc({ config: EXAMPLE, ipv4: '198.51.100.7', port: '1232' }).code).toBe(1);
  });

  it('accepts the rule inline, without a config', () => {
    const r = calc({ ipv6Prefix: '2001:db8::/40', ipv4Prefix: '192.0.2.0/24', eaLen: '16', psidOffset: '6', ipv4: '192.0.2.18', port: '64723' });
    expect(r.code).toBe(0);
    expect(r.rows['map address']).toBe('2001:db8:12:3400:0:c000:212:34');
    expect(r.rows.rule).toMatch(/^2001:db8::\/40 ↔ 192\.0\.2\.0\/24/);
    const bad = calc({ ipv6Prefix: '2001:db8::/40', ipv4Prefix: '192.0.2.0/24', eaLen: '30', ipv4: '192.0.2.18', port: '1' });
    expect(bad.code).toBe(2);
    expect(bad.err).toEqual(['--ea-len: PSID length k = ea-len - (32 - 24) = 22 exceeds 16']);
  });

  it('says when no rule covers the input, and when the input is incomplete', () => {
    expect(calc({ config: EXAMPLE, ipv4: '203.0.113.1', port: '1' })).toMatchObject({ code: 1, err: ['no rule or binding covers 203.0.113.1'] });
    expect(calc({ config: EXAMPLE, ipv4: '192.0.2.18' })).toMatchObject({ code: 2 });
    expect(calc({ config: EXAMPLE })).toMatchObject({ code: 2 });
    expect(calc({ config: EXAMPLE, ipv4: '192.0.2.18', port: '70000' })).toMatchObject({ code: 2 });
  });

  it('formats port sets compactly', () => {
    expect(formatPortSet([[0, 65535]])).toBe('0-65535 (1 range, 65536 ports)');
    expect(formatPortSet([[5, 5], [9, 9]])).toBe('5, 9 (2 ranges, 2 ports)');
  });
});
