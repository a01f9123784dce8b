import { describe, expect, it } from 'vitest';
import { portInSet, psidOfPort } from '../../src/map/psid.js';
import { EXAMPLE, examplePackets, examplePcap } from '../../src/packets/examples.js';
import { checkAll, checkChecksums, parsePacket } from '../../src/packets/index.js';
import { parsePcap } from '../../src/pcap/reader.js';

describe('the example capture', () => {
  it('every packet is well formed with valid checksums (fragments after reassembly)', () => {
    const pkts = examplePackets().map((p) => p.ip);
    expect(checkAll(pkts)).toMatchObject({ ok: true, reassembled: 1, incomplete: 0, errors: [] });
    for (const p of pkts) expect(checkChecksums(p).errors).toEqual([]);
  });

  it('uses ports of PSID 0x34 (a = 6, k = 8) for the CE and of PSID 12 (a = 6, k = 6) for the binding', () => {
    for (const port of EXAMPLE.cePorts) expect(portInSet(port, 0x34, 6, 8)).toBe(true);
    expect(portInSet(EXAMPLE.bindingPort, 12, 6, 6)).toBe(true);
    expect(psidOfPort(5000, 6, 8)).toBe(0xe2); // the "wrong port" packet
    for (const { note, ip } of examplePackets()) {
      const p = parsePacket(ip);
      if (p.dst === EXAMPLE.ceIpv4 && p.dport !== undefined) expect(portInSet(p.dport, 0x34, 6, 8), note).toBe(true);
      if (p.src === EXAMPLE.ceIpv6 && p.sport !== undefined && !/spoofed/.test(note)) expect(portInSet(p.sport, 0x34, 6, 8), note).toBe(true);
      if (p.icmp?.id !== undefined && (p.dst === EXAMPLE.ceIpv4 || p.src === EXAMPLE.ceIpv6)) expect(portInSet(p.icmp.id, 0x34, 6, 8), note).toBe(true);
    }
  });

  it('as pcap: raw IP or Ethernet, 1 ms apart', () => {
    for (const lt of [101, 1] as const) {
      const { header, records } = parsePcap(examplePcap(lt));
      expect(header.linktype).toBe(lt);
      expect(records).toHaveLength(examplePackets().length);
      records.forEach((r, i) => expect([r.tsSec, r.tsFrac]).toEqual([EXAMPLE.epoch, i * 1000]));
      expect(checkAll(records.map((r) => r.data), lt).ok).toBe(true);
    }
  });
});
