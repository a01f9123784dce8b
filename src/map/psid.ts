// Port-set arithmetic for A+P address sharing (RFC 6346): which ports belong to
// which Port Set Identifier (PSID). Two equivalent-where-they-meet forms:
//
// 1. RFC 7597 section 5.1 bit layout. A port's 16 bits are
//        | A (a bits) | PSID (k bits) | j (m bits) |,  m = 16 - a - k.
//    For a > 0, A must be > 0, which excludes ports 0 .. 2^(16-a) - 1 (with the
//    default a = 6: the system ports 0-1023). A port set is 2^a - 1 ranges (2^a when
//    a = 0) of 2^m contiguous ports spaced 2^(16-a) apart.
//
// 2. The generalized modulus form of draft-xli-softwire-divi-pd section 4.1, sharing
//    ratio R and M contiguous ports:
//        P = R*M*j + M*K + i,   K = floor(P / M) % R,
//    K = 0 .. R-1, i = 0 .. M-1, and, to exclude the well-known ports 0-1023,
//    j = (1024/M)/R .. (65536/M)/R - 1.
//    With R = 2^k and M = 2^m this is the bit layout with a = 16 - k - m: R*M*j is A
//    shifted left by k + m bits, M*K the PSID shifted by m, i the low m bits.
//
// PSID length k = 0 means no sharing (RFC 7597 5.2 "o + r = 32": a complete address;
// RFC 7618 section 9: "When set to 0, the PSID field is to be ignored"): the whole
// port space, 0-65535, belongs to the one subscriber.

/** An inclusive port range [lo, hi]. */
export type PortRange = [lo: number, hi: number];

function assertLayout(a: number, k: number): void {
  // RFC 7618 section 9 / RFC 7598 4.5: offset 0..15; k fits the 16-bit port after a.
  if (!Number.isInteger(a) || a < 0 || a > 15) throw new RangeError(`psid offset a=${a} not in 0..15`);
  if (!Number.isInteger(k) || k < 0 || a + k > 16) throw new RangeError(`psid length k=${k} with a=${a}: need 0 <= k and a + k <= 16`);
}

function assertPsid(psid: number, k: number): void {
  if (!Number.isInteger(psid) || psid < 0 || psid >= 2 ** k) throw new RangeError(`psid ${psid} does not fit in ${k} bits`);
}

function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port ${port} not in 0..65535`);
}

/**
 * The PSID bits of a port (RFC 7597 5.1). Defined for every port, including those
 * with A = 0, which belong to no port set: use portInSet to ask membership.
 */
export function psidOfPort(port: number, a: number, k: number): number {
  assertLayout(a, k);
  assertPort(port);
  if (k === 0) return 0;
  const m = 16 - a - k;
  return (port >>> m) & ((1 << k) - 1);
}

/**
 * The port set of a PSID as ascending ranges (RFC 7597 5.1): for each A (from 1 when
 * a > 0, "A MUST be larger than 0"), the 2^m ports A|PSID|j. k = 0: [[0, 65535]].
 */
export function portSetRanges(psid: number, a: number, k: number): PortRange[] {
  assertLayout(a, k);
  assertPsid(psid, k);
  if (k === 0) return [[0, 65535]];
  const m = 16 - a - k;
  const out: PortRange[] = [];
  for (let A = a > 0 ? 1 : 0; A < 2 ** a; A++) {
    const lo = A * 2 ** (16 - a) + psid * 2 ** m;
    out.push([lo, lo + 2 ** m - 1]);
  }
  return out;
}

/** Number of ports in one port set: 2^(16-k) - 2^m when a > 0 (RFC 7597 5.1). */
export function portSetSize(a: number, k: number): number {
  assertLayout(a, k);
  if (k === 0) return 65536;
  const m = 16 - a - k;
  return 2 ** (16 - k) - (a > 0 ? 2 ** m : 0);
}

export function portInSet(port: number, psid: number, a: number, k: number): boolean {
  assertLayout(a, k);
  assertPsid(psid, k);
  assertPort(port);
  if (k === 0) return true;
  if (a > 0 && port >>> (16 - a) === 0) return false; // A = 0: excluded
  return psidOfPort(port, a, k) === psid;
}

// ---- generalized modulus form (dIVI-pd draft section 4.1) ----

function assertModulus(R: number, M: number): void {
  if (!Number.isInteger(R) || R < 1) throw new RangeError(`sharing ratio R=${R} must be an integer >= 1`);
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`contiguous ports M=${M} must be an integer >= 1`);
  if (R * M > 65536) throw new RangeError(`R*M = ${R * M} exceeds the 65536 ports`);
}

/** P = R*M*j + M*K + i (draft section 4.1 item 1). */
export function modulusPort(K: number, j: number, i: number, R: number, M: number): number {
  assertModulus(R, M);
  return R * M * j + M * K + i;
}

/** K = floor(P / M) % R (draft section 4.1 item 2). */
export function modulusPsidOfPort(port: number, R: number, M: number): number {
  assertModulus(R, M);
  assertPort(port);
  return Math.floor(port / M) % R;
}

/**
 * The range of the port range index j. The draft's upper bound (65536/M)/R - 1 is
 * taken with floor, so every range lies below 65536. Its lower bound (1024/M)/R is
 * exact when R*M divides 1024; otherwise it is rounded *up*, so that no port set
 * contains a well-known port (rounding down would hand ports 1020-1023 to K = 0
 * with R = 3, M = 4). Without the exclusion j starts at 0.
 */
export function modulusIndexRange(R: number, M: number, excludeWellKnown = true): { jMin: number; jMax: number } {
  assertModulus(R, M);
  return {
    jMin: excludeWellKnown ? Math.ceil(1024 / (R * M)) : 0,
    jMax: Math.floor(65536 / (R * M)) - 1,
  };
}

/** The port set of PSID K in the modulus form, one range of M ports per j. */
export function modulusPortSetRanges(K: number, R: number, M: number, excludeWellKnown = true): PortRange[] {
  assertModulus(R, M);
  if (!Number.isInteger(K) || K < 0 || K >= R) throw new RangeError(`psid K=${K} not in 0..${R - 1}`);
  const { jMin, jMax } = modulusIndexRange(R, M, excludeWellKnown);
  const out: PortRange[] = [];
  for (let j = jMin; j <= jMax; j++) {
    const lo = R * M * j + M * K;
    out.push([lo, lo + M - 1]);
  }
  return out;
}

export function modulusPortInSet(port: number, K: number, R: number, M: number, excludeWellKnown = true): boolean {
  const { jMin, jMax } = modulusIndexRange(R, M, excludeWellKnown);
  assertPort(port);
  const j = Math.floor(port / (R * M));
  return j >= jMin && j <= jMax && modulusPsidOfPort(port, R, M) === K;
}

function log2Exact(n: number): number | null {
  if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) return null;
  return Math.log2(n);
}

/**
 * When R and M are powers of two the modulus form *is* the bit layout with
 * k = log2 R, m = log2 M, a = 16 - k - m (see the file comment): same PSID for every
 * port. Their port sets are also identical when 1 <= a <= 6 (then the bit layout's
 * A > 0 exclusion, ports below 2^(16-a) >= 1024, equals the draft's j >= 1024/(R*M)).
 * With a > 6 the bit layout keeps ports 2^(16-a) .. 1023 that the draft excludes, and
 * with a = 0 the draft's j range is empty. Returns null for other R, M, or when a
 * would fall outside 0..15.
 */
export function modulusToBitLayout(R: number, M: number): { a: number; k: number } | null {
  const k = log2Exact(R);
  const m = log2Exact(M);
  if (k === null || m === null) return null;
  const a = 16 - k - m;
  if (a < 0 || a > 15) return null;
  return { a, k };
}

// ---- reserved ports (RFC 7618 section 8) ----

export function rangesIntersect(x: PortRange, y: PortRange): boolean {
  return x[0] <= y[1] && y[0] <= x[1];
}

/** True if any port of `ranges` lies in `reserved` (null: nothing is reserved). */
export function portSetIntersectsReserved(ranges: readonly PortRange[], reserved: PortRange | null): boolean {
  if (reserved === null) return false;
  return ranges.some((r) => rangesIntersect(r, reserved));
}

/**
 * The smallest range covering every port of every PSID of the bit layout (a, k > 0):
 * all ports with A > 0 when a > 0, the whole space when a = 0. The union is exactly
 * this range, so "does any PSID's set reach into the reserved ports" is one test.
 */
export function allPortSetsSpan(a: number, k: number): PortRange {
  assertLayout(a, k);
  return [a > 0 ? 2 ** (16 - a) : 0, 65535];
}

/** The same for the modulus form: from R*M*jMin to the end of the last j range. */
export function allModulusPortSetsSpan(R: number, M: number, excludeWellKnown = true): PortRange | null {
  const { jMin, jMax } = modulusIndexRange(R, M, excludeWellKnown);
  if (jMax < jMin) return null;
  return [R * M * jMin, R * M * (jMax + 1) - 1];
}

/** Total number of ports in a list of ranges. */
export function countPorts(ranges: readonly PortRange[]): number {
  return ranges.reduce((n, [lo, hi]) => n + hi - lo + 1, 0);
}
