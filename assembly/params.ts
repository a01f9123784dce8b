// The scalar part of the compiled configuration, read from the rule blob's header
// (src/core/abi.ts HDR) by rulesLoad(). Module globals: the hot path reads them as
// wasm globals, with no memory indirection.

export const MODE_MAPT: u32 = 0;
export const MODE_MAPE: u32 = 1;
export const MODE_LW4O6: u32 = 2;

export const FLAG_ICMP_ERRORS: u32 = 1;
export const FLAG_MAC4: u32 = 2;
export const FLAG_MAC6: u32 = 4;
export const FLAG_LW_UNREACH: u32 = 8;
export const FLAG_FRAGMENT_ENCAP: u32 = 16;
export const FLAG_NO_HAIRPIN: u32 = 32;

export let loaded: bool = false;
export let mode: u32 = MODE_MAPT;
export let flags: u32 = 0;
export let mtu4: u32 = 1500;
export let mtu6: u32 = 1500;
export let reservedLo: u32 = 0;
export let reservedHi: u32 = 1023;
export let dmrLen: u32 = 64;
export let dmrHi: u64 = 0;
export let dmrLo: u64 = 0;
export let dmrMaskHi: u64 = 0;
export let dmrMaskLo: u64 = 0;
export let brHi: u64 = 0;
export let brLo: u64 = 0;
export let icmpRate: u32 = 1000;
export let icmpSrc4: u32 = 0xc0000008;
export let fragTimeoutMs: u32 = 2000;
// MAC addresses as 48-bit numbers (first byte most significant).
export let mac4Src: u64 = 0;
export let mac4Dst: u64 = 0;
export let mac6Src: u64 = 0;
export let mac6Dst: u64 = 0;

export function setParams(
  m: u32, f: u32, m4: u32, m6: u32, rlo: u32, rhi: u32, dlen: u32,
  dhi: u64, dlo: u64, bhi: u64, blo: u64, rate: u32, src4: u32, ftmo: u32,
  m4s: u64, m4d: u64, m6s: u64, m6d: u64,
): void {
  mode = m; flags = f; mtu4 = m4; mtu6 = m6; reservedLo = rlo; reservedHi = rhi;
  dmrLen = dlen; dmrHi = dhi; dmrLo = dlo;
  dmrMaskHi = dlen >= 64 ? 0xffffffffffffffff : (dlen == 0 ? 0 : ~(<u64>0xffffffffffffffff >> dlen));
  dmrMaskLo = dlen <= 64 ? 0 : (dlen >= 128 ? 0xffffffffffffffff : ~(<u64>0xffffffffffffffff >> (dlen - 64)));
  brHi = bhi; brLo = blo; icmpRate = rate; icmpSrc4 = src4; fragTimeoutMs = ftmo;
  mac4Src = m4s; mac4Dst = m4d; mac6Src = m6s; mac6Dst = m6d;
  loaded = true;
}

/** Reserved ports (RFC 7618 section 8) are never part of a shared address's port set. */
@inline export function portReserved(port: u32): bool {
  return port >= reservedLo && port <= reservedHi;
}
