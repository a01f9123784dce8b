// A running box over an in-process Engine (the wasm core, no AF_XDP): packets are
// fed through process(). The API, the metrics and the CLI see it exactly as they see
// the AF_XDP box; tests use it, and so can a lab that feeds packets itself.

import { loadConfig } from '../config/load.js';
import { collectBindings } from '../core/bindings.js';
import { compileRules } from '../core/blob.js';
import { Engine, type EngineOptions, type OutputPacket } from '../core/engine.js';
import { RunningBox, type BoxOptions, type LeaseAdapter } from './box.js';
import { EngineTarget } from './core-target.js';

export type { LeaseAdapter } from './box.js';

export interface EngineBoxOptions extends BoxOptions {
  /** Engine sizes beyond the config's (frames, batch); binding and fragment slots come from the config. */
  engine?: Pick<EngineOptions, 'frames' | 'frameSize' | 'batch'>;
  /** Link type of the packets given to process(): 101 raw IP (default) or 1 Ethernet. */
  linktype?: 1 | 101;
}

export class EngineBox extends RunningBox {
  readonly engine: Engine;
  private readonly target: EngineTarget;

  /** Loads and validates the config (ConfigError, BindingsFileError) and builds the core. */
  static open(configPath: string, opts: EngineBoxOptions = {}): EngineBox {
    const config = loadConfig(configPath);
    const packed = collectBindings(config, configPath);
    const engine = Engine.createSync({ ...opts.engine, bindingCapacity: config['binding-capacity'], fragmentSlots: config.fragments['table-size'] });
    engine.setLinkType(opts.linktype ?? 101);
    engine.loadRules(compileRules(config));
    engine.putBindings(packed);
    const box = new EngineBox(configPath, config, packed, new EngineTarget(engine), opts.leases, opts);
    box.logStart();
    return box;
  }

  private constructor(
    configPath: string,
    config: ReturnType<typeof loadConfig>,
    packed: ReturnType<typeof collectBindings>,
    target: EngineTarget,
    leases: LeaseAdapter | undefined,
    opts: EngineBoxOptions,
  ) {
    super(configPath, config, packed, target, leases, opts);
    this.target = target;
    this.engine = target.engine;
  }

  /** Runs packets through the core in batches; returns every packet the BR sends. */
  process(packets: Uint8Array[], nowMs = this.clock()): OutputPacket[] {
    const out: OutputPacket[] = [];
    for (let i = 0; i < packets.length; i += this.engine.batch) {
      const sent = this.engine.processBatch(packets.slice(i, i + this.engine.batch), nowMs);
      this.target.batches++;
      for (const p of sent) out.push({ ...p, index: p.index + i });
    }
    return out;
  }
}
