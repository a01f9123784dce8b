// The worker thread that owns the SQLite lease store (see sqlite-worker.ts). It runs
// the lease operations of leases.ts against SqliteLeaseStore with synchronous=FULL:
// every message it finds waiting when it starts a transaction joins that transaction
// (group commit), so one fsync — which blocks only this thread — covers all of them,
// and every result is posted back only after its COMMIT returned.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { allocate, bind, decline, dropRetired, release, withdrawOffers } from '../leases.js';
import { SqliteLeaseStore } from './sqlite.js';
import type { LeaseTx } from './types.js';
import type { WorkerReply, WorkerRequest } from './sqlite-worker.js';
import { packAllocateResult, packBindResult, unpackHolder, unpackPlan } from './worker-wire.js';

const port = parentPort!;
const store = new SqliteLeaseStore((workerData as { path: string }).path, 'full');

/** Operations that change rows: run together in one transaction. */
const WRITES = new Set(['allocate', 'bind', 'release', 'decline', 'withdraw', 'dropRetired', 'expire', 'setMeta']);

function unit(r: WorkerRequest): (tx: LeaseTx) => Promise<unknown> {
  const a = r[2] as never[];
  switch (r[1]) {
    // allocate and bind arrive packed, and their results leave packed (worker-wire.ts).
    case 'allocate': {
      const h = unpackHolder(a[0]);
      const plan = unpackPlan(a[1]);
      return async (tx) => packAllocateResult(await allocate(tx, h, plan, a[2], a[3]));
    }
    case 'bind': {
      const h = unpackHolder(a[0]);
      const p = a[1] as [number, number | null] | null;
      const slot = p === null ? undefined : { ipv4: p[0], psid: p[1] };
      return async (tx) => packBindResult(await bind(tx, h, slot, a[2], a[3], a[4], a[5]));
    }
    case 'release':
      return (tx) => release(tx, a[0], a[1], a[2], a[3]);
    case 'decline':
      return (tx) => decline(tx, a[0], a[1], a[2], a[3]);
    case 'withdraw':
      return (tx) => withdrawOffers(tx, a[0], a[1], a[2]);
    case 'dropRetired':
      return (tx) => dropRetired(tx, a[0], (a[1] as number | null) ?? undefined, a[2]);
    default:
      throw new Error(`not a write: ${r[1]}`);
  }
}

async function read(r: WorkerRequest): Promise<unknown> {
  const a = r[2] as never[];
  switch (r[1]) {
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
      throw new Error(`unknown op ${r[1]}`);
  }
}

async function handle(reqs: WorkerRequest[]): Promise<WorkerReply[]> {
  const out: WorkerReply[] = [];
  const failed = (r: WorkerRequest, e: unknown): WorkerReply => [r[0], false, e instanceof Error ? e.message : String(e)];
  let i = 0;
  while (i < reqs.length) {
    if (!WRITES.has(reqs[i][1])) {
      const r = reqs[i++];
      try {
        out.push([r[0], true, await read(r)]);
      } catch (e) {
        out.push(failed(r, e));
      }
      continue;
    }
    let j = i;
    while (j < reqs.length && WRITES.has(reqs[j][1])) j++;
    const run = reqs.slice(i, j);
    i = j;
    // expire and setMeta have their own transactions in the store; the rest share one.
    const special = run.filter((r) => r[1] === 'expire' || r[1] === 'setMeta');
    const ops = run.filter((r) => r[1] !== 'expire' && r[1] !== 'setMeta');
    if (ops.length > 0) {
      try {
        const values = await store.transaction(ops.map(unit));
        ops.forEach((r, k) => out.push([r[0], true, values[k]]));
      } catch (e) {
        for (const r of ops) out.push(failed(r, e));
      }
    }
    for (const r of special) {
      try {
        const a = r[2] as never[];
        const value = r[1] === 'expire' ? await store.expire(a[0], a[1]) : await store.setMeta(a[0], a[1]);
        out.push([r[0], true, value]);
      } catch (e) {
        out.push(failed(r, e));
      }
    }
  }
  return out;
}

let busy = Promise.resolve();
port.on('message', (first: WorkerRequest[]) => {
  busy = busy.then(async () => {
    const reqs = [...first];
    // Everything else already waiting joins this batch.
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) reqs.push(...(m.message as WorkerRequest[]));
    port.postMessage(await handle(reqs));
  });
});
