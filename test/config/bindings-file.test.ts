// `bindings-file:` (src/config/bindings-file.ts): CSV with a header, refused at the
// first bad line with file:line: reason; duplicates and overlapping port sets on one
// IPv4 address are errors; a million lines load and land in the core's table.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BindingsFileError, loadBindingsFile, type BindingCheckOptions } from '../../src/config/bindings-file.js';
import { collectBindings } from '../../src/core/bindings.js';
import { parseConfig } from '../../src/config/load.js';
import { Engine } from '../../src/core/engine.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-bindings-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LW: BindingCheckOptions = { mode: 'lw4o6', reserved: [0, 1023] };
const ME: BindingCheckOptions = { mode: 'map-e', reserved: [0, 1023] };

let seq = 0;
function file(text: string): string {
  const f = join(dir, `b${seq++}.csv`);
  writeFileSync(f, text);
  return f;
}

const v4 = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('bindings-file: good files', () => {
  it('reads every column, skips comments and blank lines, takes CRLF', () => {
    const f = file(
      [
        'ipv4,psid-len,psid,ipv6,psid-offset',
        '# a comment',
        '198.51.100.7,6,12,2001:db8:77::7,6',
        '',
        ' 198.51.100.7 , 6 , 13 , 2001:db8:77::8 , 6 ',
        '198.51.100.9,0,0,2001:db8:77::9/128,0',
        '198.51.100.10,8,255,2001:db8:77::a,4',
      ].join('\r\n'),
    );
    const p = loadBindingsFile(f, LW);
    expect(p.count).toBe(4);
    expect(p.get(0)).toMatchObject({ ipv4: v4('198.51.100.7'), psidLen: 6, psid: 12, psidOffset: 6, prefixLen: 128 });
    expect(hex(p.get(0).ipv6)).toBe('20010db8007700000000000000000007');
    expect(p.get(1)).toMatchObject({ psid: 13 });
    expect(p.get(2)).toMatchObject({ ipv4: v4('198.51.100.9'), psidLen: 0, psid: 0, psidOffset: 0, prefixLen: 128 });
    expect(p.get(3)).toMatchObject({ psidLen: 8, psid: 255, psidOffset: 4 });
  });

  it('columns in any order; psid-offset defaults to 6; map-e prefixes', () => {
    const f = file('IPv6,IPv4,PSID,PSID-Len\n2001:db8:100::/56,192.0.2.1,3,4\n2001:db8:200::/64,192.0.2.1,4,4\n');
    const p = loadBindingsFile(f, ME);
    expect(p.count).toBe(2);
    expect(p.get(0)).toMatchObject({ ipv4: v4('192.0.2.1'), psidLen: 4, psid: 3, psidOffset: 6, prefixLen: 56 });
    expect(hex(p.get(1).ipv6)).toBe('20010db8020000000000000000000000');
  });

  it('a header alone is an empty table', () => {
    expect(loadBindingsFile(file('ipv4,psid-len,psid,ipv6\n'), LW).count).toBe(0);
  });
});

describe('bindings-file: the first bad line, as file:line: reason', () => {
  const H = 'ipv4,psid-len,psid,ipv6\n';
  const good = '198.51.100.7,6,12,2001:db8:77::7\n';
  const cases: { name: string; text: string; line: number; reason: RegExp; opts?: BindingCheckOptions }[] = [
    { name: 'no header', text: '198.51.100.7,6,12,2001:db8:77::7\n', line: 1, reason: /header must name the columns/ },
    { name: 'empty file', text: '', line: 1, reason: /header must name the columns/ },
    { name: 'field count', text: H + good + '198.51.100.7,6,13\n', line: 3, reason: /3 fields, the header has 4/ },
    { name: 'ipv4 out of range', text: H + '198.51.100.256,6,12,2001:db8:77::7\n', line: 2, reason: /ipv4: "198.51.100.256" is not an IPv4 address/ },
    { name: 'ipv4 with a leading zero', text: H + '198.051.100.7,6,12,2001:db8:77::7\n', line: 2, reason: /ipv4: .* is not an IPv4 address/ },
    { name: 'ipv4 not an address', text: H + good + good.replace('198.51.100.7', 'host') , line: 3, reason: /ipv4: "host"/ },
    { name: 'psid-len over 16', text: H + '198.51.100.7,17,12,2001:db8:77::7\n', line: 2, reason: /psid-len: "17" is not 0..16/ },
    { name: 'psid-len not a number', text: H + '198.51.100.7,six,12,2001:db8:77::7\n', line: 2, reason: /psid-len: "six"/ },
    { name: 'psid over 65535', text: H + '198.51.100.7,6,65536,2001:db8:77::7\n', line: 2, reason: /psid: "65536" is not 0..65535/ },
    { name: 'psid negative', text: H + '198.51.100.7,6,-1,2001:db8:77::7\n', line: 2, reason: /psid: "-1"/ },
    { name: 'psid-offset over 15', text: 'ipv4,psid-len,psid,ipv6,psid-offset\n198.51.100.7,6,12,2001:db8:77::7,16\n', line: 2, reason: /psid-offset: "16" is not 0..15/ },
    { name: 'psid too big for psid-len', text: H + good + '198.51.100.7,6,64,2001:db8:77::7\n', line: 3, reason: /psid 64 does not fit psid-len 6/ },
    { name: 'psid-len + psid-offset over 16', text: 'ipv4,psid-len,psid,ipv6,psid-offset\n198.51.100.7,12,1,2001:db8:77::7,6\n', line: 2, reason: /psid-len 12 with psid-offset 6 exceeds 16 bits/ },
    { name: 'ipv6 not an address', text: H + '198.51.100.7,6,12,2001:db8:77::g\n', line: 2, reason: /ipv6: "2001:db8:77::g" is not an IPv6 address/ },
    { name: 'ipv6 prefix length', text: H + '198.51.100.7,6,12,2001:db8:77::7/129\n', line: 2, reason: /bad prefix length/ },
    { name: 'ipv6 host bits', text: H + '198.51.100.7,6,12,2001:db8:77::7/64\n', line: 2, reason: /bits set after \/64/, opts: ME },
    { name: 'lw4o6 needs a /128', text: H + '198.51.100.7,6,12,2001:db8:77::/64\n', line: 2, reason: /lw4o6 binds a B4 address \(\/128\), not a \/64/ },
    { name: 'map-e needs a prefix of /64 or shorter', text: H + '198.51.100.7,6,12,2001:db8:77::7\n', line: 2, reason: /must be \/64 or shorter, not \/128/, opts: ME },
    { name: 'a port set in reserved-ports', text: 'ipv4,psid-len,psid,ipv6,psid-offset\n198.51.100.7,6,0,2001:db8:77::7,0\n', line: 2, reason: /reaches into reserved-ports \(RFC 7618 section 8\)/ },
    { name: 'duplicate', text: H + good + '198.51.100.8,6,12,2001:db8:77::8\n' + '198.51.100.7,6,12,2001:db8:77::9\n', line: 4, reason: /duplicate binding for 198.51.100.7 psid 12/ },
    { name: 'duplicate full address', text: H + '198.51.100.9,0,0,2001:db8:77::9\n198.51.100.9,0,0,2001:db8:77::a\n', line: 3, reason: /duplicate binding for 198.51.100.9 psid 0/ },
    {
      name: 'overlapping port sets: another psid-len on the same address',
      text: H + good + '198.51.100.7,8,48,2001:db8:77::8\n',
      line: 3,
      reason: /198.51.100.7 already has bindings with psid-len 6 psid-offset 6: port sets on one address must not overlap/,
    },
    {
      name: 'overlapping port sets: another psid-offset on the same address',
      text: 'ipv4,psid-len,psid,ipv6,psid-offset\n198.51.100.7,6,12,2001:db8:77::7,6\n198.51.100.7,6,13,2001:db8:77::8,4\n',
      line: 3,
      reason: /already has bindings with psid-len 6 psid-offset 6/,
    },
    {
      name: 'overlapping port sets: a full address next to a shared one',
      text: H + good + '198.51.100.7,0,0,2001:db8:77::8\n',
      line: 3,
      reason: /already has bindings/,
    },
    { name: 'only the first of several bad lines', text: H + good + 'x,6,1,2001:db8::1\n198.51.100.7,99,1,2001:db8::1\n', line: 3, reason: /ipv4: "x"/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const f = file(c.text);
      let err: unknown;
      try {
        loadBindingsFile(f, c.opts ?? LW);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BindingsFileError);
      const e = err as BindingsFileError;
      expect(e.file).toBe(f);
      expect(e.line).toBe(c.line);
      expect(e.reason).toMatch(c.reason);
      expect(e.message).toBe(`${f}:${c.line}: ${e.reason}`);
    });
  }

  it('a file that cannot be read', () => {
    expect(() => loadBindingsFile(join(dir, 'missing.csv'), LW)).toThrow(/missing\.csv:0: cannot read/);
  });

  it('duplicates across the YAML list and the file (collectBindings)', () => {
    writeFileSync(join(dir, 'dup.csv'), 'ipv4,psid-len,psid,ipv6\n198.51.100.8,6,13,2001:db8:77::8\n198.51.100.7,6,12,2001:db8:77::9\n');
    const config = parseConfig(
      'mode: lw4o6\nbr: 2001:db8:ffff::1\nbindings-file: dup.csv\nbindings:\n  - { ipv4: 198.51.100.7, psid-len: 6, psid: 12, ipv6: 2001:db8:77::7 }\n',
      join(dir, 'x.yaml'),
    );
    expect(() => collectBindings(config, join(dir, 'x.yaml'))).toThrow(/dup\.csv:3: duplicate binding for 198\.51\.100\.7 psid 12/);
  });

  it('collectBindings puts the YAML list first, then the file, resolved next to the config', () => {
    writeFileSync(join(dir, 'ok.csv'), 'ipv4,psid-len,psid,ipv6\n198.51.100.8,6,13,2001:db8:77::8\n');
    const config = parseConfig(
      'mode: lw4o6\nbr: 2001:db8:ffff::1\nbindings-file: ok.csv\nbindings:\n  - { ipv4: 198.51.100.7, psid-len: 6, psid: 12, ipv6: 2001:db8:77::7 }\n',
      join(dir, 'y.yaml'),
    );
    const all = collectBindings(config, join(dir, 'y.yaml'));
    expect(all.count).toBe(2);
    expect(all.get(0).ipv4).toBe(v4('198.51.100.7'));
    expect(all.get(1).ipv4).toBe(v4('198.51.100.8'));
  });
});

describe('bindings-file: a million lines', () => {
  // 100.64.0.0/10 addresses, 64 B4s each (psid-len 6), B4 2001:db8:b4::<i>
  const N = 1_000_000;
  const v4of = (i: number) => (0x64400000 + Math.floor(i / 64)) >>> 0;
  const text = (v: number) => `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  const b4 = (i: number) => `2001:db8:b4::${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

  it('loads, validates, and every binding lands in the core\'s table', () => {
    const lines = ['ipv4,psid-len,psid,ipv6'];
    for (let i = 0; i < N; i++) lines.push(`${text(v4of(i))},6,${i % 64},${b4(i)}`);
    const f = join(dir, 'million.csv');
    writeFileSync(f, lines.join('\n') + '\n');
    let progress = 0;
    const p = loadBindingsFile(f, LW, undefined, (n) => (progress = n));
    expect(p.count).toBe(N);
    expect(progress).toBe(N);
    for (const i of [0, 1, 63, 64, 123_457, N - 1]) {
      const b = p.get(i);
      expect(b).toMatchObject({ ipv4: v4of(i), psidLen: 6, psid: i % 64, psidOffset: 6, prefixLen: 128 });
      expect(hex(b.ipv6)).toBe(`20010db800b4${'0'.repeat(12)}${(i >>> 16).toString(16).padStart(4, '0')}${(i & 0xffff).toString(16).padStart(4, '0')}`);
    }
    const engine = Engine.createSync({ bindingCapacity: N, frames: 256 });
    engine.putBindings(p);
    expect(engine.bindingCount).toBe(N);
    // look-ups through the core: a port of PSID i % 64 on v4of(i) -> the B4 of line i
    const mem = () => new Uint8Array(engine.memory.buffer);
    for (let k = 0; k < 2000; k++) {
      const i = Math.floor((k * 7919 * 127) % N);
      const port = (5 << 10) | ((i % 64) << 4) | 3;
      expect(engine.core.lookupV4(v4of(i), port, 1)).toBe(-1);
      const got = mem().slice(engine.core.argPtr(), engine.core.argPtr() + 16);
      expect(got[14] * 256 + got[15]).toBe(i & 0xffff);
      expect(got[12] * 256 + got[13]).toBe(i >>> 16);
    }
    // a duplicate appended at the end is found, on its line
    writeFileSync(f, lines.join('\n') + `\n${text(v4of(5))},6,5,2001:db8::1\n`);
    expect(() => loadBindingsFile(f, LW)).toThrow(`${f}:${N + 2}: duplicate binding for ${text(v4of(5))} psid 5`);
  });
});
