// Opens the lease store named by dhcp4o6.lease-store: "sqlite:PATH" (PATH relative to
// the configuration file's directory, like bindings-file) or "postgres://…".
import { isAbsolute, resolve } from 'node:path';
import type { LeaseStore } from './types.js';

export async function openLeaseStore(spec: string, baseDir: string, origin: string): Promise<LeaseStore> {
  if (spec.startsWith('sqlite:')) {
    const path = spec.slice('sqlite:'.length);
    const { SqliteLeaseStore } = await import('./sqlite.js');
    return new SqliteLeaseStore(path === ':memory:' || isAbsolute(path) ? path : resolve(baseDir, path));
  }
  if (spec.startsWith('postgres://') || spec.startsWith('postgresql://')) {
    const { PostgresLeaseStore } = await import('./postgres.js');
    return PostgresLeaseStore.connect(spec, origin);
  }
  throw new Error(`lease-store ${spec}: must be "sqlite:PATH" or "postgres://…"`);
}
