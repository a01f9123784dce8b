// The running box as the API, the metrics and the CLI see it: one interface, so the
// HTTP layer knows nothing of workers, rings or lease stores. `xbr run` implements it
// over the AF_XDP data plane and the 4o6 server; tests implement it over an Engine.

import type { XbrConfig } from '../config/schema.js';

export interface BindingView {
  ipv4: string;
  psidLen: number;
  psidOffset: number;
  psid: number;
  /** CE prefix (map-t, map-e) or B4 address (lw4o6), "addr/len". */
  ipv6: string;
  /** 'static' (config / bindings file / API) or 'lease' (4o6 server). */
  source: 'static' | 'lease';
}

export interface LeaseView {
  ipv4: string;
  psid: number;
  psidLen: number;
  psidOffset: number;
  pool: string;
  clientId: string; // hex
  ipv6: string; // the client's 4o6 source address
  expiresAt: string; // ISO 8601
  state: string;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

export interface BindingFilter {
  ipv4?: string;
  psid?: number;
  ipv6?: string;
}

export interface LeaseFilter {
  ipv4?: string;
  psid?: number;
  clientId?: string;
  pool?: string;
}

export interface WorkerStatus {
  worker: number;
  queue: number;
  alive: boolean;
  heartbeat: number;
}

export interface BoxStatus {
  mode: XbrConfig['mode'];
  startedAt: string;
  uptimeSeconds: number;
  configPath: string;
  configGeneration: number;
  lastReload: { at: string; ok: boolean; error?: string } | null;
  interfaces: { ipv4: string; ipv6: string } | null;
  bindMode: string;
  workers: WorkerStatus[];
  workerRestarts: number;
}

export interface CounterSnapshot {
  total: Record<string, number>;
  perWorker: Record<string, number>[];
}

export interface PoolUse {
  pool: string;
  leased: number;
  total: number;
}

export interface ReloadResult {
  ok: boolean;
  generation: number;
  error?: string;
}

/** What the API, metrics and CLI read and change. */
export interface BoxSource {
  status(): BoxStatus;
  config(): XbrConfig;
  counters(): CounterSnapshot;
  bindings(filter: BindingFilter, offset: number, limit: number): Page<BindingView>;
  leases(filter: LeaseFilter, offset: number, limit: number): Promise<Page<LeaseView>>;
  poolUse(): Promise<PoolUse[]>;
  /** Adds or replaces a static binding (validated like the config's); throws with the reason. */
  putBinding(b: Omit<BindingView, 'source'>): Promise<void>;
  /** Removes a static binding; false when there was none. */
  removeBinding(ipv4: string, psid: number): Promise<boolean>;
  /** Releases a lease (and its binding); false when there was none. */
  releaseLease(ipv4: string, psid: number): Promise<boolean>;
  /** Reads, validates, compiles and swaps the config; a bad one changes nothing. */
  reload(): Promise<ReloadResult>;
  /** 4o6 message counts by type and result, lease-store latency (for metrics). */
  dhcpStats(): { messages: Record<string, number>; storeLatencySeconds: number[] } | null;
  /** Per-subscriber counters for the bindings chosen for tracing (empty when none). */
  subscriberCounters(): { ipv4: string; psid: number; rxPackets: number; txPackets: number; rxBytes: number; txBytes: number }[];
}
