// The lab bench's generators and test frames (bench/lab/throughput.ts, and the lab test
// of the XDP generator): the BPF programs built on demand with clang, xdpgen.c built
// with cc, and the UDP frames each path is measured with.
import { join } from 'node:path';
import { ethernet, ipv4, ipv6, udp } from '../../src/packets/build.js';
import { NET } from './topology.js';
import { sh, labAsset } from './proc.js';

/**
 * The frame of a given size (Ethernet, without FCS) for a path: 'xbr' IPv4 UDP from the
 * IPv4 host to the whole-address CE (xbr translates it), 'kernel' IPv6 UDP from the
 * IPv4 host's side to the CE (the BR's kernel forwards it).
 */
export function frameFor(path: 'xbr' | 'kernel', size: number, srcMac: string, dstMac: string): Uint8Array {
  const l3 = path === 'xbr' ? 20 : 40;
  const payload = new Uint8Array(Math.max(0, size - 14 - l3 - 8));
  const transport = udp({ sport: 5353, dport: 7000, payload });
  const ip =
    path === 'xbr'
      ? ipv4({ src: NET.inet.v4, dst: NET.full.v4, ttl: 64, payload: transport })
      : ipv6({ src: NET.inet.v6, dst: NET.ce.v6, hopLimit: 64, payload: transport });
  return ethernet({ src: srcMac, dst: dstMac, payload: ip });
}

/** Compiles one of the lab's BPF programs (clang -target bpf, with BTF), returns the object's path. */
export function buildBpf(dir: string, name: string): string {
  const out = join(dir, `${name}.bpf.o`);
  const multiarch = sh('gcc', ['-print-multiarch']).trim();
  sh('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', labAsset(`${name}.bpf.c`), '-o', out], 60_000);
  return out;
}

/** The generator: its kind and, for 'xdp', the built program and driver (xdpgen.c). */
export interface Generator {
  kind: 'xdp' | 'xsk';
  obj: string;
  bin: string;
}

export function genDescription(kind: 'xdp' | 'xsk'): string {
  return kind === 'xdp'
    ? '`--gen xdp` (bench/lab/xdpgen.c: BPF_PROG_RUN live frames, XDP redirect; N workers: a sender on the CPU of each queue)'
    : '`--gen xsk` (bench/lab/gen.ts: AF_XDP TX, skbs without XDP headroom)';
}

/** A veth in the generator's namespace that carries nothing: xdpgen.c keeps its program attached there. */
export const GEN_ANCHOR = 'xgen0';

export function buildGenerator(dir: string, kind: 'xdp' | 'xsk'): Generator {
  if (kind === 'xsk') return { kind, obj: '', bin: '' };
  const bin = join(dir, 'xdpgen');
  sh('cc', ['-O2', '-Wall', '-o', bin, labAsset('xdpgen.c'), '-lbpf', '-lpthread'], 60_000);
  return { kind, obj: buildBpf(dir, 'xdpgen'), bin };
}

/** bench/lab/xskfwd.c, the AF_XDP forwarder that does nothing per packet; returns the binary's path. */
export function buildXskfwd(dir: string): string {
  const bin = join(dir, 'xskfwd');
  sh('cc', ['-O2', '-Wall', '-o', bin, labAsset('xskfwd.c'), '-lxdp', '-lbpf', '-lpthread'], 60_000);
  return bin;
}
