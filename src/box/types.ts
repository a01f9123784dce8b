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
  /** An address, or a prefix "a.b.c.d/len" (every binding inside it). */
  ipv4?: string;
  psid?: number;
  /** An address (the bindings whose prefix holds it) or a prefix (the bindings overlapping it). */
  ipv6?: string;
  source?: 'static' | 'lease';
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
  /** Reloads since start, by result (SIGHUP and the API alike). */
  reloads: { ok: number; failed: number };
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

/**
 * A latency histogram as counted since start (cumulative, Prometheus style):
 * `counts[i]` observations were <= `bounds[i]` seconds; `count` is every observation
 * (the +Inf bucket), `sum` their total. src/metrics/histogram.ts records one.
 */
export interface HistogramSnapshot {
  bounds: number[];
  counts: number[];
  count: number;
  sum: number;
}

export interface SubscriberCounters {
  ipv4: string;
  psid: number;
  /** From the subscriber (upstream: what the BR sends to the IPv4 side for it). */
  rxPackets: number;
  rxBytes: number;
  /** To the subscriber (downstream: what the BR sends to its IPv6 prefix / B4). */
  txPackets: number;
  txBytes: number;
}

/**
 * A refused request, with the reason and its kind (the API maps invalid → 400,
 * not-found → 404, conflict → 409, unsupported → 501). Any other error is a fault.
 */
export class BoxError extends Error {
  constructor(
    readonly kind: 'invalid' | 'not-found' | 'conflict' | 'unsupported',
    message: string,
  ) {
    super(message);
    this.name = 'BoxError';
  }
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
  /**
   * 4o6 message counts and lease-store latency (for metrics); null without a 4o6
   * server. `messages` keys are "<type>:<result>" (e.g. "discover:offer",
   * "request:ack", "request:nak", "release:ok", "query:drop"), split at the first ':'
   * into the labels of xbr_dhcp4o6_messages_total; a key without ':' has result "".
   * `storeLatency` times each lease-store transaction (commit included).
   */
  dhcpStats(): { messages: Record<string, number>; storeLatency: HistogramSnapshot } | null;
  /** Per-subscriber counters for the bindings chosen for tracing (empty when none). */
  subscriberCounters(): SubscriberCounters[];
  /**
   * Starts (on) or stops counting one binding's traffic separately. On: the binding must
   * exist (BoxError not-found) and at most MAX_TRACED (64) are traced at once
   * (BoxError conflict); off: false when it was not traced.
   */
  traceSubscriber(ipv4: string, psid: number, on: boolean): boolean;
}
