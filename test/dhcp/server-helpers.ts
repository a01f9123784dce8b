// Helpers for the 4o6 server tests: a config, an in-process server (no sockets:
// handleDatagram) over a temp SQLite file or a fresh PostgreSQL database, and the
// client exchanges.
import { mkdtempSync, rmSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { TableBindingSink } from '../../src/dhcp/bindings.js';
import { clientMessage, decodeResponse, encodeQuery, type Response, type SimClient, type V4Fields } from '../../src/dhcp/client.js';
import { Dhcp4MessageType as T } from '../../src/dhcp/codec/index.js';
import { Dhcp4o6Server } from '../../src/dhcp/server.js';

export const BASE_YAML = `
mode: lw4o6
br: 2001:db8:ffff::1
dhcp4o6:
  listen: ["[::1]:0"]
  lease-time: 3600
  max-leases-per-site: 1000
  pools:
    - name: shared-a
      ipv4: 198.51.100.0/30
      psid-len: 2
      psid-offset: 6
    - name: full-a
      ipv4: 203.0.113.0/30
`;

export type StoreKind = 'sqlite' | 'postgres';

/** Where the PostgreSQL tests connect (scripts/start-postgres.sh sets this up). */
export const PG_URL = process.env.XBR_PG_URL ?? 'postgres://xbr:xbr@127.0.0.1:5432/xbr';

/** Why PostgreSQL at `url` cannot be used (its error message), or null when it can. */
export async function pgUnavailable(url = PG_URL): Promise<string | null> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/** `f` with a client connected to `url` (the admin database by default), closed after. */
export async function withPg<T>(f: (c: pg.Client) => Promise<T>, url = PG_URL): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

let dbSeq = 0;

/** A temp dir (SQLite file) or a fresh PostgreSQL database per test, servers to stop. */
export class TestEnv {
  readonly dir = mkdtempSync(join(tmpdir(), 'xbr-dhcp-'));
  clock = 1_800_000_000_000;
  readonly servers: Dhcp4o6Server[] = [];
  private readonly dbName = `xbr_s_${process.pid}_${Date.now()}_${dbSeq++}`;
  private dbCreated = false;

  constructor(readonly kind: StoreKind = 'sqlite') {}

  private storeSpec(): string {
    return this.kind === 'sqlite' ? `sqlite:${join(this.dir, 'leases.db')}` : PG_URL.replace(/\/[^/?]*(\?|$)/, `/${this.dbName}$1`);
  }

  config(yaml = BASE_YAML, extra: Record<string, string> = {}) {
    let text = yaml.replace('dhcp4o6:\n', `dhcp4o6:\n  lease-store: ${this.storeSpec()}\n`);
    for (const [k, v] of Object.entries(extra)) text = text.replace('dhcp4o6:\n', `dhcp4o6:\n  ${k}: ${v}\n`);
    return parseConfig(text, 'test.yaml');
  }

  private admin<T>(f: (c: pg.Client) => Promise<T>): Promise<T> {
    return withPg(f);
  }

  async server(
    yaml = BASE_YAML,
    extra: Record<string, string> = {},
    sink = new TableBindingSink(),
    log?: (line: string) => void,
  ): Promise<{ s: Dhcp4o6Server; sink: TableBindingSink }> {
    if (this.kind === 'postgres' && !this.dbCreated) {
      await this.admin((c) => c.query(`CREATE DATABASE ${this.dbName}`));
      this.dbCreated = true;
    }
    const s = await Dhcp4o6Server.create({ config: this.config(yaml, extra), sink, now: () => this.clock, log });
    this.servers.push(s);
    return { s, sink };
  }

  async cleanup(): Promise<void> {
    for (const s of this.servers) await s.stop();
    this.servers.length = 0;
    if (this.dbCreated) {
      await this.admin((c) => c.query(`DROP DATABASE IF EXISTS ${this.dbName} WITH (FORCE)`));
      this.dbCreated = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The default client source: a global B4 address per client, each in its own site. */
export function b4(n: number): string {
  // one /48 (so one site) per client
  return `2001:${(0x1000 + (n >>> 16)).toString(16)}:${(n & 0xffff).toString(16)}::1`;
}

export interface Via {
  /** UDP source (direct query), default b4(client iaid). */
  from?: string;
  relay?: { link: string; peer: string };
  unicast?: boolean;
}

export async function send(s: Dhcp4o6Server, type: number, c: SimClient, f: Partial<V4Fields> = {}, via: Via = {}): Promise<Response | null> {
  const m = clientMessage(type, c, { xid: 0x1000 + c.iaid, ...f });
  const out = await s.handleDatagram(encodeQuery(m, via.unicast ?? false, via.relay), { address: via.from ?? b4(c.iaid), port: 546 });
  return out === null ? null : decodeResponse(out);
}

/** DISCOVER + REQUEST (selecting); returns the ACK (or the OFFER/NAK/null that stopped it). */
export async function lease(s: Dhcp4o6Server, c: SimClient, f: Partial<V4Fields> = {}, via: Via = {}): Promise<Response | null> {
  const offer = await send(s, T.DISCOVER, c, f, via);
  if (offer === null || offer.v4.options.messageType !== T.OFFER) return offer;
  return send(
    s,
    T.REQUEST,
    c,
    { requestedAddress: offer.v4.yiaddr, serverId: offer.v4.options.serverId, portParams: offer.v4.options.portParams },
    via,
  );
}
