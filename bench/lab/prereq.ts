// What the netns lab needs on this machine; the one line that says what is missing.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { addonPath, defaultProgramPath, tryLoadXsk } from '../../src/dataplane/xsk.js';
import { have, root } from './proc.js';

/** Why the lab cannot run here, or null. */
export function labMissing(): string | null {
  if (process.platform !== 'linux') return 'the lab needs Linux (network namespaces, veth, AF_XDP)';
  if (process.getuid?.() !== 0) return 'the lab needs root (network namespaces, XDP, AF_XDP): run it as root or with sudo';
  for (const cmd of ['ip', 'ping', 'ethtool', 'iperf3', 'python3', 'sysctl']) {
    if (!have(cmd)) return `${cmd} is not installed: run scripts/install-deps.sh`;
  }
  if (!existsSync(addonPath())) return `the AF_XDP addon is not built (${addonPath()}): npm ci (or npm run build:native)`;
  if (!existsSync(defaultProgramPath())) return `the XDP program is not built (${defaultProgramPath()}): npm run build:native`;
  if (tryLoadXsk() === null) return `the AF_XDP addon ${addonPath()} does not load: npm run build:native`;
  for (const f of [join('dist', 'src', 'dataplane', 'worker.js'), join('dist', 'bench', 'lab', 'agent.js'), join('build', 'xbr.wasm')]) {
    if (!existsSync(join(root(), f))) return `${f} is missing: npm run build`;
  }
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (the lw4o6 B4 helper needs TUN)';
  return null;
}
