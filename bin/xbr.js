#!/usr/bin/env node
// The `xbr` command: the compiled CLI lives in dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script).
import { main } from '../dist/src/cli/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`xbr: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
