// Starting the API of a running box from its config, as `xbr run` does: api.listen
// (default 127.0.0.1:8080), the token from api.token-file (relative to the config
// file), /metrics over the same box. After each successful reload, refresh() re-reads
// the token file, so a token is rotated by editing the file and reloading.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxSource } from '../box/types.js';
import type { XbrConfig } from '../config/schema.js';
import { packageRoot } from '../core/engine.js';
import type { Logger } from '../log.js';
import { readTokenFile, tokenFilePath } from './auth.js';
import { createApiServer, type ApiAddress, type ApiServer } from './server.js';

export const DEFAULT_API_LISTEN = '127.0.0.1:8080';

export interface RunningApi {
  server: ApiServer;
  address: ApiAddress;
  /** Re-reads api.token-file of a config now in force; a bad file keeps the old token (logged). */
  refresh(config: XbrConfig): void;
  close(): Promise<void>;
}

/** The package version (package.json next to asconfig.json). */
export function xbrVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function loadToken(config: XbrConfig, configPath: string, log: Logger): string | undefined {
  const path = tokenFilePath(config.api?.['token-file'], configPath);
  if (path === undefined) return undefined;
  const { token, warnings } = readTokenFile(path);
  for (const w of warnings) log.warn({ event: 'api-token-file' }, w);
  return token;
}

/**
 * Reads the token and listens. Throws (with the reason) when the token file is unusable
 * or the address cannot be bound: `xbr run` should stop then, like for a bad config.
 */
export async function startApi(
  box: BoxSource,
  o: { config: XbrConfig; configPath: string; logger: Logger; listen?: string; version?: string },
): Promise<RunningApi> {
  let token = loadToken(o.config, o.configPath, o.logger);
  const server = createApiServer(box, {
    listen: o.listen ?? o.config.api?.listen ?? DEFAULT_API_LISTEN,
    token: () => token,
    logger: o.logger,
    version: o.version ?? xbrVersion(),
  });
  const address = await server.listen();
  return {
    server,
    address,
    refresh(config: XbrConfig) {
      try {
        token = loadToken(config, o.configPath, o.logger);
      } catch (e) {
        o.logger.error({ event: 'api-token-file', error: (e as Error).message }, `keeping the previous API token: ${(e as Error).message}`);
      }
    },
    close: () => server.close(),
  };
}
