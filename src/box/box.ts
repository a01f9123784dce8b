// The running box (BoxSource) over a data plane (CoreTarget): the config's rules and
// static bindings, lease bindings pushed in by a 4o6 server through a LeaseAdapter (or
// no leases at all), the API's changes and reloads. The same class serves the AF_XDP
// data plane (DataplaneTarget, `xbr run`) and an in-process core (EngineBox: tests,
// labs that feed packets themselves): only the target differs.
//
// Changes are serialized (one at a time: reload, put/remove binding, release lease);
// a lease binding pushed in by the 4o6 server is applied at once and never touched by
// a reload's swap, so a lease in flight during a reload is neither lost nor doubled.
//
// Static bindings changed through the API last until the next reload or restart: a
// reload makes the static set exactly the config's (YAML list + bindings file), as
// Kea's config-reload drops changes made by commands. Put them in the config to keep
// them. The reload's log line says how many API changes it replaced.
import { loadConfig } from '../config/load.js';
import type { XbrConfig } from '../config/schema.js';
import type { ResolvedBinding } from '../config/rules.js';
import { collectBindings } from '../core/bindings.js';
import { Engine, statusName } from '../core/engine.js';
import { STATUS } from '../core/abi.js';
import { formatIPv4, isIPv4, parseIPv4 } from '../map/ip.js';
import { silentLogger, type Logger } from '../log.js';
import { BindingTable } from './binding-table.js';
import { bindingView, checkStaticPlacement, listBindings, resolveApiBinding } from './bindings.js';
import { restartOnlyChanges } from './reload.js';
import { MAX_TRACED, SubscriberTrace } from './trace.js';
import type { CoreTarget } from './core-target.js';
import {
  BoxError,
  type BindingFilter,
  type BindingView,
  type BoxSource,
  type BoxStatus,
  type CounterSnapshot,
  type HistogramSnapshot,
  type LeaseFilter,
  type LeaseView,
  type Page,
  type PoolUse,
  type ReloadResult,
  type SubscriberCounters,
} from './types.js';
import { Serial } from '../serial.js';

/**
 * The lease side of a box: a 4o6 server and its lease store. The server pushes its
 * binding changes into the box (EngineBox.leaseBound / leaseGone); the box asks it for
 * leases, pool use and statistics, releases leases, and hands it a reloaded config.
 */
export interface LeaseAdapter {
  list(filter: LeaseFilter, offset: number, limit: number): Promise<Page<LeaseView>>;
  poolUse(): Promise<PoolUse[]>;
  /**
   * Frees the lease of (IPv4, PSID) durably; false when there was none. The box then
   * removes its binding (the adapter may also call leaseGone: it is idempotent).
   */
  release(ipv4: number, psid: number): Promise<boolean>;
  /** Takes a reloaded, validated config's dhcp4o6 section (pools); throws to refuse it. */
  reconfigure?(config: XbrConfig): Promise<void>;
  stats?(): { messages: Record<string, number>; storeLatency: HistogramSnapshot } | null;
}

export interface BoxOptions {
  leases?: LeaseAdapter;
  logger?: Logger;
  /** ms since the epoch (tests). */
  clock?: () => number;
}


export class RunningBox implements BoxSource {
  private cfg: XbrConfig;
  private statics: BindingTable;
  private readonly leaseTable = new BindingTable();
  protected readonly trace = new SubscriberTrace();
  private readonly serial = new Serial();
  protected readonly log: Logger;
  protected readonly clock: () => number;
  private readonly startedAt: number;
  private generation = 1;
  private lastReload: BoxStatus['lastReload'] = null;
  private reloads = { ok: 0, failed: 0 };
  /** Static-binding changes made through the API since the last reload. */
  private apiChanges = 0;
  /** A small core that checks a rule blob before the live one gets it. */
  private probe: Engine | undefined;

  /**
   * `packed` are the config's static bindings, already loaded into the target together
   * with the config's rules (the target is built from the same config).
   */
  protected constructor(
    readonly configPath: string,
    config: XbrConfig,
    packed: ReturnType<typeof collectBindings>,
    protected readonly core: CoreTarget,
    private adapter: LeaseAdapter | undefined,
    opts: BoxOptions,
  ) {
    this.cfg = config;
    this.log = opts.logger ?? silentLogger();
    this.clock = opts.clock ?? Date.now;
    this.startedAt = this.clock();
    this.statics = BindingTable.from(packed);
  }

  protected logStart(): void {
    this.log.info({ event: 'start', config: this.configPath, mode: this.cfg.mode, rules: this.cfg.rules.length, bindings: this.statics.size }, 'box started');
  }

  // ---- the lease side ---------------------------------------------------------------

  /**
   * Gives the box its lease side after it was opened: the 4o6 server is created with the
   * box's leaseSink, then handed back here (EngineBoxOptions.leases when it exists first).
   */
  attachLeases(adapter: LeaseAdapter): void {
    if (this.adapter) throw new Error('the box already has a lease side');
    this.adapter = adapter;
  }

  /** A lease's binding (the 4o6 server after a durable ACK, or restoring at start). */
  leaseBound(b: ResolvedBinding): void {
    const key = `${formatIPv4(b.ipv4)} PSID ${b.psid}`;
    const had = this.leaseTable.get(b.ipv4, b.psid);
    this.leaseTable.put(b);
    if (this.statics.has(b.ipv4, b.psid)) {
      this.log.warn({ event: 'lease-shadowed', ipv4: formatIPv4(b.ipv4), psid: b.psid }, `lease ${key} is shadowed by a static binding (the static one stays in effect)`);
      return;
    }
    const rc = this.core.tryPutBinding(b);
    if (rc !== STATUS.OK) {
      this.leaseTable.remove(b.ipv4, b.psid);
      if (had) this.leaseTable.put(had);
      throw new BoxError('conflict', `lease binding ${key} refused by the core: ${statusName(rc)}`);
    }
    const v = bindingView(b, 'lease');
    this.log.info({ event: had ? 'lease-binding-updated' : 'lease-binding-added', ipv4: v.ipv4, psid: v.psid, ipv6: v.ipv6 }, `lease binding ${key} -> ${v.ipv6}`);
  }

  /**
   * The 4o6 server's BindingSink (src/dhcp/bindings.ts) for this box: its lease bindings
   * come here. A binding the core refuses (table full) is logged, not thrown: the lease
   * stands, as with the server's own EngineBindingSink.
   */
  readonly leaseSink = {
    put: (b: ResolvedBinding): void => {
      try {
        this.leaseBound(b);
      } catch (e) {
        this.log.error({ event: 'lease-binding-refused', ipv4: formatIPv4(b.ipv4), psid: b.psid, error: (e as Error).message }, (e as Error).message);
      }
    },
    remove: (ipv4: number, psid: number): void => void this.leaseGone(ipv4, psid, 'lease ended'),
  };

  /** A lease's binding goes (expiry, release, decline); false when there was none. */
  leaseGone(ipv4: number, psid: number, why = 'released'): boolean {
    const gone = this.leaseTable.remove(ipv4, psid);
    if (!gone) return false;
    if (!this.statics.has(ipv4, psid)) {
      this.core.removeBinding(ipv4, psid);
      this.untrace(ipv4, psid);
    }
    this.log.info({ event: 'lease-binding-removed', ipv4: formatIPv4(ipv4), psid, why }, `lease binding ${formatIPv4(ipv4)} PSID ${psid} removed (${why})`);
    return true;
  }

  // ---- BoxSource: reads ---------------------------------------------------------------

  status(): BoxStatus {
    const now = this.clock();
    const dp = this.cfg.dataplane;
    return {
      mode: this.cfg.mode,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.max(0, Math.floor((now - this.startedAt) / 1000)),
      configPath: this.configPath,
      configGeneration: this.generation,
      lastReload: this.lastReload,
      interfaces: dp ? { ipv4: dp['ipv4-interface'], ipv6: dp['ipv6-interface'] } : null,
      ...this.core.status(),
      reloads: { ...this.reloads },
    };
  }

  config(): XbrConfig {
    return this.cfg;
  }

  counters(): CounterSnapshot {
    return this.core.counters();
  }

  bindings(filter: BindingFilter, offset: number, limit: number): Page<BindingView> {
    return listBindings({ statics: this.statics, leases: this.leaseTable }, filter, offset, limit);
  }

  async leases(filter: LeaseFilter, offset: number, limit: number): Promise<Page<LeaseView>> {
    if (!this.adapter) return { items: [], total: 0, offset, limit };
    return this.adapter.list(filter, offset, limit);
  }

  async poolUse(): Promise<PoolUse[]> {
    return this.adapter ? this.adapter.poolUse() : [];
  }

  dhcpStats(): { messages: Record<string, number>; storeLatency: HistogramSnapshot } | null {
    return this.adapter?.stats?.() ?? null;
  }

  subscriberCounters(): SubscriberCounters[] {
    return this.trace.size === 0 ? [] : this.trace.snapshot(this.core.traceCounters());
  }

  // ---- BoxSource: changes -------------------------------------------------------------

  putBinding(input: Omit<BindingView, 'source'>): Promise<void> {
    return this.serial.run(async () => {
      const b = resolveApiBinding(input, this.cfg);
      checkStaticPlacement(b, this.cfg, this.statics, this.leaseTable);
      const rc = this.core.tryPutBinding(b);
      if (rc !== STATUS.OK) throw new BoxError('conflict', `the core refused the binding: ${statusName(rc)}`);
      const how = this.statics.put(b);
      this.apiChanges++;
      const v = bindingView(b, 'static');
      this.log.info({ event: `binding-${how}`, ipv4: v.ipv4, psid: v.psid, psidLen: v.psidLen, psidOffset: v.psidOffset, ipv6: v.ipv6 }, `static binding ${v.ipv4} PSID ${v.psid} ${how} (API)`);
    });
  }

  removeBinding(ipv4: string, psid: number): Promise<boolean> {
    return this.serial.run(async () => {
      if (!isIPv4(ipv4)) throw new BoxError('invalid', `ipv4: ${JSON.stringify(ipv4)} is not an IPv4 address`);
      const v4 = parseIPv4(ipv4);
      if (!this.statics.remove(v4, psid)) return false;
      this.apiChanges++;
      const lease = this.leaseTable.get(v4, psid);
      if (lease) this.core.putBinding(lease); // the shadowed lease takes over
      else this.core.removeBinding(v4, psid);
      if (!lease) this.untrace(v4, psid);
      this.log.info({ event: 'binding-removed', ipv4, psid }, `static binding ${ipv4} PSID ${psid} removed (API)`);
      return true;
    });
  }

  releaseLease(ipv4: string, psid: number): Promise<boolean> {
    return this.serial.run(async () => {
      if (!isIPv4(ipv4)) throw new BoxError('invalid', `ipv4: ${JSON.stringify(ipv4)} is not an IPv4 address`);
      if (!this.adapter) return false;
      const v4 = parseIPv4(ipv4);
      const released = await this.adapter.release(v4, psid);
      if (!released) return false;
      this.leaseGone(v4, psid, 'released through the API');
      this.log.info({ event: 'lease-released', ipv4, psid }, `lease ${ipv4} PSID ${psid} released (API)`);
      return true;
    });
  }

  traceSubscriber(ipv4: string, psid: number, on: boolean): boolean {
    if (!isIPv4(ipv4)) throw new BoxError('invalid', `ipv4: ${JSON.stringify(ipv4)} is not an IPv4 address`);
    const v4 = parseIPv4(ipv4);
    if (!on) {
      const was = this.untrace(v4, psid);
      if (was) this.log.info({ event: 'trace-off', ipv4, psid }, `stopped tracing ${ipv4} PSID ${psid}`);
      return was;
    }
    if (!this.statics.has(v4, psid) && !this.leaseTable.get(v4, psid)) throw new BoxError('not-found', `no binding for ${ipv4} PSID ${psid}`);
    const got = this.trace.add(v4, psid);
    if (!got) throw new BoxError('conflict', `already tracing ${MAX_TRACED} subscribers: stop one first`);
    if (got.fresh) this.core.trace(v4, psid, got.slot);
    this.log.info({ event: 'trace-on', ipv4, psid }, `tracing ${ipv4} PSID ${psid}`);
    return true;
  }

  /** Stops tracing (ipv4, psid) in the core too; false when it was not traced. */
  private untrace(ipv4: number, psid: number): boolean {
    if (!this.trace.remove(ipv4, psid)) return false;
    this.core.trace(ipv4, psid, 0);
    return true;
  }

  /**
   * Read → validate → compile → swap: the config file is read and validated whole,
   * the rules compiled and tried on a scratch core, the static bindings collected and
   * checked against the leases and the table's size, the 4o6 server given its pools;
   * only then is anything in the live core changed (rules, then the binding diff). A
   * config refused at any step changes nothing.
   */
  reload(): Promise<ReloadResult> {
    return this.serial.run(async () => {
      const at = new Date(this.clock()).toISOString();
      try {
        const next = loadConfig(this.configPath);
        const blockers = restartOnlyChanges(this.cfg, next);
        if (blockers.length > 0) throw new Error(blockers.join('\n'));
        const packed = collectBindings(next, this.configPath);
        const statics = BindingTable.from(packed);
        const blob = await this.core.compile(next);
        this.probe ??= Engine.createSync({ bindingCapacity: 8, fragmentSlots: 16, frames: 16, batch: 1 });
        this.probe.loadRules(blob);
        this.checkAgainstLeases(statics, next);
        const old = this.cfg;
        await this.adapter?.reconfigure?.(next);
        try {
          this.swap(next, blob, statics);
        } catch (e) {
          await this.restore(old, statics);
          await this.adapter?.reconfigure?.(old).catch(() => undefined);
          throw e;
        }
        this.cfg = next;
        this.generation++;
        this.lastReload = { at, ok: true };
        this.reloads.ok++;
        const dropped = this.apiChanges;
        this.apiChanges = 0;
        this.log.info(
          { event: 'reload', result: 'ok', generation: this.generation, rules: next.rules.length, bindings: statics.size, apiChangesReplaced: dropped },
          `reloaded ${this.configPath} (generation ${this.generation})`,
        );
        return { ok: true, generation: this.generation };
      } catch (e) {
        const error = e instanceof Error ? e.message : String(e);
        this.lastReload = { at, ok: false, error };
        this.reloads.failed++;
        this.log.error({ event: 'reload', result: 'refused', generation: this.generation, error }, `reload refused, the running config stays: ${error.split('\n')[0]}`);
        return { ok: false, generation: this.generation, error };
      }
    });
  }

  private checkAgainstLeases(statics: BindingTable, next: XbrConfig): void {
    const capacity = next['binding-capacity'];
    if (statics.size + this.leaseTable.size > capacity) {
      throw new Error(`${statics.size} static bindings and ${this.leaseTable.size} leases exceed binding-capacity ${capacity}`);
    }
    const order = statics.sorted();
    for (let i = 0; i < order.length; i++) {
      const slot = order[i];
      const v4 = statics.ipv4At(slot);
      const lp = this.leaseTable.params(v4);
      const sp = statics.params(v4)!;
      if (lp && (lp.psidLen !== sp.psidLen || lp.psidOffset !== sp.psidOffset)) {
        throw new Error(
          `static bindings on ${formatIPv4(v4)} use psid-len ${sp.psidLen} psid-offset ${sp.psidOffset}, its leases ${lp.psidLen}/${lp.psidOffset} (RFC 7597 section 5.1)`,
        );
      }
    }
  }

  /** The live change: synchronous, so no packet batch and no lease push interleaves. */
  private swap(config: XbrConfig, blob: Uint8Array, next: BindingTable): void {
    this.core.loadRules(config, blob);
    const old = this.statics;
    // removed: back to the lease binding where one was shadowed, else out
    const oldOrder = old.sorted();
    for (let i = 0; i < oldOrder.length; i++) {
      const s = oldOrder[i];
      const v4 = old.ipv4At(s);
      const psid = old.psidAt(s);
      if (next.has(v4, psid)) continue;
      const lease = this.leaseTable.get(v4, psid);
      if (lease) this.core.putBinding(lease);
      else this.core.removeBinding(v4, psid);
    }
    // added or changed (an unchanged binding is left alone)
    const newOrder = next.sorted();
    for (let i = 0; i < newOrder.length; i++) {
      const b = next.at(newOrder[i]);
      const was = old.get(b.ipv4, b.psid);
      if (was && sameBinding(was, b)) continue;
      this.core.putBinding(b);
    }
    this.statics = next;
    // traced bindings that are gone stop being traced (the core keeps the others' flags)
    for (const t of this.trace.entries()) {
      if (!next.has(t.ipv4, t.psid) && !this.leaseTable.get(t.ipv4, t.psid)) this.untrace(t.ipv4, t.psid);
    }
  }

  /** After a swap that failed half-way (it should not: everything was checked first). */
  private async restore(old: XbrConfig, attempted: BindingTable): Promise<void> {
    this.core.loadRules(old, await this.core.compile(old));
    const order = attempted.sorted();
    for (let i = 0; i < order.length; i++) {
      const v4 = attempted.ipv4At(order[i]);
      const psid = attempted.psidAt(order[i]);
      if (this.statics.has(v4, psid)) continue;
      const lease = this.leaseTable.get(v4, psid);
      if (lease) this.core.tryPutBinding(lease);
      else this.core.removeBinding(v4, psid);
    }
    const mine = this.statics.sorted();
    for (let i = 0; i < mine.length; i++) this.core.tryPutBinding(this.statics.at(mine[i]));
  }

  /** Bindings held (static, lease) — for tests and status lines. */
  get sizes(): { static: number; lease: number; core: number } {
    return { static: this.statics.size, lease: this.leaseTable.size, core: this.core.bindingCount() };
  }
}

function sameBinding(a: ResolvedBinding, b: ResolvedBinding): boolean {
  if (a.psidLen !== b.psidLen || a.psidOffset !== b.psidOffset || a.prefixLen !== b.prefixLen) return false;
  for (let i = 0; i < 16; i++) if (a.ipv6[i] !== b.ipv6[i]) return false;
  return true;
}
