import { describe, expect, it } from 'vitest';
import {
  type Dhcp6ClientServerMessage,
  type Dhcp6Message,
  type Dhcp6RelayMessage,
  buildRelayReply,
  decodeDhcp6Message,
  decodeDhcp6Options,
  duidEn,
  duidFromBytes,
  duidKey,
  duidLl,
  duidLlt,
  duidToBytes,
  duidUuid,
  encodeDhcp6Message,
  encodeDhcp6Options,
  findOption,
  parseDuid,
  unwrapRelays,
} from '../../src/dhcp/codec/dhcpv6.js';
import { MAX_RELAY_DEPTH } from '../../src/dhcp/codec/limits.js';
import { cat, expectDecodeError, hex } from './helpers.js';

const MAC = hex('00 11 22 33 44 55');

// A Solicit: RFC 8415 section 8 Figure 2 (header), 21.2 Figure 13 (Client Identifier)
// carrying a DUID-LL (11.4 Figure 7), 21.7 Figure 18 (Option Request).
const SOLICIT_BYTES = hex(
  '01', //           msg-type SOLICIT (7.3)
  '12 34 56', //     transaction-id (3 octets)
  '00 01 00 0a', //  OPTION_CLIENTID, option-len 10
  '00 03', //          DUID-Type 3 (DUID-LL)
  '00 01', //          hardware type 1 (Ethernet)
  '00 11 22 33 44 55', // link-layer address
  '00 06 00 04', //  OPTION_ORO, option-len 4 = 2 * 2 codes
  '00 58', //          88 OPTION_DHCP4_O_DHCP6_SERVER
  '00 5f', //          95 OPTION_S46_CONT_MAPT
);
const SOLICIT: Dhcp6ClientServerMessage = {
  kind: 'client-server',
  msgType: 1,
  transactionId: 0x123456,
  options: [
    { kind: 'client-id', duid: duidLl(1, MAC) },
    { kind: 'oro', codes: [88, 95] },
  ],
};

describe('DUIDs (RFC 8415 section 11)', () => {
  it('DUID-LLT, Figure 4', () => {
    const d = duidLlt(1, 0x1c9d6a2b, MAC);
    expect(duidToBytes(d)).toEqual(hex('00 01', '00 01', '1c 9d 6a 2b', '00 11 22 33 44 55'));
    expect(parseDuid(d)).toEqual({ type: 'llt', hardwareType: 1, time: 0x1c9d6a2b, linkLayer: MAC });
  });

  it('DUID-EN, the example of Figure 6 verbatim', () => {
    // "0 | 2 | 0 | 0 | 0 | 9 | 12 | 192 | 132 | 211 | 3 | 0 | 9 | 18"
    const wire = Uint8Array.of(0, 2, 0, 0, 0, 9, 12, 192, 132, 211, 3, 0, 9, 18);
    const d = duidEn(9, hex('0C C0 84 D3 03 00 09 12'));
    expect(duidToBytes(d)).toEqual(wire);
    expect(duidFromBytes(wire)).toEqual(d);
    expect(parseDuid(d)).toEqual({ type: 'en', enterpriseNumber: 9, identifier: hex('0CC084D303000912') });
  });

  it('DUID-LL, Figure 7', () => {
    expect(duidToBytes(duidLl(1, MAC))).toEqual(hex('00 03', '00 01', '00 11 22 33 44 55'));
  });

  it('DUID-UUID, Figure 8', () => {
    const uuid = hex('12345678 9abc def0 1234 56789abcdef0');
    const d = duidUuid(uuid);
    expect(duidToBytes(d)).toEqual(hex('00 04', '12345678 9abc def0 1234 56789abcdef0'));
    expect(parseDuid(d)).toEqual({ type: 'uuid', uuid });
    expect(duidKey(d)).toBe('0004123456789abcdef0123456789abcdef0');
  });

  it('keeps unknown DUID types opaque (section 11: MUST NOT restrict types)', () => {
    const d = duidFromBytes(hex('ff ee 01 02 03'));
    expect(d).toEqual({ type: 0xffee, data: hex('01 02 03') });
    expect(parseDuid(d)).toEqual({ type: 'other' });
  });

  it('refuses DUIDs outside 1..128 octets after the type (section 11.1)', () => {
    expectDecodeError(() => duidFromBytes(hex('00 03')), 'bad-option-length');
    expectDecodeError(() => duidFromBytes(new Uint8Array(131)), 'bad-option-length');
    expect(duidFromBytes(new Uint8Array(130)).data.length).toBe(128);
    expect(() => duidEn(9, new Uint8Array(125))).toThrow(RangeError);
  });
});

describe('client/server messages (RFC 8415 section 8)', () => {
  it('encodes and decodes a Solicit with Client ID and ORO', () => {
    expect(encodeDhcp6Message(SOLICIT)).toEqual(SOLICIT_BYTES);
    expect(decodeDhcp6Message(SOLICIT_BYTES)).toEqual(SOLICIT);
  });

  it('encodes and decodes a Reply with Server ID, Status Code and an unknown option kept raw', () => {
    const bytes = hex(
      '07', //                msg-type REPLY
      'ab cd ef', //          transaction-id
      '00 02 00 0e', //       OPTION_SERVERID (21.3, Figure 14), len 14
      '00 02 00 00 00 09 0c c0 84 d3 03 00 09 12', // the DUID-EN of Figure 6
      '00 0d 00 09', //       OPTION_STATUS_CODE (21.13, Figure 24), len 2 + 7
      '00 00', //               status-code Success
      '53 75 63 63 65 73 73', // "Success", UTF-8, not null-terminated
      '12 34 00 03 de ad be', // option 0x1234, unknown: kept as raw octets
      '00 01 00 0e', //       OPTION_CLIENTID, len 14, a DUID-LLT
      '00 01 00 01 1c 9d 6a 2b 00 11 22 33 44 55',
    );
    const msg: Dhcp6Message = {
      kind: 'client-server',
      msgType: 7,
      transactionId: 0xabcdef,
      options: [
        { kind: 'server-id', duid: duidEn(9, hex('0cc084d303000912')) },
        { kind: 'status-code', status: 0, message: 'Success' },
        { kind: 'raw', code: 0x1234, data: hex('de ad be') },
        { kind: 'client-id', duid: duidLlt(1, 0x1c9d6a2b, MAC) },
      ],
    };
    expect(encodeDhcp6Message(msg)).toEqual(bytes);
    expect(decodeDhcp6Message(bytes)).toEqual(msg);
  });

  it('status-message may be empty; status text is UTF-8', () => {
    const bytes = hex('07 000001', '00 0d 00 05', '00 02', 'c3 a9 21'); // NoAddrsAvail, "é!"
    const m = decodeDhcp6Message(bytes) as Dhcp6ClientServerMessage;
    expect(m.options).toEqual([{ kind: 'status-code', status: 2, message: 'é!' }]);
    expect(encodeDhcp6Message(m)).toEqual(bytes);
    expect(decodeDhcp6Options(hex('00 0d 00 02 00 01'))).toEqual([{ kind: 'status-code', status: 1, message: '' }]);
  });

  it('an Interface-Id (21.18) and a Relay Message option outside a relay message: Interface-Id typed, option 9 raw', () => {
    const opts = decodeDhcp6Options(hex('00 12 00 02 61 62', '00 09 00 01 ff'));
    expect(opts).toEqual([
      { kind: 'interface-id', id: hex('61 62') },
      { kind: 'raw', code: 9, data: hex('ff') },
    ]);
    expect(encodeDhcp6Options(opts)).toEqual(hex('00 12 00 02 61 62', '00 09 00 01 ff'));
  });

  it('option list with nothing in it, and a message with no options', () => {
    expect(decodeDhcp6Options(new Uint8Array(0))).toEqual([]);
    expect(decodeDhcp6Message(hex('0b 00 00 01'))).toEqual({ kind: 'client-server', msgType: 11, transactionId: 1, options: [] });
  });
});

// Relay-forward (section 9, Figure 3; 9.1) from a relay on 2001:db8:1::1, with an
// Interface-Id (21.18, Figure 32) and the Solicit in a Relay Message option (21.10, Figure 21).
const RELAY_FORW_BYTES = hex(
  '0c', //                                            msg-type RELAY-FORW (12)
  '00', //                                            hop-count 0 (first relay, 19.1.1)
  '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 01', // link-address 2001:db8:1::1
  'fe 80 00 00 00 00 00 00 02 11 22 ff fe 33 44 55', // peer-address fe80::211:22ff:fe33:4455
  '00 12 00 04', //                                   OPTION_INTERFACE_ID, len 4
  '65 74 68 30', //                                     "eth0"
  '00 09 00 1a', //                                   OPTION_RELAY_MSG, len 26
);
const RELAY_FORW: Dhcp6RelayMessage = {
  kind: 'relay',
  msgType: 12,
  hopCount: 0,
  linkAddress: '2001:db8:1::1',
  peerAddress: 'fe80::211:22ff:fe33:4455',
  options: [
    { kind: 'interface-id', id: hex('65 74 68 30') },
    { kind: 'relay-msg', message: SOLICIT },
  ],
};

describe('relay messages (RFC 8415 section 9)', () => {
  it('encodes and decodes a Relay-forward with Interface-Id and a nested Solicit', () => {
    const bytes = cat(RELAY_FORW_BYTES, SOLICIT_BYTES);
    expect(encodeDhcp6Message(RELAY_FORW)).toEqual(bytes);
    expect(decodeDhcp6Message(bytes)).toEqual(RELAY_FORW);
    const { relays, inner } = unwrapRelays(decodeDhcp6Message(bytes));
    expect(relays).toHaveLength(1);
    expect(inner).toEqual(SOLICIT);
  });

  it('builds the two-level Relay-reply of Figure 10 (section 19.3)', () => {
    const A = '2001:db8:a::1';
    const C = 'fe80::c';
    const reply: Dhcp6ClientServerMessage = {
      kind: 'client-server',
      msgType: 7,
      transactionId: 0x123456,
      options: [{ kind: 'status-code', status: 0, message: '' }],
    };
    // The Relay-forward chain as the server received it: B (outer) relayed A's Relay-forward.
    const innerFw: Dhcp6RelayMessage = {
      kind: 'relay',
      msgType: 12,
      hopCount: 0,
      linkAddress: '2001:db8:c::1',
      peerAddress: C,
      options: [{ kind: 'relay-msg', message: SOLICIT }],
    };
    const outerFw: Dhcp6RelayMessage = {
      kind: 'relay',
      msgType: 12,
      hopCount: 1,
      linkAddress: '::',
      peerAddress: A,
      options: [{ kind: 'relay-msg', message: innerFw }],
    };
    const { relays } = unwrapRelays(outerFw);
    const bytes = encodeDhcp6Message(buildRelayReply(relays, reply));
    expect(bytes).toEqual(
      hex(
        '0d', //                                            RELAY-REPL
        '01', //                                            hop-count: 1
        '00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00', // link-address: 0
        '20 01 0d b8 00 0a 00 00 00 00 00 00 00 00 00 01', // peer-address: A
        '00 09 00 30', //                                   Relay Message option, len 48
        '0d', //                                              RELAY-REPL
        '00', //                                              hop-count: 0
        '20 01 0d b8 00 0c 00 00 00 00 00 00 00 00 00 01', //   link-address: C's link
        'fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 0c', //   peer-address: C
        '00 09 00 0a', //                                     Relay Message option, len 10
        '07 12 34 56', //                                       <response from server>: Reply
        '00 0d 00 02 00 00', //                                 Status Code Success
      ),
    );
  });

  it('copies the Interface-Id into the Relay-reply (section 21.18)', () => {
    const reply: Dhcp6ClientServerMessage = { kind: 'client-server', msgType: 7, transactionId: 0x123456, options: [] };
    const out = buildRelayReply([RELAY_FORW], reply);
    expect(encodeDhcp6Message(out)).toEqual(
      hex(
        '0d 00',
        '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 01',
        'fe 80 00 00 00 00 00 00 02 11 22 ff fe 33 44 55',
        '00 12 00 04 65 74 68 30', // Interface-Id copied
        '00 09 00 04 07 12 34 56',
      ),
    );
  });

  function nest(levels: number): Uint8Array {
    let inner = SOLICIT_BYTES;
    for (let i = 0; i < levels; i++) {
      inner = cat(hex('0c', (levels - 1 - i).toString(16).padStart(2, '0')), new Uint8Array(32), hex('00 09'), Uint8Array.of(inner.length >> 8, inner.length & 0xff), inner);
    }
    return inner;
  }

  it(`accepts ${MAX_RELAY_DEPTH} nested relay headers and refuses ${MAX_RELAY_DEPTH + 1} (relay-too-deep)`, () => {
    const ok = decodeDhcp6Message(nest(MAX_RELAY_DEPTH));
    const { relays, inner } = unwrapRelays(ok);
    expect(relays).toHaveLength(MAX_RELAY_DEPTH);
    expect(inner).toEqual(SOLICIT);
    expectDecodeError(() => decodeDhcp6Message(nest(MAX_RELAY_DEPTH + 1)), 'relay-too-deep');
  });

  it('refuses a relay message without, or with two, Relay Message options (9.1: MUST include)', () => {
    const hdr = hex('0c 00', '00'.repeat(32));
    expectDecodeError(() => decodeDhcp6Message(cat(hdr, hex('00 12 00 01 41'))), 'missing-option');
    const rm = hex('00 09 00 04 01 00 00 01');
    expectDecodeError(() => decodeDhcp6Message(cat(hdr, rm, rm)), 'duplicate-option');
  });
});

describe('DHCPv6 decode errors', () => {
  it('truncated header, option header, option data, relay header', () => {
    expectDecodeError(() => decodeDhcp6Message(hex('01 12 34')), 'truncated');
    expectDecodeError(() => decodeDhcp6Message(new Uint8Array(0)), 'truncated');
    expectDecodeError(() => decodeDhcp6Message(hex('01 12 34 56 00 01 00')), 'truncated');
    expectDecodeError(() => decodeDhcp6Message(hex('01 12 34 56 00 01 00 0a 00 03 00 01')), 'truncated');
    expectDecodeError(() => decodeDhcp6Message(hex('0c 00', '00'.repeat(20))), 'truncated');
    expectDecodeError(() => decodeDhcp6Message(SOLICIT_BYTES.subarray(0, SOLICIT_BYTES.length - 1)), 'truncated');
  });

  it('option lengths that contradict the option definition', () => {
    expectDecodeError(() => decodeDhcp6Options(hex('00 06 00 03 00 01 02')), 'bad-option-length'); // ORO odd
    expectDecodeError(() => decodeDhcp6Options(hex('00 0d 00 01 00')), 'bad-option-length'); // status < 2
    expectDecodeError(() => decodeDhcp6Options(hex('00 01 00 02 00 03')), 'bad-option-length'); // DUID w/o identifier
    expectDecodeError(() => decodeDhcp6Options(hex('00 02 00 00')), 'bad-option-length'); // empty server id
  });

  it('at most 256 options per message', () => {
    const opt = hex('ff 00 00 00'); // option 0xff00, length 0
    const list = (n: number) => cat(hex('01 00 00 01'), ...Array.from({ length: n }, () => opt));
    expect((decodeDhcp6Message(list(256)) as Dhcp6ClientServerMessage).options).toHaveLength(256);
    expectDecodeError(() => decodeDhcp6Message(list(257)), 'too-many-options');
  });

  it('messages over 65535 octets', () => {
    expectDecodeError(() => decodeDhcp6Message(new Uint8Array(65536)), 'oversized');
  });

  it('the encoder refuses what the wire cannot carry', () => {
    expect(() => encodeDhcp6Message({ ...SOLICIT, transactionId: 0x1000000 })).toThrow(RangeError);
    expect(() => encodeDhcp6Message({ ...SOLICIT, msgType: 12 })).toThrow(RangeError);
    expect(() => encodeDhcp6Message({ ...RELAY_FORW, options: [] })).toThrow(RangeError);
    expect(() => encodeDhcp6Options([{ kind: 'raw', code: 1, data: new Uint8Array(65536) }])).toThrow(RangeError);
    expect(findOption(SOLICIT.options, 'oro')?.codes).toEqual([88, 95]);
  });
});
