// Every static binding of a configuration, from the YAML list and the bindings
// file, checked together and packed for the data plane.

import { dirname, resolve } from 'node:path';
import type { XbrConfig } from '../config/schema.js';
import { resolveBinding } from '../config/rules.js';
import { loadBindingsFile, BindingSet, PackedBindings } from '../config/bindings-file.js';

/**
 * The configuration's static bindings. `configPath` locates a relative
 * bindings-file. YAML bindings were validated with the config; they are checked again
 * here only against the file's (duplicates across the two).
 */
export function collectBindings(config: XbrConfig, configPath: string, progress?: (lines: number) => void): PackedBindings {
  const opts = { mode: config.mode, reserved: config['reserved-ports'] };
  const set = new BindingSet();
  const yaml = config.bindings.map(resolveBinding);
  for (const b of yaml) set.check(b, opts);
  const file = config['bindings-file'] ? loadBindingsFile(resolve(dirname(configPath), config['bindings-file']), opts, set, progress) : new PackedBindings(0);
  const all = new PackedBindings(yaml.length + file.count);
  for (const b of yaml) all.push(b);
  for (let i = 0; i < file.count; i++) all.push(file.get(i));
  return all;
}
