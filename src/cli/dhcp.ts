// `xbr dhcp --config F`: the DHCP 4o6 server alone (src/dhcp/server.ts), for a box
// whose data plane runs elsewhere, for the durability tests that SIGKILL it, and for
// the load benchmark. Prints "ready <port> …" on stdout once every unexpired lease is
// back in the binding table and the sockets are bound; on SIGTERM/SIGINT it stops
// cleanly and prints its counters as JSON.
import { writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { compileRules } from '../core/blob.js';
import { Engine } from '../core/engine.js';
import { EngineBindingSink, TableBindingSink, type BindingSink } from '../dhcp/bindings.js';
import { Dhcp4o6Server } from '../dhcp/server.js';
import { portSetRanges } from '../map/psid.js';
import { formatIPv4 } from '../map/ip.js';
import { ipv6FromBytes } from '../dhcp/codec/index.js';
import { stdio, type CommandIO } from './io.js';

export interface DhcpOptions {
  config: string;
  listen?: string[];
  leaseStore?: string;
  engine?: boolean;
  dumpBindings?: string;
  allowLoopbackBindings?: boolean;
}

/** Starts the server; resolves with it and a stop function that prints the counters. */
export async function dhcpAction(opts: DhcpOptions, io: CommandIO = stdio): Promise<{ server: Dhcp4o6Server; engine?: Engine } | null> {
  let config;
  try {
    config = loadConfig(opts.config);
  } catch (e) {
    if (e instanceof ConfigError) for (const line of e.message.split('\n')) io.err(line);
    else io.err(`${opts.config}: ${e instanceof Error ? e.message : String(e)}`);
    return null;
  }
  if (config.dhcp4o6 === undefined) {
    io.err(`${opts.config}: no dhcp4o6 section`);
    return null;
  }
  if (opts.leaseStore !== undefined) config.dhcp4o6['lease-store'] = opts.leaseStore;
  let sink: BindingSink;
  let engine: Engine | undefined;
  if (opts.engine) {
    engine = Engine.createSync({ bindingCapacity: config['binding-capacity'] });
    engine.loadRules(compileRules(config));
    sink = new EngineBindingSink(engine);
  } else {
    sink = new TableBindingSink();
  }
  const server = await Dhcp4o6Server.create({
    config,
    configDir: dirname(opts.config),
    sink,
    listen: opts.listen,
    allowLoopbackBindings: opts.allowLoopbackBindings,
    log: (line) => io.err(`xbr dhcp: ${line}`),
  });
  if (opts.dumpBindings !== undefined) writeFileSync(opts.dumpBindings, JSON.stringify(await dumpBindings(server, engine)));
  await server.listen();
  io.out(`ready ${server.addresses().map((a) => a.port).join(' ')}`);
  return { server, engine };
}

/**
 * Every unexpired lease of the store and whether the binding table answers for it:
 * with --engine, the wasm core's own lookup of a port of the lease's port set.
 */
async function dumpBindings(server: Dhcp4o6Server, engine: Engine | undefined): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const row of await server.store.active(Date.now())) {
    let found: boolean;
    let ipv6: string | undefined;
    if (engine !== undefined) {
      const port = row.psidLen === 0 ? 1024 : portSetRanges(row.psid, row.psidOffset, row.psidLen)[0][0];
      const r = engine.core.lookupV4(row.ipv4 >>> 0, port, 1);
      found = r < 0;
      if (found) ipv6 = ipv6FromBytes(new Uint8Array(engine.memory.buffer, engine.core.argPtr(), 16));
    } else {
      const b = (server.sink as TableBindingSink).get(row.ipv4, row.psid);
      found = b !== undefined;
      if (b) ipv6 = ipv6FromBytes(b.ipv6);
    }
    out.push({ ipv4: formatIPv4(row.ipv4 >>> 0), psid: row.psid, client: row.client, found, ipv6 });
  }
  return out;
}

export function register(program: Command): void {
  program
    .command('dhcp')
    .description('run the DHCP 4o6 server (RFC 7341, RFC 7618) alone')
    .requiredOption('-c, --config <file>', 'configuration file (YAML) with a dhcp4o6 section')
    .option('--listen <endpoint...>', 'override dhcp4o6.listen ("[::1]:10547")')
    .option('--lease-store <spec>', 'override dhcp4o6.lease-store (sqlite:PATH | postgres://…)')
    .option('--engine', 'feed the bindings to an in-process wasm core (the data plane)')
    .option('--dump-bindings <file>', 'after restoring, write every unexpired lease and its binding-table lookup as JSON')
    .option('--allow-loopback-bindings', 'accept ::1 as a binding address (tests, benchmarks)')
    .action(async (opts: DhcpOptions) => {
      let started;
      try {
        started = await dhcpAction(opts);
      } catch (e) {
        process.stderr.write(`xbr dhcp: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 2;
        return;
      }
      if (started === null) {
        process.exitCode = 2;
        return;
      }
      const { server } = started;
      const stop = () => {
        void server.stop().then(() => {
          process.stdout.write(JSON.stringify({ counters: server.counters.snapshot(), commit: server.leases.stats }) + '\n');
          process.exit(0);
        });
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
}
