// Time, given by the host once per batch (no clock call per packet), and the ICMP
// error rate limit (icmp.rate errors per second per worker, a token bucket).

import { icmpRate } from '../params';

export let nowMs: f64 = 0;
let tokens: f64 = 0;
let lastMs: f64 = -1;

export function tick(now: f64): void {
  nowMs = now;
  if (lastMs < 0) {
    tokens = <f64>icmpRate;
  } else if (now > lastMs) {
    tokens += (now - lastMs) * <f64>icmpRate / 1000.0;
    const cap = <f64>icmpRate;
    if (tokens > cap) tokens = cap;
  }
  lastMs = now;
}

/** Takes one token; false when the limit is reached. */
export function icmpAllowed(): bool {
  if (tokens >= 1.0) {
    tokens -= 1.0;
    return true;
  }
  return false;
}

export function resetClock(): void {
  lastMs = -1;
  tokens = 0;
}

// IPv4 Identification values the BR generates (RFC 7915 section 5.1: "set according
// to a Fragment Identification generator at the translator").
let nextId: u32 = 1;
export function newId(): u32 {
  nextId = (nextId * 1103515245 + 12345) & 0x7fffffff;
  return (nextId >> 8) & 0xffff;
}
