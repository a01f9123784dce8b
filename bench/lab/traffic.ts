// Real traffic through the lab, each kind bounded in count and time:
//   ping         iputils ping (count, interval, deadline)
//   UDP flow     bench/lab/agent.ts: N numbered datagrams at a fixed rate, the sink
//                reports every missing sequence number
//   TCP transfer iperf3 (Debian's; scripts/install-deps.sh): a fixed number of bytes
//                one way, client bound to the host's address
// and the checks that the kernel still does its own work in the BR namespace while
// xbr runs (ARP, ND, a plain routed IPv6 flow).

import { spawnProc, labScript, stopProc, type Proc } from './proc.js';
import { NET, type Host, type Topology } from './topology.js';

export interface PingResult {
  transmitted: number;
  received: number;
  rttAvgMs: number | null;
  output: string;
}

/** Pings `dst` from `from` (its own address as source unless it is the IPv4 host). */
export async function ping(from: Host, dst: string, opts: { count?: number; intervalS?: number; src?: string } = {}): Promise<PingResult> {
  const count = opts.count ?? 5;
  const interval = opts.intervalS ?? 0.1;
  const v6 = dst.includes(':');
  const args = [v6 ? '-6' : '-4', '-n', '-c', String(count), '-i', String(interval), '-W', '1', '-w', String(Math.ceil(count * interval + 3))];
  const src = opts.src ?? (from.family === (v6 ? 6 : 4) ? from.addr : undefined);
  if (src) args.push('-I', src);
  args.push(dst);
  const p = spawnProc('ip', ['netns', 'exec', from.ns, 'ping', ...args], (count * interval + 8) * 1000);
  await p.exited;
  const out = p.out() + p.err();
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  return { transmitted: m ? Number(m[1]) : 0, received: m ? Number(m[2]) : 0, rttAvgMs: rtt ? Number(rtt[1]) : null, output: out };
}

let portSeq = 0;

export interface FlowSpec {
  src: Host;
  srcPort: number;
  dst: Host;
  dstPort: number;
  count: number;
  pps: number;
  /** UDP payload bytes (>= 16). Default 64. */
  size?: number;
  flow?: number;
  /** The sink stops after this long in any case. Default: the flow's duration + 5 s. */
  timeoutMs?: number;
  /** The sink stops after this long without a datagram (after the first). Default 2000. */
  idleMs?: number;
  /** Address the sender dials (default: the destination as the source sees it). */
  to?: string;
}

export interface FlowResult {
  sent: number;
  sendErrors: number;
  received: number;
  unique: number;
  duplicates: number;
  missing: number;
  missingRanges: [number, number][];
  /** The highest sequence number that arrived (-1: none). */
  maxSeq: number;
  reordered: number;
  /** address:port the sink saw the datagrams from */
  from: string;
  gapMs: number;
  seconds: number;
}

/** The address `src` dials to reach `dst`: the IPv4 host dials a CE's IPv4 address; a CE dials the IPv4 host's form in its family. */
export function addressOf(src: Host, dst: Host): string {
  if (src.ns === dst.ns) return dst.addr;
  if (src.family === 4 && dst.family === 4) return dst.v4;
  if (src.family === 6 && dst.family === 6) return dst.addr;
  return src.family === 4 ? dst.v4 : src.toInet;
}

export interface RunningFlow {
  /** Resolves once both ends run (the sink is bound). */
  started: Promise<void>;
  result: Promise<FlowResult>;
  stop(): Promise<void>;
}

/** Starts a counted UDP flow; `result` resolves when the sink is done. */
export function startUdpFlow(spec: FlowSpec): RunningFlow {
  const agent = labScript('agent');
  const size = spec.size ?? 64;
  const flow = spec.flow ?? 1;
  const durationMs = (spec.count / spec.pps) * 1000;
  const timeoutMs = spec.timeoutMs ?? durationMs + 5000;
  const sink = spawnProc(
    'ip',
    ['netns', 'exec', spec.dst.ns, process.execPath, agent, 'udp-sink', '--family', String(spec.dst.family), '--bind', spec.dst.addr, '--port', String(spec.dstPort), '--count', String(spec.count), '--timeout-ms', String(timeoutMs), '--idle-ms', String(spec.idleMs ?? 2000), '--flow', String(flow)],
    timeoutMs + 10_000,
  );
  let sender: Proc | undefined;
  const started = sink.waitFor('ready', 10_000).then(() => {
    sender = spawnProc(
      'ip',
      ['netns', 'exec', spec.src.ns, process.execPath, agent, 'udp-send', '--family', String(spec.src.family), '--bind', spec.src.addr, '--sport', String(spec.srcPort), '--to', spec.to ?? addressOf(spec.src, spec.dst), '--dport', String(spec.dstPort), '--count', String(spec.count), '--pps', String(spec.pps), '--size', String(size), '--flow', String(flow)],
      durationMs + 15_000,
    );
  });
  const result = (async (): Promise<FlowResult> => {
    await started;
    const [sOut, kOut] = await Promise.all([sender!.done, sink.done]);
    const s = JSON.parse(sOut.trim().split('\n').pop()!) as { sent: number; errors: number; seconds: number };
    const k = JSON.parse(kOut.trim().split('\n').pop()!) as Omit<FlowResult, 'sent' | 'sendErrors' | 'seconds'>;
    return { ...k, sent: s.sent, sendErrors: s.errors, seconds: s.seconds };
  })();
  result.catch(() => undefined);
  return {
    started,
    result,
    stop: async () => {
      await Promise.all([sender ? stopProc(sender, 'SIGKILL') : undefined, stopProc(sink, 'SIGKILL')]);
    },
  };
}

export async function udpFlow(spec: FlowSpec): Promise<FlowResult> {
  const f = startUdpFlow(spec);
  try {
    return await f.result;
  } finally {
    await f.stop();
  }
}

export interface TcpStreamResult {
  bytesSent: number;
  bytesReceived: number;
  /** Both ends computed the same SHA-256 over the stream. */
  intact: boolean;
  seconds: number;
  mbps: number;
  /** address:port the server saw the connection from */
  from: string;
}

/**
 * Sends `bytes` pseudo-random bytes over one TCP connection from `client` to
 * `server` (bench/lab/agent.ts) and compares SHA-256 digests at both ends.
 */
export async function tcpStream(client: Host, server: Host, bytes: number, opts: { port?: number; timeoutMs?: number } = {}): Promise<TcpStreamResult> {
  const agent = labScript('agent');
  const port = String(opts.port ?? 5301 + (portSeq++ % 90));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const sink = spawnProc('ip', ['netns', 'exec', server.ns, process.execPath, agent, 'tcp-sink', '--bind', server.addr, '--port', port, '--timeout-ms', String(timeoutMs)], timeoutMs + 5000);
  try {
    await sink.waitFor('ready', 10_000);
    const send = spawnProc('ip', ['netns', 'exec', client.ns, process.execPath, agent, 'tcp-send', '--bind', client.addr, '--to', addressOf(client, server), '--port', port, '--bytes', String(bytes), '--timeout-ms', String(timeoutMs)], timeoutMs + 5000);
    const [sOut, kOut] = await Promise.all([send.done, sink.done]);
    const s = JSON.parse(sOut.trim().split('\n').pop()!) as { bytes: number; sha256: string; seconds: number };
    const k = JSON.parse(kOut.trim().split('\n').pop()!) as { bytes: number; sha256: string; seconds: number; from: string };
    return { bytesSent: s.bytes, bytesReceived: k.bytes, intact: s.sha256 === k.sha256 && s.bytes === k.bytes, seconds: s.seconds, mbps: (k.bytes * 8) / s.seconds / 1e6, from: k.from };
  } finally {
    await stopProc(sink, 'SIGKILL');
  }
}

export interface TcpResult {
  bytesSent: number;
  bytesReceived: number;
  seconds: number;
  mbps: number;
  retransmits: number;
}


/**
 * Transfers `bytes` over TCP from `client` to `server` with iperf3 (reverse: from
 * server to client). The client connects; both bind their own addresses.
 */
export async function tcpTransfer(client: Host, server: Host, bytes: number, opts: { reverse?: boolean; timeoutMs?: number } = {}): Promise<TcpResult> {
  const port = String(5201 + (portSeq++ % 90));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const srv = spawnProc('ip', ['netns', 'exec', server.ns, 'iperf3', '-s', '-1', '--forceflush', '-B', server.addr, '-p', port], timeoutMs + 5000);
  try {
    await srv.waitFor('Server listening', 10_000);
    const args = ['-c', addressOf(client, server), '-B', client.addr, '-p', port, '-n', String(bytes), '-J', '--connect-timeout', '3000'];
    if (opts.reverse) args.push('-R');
    const cli = spawnProc('ip', ['netns', 'exec', client.ns, 'iperf3', ...args], timeoutMs);
    await cli.exited;
    let j: { error?: string; end?: { sum_sent?: { bytes: number; seconds: number; retransmits?: number }; sum_received?: { bytes: number; seconds: number } } };
    try {
      j = JSON.parse(cli.out());
    } catch {
      throw new Error(`iperf3 printed no JSON: ${cli.out()}${cli.err()}`);
    }
    if (j.error) throw new Error(`iperf3: ${j.error}`);
    const sent = j.end?.sum_sent;
    const recv = j.end?.sum_received;
    if (!sent || !recv) throw new Error(`iperf3: no summary: ${cli.out().slice(0, 400)}`);
    const seconds = recv.seconds;
    return { bytesSent: sent.bytes, bytesReceived: recv.bytes, seconds, mbps: (recv.bytes * 8) / seconds / 1e6, retransmits: sent.retransmits ?? 0 };
  } finally {
    await stopProc(srv, 'SIGKILL');
  }
}

// ---------------------------------------------------------------- the kernel's own work

export interface NeighbourResult {
  ping: PingResult;
  /** The neighbour entry after the ping: its MAC and state. */
  lladdr: string | null;
  state: string[];
}

/**
 * Flushes `addr` from `ns`'s neighbour table, pings it, and reads the entry back:
 * proves ARP (IPv4) or ND (IPv6) resolution against the BR namespace's kernel.
 */
export async function resolveAndPing(topo: Topology, from: Host, addr: string, dev: string): Promise<NeighbourResult> {
  const v6 = addr.includes(':');
  topo.exec(from.ns, 'ip', [v6 ? '-6' : '-4', 'neigh', 'flush', 'to', addr, 'dev', dev]);
  const p = await ping({ ...from, family: v6 ? 6 : 4 }, addr, { count: 3, src: v6 ? (from.ns === topo.ns.ce ? NET.ce.v6 : NET.inet.v6) : NET.inet.v4 });
  const j = JSON.parse(topo.exec(from.ns, 'ip', ['-j', v6 ? '-6' : '-4', 'neigh', 'show', addr, 'dev', dev]) || '[]') as { lladdr?: string; state?: string[] }[];
  return { ping: p, lladdr: j[0]?.lladdr ?? null, state: j[0]?.state ?? [] };
}

/** The IPv4 host and the CE namespace as plain IPv6 hosts (fd00:4::1, fd00:6::2), routed by the BR's kernel. */
export function plainV6(topo: Topology): { inet: Host; ce: Host } {
  return {
    inet: { ns: topo.ns.inet, family: 6, addr: NET.inet.v6, toInet: NET.inet.v6, v4: NET.inet.v4 },
    ce: { ns: topo.ns.ce, family: 6, addr: NET.ce.v6, toInet: NET.inet.v6, v4: '' },
  };
}
