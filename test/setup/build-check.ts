// vitest global setup: the suite runs against the built core (build/xbr.wasm), which
// `npm ci` builds through `prepare` (npm run build). Fail early and clearly if not.
import { existsSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const wasm = join(process.cwd(), 'build', 'xbr.wasm');
  if (!existsSync(wasm)) throw new Error('build/xbr.wasm is missing: run `npm run build` first');
  if (newestMtime(join(process.cwd(), 'assembly')) > statSync(wasm).mtimeMs) {
    throw new Error('build/xbr.wasm is older than assembly/: run `npm run build:wasm`');
  }
}
