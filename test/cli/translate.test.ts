// `xbr translate` end to end with the wasm core, on the example capture
// (examples/map-t.pcap: RFC 7599 Appendix A domain) and a config with that rule.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { translateAction } from '../../src/cli/translate.js';
import type { CommandIO } from '../../src/cli/io.js';
import { EXAMPLE, examplePackets, examplePcap } from '../../src/packets/examples.js';
import { checkAll, parsePacket, reassemble, type ParsedPacket } from '../../src/packets/index.js';
import { parsePcap, type PcapRecord } from '../../src/pcap/reader.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'xbr-translate-core-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = join(dir, 'xbr.yaml');
writeFileSync(
  CONFIG,
  `mode: map-t
dmr: 2001:db8:ffff::/64
rules:
  - ipv6-prefix: 2001:db8::/40
    ipv4-prefix: 192.0.2.0/24
    ea-len: 16
    psid-offset: 6
bindings:
  - ipv4: 198.51.100.7
    psid-len: 6
    psid: 12
    psid-offset: 6
    ipv6: 2001:db8:100:77::/64
reserved-ports: 0-1023
mtu: { ipv4: 1500, ipv6: 1500 }
icmp: { errors: true, rate: 1000 }
`,
);

const notes = examplePackets().map((p) => p.note);
/** Index of the example packet whose note matches. */
const idx = (re: RegExp) => {
  const i = notes.findIndex((n) => re.test(n));
  if (i < 0) throw new Error(`no example packet matches ${re}`);
  return i;
};

async function translateExample(linktype: 1 | 101) {
  const input = join(dir, `in-${linktype}.pcap`);
  writeFileSync(input, examplePcap(linktype));
  const out = join(dir, `out-${linktype}.pcap`);
  const stats = join(dir, `stats-${linktype}.json`);
  const outLines: string[] = [];
  const errLines: string[] = [];
  const io: CommandIO = { out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
  const code = await translateAction({ config: CONFIG, in: input, out, stats }, io);
  const pcap = parsePcap(readFileSync(out));
  const inputs = parsePcap(readFileSync(input)).records;
  return { code, outLines, errLines, pcap, inputs, stats: JSON.parse(readFileSync(stats, 'utf8')) as Record<string, number> };
}

/** The output records caused by input packet i (the example packets are 1 ms apart). */
function from(records: PcapRecord[], inputs: PcapRecord[], i: number): PcapRecord[] {
  return records.filter((r) => r.tsSec === inputs[i].tsSec && r.tsFrac === inputs[i].tsFrac);
}

describe.each([101, 1] as const)('xbr translate examples/map-t.pcap (link type %i)', (linktype) => {
  let run: Awaited<ReturnType<typeof translateExample>>;
  const parse = (r: PcapRecord): ParsedPacket => parsePacket(r.data, linktype);
  const one = (i: number) => {
    const got = from(run.pcap.records, run.inputs, i);
    expect(got, notes[i]).toHaveLength(1);
    return parse(got[0]);
  };

  it('exits 0 and writes a pcap of the same link type whose every checksum is valid', async () => {
    run = await translateExample(linktype);
    expect(run.code).toBe(0);
    expect(run.errLines).toEqual([]);
    expect(run.pcap.header.linktype).toBe(linktype);
    const report = checkAll(
      run.pcap.records.map((r) => r.data),
      linktype,
    );
    expect(report.errors).toEqual([]);
    expect(report).toMatchObject({ ok: true, incomplete: 0, reassembled: 1 });
  });

  it('every output packet carries the timestamp of an input packet, in input order', () => {
    const inTimes = run.inputs.map((r) => r.tsSec * 1e6 + r.tsFrac);
    const outTimes = run.pcap.records.map((r) => r.tsSec * 1e6 + r.tsFrac);
    for (const t of outTimes) expect(inTimes).toContain(t);
    expect([...outTimes].sort((a, b) => a - b)).toEqual(outTimes);
  });

  it('IPv4 -> IPv6 UDP to 192.0.2.18:1232 goes to the CE of PSID 0x34 (RFC 7599 Appendix A)', () => {
    const i = idx(/^IPv4->IPv6 UDP 10\.2\.3\.4:53/);
    const p = one(i);
    const orig = parsePacket(examplePackets()[i].ip);
    expect(p).toMatchObject({ version: 6, src: EXAMPLE.hostIpv6, dst: EXAMPLE.ceIpv6, protocol: 17, sport: 53, dport: 1232, ttl: orig.ttl - 1 });
    expect(Buffer.from(p.payload).toString()).toBe('example dns answer');
  });

  it('IPv4 -> IPv6 TCP and ICMP echo request/reply', () => {
    expect(one(idx(/TCP SYN-ACK/))).toMatchObject({ version: 6, dst: EXAMPLE.ceIpv6, protocol: 6, sport: 80, dport: 1233 });
    expect(one(idx(/ICMP echo request to 192\.0\.2\.18/))).toMatchObject({ version: 6, dst: EXAMPLE.ceIpv6, protocol: 58, icmp: { type: 128, code: 0, id: 1234, seq: 1 } });
    expect(one(idx(/ICMP echo reply to 192\.0\.2\.18/))).toMatchObject({ version: 6, dst: EXAMPLE.ceIpv6, protocol: 58, icmp: { type: 129, id: 2257, seq: 7 } });
  });

  it('a fragmented IPv4 datagram becomes IPv6 fragments that reassemble to the translated datagram', () => {
    const frags = notes.flatMap((n, i) => (/fragment \d\/\d/.test(n) ? from(run.pcap.records, run.inputs, i) : []));
    expect(frags.length).toBeGreaterThanOrEqual(2);
    for (const f of frags) expect(parse(f)).toMatchObject({ version: 6, src: EXAMPLE.hostIpv6, dst: EXAMPLE.ceIpv6 });
    const whole = parsePacket(reassemble(frags.map((f) => f.data), linktype), linktype);
    expect(whole).toMatchObject({ protocol: 17, sport: 53, dport: 2258 });
    expect(whole.payload).toEqual(new Uint8Array(2400).map((_, i) => i & 0xff));
  });

  it('the binding 198.51.100.7 PSID 12 reaches its end-user prefix', () => {
    const p = one(idx(/binding 198\.51\.100\.7/));
    expect(p.version).toBe(6);
    expect(p.dst.startsWith('2001:db8:100:77:')).toBe(true);
    expect(p).toMatchObject({ sport: 123, dport: EXAMPLE.bindingPort });
  });

  it('an uncovered IPv4 destination writes nothing', () => {
    expect(from(run.pcap.records, run.inputs, idx(/no rule covers/))).toEqual([]);
  });

  it('TTL 1 is answered with ICMPv4 Time Exceeded quoting the packet', () => {
    const p = one(idx(/TTL 1/));
    expect(p).toMatchObject({ version: 4, dst: EXAMPLE.hostIpv4, protocol: 1, icmp: { type: 11, code: 0 } });
    expect(p.icmp!.inner).toMatchObject({ src: EXAMPLE.hostIpv4, dst: EXAMPLE.ceIpv4, sport: 53, dport: 1232 });
  });

  it('ICMPv4 Fragmentation Needed becomes ICMPv6 Packet Too Big with the MTU + 20 (RFC 7915 4.2)', () => {
    const p = one(idx(/ICMP 3\/4/));
    expect(p).toMatchObject({ version: 6, dst: EXAMPLE.ceIpv6, protocol: 58, icmp: { type: 2, code: 0, mtu: 1420 } });
    expect(p.icmp!.inner).toMatchObject({ version: 6, src: EXAMPLE.ceIpv6, dst: EXAMPLE.hostIpv6, sport: 1232, dport: 53 });
  });

  it('IPv6 -> IPv4 from the CE through the DMR', () => {
    const u = one(idx(/^IPv6->IPv4 UDP/));
    expect(u).toMatchObject({ version: 4, src: EXAMPLE.ceIpv4, dst: EXAMPLE.hostIpv4, protocol: 17, sport: 1232, dport: 53, ttl: 63 });
    expect(Buffer.from(u.payload).toString()).toBe('example dns query');
    expect(one(idx(/^IPv6->IPv4 TCP SYN/))).toMatchObject({ version: 4, src: EXAMPLE.ceIpv4, protocol: 6, sport: 1233, dport: 80 });
    expect(one(idx(/^IPv6->IPv4 ICMPv6 echo/))).toMatchObject({ version: 4, src: EXAMPLE.ceIpv4, protocol: 1, icmp: { type: 8, id: 1234 } });
  });

  it('spoofed IPv6 sources are not translated: ICMPv6 1/5 goes back (RFC 7599 section 8.3)', () => {
    for (const re of [/interface id says PSID 0x35/, /source port 5000/]) {
      const out = from(run.pcap.records, run.inputs, idx(re));
      expect(out.length, notes[idx(re)]).toBe(1);
      const p = parse(out[0]);
      expect(p.version, notes[idx(re)]).toBe(6);
      expect(p.protocol).toBe(58);
      expect(p.icmp).toMatchObject({ type: 1, code: 5 });
    }
  });

  it('prints the non-zero counters and writes all of them with --stats', () => {
    expect(run.outLines[0]).toMatch(new RegExp(`: ${run.inputs.length} packets read, ${run.pcap.records.length} written to `));
    const nonZero = Object.entries(run.stats).filter(([, v]) => v !== 0);
    expect(nonZero.length).toBeGreaterThan(0);
    expect(run.outLines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(nonZero.map(([k]) => k).sort());
    for (const v of Object.values(run.stats)) expect(Number.isInteger(v)).toBe(true);
  });
});

describe('examples/map-t.pcap', () => {
  it('is the committed output of examplePcap() (regenerate it if this fails)', () => {
    expect(Buffer.from(readFileSync(join(root, 'examples/map-t.pcap'))).equals(Buffer.from(examplePcap(101)))).toBe(true);
  });
});
