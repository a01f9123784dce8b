// Who may call the API. The rule (DESIGN.md, api section):
//   - a change (anything but GET/HEAD) always needs the bearer token, and without an
//     api.token-file in the config no change is possible at all (403, with the reason);
//   - when the API listens on anything but loopback, every call needs the token, reads
//     included (and such a listen without a token is refused at start);
//   - a missing or wrong token is 401 (WWW-Authenticate: Bearer) and changes nothing:
//     the check runs before the body is even parsed.
// Tokens are compared in constant time (SHA-256 of both, then timingSafeEqual, so
// neither the content nor the length leaks through timing).
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** "127.0.0.1:8080", "[::1]:8080" (the config's endpoint syntax); "localhost:8080" too. */
export function parseListen(listen: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(listen.trim());
  if (!m || Number(m[3]) > 65535) throw new Error(`api listen address ${JSON.stringify(listen)} must be "ipv4:port" or "[ipv6]:port"`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** 127.0.0.0/8, ::1, ::ffff:127.x.y.z and "localhost" are loopback; everything else is not. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (!ipaddr.isValid(host)) return false;
  let a = ipaddr.parse(host);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) a = (a as ipaddr.IPv6).toIPv4Address();
  return a.range() === 'loopback';
}

export type AuthDecision = { ok: true } | { ok: false; status: 401 | 403; error: string };

export interface AuthInput {
  method: string;
  /** The API listens on loopback only. */
  loopback: boolean;
  /** The configured token, if any. */
  token: string | undefined;
  /** The Authorization header as received. */
  authorization: string | undefined;
}

const isRead = (method: string) => method === 'GET' || method === 'HEAD';

/** The rule above as a pure function. */
export function authorize(i: AuthInput): AuthDecision {
  const read = isRead(i.method.toUpperCase());
  if (read && i.loopback) return { ok: true };
  if (i.token === undefined) {
    return read
      ? { ok: false, status: 403, error: 'the API listens on a non-loopback address without api.token-file: every call is refused' }
      : { ok: false, status: 403, error: 'changes through the API need api.token-file in the config (none is configured)' };
  }
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(i.authorization ?? '');
  if (!m) {
    return { ok: false, status: 401, error: read ? 'this API listens beyond loopback: every call needs "Authorization: Bearer <token>"' : 'a change needs "Authorization: Bearer <token>"' };
  }
  if (!sameToken(m[1], i.token)) return { ok: false, status: 401, error: 'invalid bearer token' };
  return { ok: true };
}

export function sameToken(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export const MIN_TOKEN_LENGTH = 16;

/**
 * Reads a token file: its first line, trimmed. Refuses an empty or short token, with
 * the reason; warns (second value) when the file is readable by group or others.
 */
export function readTokenFile(path: string): { token: string; warnings: string[] } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`api.token-file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const token = text.split('\n')[0].trim();
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(
      `api.token-file ${path}: the token must be at least ${MIN_TOKEN_LENGTH} characters without spaces (e.g. \`head -c 32 /dev/urandom | base64 > ${path}\`)`,
    );
  }
  const warnings: string[] = [];
  try {
    if ((statSync(path).mode & 0o077) !== 0) warnings.push(`api.token-file ${path} is readable by group or others: chmod 600 it`);
  } catch {
    /* read above; a race is harmless here */
  }
  return { token, warnings };
}

/** The config's api.token-file, relative to the config file's directory; undefined when unset. */
export function tokenFilePath(tokenFile: string | undefined, configPath: string): string | undefined {
  return tokenFile === undefined ? undefined : resolve(dirname(configPath), tokenFile);
}
