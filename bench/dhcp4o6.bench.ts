// DHCP 4o6 load benchmark: N simulated clients (distinct RFC 4361 client identifiers)
// run DISCOVER -> OFFER -> REQUEST -> ACK inside DHCPv4-query messages with a bounded
// number in flight (src/dhcp/loadgen.ts), against
//   xbr-sqlite   `xbr dhcp` with the SQLite store (durable group commit),
//   xbr-postgres `xbr dhcp` with the PostgreSQL store (XBR_PG_URL, a fresh database),
//   kea          Kea 2.2's 4o6 service (kea-dhcp6 + kea-dhcp4 joined by dhcp4o6-port,
//                memfile leases) in a network namespace (root), when Debian's
//                kea-dhcp4-server and kea-dhcp6-server are installed.
// Every server runs as its own process on loopback; the generator runs here, either
// natively (bench/dhcpgen.c, the default: the codec's templates patched and sent in
// batches) or in JavaScript (src/dhcp/loadgen.ts): the same clients and the same bytes
// either way. Figures: leases/s = ACKs / wall time of the run. Bounded in count and
// time; cleans up.
//
//   npm run build:ts && node dist/bench/dhcp4o6.bench.js [--clients 10000] [--in-flight 256] [--repeat 3] [--warm-up 5000]
//       [--targets xbr-sqlite,xbr-postgres,kea] [--generator native|js] [--out bench/out/dhcp4o6.json] [--threads]
//       [--rounds 1]
//
// --rounds N runs every target N times over, in turn (xbr, then Kea, then xbr again
// ...), each round with fresh servers and lease files, and reports each round's
// figures and ratios and their medians. On a shared machine whose speed drifts from
// minute to minute (bench/dhcp4o6-results.md, tenth session), a ratio of two figures
// measured side by side, taken over several rounds, says more than one bench.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runLoad } from '../src/dhcp/loadgen.js';
import type { OfferShape } from '../src/dhcp/loadgen-wire.js';
import { runNativeLoad } from './dhcpgen.js';
import { machineLine } from './report.js';
import { busiestThread, cpuMsOf, threadCpuOf, threadDeltas } from './thread-cpu.js';
import { roundsTable } from './rounds.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const CLIENTS = Number(arg('clients', '10000'));
const IN_FLIGHT = Number(arg('in-flight', '256'));
const TARGETS = arg('targets', 'xbr-sqlite,xbr-postgres,kea').split(',');
const OUT = arg('out', join(ROOT, 'bench', 'out', 'dhcp4o6.json'));
/** Measured runs per target (distinct clients each); the figure is their median, the best is shown too. */
const REPEAT = Number(arg('repeat', '3'));
/**
 * Clients run through every server before its measured runs, the same number for each:
 * with 500, xbr's first measured run was always its slowest (~14.5k leases/s against
 * 17-19k: V8 still compiling its hot paths), so a median of 3 leaned on it.
 */
const WARM_UP = Number(arg('warm-up', '5000'));
/**
 * native: bench/dhcpgen.c (~a third of the JavaScript generator's CPU per lease; the
 * generator shares the two cores with the server it measures). js: src/dhcp/loadgen.ts.
 */
const GENERATOR = arg('generator', 'native');
if (GENERATOR !== 'native' && GENERATOR !== 'js') throw new Error(`--generator ${GENERATOR}: native or js`);
/** Rounds of every target, in turn (see the header). */
const ROUNDS = Number(arg('rounds', '1'));
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds ${arg('rounds', '1')}: a whole number, at least 1`);
/** --threads: each run also prints every server thread's CPU per lease (where a server's time goes). */
const THREADS = process.argv.includes('--threads');
const PG_URL = process.env.XBR_PG_URL ?? 'postgres://xbr:xbr@127.0.0.1:5432/xbr';

interface Figure {
  target: string;
  clients: number;
  inFlight: number;
  acked: number;
  failed: number;
  timeouts: number;
  seconds: number;
  leasesPerSecond: number;
  /** Every run's leases/s. */
  runs?: number[];
  /** Every run's client timeouts (a query or answer lost: the client waited and started over). */
  runTimeouts?: number[];
  best?: number;
  /**
   * CPU time per lease of the median run, in microseconds: the server's processes (every
   * thread; xbr-postgres: with every postgres process), and the generator.
   */
  serverCpuUs?: number;
  generatorCpuUs?: number;
  /**
   * The server's busiest thread in the median run and its share of the run's wall time
   * (thread-cpu.ts): near 1, that thread is the server's ceiling, whatever CPU is left.
   */
  busiestThread?: { name: string; share: number };
  note?: string;
}

/** One run's outcome, from either generator. */
interface Run {
  acked: number;
  failed: number;
  timeouts: number;
  elapsedMs: number;
  rate: number;
  /** The generator's CPU time. */
  cpuMs: number;
  /** The server's, filled in by measure(). */
  serverCpuMs?: number;
  busiestThread?: { name: string; share: number };
}

interface Load {
  host: string;
  port: number;
  localPort?: number;
  relay: boolean;
  portAware: boolean;
  /** What the server offers (the native generator's REQUEST template must fit it). */
  offers: OfferShape;
  timeoutMs?: number;
}

/** Runs `clients` clients through the server with the chosen generator. */
async function load(l: Load, clients: number, firstClient: number, deadlineMs: number, tries?: number, inFlight = IN_FLIGHT): Promise<Run> {
  if (GENERATOR === 'native') {
    const r = await runNativeLoad({ ...l, clients, inFlight, firstClient, deadlineMs, tries });
    if (r.unexpected > 0) throw new Error(`${r.unexpected} OFFERs were not of the shape ${JSON.stringify(l.offers)}`);
    return r;
  }
  const before = process.cpuUsage();
  const r = await runLoad({ ...l, clients, inFlight, firstClient, deadlineMs, tries });
  const used = process.cpuUsage(before);
  return { ...r, acked: r.acked.length, cpuMs: (used.user + used.system) / 1000 };
}

/** Every process named `comm` (the PostgreSQL server and its backends). */
function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() === comm) out.push(Number(d));
    } catch {
      /* exited */
    }
  }
  return out;
}

function waitLine(p: ChildProcess, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`timeout waiting for ${re}: ${out}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m);
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
    p.once('exit', (c) => reject(new Error(`exited ${c}: ${out}`)));
  });
}

async function kill(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((r) => {
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    p.once('exit', () => {
      clearTimeout(t);
      r();
    });
    p.kill('SIGTERM');
  });
}

/** Runs the measured load REPEAT times (distinct clients each) and reports the median run. */
async function measure(target: string, run: (firstClient: number) => Promise<Run>, note: string, serverPids: () => number[]): Promise<Figure> {
  const results: Run[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const pids = serverPids();
    const before = cpuMsOf(pids);
    const threadsBefore = threadCpuOf(pids);
    const r = await run(i * CLIENTS);
    const all = [...new Set([...pids, ...serverPids()])];
    const threadsAfter = threadCpuOf(all);
    const busiest = busiestThread(threadsBefore, threadsAfter, r.elapsedMs);
    results.push({ ...r, serverCpuMs: cpuMsOf(all) - before, busiestThread: busiest });
    process.stderr.write(
      `${target}: run ${i + 1}/${REPEAT}: ${Math.round(r.rate)} leases/s, ${r.timeouts} timeouts` +
        (busiest ? `, busiest thread ${busiest.name} ${Math.round(busiest.share * 100)} %` : '') +
        '\n',
    );
    if (THREADS) {
      const per = threadDeltas(threadsBefore, threadsAfter)
        .filter((t) => t.ms > 0)
        .map((t) => `${t.name}:${t.key.split('/')[1]} ${((t.ms * 1000) / Math.max(1, r.acked)).toFixed(1)}`);
      process.stderr.write(`${target}: run ${i + 1}: CPU per lease by thread (µs): ${per.join(', ')}\n`);
    }
  }
  const sorted = [...results].sort((a, b) => a.rate - b.rate);
  const r = sorted[Math.floor((sorted.length - 1) / 2)];
  return {
    target,
    clients: CLIENTS,
    inFlight: IN_FLIGHT,
    acked: r.acked,
    failed: r.failed,
    timeouts: r.timeouts,
    seconds: Number((r.elapsedMs / 1000).toFixed(3)),
    leasesPerSecond: Math.round(r.rate),
    runs: results.map((x) => Math.round(x.rate)),
    runTimeouts: results.map((x) => x.timeouts),
    best: Math.round(sorted[sorted.length - 1].rate),
    serverCpuUs: Math.round(((r.serverCpuMs ?? 0) * 1000) / Math.max(1, r.acked)),
    generatorCpuUs: Math.round((r.cpuMs * 1000) / Math.max(1, r.acked)),
    busiestThread: r.busiestThread && { name: r.busiestThread.name, share: Number(r.busiestThread.share.toFixed(2)) },
    note: `${note}; generator: ${GENERATOR}`,
  };
}

/** Enough shared slots for every client: /18 x 16 PSIDs = 262144. */
function xbrYaml(store: string): string {
  return `mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  lease-store: ${store}
  max-leases-per-site: 4
  pools:
    - name: shared
      ipv4: 100.64.0.0/18
      psid-len: 4
      psid-offset: 6
`;
}

async function benchXbr(target: string, store: string, dir: string): Promise<Figure> {
  const cfg = join(dir, `${target}.yaml`);
  writeFileSync(cfg, xbrYaml(store));
  const p = spawn(process.execPath, [join(ROOT, 'bin', 'xbr.js'), 'dhcp', '-c', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const m = await waitLine(p, /^ready (\d+)/m, 120_000);
    const port = Number(m[1]);
    // relayed, port-aware clients; the pool's port parameters (xbrYaml) in every OFFER
    const l: Load = { host: '::1', port, relay: true, portAware: true, offers: { pp: { offset: 6, psidLen: 4 }, serverId: true } };
    // warm-up (JIT), distinct clients
    await load(l, WARM_UP, 1_000_000, 60_000);
    return await measure(
      target,
      (firstClient) => load(l, CLIENTS, firstClient, 300_000),
      'durable before ACK; clients relayed, one site each',
      // xbr-postgres: the database's CPU is the lease store's
      () => (target === 'xbr-postgres' ? [p.pid!, ...pidsNamed('postgres')] : [p.pid!]),
    );
  } finally {
    await kill(p);
  }
}

async function benchXbrPostgres(dir: string): Promise<Figure> {
  const db = `xbr_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${db}`);
  try {
    return await benchXbr('xbr-postgres', PG_URL.replace(/\/[^/?]*(\?|$)/, `/${db}$1`), dir);
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin.end();
  }
}

/**
 * Kea 2.2 as the peer: kea-dhcp6 receives the DHCPv4-query and hands the DHCPv4 message
 * to kea-dhcp4 over the dhcp4o6-port IPC; memfile leases (persist: true). Kea does not
 * process DHCPv6 arriving on the loopback interface, and its DHCPv4 side needs an
 * interface with an IPv4 address, so both run in a network namespace of their own
 * behind a veth pair (root needed; created and deleted here): the generator sends
 * from 2001:db8:4::2 to kea-dhcp6 at 2001:db8:4::1 (-p 10547), which answers the fixed
 * client port 10546 (-P). Kea has no RFC 7618 support: its clients lease full
 * addresses (portAware false), and it picks the 4o6 subnet by the client's source
 * address (4o6-subnet), so queries are sent directly (no relay).
 */
/**
 * The socket receive buffer every server gets: xbr's sockets ask for 8 MiB
 * (server.ts, setRecvBufferSize: the kernel doubles a request capped at
 * net.core.rmem_max); Kea 2.2 has no setting for it and keeps net.core.rmem_default
 * (208 KiB here), about 90 queued datagrams — fewer than the 256 a burst of clients in
 * flight sends, so with the default Kea drops queries (Udp6RcvbufErrors in its
 * namespace) and each dropped client waits out its 500 ms timeout: 10,000-client runs
 * then measured Kea's drops more than its speed (9.4k leases/s, against 18.8k in runs
 * that happened to lose nothing). net.core.rmem_default is not per namespace: it is
 * raised for Kea's run only and restored after.
 */
const RCVBUF = 8 << 20;
const RMEM_DEFAULT = '/proc/sys/net/core/rmem_default';

/** Addresses in Kea's pool (10.64.0.1 - 10.64.255.254). */
const KEA_POOL_SIZE = 65_534;

async function benchKea(dir: string): Promise<Figure> {
  // every client of the probe, the warm-up and the runs holds a lease of Kea's one pool
  const need = 20 + WARM_UP + REPEAT * CLIENTS;
  if (need > KEA_POOL_SIZE) throw new Error(`Kea's pool holds ${KEA_POOL_SIZE} leases; this bench needs ${need} (--warm-up + --repeat x --clients)`);
  const saved = readFileSync(RMEM_DEFAULT, 'utf8').trim();
  writeFileSync(RMEM_DEFAULT, String(RCVBUF));
  try {
    return await benchKeaWith(dir);
  } finally {
    writeFileSync(RMEM_DEFAULT, saved);
  }
}

async function benchKeaWith(dir: string): Promise<Figure> {
  execFileSync('kea-dhcp6', ['-v']);
  const ns = `xbrkea${process.pid % 100000}`;
  const va = `xk${process.pid % 100000}a`;
  const vb = `xk${process.pid % 100000}b`;
  const ip = (...a: string[]) => execFileSync('ip', a, { stdio: 'pipe' });
  const leases4 = join(dir, 'kea-leases4.csv');
  const leases6 = join(dir, 'kea-leases6.csv');
  const logger = (name: string) => [{ name, severity: 'WARN', output_options: [{ output: join(dir, `${name}.log`) }] }];
  const dhcp4 = {
    Dhcp4: {
      'interfaces-config': { interfaces: [vb], 'dhcp-socket-type': 'udp' },
      'lease-database': { type: 'memfile', persist: true, name: leases4, 'lfc-interval': 0 },
      'dhcp4o6-port': 16767,
      'valid-lifetime': 3600,
      subnet4: [{ id: 1, subnet: '10.64.0.0/16', '4o6-subnet': '2001:db8:4::/64', pools: [{ pool: '10.64.0.1 - 10.64.255.254' }] /* KEA_POOL_SIZE */ }],
      loggers: logger('kea-dhcp4'),
    },
  };
  const dhcp6 = {
    Dhcp6: {
      'interfaces-config': { interfaces: [`${vb}/2001:db8:4::1`] },
      'lease-database': { type: 'memfile', persist: true, name: leases6, 'lfc-interval': 0 },
      'server-id': { type: 'EN', 'enterprise-id': 2495, identifier: '0102', persist: false },
      'dhcp4o6-port': 16767,
      subnet6: [{ id: 1, subnet: '2001:db8:4::/64', interface: vb }],
      'option-data': [{ name: 'dhcp4o6-server-addr', data: '2001:db8:4::1' }],
      loggers: logger('kea-dhcp6'),
    },
  };
  writeFileSync(join(dir, 'kea4.json'), JSON.stringify(dhcp4));
  writeFileSync(join(dir, 'kea6.json'), JSON.stringify(dhcp6));
  const env = { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
  let k4: ChildProcess | undefined;
  let k6: ChildProcess | undefined;
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', va, 'type', 'veth', 'peer', 'name', vb);
    ip('link', 'set', vb, 'netns', ns);
    ip('addr', 'add', '2001:db8:4::2/64', 'dev', va, 'nodad');
    ip('link', 'set', va, 'up');
    ip('-n', ns, 'addr', 'add', '2001:db8:4::1/64', 'dev', vb, 'nodad');
    ip('-n', ns, 'addr', 'add', '192.0.2.1/24', 'dev', vb);
    ip('-n', ns, 'link', 'set', vb, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    k4 = spawn('ip', ['netns', 'exec', ns, 'kea-dhcp4', '-c', join(dir, 'kea4.json'), '-p', '10067'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    k6 = spawn('ip', ['netns', 'exec', ns, 'kea-dhcp6', '-c', join(dir, 'kea6.json'), '-p', '10547', '-P', '10546'], { stdio: ['ignore', 'pipe', 'pipe'], env });
    await new Promise((r) => setTimeout(r, 2500));
    if (k4.exitCode !== null || k6.exitCode !== null) throw new Error('kea exited at start');
    const l: Load = { host: '2001:db8:4::1', port: 10547, localPort: 10546, relay: false, portAware: false, offers: { pp: null, serverId: true }, timeoutMs: 500 };
    const probe = await load(l, 20, 1_000_000, 10_000, 3, 20);
    if (probe.acked === 0) throw new Error('kea answered no DHCPv4-query');
    await load(l, WARM_UP, 2_000_000, 60_000);
    return await measure(
      'kea-2.2',
      (firstClient) => load(l, CLIENTS, firstClient, 300_000),
      `memfile (persist: true: CSV appended, not fsynced before the ACK); full addresses (no RFC 7618); veth into a netns; socket receive buffers ${RCVBUF >> 20} MiB like xbr's`,
      // `ip netns exec` execs Kea in place: the spawned pids are Kea's
      () => [k4!.pid!, k6!.pid!],
    );
  } finally {
    if (k6) await kill(k6);
    if (k4) await kill(k4);
    try {
      ip('netns', 'del', ns);
    } catch {
      /* not created */
    }
    try {
      ip('link', 'del', va);
    } catch {
      /* gone with the namespace */
    }
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'xbr-bench-dhcp-'));
  const rounds: Figure[][] = [];
  try {
    for (let r = 1; r <= ROUNDS; r++) {
      // each round's servers start from empty lease files
      const rdir = ROUNDS === 1 ? dir : mkdtempSync(join(dir, `round${r}-`));
      const figures: Figure[] = [];
      for (const t of TARGETS) {
        try {
          if (t === 'xbr-sqlite') figures.push(await benchXbr(t, `sqlite:${join(rdir, 'leases.db')}`, rdir));
          else if (t === 'xbr-postgres') figures.push(await benchXbrPostgres(rdir));
          else if (t === 'kea') figures.push(await benchKea(rdir));
          else throw new Error(`unknown target ${t}`);
        } catch (e) {
          process.stderr.write(`${t}: ${e instanceof Error ? e.message : String(e)}\n`);
          figures.push({ target: t, clients: CLIENTS, inFlight: IN_FLIGHT, acked: 0, failed: CLIENTS, timeouts: 0, seconds: 0, leasesPerSecond: 0, note: `not run: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}` });
        }
        const f = figures[figures.length - 1];
        process.stdout.write(
          (ROUNDS > 1 ? `round ${r}/${ROUNDS}: ` : '') +
            `${f.target.padEnd(14)} ${String(f.leasesPerSecond).padStart(7)} leases/s median of [${(f.runs ?? []).join(', ')}]  ` +
            `(${f.acked}/${f.clients} ACKed in ${f.seconds} s, ${f.inFlight} in flight; timeouts per run [${(f.runTimeouts ?? []).join(', ')}]; ` +
            `CPU per lease: server ${f.serverCpuUs ?? '-'} us, generator ${f.generatorCpuUs ?? '-'} us)${f.note ? `  ${f.note}` : ''}\n`,
        );
      }
      rounds.push(figures);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const machine = machineLine();
  process.stdout.write(`\n${ROUNDS === 1 ? table(rounds[0]) : roundsTable(rounds, REPEAT, CLIENTS)}\nmachine: ${machine}\n`);
  mkdirSync(dirname(OUT), { recursive: true });
  const result = ROUNDS === 1 ? { figures: rounds[0] } : { rounds };
  writeFileSync(OUT, JSON.stringify({ date: new Date().toISOString(), machine, command: process.argv.slice(1).join(' '), ...result }, null, 2) + '\n');
}

/** The figures side by side (Markdown), then each xbr target's rate over Kea's. */
function table(figures: readonly Figure[]): string {
  const n = (x: number | undefined) => (x === undefined ? '-' : x.toLocaleString('en-US'));
  const rows = figures.map((f) =>
    [
      f.target,
      n(f.leasesPerSecond),
      (f.runs ?? []).map(n).join(' '),
      (f.runTimeouts ?? []).join(' '),
      `${n(f.serverCpuUs)} µs`,
      f.busiestThread ? `${f.busiestThread.name} ${Math.round(f.busiestThread.share * 100)} %` : '-',
      `${n(f.generatorCpuUs)} µs`,
    ].join(' | '),
  );
  const lines = [
    `| target | leases/s (median of ${REPEAT}) | runs | timeouts | server CPU per lease | busiest server thread | generator CPU per lease |`,
    '| --- | ---: | --- | --- | ---: | --- | ---: |',
    ...rows.map((r) => `| ${r} |`),
  ];
  const kea = figures.find((f) => f.target === 'kea-2.2' && f.leasesPerSecond > 0);
  for (const f of figures) {
    if (kea !== undefined && f.target.startsWith('xbr') && f.leasesPerSecond > 0) lines.push(`${f.target} / Kea: ${(f.leasesPerSecond / kea.leasesPerSecond).toFixed(2)}x`);
  }
  return lines.join('\n');
}

await main();
