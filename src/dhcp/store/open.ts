// Opens the lease store named by dhcp4o6.lease-store: "sqlite:PATH" (PATH relative to
// the configuration file's directory, like bindings-file) or "postgres://…".
import { isAbsolute, resolve } from 'node:path';
import type { LeaseStore } from './types.js';

/**
 * `sqliteWorker`: run the SQLite store in a worker thread (sqlite-worker.ts), which is
 * how `xbr dhcp` runs it; otherwise on this thread (tests running the TypeScript
 * sources, where the compiled worker script does not exist).
 */
export async function openLeaseStore(spec: string, baseDir: string, origin: string, sqliteWorker = false): Promise<LeaseStore> {
  if (spec.startsWith('sqlite:')) {
    const raw = spec.slice('sqlite:'.length);
    const path = raw === ':memory:' || isAbsolute(raw) ? raw : resolve(baseDir, raw);
    if (sqliteWorker && path !== ':memory:') {
      const { SqliteWorkerStore } = await import('./sqlite-worker.js');
      return new SqliteWorkerStore(path);
    }
    const { SqliteLeaseStore } = await import('./sqlite.js');
    return new SqliteLeaseStore(path);
  }
  if (spec.startsWith('postgres://') || spec.startsWith('postgresql://')) {
    const { PostgresLeaseStore } = await import('./postgres.js');
    return PostgresLeaseStore.connect(spec, origin);
  }
  throw new Error(`lease-store ${spec}: must be "sqlite:PATH" or "postgres://…"`);
}
