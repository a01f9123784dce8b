import { describe, expect, it } from 'vitest';
import {
  DHCP4_FLAG_BROADCAST,
  type Dhcp4Message,
  decodeClientIdData,
  decodeDhcp4Message,
  decodeV4PortParamsOption,
  emptyDhcp4Message,
  encodeClientIdData,
  encodeDhcp4Message,
  encodeV4PortParamsOption,
} from '../../src/dhcp/codec/dhcpv4.js';
import { duidLlt } from '../../src/dhcp/codec/duid.js';
import { cat, expectDecodeError, hex, zeros } from './helpers.js';

const CHADDR = hex('00 11 22 33 44 55', zeros(10));
const DUID = duidLlt(1, 0x1c9d6a2b, hex('00 11 22 33 44 55'));

/** RFC 2131 Figure 1 up to and including the magic cookie, for a client (op 1) with B set. */
const REQUEST_HEADER = [
  '01 01 06 00', //     op BOOTREQUEST, htype 1 (Ethernet), hlen 6, hops 0
  '39 03 f3 26', //     xid
  '00 00', //           secs
  '80 00', //           flags: B (Figure 2: leftmost bit)
  '00 00 00 00', //     ciaddr
  '00 00 00 00', //     yiaddr
  '00 00 00 00', //     siaddr
  '00 00 00 00', //     giaddr
  '00 11 22 33 44 55', zeros(10), // chaddr (16)
  zeros(64), //         sname
  zeros(128), //        file
  '63 82 53 63', //     magic cookie 99.130.83.99 (RFC 2132 section 2)
];

function message(init: Partial<Dhcp4Message>): Dhcp4Message {
  return { ...emptyDhcp4Message(1), xid: 0x3903f326, chaddr: CHADDR, ...init };
}

describe('DHCPv4 messages (RFC 2131 section 2, RFC 2132)', () => {
  it('DHCPDISCOVER with client id (RFC 4361), parameter request list, and an OPTION_V4_PORTPARAMS hint (RFC 7618 s7)', () => {
    const bytes = hex(
      ...REQUEST_HEADER,
      '35 01 01', //                  53 DHCP message type: DHCPDISCOVER (9.6)
      '37 05 01 03 06 33 9f', //      55 parameter request list: 1, 3, 6, 51, 159 (9.8)
      '3d 13', //                     61 client identifier, len 19 (RFC 4361 6.1)
      'ff', //                          type 255
      '00 00 00 01', //                 IAID 1
      '00 01 00 01 1c 9d 6a 2b 00 11 22 33 44 55', // DUID-LLT (RFC 8415 11.2)
      '9f 04 00 06 00 00', //         159: offset 0, PSID-len 6, PSID 0: a size hint only (RFC 7618 s7)
      'ff', //                        end (3.2)
    );
    const m = message({
      flags: DHCP4_FLAG_BROADCAST,
      options: {
        messageType: 1,
        parameterRequestList: [1, 3, 6, 51, 159],
        clientId: { kind: 'rfc4361', iaid: 1, duid: DUID },
        portParams: { offset: 0, psidLen: 6, psid: 0 },
        raw: [],
      },
    });
    expect(encodeDhcp4Message(m)).toEqual(bytes);
    expect(decodeDhcp4Message(bytes)).toEqual(m);
  });

  it('DHCPACK with subnet mask, router, DNS, lease time, server id, T1, T2 and a port set', () => {
    const bytes = hex(
      '02 01 06 00', //         op BOOTREPLY
      '39 03 f3 26',
      '00 00 00 00', //         secs, flags
      '00 00 00 00', //         ciaddr
      'c6 33 64 07', //         yiaddr 198.51.100.7
      '00 00 00 00', //         siaddr
      '00 00 00 00', //         giaddr
      '00 11 22 33 44 55', zeros(10),
      zeros(64),
      zeros(128),
      '63 82 53 63',
      '35 01 05', //                      53: DHCPACK
      '01 04 ff ff ff 00', //             1 subnet mask (3.3), before the router (MUST)
      '03 04 c6 33 64 01', //             3 router 198.51.100.1 (3.5)
      '06 08 c0 00 02 35 c6 33 64 35', // 6 DNS 192.0.2.53, 198.51.100.53 (3.8)
      '33 04 00 00 0e 10', //             51 lease time 3600 (9.2)
      '36 04 c0 00 02 01', //             54 server identifier 192.0.2.1 (9.7)
      '3a 04 00 00 07 08', //             58 T1 1800 (9.11)
      '3b 04 00 00 0c 4e', //             59 T2 3150 (9.12)
      '9f 04 06 04 50 00', //             159: offset 6, PSID-len 4, PSID 0x5 left-aligned = 0x5000
      'ff',
    );
    const m = message({
      op: 2,
      yiaddr: '198.51.100.7',
      options: {
        messageType: 5,
        subnetMask: '255.255.255.0',
        routers: ['198.51.100.1'],
        dnsServers: ['192.0.2.53', '198.51.100.53'],
        leaseTime: 3600,
        serverId: '192.0.2.1',
        renewalTime: 1800,
        rebindingTime: 3150,
        portParams: { offset: 6, psidLen: 4, psid: 5 },
        raw: [],
      },
    });
    expect(encodeDhcp4Message(m)).toEqual(bytes);
    expect(decodeDhcp4Message(bytes)).toEqual(m);
  });

  it('DHCPREQUEST with requested address, server id, max message size and an unknown option kept raw', () => {
    const bytes = hex(
      ...REQUEST_HEADER,
      '35 01 03', //            53: DHCPREQUEST
      '32 04 c6 33 64 07', //   50 requested IP address (9.1)
      '36 04 c0 00 02 01', //   54 server identifier
      '39 02 05 dc', //         57 maximum DHCP message size 1500 (9.10)
      '3c 03 78 62 72', //      60 vendor class "xbr": not interpreted, kept raw
      'ff',
    );
    const m = message({
      flags: DHCP4_FLAG_BROADCAST,
      options: {
        messageType: 3,
        requestedAddress: '198.51.100.7',
        serverId: '192.0.2.1',
        maxMessageSize: 1500,
        raw: [{ code: 60, data: hex('78 62 72') }],
      },
    });
    expect(encodeDhcp4Message(m)).toEqual(bytes);
    expect(decodeDhcp4Message(bytes)).toEqual(m);
  });

  it('DHCPNAK with a message (9.9, NVT ASCII)', () => {
    const bytes = hex(
      ...REQUEST_HEADER.map((f, i) => (i === 0 ? '02 01 06 00' : i === 3 ? '00 00' : f)),
      '35 01 06', //                          53: DHCPNAK
      '36 04 c0 00 02 01', //                 54
      '38 08 6e 6f 20 6c 65 61 73 65', //     56 "no lease"
      'ff',
    );
    const m = message({ op: 2, options: { messageType: 6, serverId: '192.0.2.1', message: 'no lease', raw: [] } });
    expect(encodeDhcp4Message(m)).toEqual(bytes);
    expect(decodeDhcp4Message(bytes)).toEqual(m);
  });

  it('a missing End is tolerated; octets after End are ignored', () => {
    const noEnd = hex(...REQUEST_HEADER, '35 01 01');
    expect(decodeDhcp4Message(noEnd).options).toEqual({ messageType: 1, raw: [] });
    const trailing = hex(...REQUEST_HEADER, '35 01 01', 'ff', '12 34 56');
    expect(decodeDhcp4Message(trailing).options).toEqual({ messageType: 1, raw: [] });
    const padded = hex(...REQUEST_HEADER, '00 00', '35 01 01', '00', 'ff');
    expect(decodeDhcp4Message(padded).options).toEqual({ messageType: 1, raw: [] }); // pad (3.1)
  });
});

describe('option overload (RFC 2132 9.3, RFC 2131 4.1) and long options (RFC 3396)', () => {
  // sname and file both carry options; an option split over all three areas is concatenated
  // in the order options, file, sname.
  const sname = hex('3d 07 01 00 11 22 33 44 55', 'e0 01 cc', 'ff', zeros(64 - 13));
  const file = hex('37 01 06', '33 04 00 00 0e 10', 'e0 01 bb', 'ff', zeros(128 - 13));
  const overloaded = cat(
    hex(...REQUEST_HEADER.slice(0, 10)), // op .. chaddr
    sname,
    file,
    hex(
      '63 82 53 63',
      '35 01 05', //      53
      '34 01 03', //      52 overload: both 'file' and 'sname' hold options
      '37 02 01 03', //   55 first part: 1, 3
      'e0 01 aa', //      224 (unknown) first part
      'ff',
    ),
  );

  it('decodes options from options, then file, then sname, concatenating split options', () => {
    const m = decodeDhcp4Message(overloaded);
    expect(m.options).toEqual({
      messageType: 5,
      parameterRequestList: [1, 3, 6], // 1, 3 from 'options' + 6 from 'file'
      leaseTime: 3600,
      clientId: { kind: 'other', type: 1, id: hex('00 11 22 33 44 55') },
      raw: [{ code: 224, data: hex('aa bb cc') }], // options, file, sname order
    });
    // The fields held options, not names.
    expect(m.sname).toEqual(new Uint8Array(64));
    expect(m.file).toEqual(new Uint8Array(128));
  });

  it('re-encodes everything into the options field, without overload', () => {
    const out = encodeDhcp4Message(decodeDhcp4Message(overloaded));
    expect(out).toEqual(
      hex(
        ...REQUEST_HEADER,
        '35 01 05',
        '33 04 00 00 0e 10',
        '37 03 01 03 06',
        '3d 07 01 00 11 22 33 44 55',
        'e0 03 aa bb cc',
        'ff',
      ),
    );
  });

  it('overload 1 reads only file; sname stays a name', () => {
    const name = hex('73 72 76 00', zeros(60)); // "srv"
    const bytes = cat(
      hex(...REQUEST_HEADER.slice(0, 10)),
      name,
      hex('33 04 00 00 00 3c', 'ff', zeros(128 - 7)),
      hex('63 82 53 63', '35 01 05', '34 01 01', 'ff'),
    );
    const m = decodeDhcp4Message(bytes);
    expect(m.options).toEqual({ messageType: 5, leaseTime: 60, raw: [] });
    expect(m.sname).toEqual(name);
  });

  it("keeps copies of 'file', 'sname' and a long option, not views of the datagram", () => {
    const file = Uint8Array.from({ length: 128 }, (_, i) => (i * 7) & 0xff);
    const long = Uint8Array.from({ length: 100 }, (_, i) => i + 1);
    const bytes = cat(hex(...REQUEST_HEADER.slice(0, 10)), hex('73 72 76 00', zeros(60)), file, hex('63 82 53 63', '35 01 01', 'e0 64'), long, hex('ff'));
    const m = decodeDhcp4Message(bytes);
    bytes.fill(0xee); // the datagram's storage reused
    expect(m.file).toEqual(file);
    expect(m.sname.subarray(0, 4)).toEqual(hex('73 72 76 00'));
    expect(m.options.raw).toEqual([{ code: 224, data: long }]);
    // plain arrays: slice() is a copy, as for any Uint8Array
    expect(m.file.constructor).toBe(Uint8Array);
    const c = m.file.slice(0, 4);
    c[0] = 0x55;
    expect(m.file[0]).toBe(file[0]);
  });

  it("an overload option inside 'file' is not interpreted (4.1: it MUST appear in 'options')", () => {
    const bytes = cat(
      hex(...REQUEST_HEADER.slice(0, 10)),
      hex('35 01 02 ff', zeros(60)), // sname: would say OFFER
      hex('34 01 02', 'ff', zeros(124)), // file: overload 2, ignored
      hex('63 82 53 63', '34 01 01', 'ff'),
    );
    expect(decodeDhcp4Message(bytes).options).toEqual({ raw: [] });
  });

  it('splits values over 255 octets into several instances (RFC 3396) and joins them back', () => {
    const routers = Array.from({ length: 70 }, (_, i) => `10.0.${i}.1`); // 280 octets
    const addrs = cat(...routers.map((r) => Uint8Array.from(r.split('.').map(Number))));
    const m = message({ options: { routers, raw: [] } });
    const bytes = encodeDhcp4Message(m);
    expect(bytes.subarray(240)).toEqual(cat(hex('03 ff'), addrs.subarray(0, 255), hex('03 19'), addrs.subarray(255), hex('ff')));
    expect(decodeDhcp4Message(bytes)).toEqual(m);
  });
});

describe('client identifier (RFC 2132 9.14, RFC 4361 6.1)', () => {
  it('type 255 + IAID + DUID', () => {
    const c = { kind: 'rfc4361' as const, iaid: 0x01020304, duid: DUID };
    const data = hex('ff', '01 02 03 04', '00 01 00 01 1c 9d 6a 2b 00 11 22 33 44 55');
    expect(encodeClientIdData(c)).toEqual(data);
    expect(decodeClientIdData(data)).toEqual(c);
  });

  it('hardware type + address (RFC 2132 9.14)', () => {
    const c = { kind: 'other' as const, type: 1, id: hex('00 11 22 33 44 55') };
    expect(encodeClientIdData(c)).toEqual(hex('01 00 11 22 33 44 55'));
    expect(decodeClientIdData(hex('01 00 11 22 33 44 55'))).toEqual(c);
  });

  it('refuses a type-255 identifier too short for IAID + DUID, and an empty one', () => {
    expectDecodeError(() => decodeClientIdData(hex('ff 00 00 00')), 'bad-option-length');
    expectDecodeError(() => decodeClientIdData(hex('ff 00 00 00 01 00 03')), 'bad-option-length');
    expectDecodeError(() => decodeClientIdData(new Uint8Array(0)), 'bad-option-length');
    expect(() => encodeClientIdData({ kind: 'other', type: 255, id: hex('01') })).toThrow(RangeError);
  });
});

describe('OPTION_V4_PORTPARAMS (RFC 7618 section 9; encoding of RFC 7598 section 4.5)', () => {
  it('offset 6, PSID-len 4, PSID 0x5 is 06 04 50 00: the PSID fills the LEFT k bits', () => {
    // RFC 7618 s9 / RFC 7598 s4.5: "The first k bits on the left of this 2-octet field
    // indicate the PSID value. The remaining (16 - k) bits on the right are padding zeros."
    // 0x5 in 4 bits = 0101 -> 0101 0000 0000 0000 = 0x5000.
    const p = { offset: 6, psidLen: 4, psid: 5 };
    expect(encodeV4PortParamsOption(p)).toEqual(hex('9f', '04', '06', '04', '50 00'));
    expect(decodeV4PortParamsOption(hex('9f 04 06 04 50 00'))).toEqual(p);
  });

  it('RFC 7597 Appendix A Example 5 (offset 6, PSID-len 8, PSID 0x34; port 1232 is in the set)', () => {
    const p = { offset: 6, psidLen: 8, psid: 0x34 };
    const wire = encodeV4PortParamsOption(p);
    expect(wire).toEqual(hex('9f 04 06 08 34 00'));
    // RFC 7597 5.1: port = a bits | k bits (PSID) | m bits. Shifting the port left by 'a'
    // lines the PSID up with the left edge of 16 bits: the wire field.
    const port = 1232;
    const field = (wire[4] << 8) | wire[5];
    expect(((port << p.offset) & 0xffff) & ~((1 << (16 - p.psidLen)) - 1) & 0xffff).toBe(field);
    expect((port >> (16 - p.offset - p.psidLen)) & 0xff).toBe(p.psid);
  });

  it('PSID-len 16 uses the whole field; PSID-len 0 means the PSID field is ignored', () => {
    expect(encodeV4PortParamsOption({ offset: 0, psidLen: 16, psid: 0xabcd })).toEqual(hex('9f 04 00 10 ab cd'));
    expect(decodeV4PortParamsOption(hex('9f 04 00 10 ab cd'))).toEqual({ offset: 0, psidLen: 16, psid: 0xabcd });
    expect(decodeV4PortParamsOption(hex('9f 04 06 00 12 34'))).toEqual({ offset: 6, psidLen: 0, psid: 0 });
    expect(encodeV4PortParamsOption({ offset: 6, psidLen: 0, psid: 0 })).toEqual(hex('9f 04 06 00 00 00'));
  });

  it('refuses a right-aligned PSID (non-zero padding), bad lengths and out-of-range fields', () => {
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 06 04 00 05')), 'bad-port-params');
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 10 04 50 00')), 'bad-port-params'); // offset 16
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 00 11 00 00')), 'bad-port-params'); // k 17
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 0f 02 00 00')), 'bad-port-params'); // a + k > 16
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 03 06 04 50')), 'bad-option-length');
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 06 04 50')), 'truncated');
    expectDecodeError(() => decodeV4PortParamsOption(hex('9f 04 06 04 50 00 ff')), 'trailing-bytes');
    expectDecodeError(() => decodeV4PortParamsOption(hex('9e 04 06 04 50 00')), 'bad-value');
    expect(() => encodeV4PortParamsOption({ offset: 6, psidLen: 4, psid: 16 })).toThrow(RangeError);
    expect(() => encodeV4PortParamsOption({ offset: 6, psidLen: 0, psid: 1 })).toThrow(RangeError);
    expect(() => encodeV4PortParamsOption({ offset: 16, psidLen: 0, psid: 0 })).toThrow(RangeError);
  });
});

describe('DHCPv4 decode errors', () => {
  const withOptions = (...o: string[]) => hex(...REQUEST_HEADER, ...o);

  it('shorter than header + cookie, or over 65535', () => {
    expectDecodeError(() => decodeDhcp4Message(new Uint8Array(239)), 'truncated');
    expectDecodeError(() => decodeDhcp4Message(new Uint8Array(0)), 'truncated');
    expectDecodeError(() => decodeDhcp4Message(new Uint8Array(65536)), 'oversized');
  });

  it('wrong magic cookie', () => {
    const b = withOptions('ff');
    b[236] = 0x64;
    expectDecodeError(() => decodeDhcp4Message(b), 'bad-magic-cookie');
  });

  it('an option running past the end of its area', () => {
    expectDecodeError(() => decodeDhcp4Message(withOptions('33 04 00 00')), 'truncated');
    expectDecodeError(() => decodeDhcp4Message(withOptions('33')), 'truncated');
    // In 'file', an option may not continue past the field (RFC 2131 4.1).
    const b = cat(hex(...REQUEST_HEADER.slice(0, 11)), hex(zeros(126), '33 04'), hex('63 82 53 63 34 01 01 ff'));
    expectDecodeError(() => decodeDhcp4Message(b), 'truncated');
  });

  it('lengths that contradict RFC 2132', () => {
    expectDecodeError(() => decodeDhcp4Message(withOptions('01 03 ff ff ff', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('03 06 01 02 03 04 05 06', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('06 00', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('35 02 01 01', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('37 00', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('39 01 05', 'ff')), 'bad-option-length');
    // Two instances of a 4-octet option concatenate to 8 octets (RFC 3396).
    expectDecodeError(() => decodeDhcp4Message(withOptions('33 04 00 00 00 01', '33 04 00 00 00 02', 'ff')), 'bad-option-length');
    expectDecodeError(() => decodeDhcp4Message(withOptions('9f 04 06 04 00 05', 'ff')), 'bad-port-params');
  });

  it('overload values other than 1, 2, 3', () => {
    expectDecodeError(() => decodeDhcp4Message(withOptions('34 01 04', 'ff')), 'bad-value');
    expectDecodeError(() => decodeDhcp4Message(withOptions('34 01 00', 'ff')), 'bad-value');
  });

  it('at most 256 options', () => {
    const many = (n: number) => withOptions(...Array.from({ length: n }, () => 'e0 00'), 'ff');
    expect(decodeDhcp4Message(many(256)).options.raw).toEqual([{ code: 224, data: new Uint8Array(0) }]);
    expectDecodeError(() => decodeDhcp4Message(many(257)), 'too-many-options');
  });

  it('the encoder refuses what the wire cannot carry', () => {
    expect(() => encodeDhcp4Message(message({ chaddr: new Uint8Array(17) }))).toThrow(RangeError);
    expect(() => encodeDhcp4Message(message({ ciaddr: '1.2.3' }))).toThrow(RangeError);
    expect(() => encodeDhcp4Message(message({ options: { routers: [], raw: [] } }))).toThrow(RangeError);
    expect(() => encodeDhcp4Message(message({ options: { raw: [{ code: 51, data: new Uint8Array(4) }] } }))).toThrow(RangeError);
    expect(() => encodeDhcp4Message(message({ options: { message: 'ünï€', raw: [] } }))).toThrow(RangeError);
    expect(() => encodeDhcp4Message(message({ xid: 2 ** 32 }))).toThrow(RangeError);
  });
});
