// What a live reload can change, and what needs a restart. A reload swaps rules,
// static bindings, the steering prefixes and the 4o6 pools; it cannot resize the
// tables the workers were built with, move the data plane to other interfaces, change
// the mode under existing bindings, or move the API's socket. A config that changes
// one of those is refused like a bad one (the running config stays), with the reason.
import { isDeepStrictEqual } from 'node:util';
import type { XbrConfig } from '../config/schema.js';

/** One reason per key that differs and needs a restart; empty when the reload may go on. */
export function restartOnlyChanges(running: XbrConfig, next: XbrConfig): string[] {
  const out: string[] = [];
  const differs = (key: string, a: unknown, b: unknown) => {
    if (!isDeepStrictEqual(a, b)) out.push(`${key} changed (${show(a)} -> ${show(b)}): it takes a restart, not a reload`);
  };
  differs('mode', running.mode, next.mode);
  differs('binding-capacity', running['binding-capacity'], next['binding-capacity']);
  differs('fragments.table-size', running.fragments['table-size'], next.fragments['table-size']);
  differs('dataplane', running.dataplane, next.dataplane);
  differs('api.listen', running.api?.listen, next.api?.listen);
  if ((running.dhcp4o6 === undefined) !== (next.dhcp4o6 === undefined)) {
    out.push(`dhcp4o6 ${next.dhcp4o6 ? 'added' : 'removed'}: starting or stopping the 4o6 server takes a restart`);
  } else {
    // The 4o6 server's sockets and its store are opened at start; every other dhcp4o6
    // key (pools, lease times, limits, S46 options...) is swapped in live by the server
    // (src/dhcp/server.ts reconfigure), which refuses, naming the pool, what it cannot serve.
    differs('dhcp4o6.listen', running.dhcp4o6?.listen, next.dhcp4o6?.listen);
    differs('dhcp4o6.lease-store', running.dhcp4o6?.['lease-store'], next.dhcp4o6?.['lease-store']);
  }
  return out;
}

function show(v: unknown): string {
  if (v === undefined) return 'unset';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
