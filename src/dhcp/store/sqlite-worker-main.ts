// The worker thread that owns the SQLite lease store (see sqlite-worker.ts). It runs
// the lease operations of leases.ts against SqliteLeaseStore with synchronous=FULL:
// every message it finds waiting when it starts a transaction joins that transaction
// (group commit), so one fsync — which blocks only this thread — covers all of them,
// and every result is posted back only after its COMMIT returned — except DHCPDISCOVER's
// offers, which leave just before it (see handle()).
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { allocate, bind, decline, dropRetired, release, withdrawOffers } from '../leases.js';
import { SqliteLeaseStore } from './sqlite.js';
import type { LeaseTx } from './types.js';
import { readRequests, writeAllocateResult, writeBindResult, writeError, writeValue, type Frame, type Request } from './worker-wire.js';

const port = parentPort!;
const store = new SqliteLeaseStore((workerData as { path: string }).path, 'full');

/** Operations that change rows: run together in one transaction. */
const WRITES = new Set(['allocate', 'bind', 'release', 'decline', 'withdraw', 'dropRetired', 'expire', 'setMeta']);

/** A unit of the batch's transaction; it writes its own reply record (allocate and bind's as worker-wire.ts packs them). */
function unit(r: Request): (tx: LeaseTx) => Promise<(f: Frame) => void> {
  const a = r.args as never[];
  const value = (v: unknown) => (f: Frame) => writeValue(f, r.id, v);
  switch (r.op) {
    case 'allocate':
      return async (tx) => {
        const res = await allocate(tx, a[0], a[1], a[2], a[3]);
        return (f) => writeAllocateResult(f, r.id, res);
      };
    case 'bind':
      return async (tx) => {
        const res = await bind(tx, a[0], a[1], a[2], a[3], a[4], a[5]);
        return (f) => writeBindResult(f, r.id, res);
      };
    case 'release':
      return async (tx) => value(await release(tx, a[0], a[1], a[2], a[3]));
    case 'decline':
      return async (tx) => value(await decline(tx, a[0], a[1], a[2], a[3]));
    case 'withdraw':
      return async (tx) => value(await withdrawOffers(tx, a[0], a[1], a[2]));
    case 'dropRetired':
      return async (tx) => value(await dropRetired(tx, a[0], (a[1] as number | null) ?? undefined, a[2]));
    default:
      throw new Error(`not a write: ${r.op}`);
  }
}

async function read(r: Request): Promise<unknown> {
  const a = r.args as never[];
  switch (r.op) {
    case 'init':
      return store.init(a[0]);
    case 'active':
      return store.active(a[0]);
    case 'all':
      return store.all();
    case 'getMeta':
      return store.getMeta(a[0]);
    case 'close':
      return store.close();
    default:
      throw new Error(`unknown op ${r.op}`);
  }
}

/** Runs the requests in order (runs of writes as one transaction each) and returns the reply frame. */
async function handle(reqs: Request[]): Promise<Frame> {
  const out: Frame = [];
  const failed = (r: Request, e: unknown) => writeError(out, r.id, e instanceof Error ? e.message : String(e));
  let i = 0;
  while (i < reqs.length) {
    if (!WRITES.has(reqs[i].op)) {
      const r = reqs[i++];
      try {
        writeValue(out, r.id, await read(r));
      } catch (e) {
        failed(r, e);
      }
      continue;
    }
    let j = i;
    while (j < reqs.length && WRITES.has(reqs[j].op)) j++;
    const run = reqs.slice(i, j);
    i = j;
    // expire and setMeta have their own transactions in the store; the rest share one.
    const special = run.filter((r) => r.op === 'expire' || r.op === 'setMeta');
    const ops = run.filter((r) => r.op !== 'expire' && r.op !== 'setMeta');
    if (ops.length > 0) {
      // DHCPDISCOVER's results (OFFERs) leave before the COMMIT, in a frame of their
      // own: RFC 2131 section 4.3.1 lets a server offer an address without recording
      // the offer ("need not reserve the offered network address"), so an offer need
      // not wait for the fsync that every ACK waits for. Should the transaction fail
      // after all, the offered rows were never stored: the client's REQUEST then finds
      // no offer and is NAKed (RFC 2131 4.3.2), and it starts over.
      const early = (replies: readonly ((f: Frame) => void)[]) => {
        const f: Frame = [];
        for (let k = 0; k < ops.length; k++) if (ops[k].op === 'allocate') replies[k](f);
        if (f.length > 0) port.postMessage({ offers: f });
      };
      try {
        const replies = await store.transactionThen(ops.map(unit), early);
        // everything else (ACKs above all) only now that it is durable
        for (let k = 0; k < ops.length; k++) if (ops[k].op !== 'allocate') replies[k](out);
      } catch (e) {
        for (const r of ops) failed(r, e); // allocate's were answered already: ignored there
      }
    }
    for (const r of special) {
      try {
        const a = r.args as never[];
        writeValue(out, r.id, r.op === 'expire' ? await store.expire(a[0], a[1]) : await store.setMeta(a[0], a[1]));
      } catch (e) {
        failed(r, e);
      }
    }
  }
  return out;
}

let busy = Promise.resolve();
port.on('message', (first: Frame) => {
  busy = busy.then(async () => {
    const reqs = readRequests(first);
    // Everything else already waiting joins this batch.
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) reqs.push(...readRequests(m.message as Frame));
    port.postMessage(await handle(reqs));
  });
});
