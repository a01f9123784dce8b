// `xbr translate` (DESIGN.md's offline contract) in the two encapsulation modes, end
// to end with the wasm core: lw4o6 with its bindings in a bindings-file, map-e with
// rules and a YAML binding; both link types.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { translateAction } from '../../src/cli/translate.js';
import { canonicalIpv6, checkAll, fragment6, frame, icmp6Error, ipv4, ipv6, parsePacket, udp } from '../../src/packets/index.js';
import { encodePcap } from '../../src/pcap/writer.js';
import { parsePcap } from '../../src/pcap/reader.js';
import { BR, HOST, LW, ME, meYaml, ttlMinus, tunnel } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'xbr-encap-translate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function translate(name: string, yaml: string, packets: Uint8Array[], linktype: 1 | 101) {
  const config = join(dir, `${name}.yaml`);
  writeFileSync(config, yaml);
  const input = join(dir, `${name}-${linktype}.pcap`);
  writeFileSync(input, encodePcap({ linktype }, packets.map((p, i) => ({ data: frame(linktype, p), tsSec: 1_700_000_000, tsFrac: i * 1000 }))));
  const out = join(dir, `${name}-${linktype}-out.pcap`);
  const stats = join(dir, `${name}-${linktype}-stats.json`);
  const lines: string[] = [];
  const errs: string[] = [];
  const code = await translateAction({ config, in: input, out, stats }, { out: (l) => lines.push(l), err: (l) => errs.push(l) });
  expect(errs).toEqual([]);
  expect(code).toBe(0);
  const pcap = parsePcap(readFileSync(out));
  expect(pcap.header.linktype).toBe(linktype);
  const report = checkAll(
    pcap.records.map((r) => r.data),
    linktype,
  );
  expect(report.errors).toEqual([]);
  /** Output records caused by input packet i (1 ms apart). */
  const of = (i: number) => pcap.records.filter((r) => r.tsFrac === i * 1000).map((r) => parsePacket(r.data, linktype));
  return { pcap, of, stats: JSON.parse(readFileSync(stats, 'utf8')) as Record<string, number>, lines };
}

describe.each([101, 1] as const)('xbr translate, link type %i', (linktype) => {
  it('lw4o6 with a bindings-file', async () => {
    writeFileSync(
      join(dir, 'lw.csv'),
      ['ipv4,psid-len,psid,ipv6', `${LW.addr},6,12,${LW.b4a}`, `${LW.addr},6,13,${LW.b4b}`, `${LW.full},0,0,${LW.b4c}`, ''].join('\n'),
    );
    const yaml = `mode: lw4o6\nbr: ${BR}\nbindings-file: lw.csv\nmtu: { ipv4: 1500, ipv6: 1280 }\n`;
    const fromA = ipv4({ src: LW.addr, dst: HOST, payload: udp({ sport: LW.portA, dport: 53, payload: 'q' }) });
    const big = ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portB, payload: new Uint8Array(1400) }) });
    const frag = ipv4({ src: LW.addr, dst: HOST, payload: udp({ sport: LW.portA, dport: 53, payload: new Uint8Array(1400).fill(2) }) });
    const packets = [
      ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portA, payload: 'a' }) }), // 0 encap to A
      tunnel(LW.b4a, fromA), // 1 decap
      tunnel(LW.b4b, fromA), // 2 spoofed: ICMPv6 1/5 to B
      ipv4({ src: HOST, dst: LW.addr, payload: udp({ sport: 53, dport: LW.portNone }) }), // 3 miss: ICMPv4 3/1
      big, // 4 fragmented IPv6 to B
      tunnel(LW.b4a, ipv4({ src: LW.addr, dst: LW.full, payload: udp({ sport: LW.portA, dport: 9 }) })), // 5 hairpin to C
      ...fragment6(tunnel(LW.b4a, frag), 1280, 5), // 6, 7: reassembled, decapsulated
      ipv4({ src: HOST, dst: '198.51.100.99', payload: udp({ sport: 1, dport: 2 }) }), // 8 not ours: nothing
    ];
    const r = await translate('lw', yaml, packets, linktype);
    expect(r.of(0).map((p) => p.dst)).toEqual([canonicalIpv6(LW.b4a)]);
    expect(r.of(1)).toHaveLength(1);
    expect(r.of(1)[0]).toMatchObject({ version: 4, src: LW.addr, dst: HOST, ttl: 63 });
    expect(r.of(2)[0]).toMatchObject({ version: 6, dst: canonicalIpv6(LW.b4b), icmp: { type: 1, code: 5 } });
    expect(r.of(3)[0]).toMatchObject({ version: 4, dst: HOST, icmp: { type: 3, code: 1 } });
    expect(r.of(4).map((p) => p.dst)).toEqual([canonicalIpv6(LW.b4b), canonicalIpv6(LW.b4b)]);
    expect(r.of(5)[0].dst).toBe(canonicalIpv6(LW.b4c));
    expect(r.of(6)).toHaveLength(0);
    expect(r.of(7)).toHaveLength(1);
    expect(Buffer.from(r.pcap.records.find((x) => x.tsFrac === 7000)!.data.subarray(linktype === 1 ? 14 : 0))).toEqual(Buffer.from(ttlMinus(frag)));
    expect(r.of(8)).toHaveLength(0);
    expect(r.stats).toMatchObject({
      encap_4in6: 2,
      decap_4in6: 2,
      hairpin: 1,
      tunnel_reassembled: 1,
      drop_tunnel_bad_outer_source: 1,
      drop_ipv4_no_binding: 1,
      drop_ipv4_no_rule: 1,
    });
  });

  it('map-e with rules and a binding', async () => {
    const orig = ttlMinus(ipv4({ src: HOST, dst: ME.ce4, df: true, payload: udp({ sport: 53, dport: ME.port, payload: new Uint8Array(1300) }) }));
    const packets = [
      ipv4({ src: HOST, dst: ME.ce4, payload: udp({ sport: 53, dport: ME.port, payload: 'x' }) }), // 0
      ipv4({ src: HOST, dst: ME.bind4, payload: udp({ sport: 53, dport: ME.bindPort, payload: 'x' }) }), // 1
      tunnel(ME.ce6, ipv4({ src: ME.ce4, dst: HOST, payload: udp({ sport: ME.port, dport: 53 }) })), // 2
      tunnel(ME.ce6b, ipv4({ src: ME.ce4, dst: HOST, payload: udp({ sport: ME.port, dport: 53 }) })), // 3 spoofed: silent
      tunnel(ME.ce6, ipv4({ src: ME.ce4, dst: ME.ce4b, payload: udp({ sport: ME.port, dport: ME.portB }) })), // 4 hairpin
      ipv6({ src: '2001:db8:12::1', dst: BR, payload: icmp6Error({ type: 2, mtu: 1300, quote: ipv6({ src: BR, dst: ME.ce6, nextHeader: 4, payload: orig }) }) }), // 5 relay
    ];
    const r = await translate('me', meYaml(), packets, linktype);
    expect(r.of(0)[0].dst).toBe(canonicalIpv6(ME.ce6));
    expect(r.of(1)[0].dst).toBe(canonicalIpv6(ME.bind6));
    expect(r.of(2)[0]).toMatchObject({ version: 4, src: ME.ce4, dst: HOST });
    expect(r.of(3)).toHaveLength(0);
    expect(r.of(4)[0].dst).toBe(canonicalIpv6(ME.ce6b));
    expect(r.of(5)[0]).toMatchObject({ version: 4, dst: HOST, icmp: { type: 3, code: 4, mtu: 1260 } });
    expect(r.stats).toMatchObject({ encap_4in6: 2, decap_4in6: 1, hairpin: 1, tunnel_icmp_relayed: 1, drop_tunnel_bad_outer_source: 1 });
  });
});
