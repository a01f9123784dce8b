import { describe, expect, it } from 'vitest';
import {
  type S46Container,
  type S46Option,
  type S46Rule,
  type S46V4V6Bind,
  S46_RULE_FLAG_F,
  checkS46Container,
  decodeS46Option,
  decodeS46Options,
  encodeS46Option,
  s46FromDhcp6Option,
  s46ToDhcp6Option,
} from '../../src/dhcp/codec/s46.js';
import { type Dhcp6ClientServerMessage, decodeDhcp6Message, encodeDhcp6Message, findRawOptions } from '../../src/dhcp/codec/dhcpv6.js';
import { expectDecodeError, hex } from './helpers.js';

// RFC 7597 Appendix A, Example 1: BMR {2001:db8::/40, 192.0.2.0/24, EA-len 16}; here also an FMR.
const RULE_EX1: S46Rule = {
  kind: 'rule',
  fmr: true,
  eaLen: 16,
  prefix4Len: 24,
  ipv4Prefix: '192.0.2.0',
  prefix6Len: 40,
  ipv6Prefix: '2001:db8::',
  options: [],
};
const RULE_EX1_BYTES = hex(
  '00 59', //        OPTION_S46_RULE (89)
  '00 0d', //        option-length 13
  '01', //           flags: F (Figure 2: last bit)
  '10', //           ea-len 16
  '18', //           prefix4-len 24
  'c0 00 02 00', //  ipv4-prefix 192.0.2.0
  '28', //           prefix6-len 40
  '20 01 0d b8 00', // ipv6-prefix: ceil(40/8) = 5 octets
);

// RFC 7598 Figure 4 with the DESIGN.md example DMR 64:ff9b::/64.
const DMR: S46Option = { kind: 'dmr', prefix6Len: 64, prefix: '64:ff9b::' };
const DMR_BYTES = hex('00 5b', '00 09', '40', '00 64 ff 9b 00 00 00 00');

// RFC 7598 Figure 3; RFC 7597 Appendix A Example 2's BR address.
const BR: S46Option = { kind: 'br', address: '2001:db8:ffff::1' };
const BR_BYTES = hex('00 5a', '00 10', '20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 01');

// RFC 7598 Figure 5 with the DESIGN.md lw4o6 binding: 198.51.100.7, PSID-len 6, PSID 12, offset 6.
const BIND: S46V4V6Bind = {
  kind: 'v4v6bind',
  ipv4Address: '198.51.100.7',
  prefix6Len: 128,
  ipv6Prefix: '2001:db8:77::1',
  options: [{ kind: 'portparams', offset: 6, psidLen: 6, psid: 12 }],
};
const BIND_BYTES = hex(
  '00 5c', //        OPTION_S46_V4V6BIND (92)
  '00 1d', //        option-length 29 = 4 + 1 + 16 + 8
  'c6 33 64 07', //  ipv4-address 198.51.100.7
  '80', //           bindprefix6-len 128
  '20 01 0d b8 00 77 00 00 00 00 00 00 00 00 00 01', // bind-ipv6-prefix, 16 octets
  '00 5d 00 04', //  OPTION_S46_PORTPARAMS (93), length 4
  '06', //             offset 6
  '06', //             PSID-len 6
  '30 00', //          PSID 12 = 001100, left-aligned: 0011 0000 0000 0000
);

function roundTrip(value: S46Option, bytes: Uint8Array): void {
  expect(encodeS46Option(value)).toEqual(bytes);
  expect(decodeS46Option(bytes)).toEqual(value);
}

describe('S46 options (RFC 7598 section 4)', () => {
  it('F is the least significant bit of the flags octet (Figure 2)', () => {
    expect(S46_RULE_FLAG_F).toBe(1);
  });

  it('S46_RULE, Figure 1: RFC 7597 Example 1', () => {
    roundTrip(RULE_EX1, RULE_EX1_BYTES);
  });

  it('S46_RULE with nested S46_PORTPARAMS: RFC 7597 Example 5 (192.0.2.18/32, EA-len 0, PSID 0x34)', () => {
    const rule: S46Rule = {
      kind: 'rule',
      fmr: false,
      eaLen: 0,
      prefix4Len: 32,
      ipv4Prefix: '192.0.2.18',
      prefix6Len: 56,
      ipv6Prefix: '2001:db8:12:3400::',
      options: [{ kind: 'portparams', offset: 6, psidLen: 8, psid: 0x34 }],
    };
    roundTrip(
      rule,
      hex(
        '00 59 00 17', //        S46_RULE, length 23 = 8 + 7 + 8
        '00', //                 flags: BMR only
        '00', //                 ea-len 0
        '20', //                 prefix4-len 32
        'c0 00 02 12', //        192.0.2.18
        '38', //                 prefix6-len 56
        '20 01 0d b8 00 12 34', // 7 octets
        '00 5d 00 04 06 08 34 00', // S46_PORTPARAMS: offset 6, PSID-len 8, PSID 0x34 -> 0x3400
      ),
    );
  });

  it('S46_RULE prefix6-len not a multiple of 8: right-padded with zero bits (4.1)', () => {
    const bytes = hex('00 59 00 0d', '00 08 18 c0 00 02 00', '23', '20 01 0d b8 e0'); // /35
    const rule: S46Rule = { ...RULE_EX1, fmr: false, eaLen: 8, prefix6Len: 35, ipv6Prefix: '2001:db8:e000::' };
    roundTrip(rule, bytes);
    // The encoder zeroes bits after the prefix length (IPv4 and IPv6).
    expect(encodeS46Option({ ...rule, ipv6Prefix: '2001:db8:ffff::', ipv4Prefix: '192.0.2.77' })).toEqual(bytes);
  });

  it('S46_RULE receivers ignore reserved flag bits and IPv4 bits after prefix4-len (4.1)', () => {
    const d = decodeS46Option(hex('00 59 00 0d', 'ff 10 18 c0 00 02 4d 28 20 01 0d b8 00')) as S46Rule;
    expect(d.fmr).toBe(true);
    expect(d.ipv4Prefix).toBe('192.0.2.0');
  });

  it('S46_BR, Figure 3', () => {
    roundTrip(BR, BR_BYTES);
  });

  it('S46_DMR, Figure 4 (and a zero-length prefix)', () => {
    roundTrip(DMR, DMR_BYTES);
    roundTrip({ kind: 'dmr', prefix6Len: 0, prefix: '::' }, hex('00 5b 00 01 00'));
    roundTrip({ kind: 'dmr', prefix6Len: 96, prefix: '2001:db8:122:344::' }, hex('00 5b 00 0d 60 20 01 0d b8 01 22 03 44 00 00 00 00'));
  });

  it('S46_V4V6BIND, Figure 5, with S46_PORTPARAMS', () => {
    roundTrip(BIND, BIND_BYTES);
    roundTrip(
      { kind: 'v4v6bind', ipv4Address: '198.51.100.7', prefix6Len: 64, ipv6Prefix: '2001:db8:77::', options: [] },
      hex('00 5c 00 0d', 'c6 33 64 07', '40', '20 01 0d b8 00 77 00 00'),
    );
  });

  it('S46_PORTPARAMS, Figure 6: PSID left-aligned', () => {
    roundTrip({ kind: 'portparams', offset: 6, psidLen: 4, psid: 5 }, hex('00 5d 00 04 06 04 50 00'));
    roundTrip({ kind: 'portparams', offset: 0, psidLen: 0, psid: 0 }, hex('00 5d 00 04 00 00 00 00'));
  });
});

describe('S46 containers (RFC 7598 section 5)', () => {
  const MAPT: S46Container = { kind: 'cont-mapt', options: [RULE_EX1, DMR] };
  const MAPE: S46Container = { kind: 'cont-mape', options: [RULE_EX1, BR] };
  const LW: S46Container = { kind: 'cont-lw', options: [BIND, BR] };

  it('S46_CONT_MAPT (95), Figure 8', () => {
    roundTrip(MAPT, hex('00 5f 00 1e', ...[RULE_EX1_BYTES, DMR_BYTES].map((b) => Buffer.from(b).toString('hex'))));
  });

  it('S46_CONT_MAPE (94), Figure 7', () => {
    roundTrip(MAPE, hex('00 5e 00 25', ...[RULE_EX1_BYTES, BR_BYTES].map((b) => Buffer.from(b).toString('hex'))));
  });

  it('S46_CONT_LW (96), Figure 9', () => {
    roundTrip(LW, hex('00 60 00 35', ...[BIND_BYTES, BR_BYTES].map((b) => Buffer.from(b).toString('hex'))));
  });

  it('travels in a DHCPv6 Reply as an ordinary option', () => {
    const reply: Dhcp6ClientServerMessage = { kind: 'client-server', msgType: 7, transactionId: 1, options: [s46ToDhcp6Option(MAPT)] };
    const bytes = encodeDhcp6Message(reply);
    expect(bytes.subarray(4)).toEqual(encodeS46Option(MAPT));
    const [raw] = findRawOptions((decodeDhcp6Message(bytes) as Dhcp6ClientServerMessage).options, 95);
    expect(s46FromDhcp6Option(raw)).toEqual(MAPT);
    expect(decodeS46Options(bytes.subarray(4))).toEqual([MAPT]);
  });

  it('nesting is fixed: a container in a container, or a BR in a rule, stays raw', () => {
    expect(decodeS46Option(hex('00 5e 00 08', '00 5f 00 04 00 5a 00 00'))).toEqual({
      kind: 'cont-mape',
      options: [{ kind: 'raw', code: 95, data: hex('00 5a 00 00') }],
    });
    const rule = decodeS46Option(hex('00 59 00 0f', '00 00 00 00 00 00 00 00', '00 5a 00 03 01 02 03')) as S46Rule;
    expect(rule.options).toEqual([{ kind: 'raw', code: 90, data: hex('01 02 03') }]);
  });

  it('Table 1 (section 6): valid containers pass; violations are listed', () => {
    expect(checkS46Container(MAPT)).toEqual([]);
    expect(checkS46Container(MAPE)).toEqual([]);
    expect(checkS46Container(LW)).toEqual([]);
    expect(checkS46Container({ kind: 'cont-lw', options: [BR] })).toEqual([]); // V4V6BIND is optional
    expect(checkS46Container({ kind: 'cont-mapt', options: [RULE_EX1, DMR, DMR, BR] })).toEqual([
      'cont-mapt: needs exactly one S46_DMR (has 2)',
      'cont-mapt: S46_BR not permitted (has 1)',
    ]);
    expect(checkS46Container({ kind: 'cont-mape', options: [DMR] })).toHaveLength(3);
    expect(checkS46Container({ kind: 'cont-lw', options: [BIND, BIND, RULE_EX1] })).toHaveLength(3);
  });
});

describe('S46 decode errors', () => {
  it('prefix lengths out of range', () => {
    expectDecodeError(() => decodeS46Option(hex('00 59 00 08', '00 10 21 c0 00 02 00 00')), 'bad-prefix-length'); // prefix4-len 33
    expectDecodeError(() => decodeS46Option(hex('00 59 00 08', '00 10 18 c0 00 02 00 81')), 'bad-prefix-length'); // prefix6-len 129
    expectDecodeError(() => decodeS46Option(hex('00 5b 00 01 81')), 'bad-prefix-length');
    expectDecodeError(() => decodeS46Option(hex('00 5c 00 05 00 00 00 00 81')), 'bad-prefix-length');
    expectDecodeError(() => decodeS46Option(hex('00 59 00 08', '00 31 18 c0 00 02 00 00')), 'bad-value'); // ea-len 49
  });

  it('lengths that contradict the figures', () => {
    expectDecodeError(() => decodeS46Option(hex('00 59 00 07', '00 10 18 c0 00 02 00')), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 59 00 0c', '00 10 18 c0 00 02 00 28 20 01 0d b8')), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5a 00 0f', '00'.repeat(15))), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5b 00 0a 40', '00'.repeat(9))), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5b 00 00')), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5c 00 04 00 00 00 00')), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5c 00 06 00 00 00 00 10 20')), 'bad-option-length');
    expectDecodeError(() => decodeS46Option(hex('00 5d 00 03 06 04 50')), 'bad-option-length');
  });

  it('PSID with non-zero padding', () => {
    expectDecodeError(() => decodeS46Option(hex('00 5d 00 04 06 04 00 05')), 'bad-port-params');
  });

  it('truncated, trailing, too many', () => {
    expectDecodeError(() => decodeS46Option(hex('00 5a 00 10 20 01')), 'truncated');
    expectDecodeError(() => decodeS46Option(hex('00 5a')), 'truncated');
    expectDecodeError(() => decodeS46Option(new Uint8Array(0)), 'truncated');
    expectDecodeError(() => decodeS46Option(hex('00 5b 00 01 00', '00 5b 00 01 00')), 'trailing-bytes');
    // A Lightweight 4over6 container holding n empty options of an unknown code.
    const many = (n: number) => hex('00 60', (n * 4).toString(16).padStart(4, '0'), 'ff 00 00 00'.repeat(n));
    expect((decodeS46Option(many(256)) as S46Container).options).toHaveLength(256);
    expectDecodeError(() => decodeS46Option(many(257)), 'too-many-options');
  });

  it('the encoder refuses values the format cannot carry', () => {
    expect(() => encodeS46Option({ ...RULE_EX1, eaLen: 49 })).toThrow(RangeError);
    expect(() => encodeS46Option({ ...RULE_EX1, prefix4Len: 33 })).toThrow(RangeError);
    expect(() => encodeS46Option({ ...RULE_EX1, prefix6Len: 129 })).toThrow(RangeError);
    expect(() => encodeS46Option({ kind: 'portparams', offset: 6, psidLen: 6, psid: 64 })).toThrow(RangeError);
    expect(() => encodeS46Option({ kind: 'br', address: '192.0.2.1' })).toThrow(RangeError);
  });
});
