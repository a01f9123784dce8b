// The lab's traffic agent, run inside a namespace (`ip netns exec NS node
// dist/bench/lab/agent.js …`): a counted UDP flow, every datagram numbered.
//
//   agent.js udp-send --family 4|6 --bind ADDR --sport P --to ADDR --dport P
//                     --count N --pps R [--size BYTES] [--flow ID]
//     sends datagrams 0..N-1 at R per second (bounded by N), prints one JSON line
//     {sent, errors, seconds}.
//   agent.js udp-sink --family 4|6 --bind ADDR --port P --count N --timeout-ms T
//                     [--idle-ms I] [--flow ID]
//     prints "ready" once bound, then counts datagrams of that flow until all N
//     arrived, T ms passed, or I ms passed without one (after the first); prints one
//     JSON line {received, unique, duplicates, missing, missingRanges, maxSeq,
//     reordered, from, firstMs, lastMs, gapMs}: gapMs is the longest silence between
//     two datagrams (a worker restart shows there).
//
// Payload: "XBRL", flow (u32), seq (u32), count (u32), then zero padding.
//
//   agent.js tcp-sink --bind ADDR --port P --timeout-ms T
//     prints "ready", accepts one connection, reads to EOF, prints {bytes, sha256,
//     seconds, from}.
//   agent.js tcp-send --bind ADDR --to ADDR --port P --bytes N [--timeout-ms T]
//     connects from ADDR (kernel-chosen port), writes N pseudo-random bytes, closes,
//     prints {bytes, sha256, seconds}. Equal digests at both ends = every byte arrived.

import dgram from 'node:dgram';
import net from 'node:net';
import { createHash } from 'node:crypto';

const MAGIC = 0x5842524c; // "XBRL"

function args(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      m.set(a.slice(2), argv[i + 1] ?? '');
      i++;
    }
  }
  return m;
}

function num(m: Map<string, string>, k: string, dflt?: number): number {
  const v = m.get(k);
  if (v === undefined) {
    if (dflt === undefined) throw new Error(`--${k} is required`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${k} must be a number`);
  return n;
}

function str(m: Map<string, string>, k: string): string {
  const v = m.get(k);
  if (v === undefined) throw new Error(`--${k} is required`);
  return v;
}

async function send(m: Map<string, string>): Promise<void> {
  const type = num(m, 'family') === 6 ? 'udp6' : 'udp4';
  const count = num(m, 'count');
  const pps = num(m, 'pps');
  const size = Math.max(16, num(m, 'size', 64));
  const flow = num(m, 'flow', 1);
  const to = str(m, 'to');
  const dport = num(m, 'dport');
  const s = dgram.createSocket({ type });
  s.on('error', () => undefined);
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind({ address: str(m, 'bind'), port: num(m, 'sport', 0) }, () => res());
  });
  s.setSendBufferSize(1 << 22);
  const start = performance.now();
  let sent = 0;
  let errors = 0;
  let inflight = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * pps) + 1);
      while (sent < due) {
        const b = Buffer.alloc(size);
        b.writeUInt32BE(MAGIC, 0);
        b.writeUInt32BE(flow, 4);
        b.writeUInt32BE(sent, 8);
        b.writeUInt32BE(count, 12);
        inflight++;
        s.send(b, dport, to, (err) => {
          if (err) errors++;
          if (--inflight === 0 && sent >= count) resolve();
        });
        sent++;
      }
      if (sent < count) setTimeout(tick, 1);
      else if (inflight === 0) resolve();
    };
    tick();
  });
  const seconds = (performance.now() - start) / 1000;
  s.close();
  process.stdout.write(`${JSON.stringify({ sent, errors, seconds })}\n`);
}

async function sink(m: Map<string, string>): Promise<void> {
  const type = num(m, 'family') === 6 ? 'udp6' : 'udp4';
  const count = num(m, 'count');
  const timeoutMs = num(m, 'timeout-ms');
  const idleMs = num(m, 'idle-ms', 0);
  const flow = num(m, 'flow', 1);
  const seen = new Uint8Array(count);
  let received = 0;
  let unique = 0;
  let duplicates = 0;
  let reordered = 0;
  let maxSeq = -1;
  let from = '';
  let firstMs = -1;
  let lastMs = -1;
  let gapMs = 0;
  const s = dgram.createSocket({ type, recvBufferSize: 1 << 23 });
  const t0 = performance.now();
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  let idleTimer: NodeJS.Timeout | undefined;
  s.on('message', (b, r) => {
    if (b.length < 16 || b.readUInt32BE(0) !== MAGIC || b.readUInt32BE(4) !== flow) return;
    const seq = b.readUInt32BE(8);
    if (seq >= count) return;
    const now = performance.now() - t0;
    if (firstMs < 0) firstMs = now;
    else gapMs = Math.max(gapMs, now - lastMs);
    lastMs = now;
    from = `${r.address}:${r.port}`;
    received++;
    if (seen[seq]) duplicates++;
    else {
      seen[seq] = 1;
      unique++;
    }
    if (seq < maxSeq) reordered++;
    maxSeq = Math.max(maxSeq, seq);
    if (unique === count) finish();
    if (idleMs > 0) {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(finish, idleMs);
    }
  });
  await new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind({ address: str(m, 'bind'), port: num(m, 'port') }, () => res());
  });
  process.stdout.write('ready\n');
  const timer = setTimeout(finish, timeoutMs);
  await finished;
  clearTimeout(timer);
  clearTimeout(idleTimer);
  s.close();
  const missingRanges: [number, number][] = [];
  for (let i = 0; i < count && missingRanges.length < 50; i++) {
    if (seen[i]) continue;
    let j = i;
    while (j + 1 < count && !seen[j + 1]) j++;
    missingRanges.push([i, j]);
    i = j;
  }
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({ received, unique, duplicates, missing: count - unique, missingRanges, maxSeq, reordered, from, firstMs: round(firstMs), lastMs: round(lastMs), gapMs: round(gapMs) })}\n`,
  );
}

/** Deterministic pseudo-random bytes (xorshift32), chunk by chunk. */
function* stream(total: number, chunk = 1 << 16): Generator<Buffer> {
  let x = 0x9e3779b9;
  for (let done = 0; done < total; ) {
    const n = Math.min(chunk, total - done);
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i + 4 <= n; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      b.writeInt32LE(x | 0, i);
    }
    for (let i = n - (n % 4); i < n; i++) b[i] = i & 0xff;
    done += n;
    yield b;
  }
}

async function tcpSend(m: Map<string, string>): Promise<void> {
  const bytes = num(m, 'bytes');
  const timeoutMs = num(m, 'timeout-ms', 30_000);
  const hash = createHash('sha256');
  const start = performance.now();
  const sock = net.connect({ host: str(m, 'to'), port: num(m, 'port'), localAddress: str(m, 'bind') });
  const timer = setTimeout(() => sock.destroy(new Error(`tcp-send: not done within ${timeoutMs} ms`)), timeoutMs);
  await new Promise<void>((res, rej) => {
    sock.once('connect', res);
    sock.once('error', rej);
  });
  const closed = new Promise<void>((res, rej) => {
    sock.once('close', (hadError) => (hadError ? rej(new Error('tcp-send: connection failed')) : res()));
    sock.once('error', rej);
  });
  for (const b of stream(bytes)) {
    hash.update(b);
    if (!sock.write(b)) await new Promise<void>((res) => sock.once('drain', res));
  }
  sock.end();
  // the peer closes after reading everything: then every byte was acknowledged
  sock.resume();
  await closed;
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds: (performance.now() - start) / 1000 })}\n`);
}

async function tcpSink(m: Map<string, string>): Promise<void> {
  const timeoutMs = num(m, 'timeout-ms');
  const hash = createHash('sha256');
  let bytes = 0;
  let start = 0;
  let from = '';
  const server = net.createServer();
  const done = new Promise<void>((res, rej) => {
    server.once('connection', (c) => {
      start = performance.now();
      from = `${c.remoteAddress}:${c.remotePort}`;
      server.close();
      c.on('data', (d: Buffer) => {
        bytes += d.length;
        hash.update(d);
      });
      c.once('end', () => {
        c.end();
        res();
      });
      c.once('error', rej);
    });
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen({ host: str(m, 'bind'), port: num(m, 'port') }, () => res());
  });
  process.stdout.write('ready\n');
  const timer = setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds: (performance.now() - start) / 1000, from, timedOut: true })}\n`);
    process.exit(3);
  }, timeoutMs);
  await done;
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds: (performance.now() - start) / 1000, from })}\n`);
}

const [cmd, ...rest] = process.argv.slice(2);
const m = args(rest);
const commands: Record<string, (m: Map<string, string>) => Promise<void>> = { 'udp-send': send, 'udp-sink': sink, 'tcp-send': tcpSend, 'tcp-sink': tcpSink };
const run = commands[cmd ?? ''] ?? null;
if (!run) {
  process.stderr.write('usage: agent.js udp-send|udp-sink|tcp-send|tcp-sink …\n');
  process.exit(2);
}
run(m).then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`agent ${cmd}: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
