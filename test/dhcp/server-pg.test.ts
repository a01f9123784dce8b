// The 4o6 server suite (server-suite.ts) over the PostgreSQL lease store: the same
// RFC 7618 / RFC 7341 behaviour, allocation order, per-site limit, expiry and restore,
// and live reload (reconfigure-suite.ts).
// Needs PostgreSQL at XBR_PG_URL (scripts/start-postgres.sh); skipped without it,
// except in CI (CI=true), where a missing database fails.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { PG_URL, pgUnavailable } from './server-helpers.js';
import { reconfigureSuite } from './reconfigure-suite.js';
import { serverSuite } from './server-suite.js';

const unavailable = await pgUnavailable(PG_URL);
const CI = process.env.CI === 'true';

if (unavailable !== null && CI) {
  it('PostgreSQL is reachable (required in CI)', () => {
    throw new Error(`PostgreSQL at ${PG_URL} is required in CI (scripts/start-postgres.sh): ${unavailable}`);
  });
} else {
  // a local skip is said out loud; in CI a missing database fails above
  if (unavailable !== null) console.warn(`PostgreSQL server suite skipped: ${unavailable}`);
  describe.skipIf(unavailable !== null)('server over PostgreSQL', () => {
    serverSuite('postgres');
    reconfigureSuite('postgres');
  });
}
