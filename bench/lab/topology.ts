// The netns lab: three network namespaces joined by two veth pairs, and the xbr
// configuration that makes the middle one a Border Relay.
//
//   <id>-inet (IPv4 Internet host)    <id>-br (the BR: `xbr run`)        <id>-ce (IPv6 CE hosts)
//   inet0 198.51.100.1/24   ───veth───  br4 198.51.100.254/24
//         fd00:4::1/64                      fd00:4::fe/64
//                                       br6 fd00:6::1/64    ───veth───  ce0 fd00:6::2/64
//
// map-t: the CE namespace holds two MAP-T CE hosts, as IPv6 hosts with their MAP
//   addresses on lo (what a MAP-T CE emits after its own translation is exactly
//   such IPv6 traffic):
//   - "full":   rule 2001:db8:100::/40 <-> 203.0.113.0/24, ea-len 8 (k = 0: the whole
//               address, every port and ICMP identifier), 203.0.113.5 =
//               2001:db8:105::cb00:7105:0. It runs ping and TCP (the kernel picks
//               ephemeral ports and echo identifiers freely).
//   - "shared": rule 2001:db8::/40 <-> 192.0.2.0/24, ea-len 16, psid-offset 6 (k = 8),
//               192.0.2.18 PSID 0x34 = 2001:db8:12:3400:0:c000:212:34, ports
//               1232-1235, 2256-2259, ...; it runs UDP flows with explicit ports only.
//   The IPv4 host reaches them at 203.0.113.5 / 192.0.2.18; they reach it at its
//   DMR form (2001:db8:ffff::/64 + 198.51.100.1, RFC 6052).
// lw4o6: the same two subscribers as bindings (RFC 7596): 203.0.113.5 PSID-len 0 ->
//   B4 2001:db8:b4::5, 192.0.2.18 PSID 0x34/8 -> B4 2001:db8:b4::18, BR address
//   2001:db8:ffff::1. Each B4 is a real IPv4-in-IPv6 tunnel endpoint carrying its
//   binding's IPv4 address: a Linux ip6tnl `mode ipip6` device when the kernel has
//   one (CONFIG_IPV6_TUNNEL), else bench/lab/b4.py (TUN device + raw IPv6 socket of
//   protocol 4). The shared B4's traffic is steered to its tunnel by a policy rule
//   (from 192.0.2.18).
//
// Both: the IPv4 host routes 192.0.2.0/24 and 203.0.113.0/24 to the BR; the BR's
// kernel forwards IPv6 between fd00:4::/64 and fd00:6::/64 (the "unrelated flow":
// xbr's XDP program passes it); xbr's next hops are 198.51.100.1 and fd00:6::2.
//
// The hosts' veth ends have TX checksum offload off (`ethtool -K … tx off`): on veth
// the kernel otherwise hands a locally sent packet to the peer's XDP program with a
// partial checksum (CHECKSUM_PARTIAL: only the pseudo-header sum in the L4 field),
// and the BR would translate a packet whose checksum was never finished. A NIC's
// wire never carries such packets; this is a veth artefact of the lab.
//
// Names are unique per run (xlab-<pid>-<random>-…); down() deletes the namespaces
// (and with them the veths and tunnels), ends the helpers, and is safe to call twice.
// sweepStale() removes labs whose creating process is gone (a killed run).

import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { mapCeAddress, embedIPv4 } from '../../src/map/address.js';
import { formatIPv6, parseIPv4, parseIPv6 } from '../../src/map/ip.js';
import type { MapRule } from '../../src/map/rule.js';
import { sh, trySh, spawnProc, stopProc, labAsset, type Proc } from './proc.js';

export type LabMode = 'map-t' | 'lw4o6';

export const NET = {
  inet: { dev: 'inet0', v4: '198.51.100.1', v6: 'fd00:4::1' },
  br: { dev4: 'br4', v4: '198.51.100.254', v6on4: 'fd00:4::fe', dev6: 'br6', v6: 'fd00:6::1' },
  ce: { dev: 'ce0', v6: 'fd00:6::2' },
  dmr: '2001:db8:ffff::/64',
  brAddr: '2001:db8:ffff::1',
  full: { v4: '203.0.113.5', rule: { 'ipv6-prefix': '2001:db8:100::/40', 'ipv4-prefix': '203.0.113.0/24', 'ea-len': 8 }, b4: '2001:db8:b4::5' },
  shared: {
    v4: '192.0.2.18',
    psid: 0x34,
    psidLen: 8,
    psidOffset: 6,
    /** The first contiguous run of its port set (a = 6, k = 8, m = 2: 4 ports each). */
    ports: [1232, 1233, 1234, 1235],
    rule: { 'ipv6-prefix': '2001:db8::/40', 'ipv4-prefix': '192.0.2.0/24', 'ea-len': 16, 'psid-offset': 6 },
    b4: '2001:db8:b4::18',
  },
} as const;

/** One endpoint of a lab flow. */
export interface Host {
  ns: string;
  /** Address family of its sockets. */
  family: 4 | 6;
  /** Its own address (what it binds). */
  addr: string;
  /** The address it dials to reach the IPv4 host (inet hosts: unused). */
  toInet: string;
  /** Its IPv4 address as the Internet sees it. */
  v4: string;
}

export interface TopologyOptions {
  mode: LabMode;
  /** Queues of both veth pairs (and xbr workers). Default 1. */
  queues?: number;
  /** lw4o6 B4 implementation: 'auto' (ip6tnl when the kernel has it), 'ip6tnl', 'userspace'. */
  b4?: 'auto' | 'ip6tnl' | 'userspace';
  /** TX checksum offload off on the hosts' veths (default true; see above). */
  txChecksumOff?: boolean;
}

function ruleOf(r: { 'ipv6-prefix': string; 'ipv4-prefix': string; 'ea-len': number; 'psid-offset'?: number }): MapRule {
  const [p6, l6] = r['ipv6-prefix'].split('/');
  const [p4, l4] = r['ipv4-prefix'].split('/');
  return {
    ipv6Prefix: parseIPv6(p6),
    ipv6PrefixLen: Number(l6),
    ipv4Prefix: parseIPv4(p4),
    ipv4PrefixLen: Number(l4),
    eaLen: r['ea-len'],
    psidOffset: r['psid-offset'] ?? 6,
    interfaceId: 'rfc7597',
    fullIPv4InIid: true,
  };
}

/** The MAP-T CE addresses and the IPv4 host's DMR form. */
export const MAPT = {
  full: formatIPv6(mapCeAddress(ruleOf(NET.full.rule), parseIPv4(NET.full.v4), 0)),
  shared: formatIPv6(mapCeAddress(ruleOf(NET.shared.rule), parseIPv4(NET.shared.v4), NET.shared.psid)),
  inet: formatIPv6(embedIPv4(parseIPv6(NET.dmr.split('/')[0]), 64, parseIPv4(NET.inet.v4))),
};

const PREFIX = 'xlab-';

/** Deletes labs (namespaces xlab-<pid>-…) whose creating process no longer exists. */
export function sweepStale(): string[] {
  let names: string[] = [];
  try {
    names = readdirSync('/run/netns');
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    const m = /^xlab-(\d+)-[0-9a-f]+-/.exec(n);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = (e as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive && trySh('ip', ['netns', 'del', n]) !== null) removed.push(n);
  }
  return removed;
}

export class Topology {
  readonly mode: LabMode;
  readonly queues: number;
  readonly id = `${process.pid}-${randomBytes(2).toString('hex')}`;
  readonly ns: { inet: string; br: string; ce: string };
  /** A private directory for the config and logs (removed by down()). */
  readonly dir: string;
  /** lw4o6: which B4 the lab built. */
  b4Kind: 'ip6tnl' | 'userspace' | null = null;
  private helpers: Proc[] = [];
  private isUp = false;
  private readonly opts: TopologyOptions;

  constructor(opts: TopologyOptions) {
    this.opts = opts;
    this.mode = opts.mode;
    this.queues = opts.queues ?? 1;
    this.ns = { inet: `${PREFIX}${this.id}-inet`, br: `${PREFIX}${this.id}-br`, ce: `${PREFIX}${this.id}-ce` };
    this.dir = mkdtempSync(join(tmpdir(), `xbr-lab-${this.id}-`));
  }

  /** `ip netns exec NS cmd args` with a time limit; returns stdout. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 10_000): string {
    return sh('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
  }

  private ip(ns: string, ...args: string[]): string {
    return sh('ip', ['-n', ns, ...args]);
  }

  private sysctl(ns: string, kv: string): void {
    this.exec(ns, 'sysctl', ['-qw', kv]);
  }

  /** The IPv4 Internet host. */
  get inet(): Host {
    return { ns: this.ns.inet, family: 4, addr: NET.inet.v4, toInet: NET.inet.v4, v4: NET.inet.v4 };
  }

  /** The CE host with a whole IPv4 address (k = 0): ping, TCP, any port. */
  get ceFull(): Host {
    return this.mode === 'map-t'
      ? { ns: this.ns.ce, family: 6, addr: MAPT.full, toInet: MAPT.inet, v4: NET.full.v4 }
      : { ns: this.ns.ce, family: 4, addr: NET.full.v4, toInet: NET.inet.v4, v4: NET.full.v4 };
  }

  /** The CE host with a shared address (PSID 0x34 of 256): UDP with explicit ports in its set. */
  get ceShared(): Host {
    return this.mode === 'map-t'
      ? { ns: this.ns.ce, family: 6, addr: MAPT.shared, toInet: MAPT.inet, v4: NET.shared.v4 }
      : { ns: this.ns.ce, family: 4, addr: NET.shared.v4, toInet: NET.inet.v4, v4: NET.shared.v4 };
  }

  async up(): Promise<this> {
    sweepStale();
    const { inet, br, ce } = this.ns;
    this.isUp = true;
    try {
      for (const n of [inet, br, ce]) {
        sh('ip', ['netns', 'add', n]);
        this.ip(n, 'link', 'set', 'lo', 'up');
      }
      const q = String(this.queues);
      const qs = ['numrxqueues', q, 'numtxqueues', q];
      sh('ip', ['link', 'add', NET.inet.dev, 'netns', inet, ...qs, 'type', 'veth', 'peer', 'name', NET.br.dev4, 'netns', br, ...qs]);
      sh('ip', ['link', 'add', NET.ce.dev, 'netns', ce, ...qs, 'type', 'veth', 'peer', 'name', NET.br.dev6, 'netns', br, ...qs]);

      // the IPv4 host
      this.ip(inet, 'addr', 'add', `${NET.inet.v4}/24`, 'dev', NET.inet.dev);
      this.ip(inet, 'addr', 'add', `${NET.inet.v6}/64`, 'dev', NET.inet.dev, 'nodad');
      this.ip(inet, 'link', 'set', NET.inet.dev, 'up');
      this.ip(inet, 'route', 'add', '192.0.2.0/24', 'via', NET.br.v4);
      this.ip(inet, 'route', 'add', '203.0.113.0/24', 'via', NET.br.v4);
      this.ip(inet, '-6', 'route', 'add', 'fd00:6::/64', 'via', NET.br.v6on4);

      // the BR
      this.ip(br, 'addr', 'add', `${NET.br.v4}/24`, 'dev', NET.br.dev4);
      this.ip(br, 'addr', 'add', `${NET.br.v6on4}/64`, 'dev', NET.br.dev4, 'nodad');
      this.ip(br, 'addr', 'add', `${NET.br.v6}/64`, 'dev', NET.br.dev6, 'nodad');
      this.ip(br, 'link', 'set', NET.br.dev4, 'up');
      this.ip(br, 'link', 'set', NET.br.dev6, 'up');
      this.sysctl(br, 'net.ipv6.conf.all.forwarding=1');

      // the CE side
      this.ip(ce, 'addr', 'add', `${NET.ce.v6}/64`, 'dev', NET.ce.dev, 'nodad');
      this.ip(ce, 'link', 'set', NET.ce.dev, 'up');
      this.ip(ce, '-6', 'route', 'add', 'fd00:4::/64', 'via', NET.br.v6);
      if (this.mode === 'map-t') {
        this.ip(ce, 'addr', 'add', `${MAPT.full}/128`, 'dev', 'lo');
        this.ip(ce, 'addr', 'add', `${MAPT.shared}/128`, 'dev', 'lo');
        this.ip(ce, '-6', 'route', 'add', NET.dmr, 'via', NET.br.v6, 'src', MAPT.full);
      } else {
        this.ip(ce, 'addr', 'add', `${NET.full.b4}/128`, 'dev', 'lo');
        this.ip(ce, 'addr', 'add', `${NET.shared.b4}/128`, 'dev', 'lo');
        this.ip(ce, '-6', 'route', 'add', `${NET.brAddr}/128`, 'via', NET.br.v6);
        for (const k of ['all', 'default']) this.sysctl(ce, `net.ipv4.conf.${k}.rp_filter=0`);
        await this.b4s();
      }

      if (this.opts.txChecksumOff ?? true) {
        this.exec(inet, 'ethtool', ['-K', NET.inet.dev, 'tx', 'off']);
        this.exec(ce, 'ethtool', ['-K', NET.ce.dev, 'tx', 'off']);
      }
      // ND/ARP warm-up is left to xbr's own next-hop resolution (runtime.ts).
    } catch (e) {
      await this.down();
      throw e;
    }
    return this;
  }

  /** The two B4s of lw4o6 (see the header). */
  private async b4s(): Promise<void> {
    const ce = this.ns.ce;
    const want = this.opts.b4 ?? ((process.env.XBR_LAB_B4 as TopologyOptions['b4']) || 'auto');
    const tunnels = [
      { dev: 'b4full', v4: NET.full.v4, b4: NET.full.b4 },
      { dev: 'b4shared', v4: NET.shared.v4, b4: NET.shared.b4 },
    ];
    let kind: 'ip6tnl' | 'userspace' = want === 'userspace' ? 'userspace' : 'ip6tnl';
    if (kind === 'ip6tnl') {
      const t = tunnels[0];
      const ok = trySh('ip', ['-n', ce, 'link', 'add', t.dev, 'type', 'ip6tnl', 'mode', 'ipip6', 'local', t.b4, 'remote', NET.brAddr, 'encaplimit', 'none']);
      if (ok === null) {
        if (want === 'ip6tnl') throw new Error('this kernel has no ip6tnl (CONFIG_IPV6_TUNNEL): use the userspace B4 (XBR_LAB_B4=userspace)');
        kind = 'userspace';
      } else {
        const t2 = tunnels[1];
        this.ip(ce, 'link', 'add', t2.dev, 'type', 'ip6tnl', 'mode', 'ipip6', 'local', t2.b4, 'remote', NET.brAddr, 'encaplimit', 'none');
      }
    }
    if (kind === 'userspace') {
      for (const t of tunnels) {
        const p = spawnProc('ip', ['netns', 'exec', ce, 'python3', labAsset('b4.py'), t.dev, t.b4, NET.brAddr], 24 * 3600_000);
        this.helpers.push(p);
        await p.waitFor('ready', 10_000);
      }
      // inner packets + the outer IPv6 header fit the access link's 1500
      for (const t of tunnels) this.ip(ce, 'link', 'set', t.dev, 'mtu', '1460');
    }
    this.b4Kind = kind;
    for (const t of tunnels) {
      this.ip(ce, 'addr', 'add', `${t.v4}/32`, 'dev', t.dev);
      this.ip(ce, 'link', 'set', t.dev, 'up');
    }
    this.ip(ce, 'route', 'add', '198.51.100.0/24', 'dev', 'b4full', 'src', NET.full.v4);
    this.ip(ce, 'rule', 'add', 'from', NET.shared.v4, 'lookup', '100', 'priority', '100');
    this.ip(ce, 'route', 'add', '198.51.100.0/24', 'dev', 'b4shared', 'src', NET.shared.v4, 'table', '100');
    for (const t of tunnels) this.sysctl(ce, `net.ipv4.conf.${t.dev}.rp_filter=0`);
  }

  /** The xbr configuration of this lab, as an object (tests edit it before a reload). */
  config(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const dataplane = {
      'ipv4-interface': NET.br.dev4,
      'ipv6-interface': NET.br.dev6,
      queues: this.queues,
      'ipv4-next-hop': NET.inet.v4,
      'ipv6-next-hop': NET.ce.v6,
    };
    const base =
      this.mode === 'map-t'
        ? {
            mode: 'map-t',
            dmr: NET.dmr,
            rules: [{ ...NET.shared.rule }, { ...NET.full.rule }],
          }
        : {
            mode: 'lw4o6',
            br: NET.brAddr,
            bindings: [
              { ipv4: NET.full.v4, 'psid-len': 0, ipv6: NET.full.b4 },
              { ipv4: NET.shared.v4, 'psid-len': NET.shared.psidLen, psid: NET.shared.psid, 'psid-offset': NET.shared.psidOffset, ipv6: NET.shared.b4 },
            ],
          };
    return { ...base, 'reserved-ports': '0-1023', icmp: { errors: true, rate: 1000 }, ...extra, dataplane };
  }

  /** Writes a config (default: config()) to <dir>/xbr.yaml; returns the path. */
  writeConfig(config: Record<string, unknown> = this.config()): string {
    const file = join(this.dir, 'xbr.yaml');
    writeFileSync(file, `# xbr netns lab (${this.mode}), generated by bench/lab/topology.ts\n${stringify(config)}`);
    return file;
  }

  /** Counters of an interface inside a namespace (ip -s link). */
  linkStats(ns: string, dev: string): { rxPackets: number; txPackets: number; rxDropped: number; txDropped: number } {
    const j = JSON.parse(this.exec(ns, 'ip', ['-s', '-j', 'link', 'show', 'dev', dev])) as {
      stats64: { rx: { packets: number; dropped: number }; tx: { packets: number; dropped: number } };
    }[];
    const s = j[0]!.stats64;
    return { rxPackets: s.rx.packets, txPackets: s.tx.packets, rxDropped: s.rx.dropped, txDropped: s.tx.dropped };
  }

  mac(ns: string, dev: string): string {
    const j = JSON.parse(this.exec(ns, 'ip', ['-j', 'link', 'show', 'dev', dev])) as { address: string }[];
    return j[0]!.address;
  }

  /** Tears the lab down: helpers, namespaces (veths, tunnels), the private directory. Idempotent. */
  async down(): Promise<void> {
    const helpers = this.helpers.splice(0);
    await Promise.all(helpers.map((p) => stopProc(p, 'SIGTERM', 2000)));
    if (this.isUp) {
      for (const n of Object.values(this.ns)) trySh('ip', ['netns', 'del', n]);
      this.isUp = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
