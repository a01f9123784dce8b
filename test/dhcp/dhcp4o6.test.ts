import { describe, expect, it } from 'vitest';
import {
  DHCP4O6_FLAG_UNICAST,
  type Dhcp4o6Message,
  decodeDhcp4oDhcp6ServerData,
  decodeDhcp4o6Message,
  dhcp4o6FromDhcp6,
  dhcp4o6ToDhcp6,
  dhcp4oDhcp6ServerOption,
  encodeDhcp4o6Message,
  isUnicast,
} from '../../src/dhcp/codec/dhcp4o6.js';
import {
  type Dhcp6ClientServerMessage,
  buildRelayReply,
  decodeDhcp6Message,
  encodeDhcp6Message,
  findRawOptions,
  unwrapRelays,
} from '../../src/dhcp/codec/dhcpv6.js';
import { Dhcp4MessageType, decodeDhcp4Message, emptyDhcp4Message, encodeDhcp4Message } from '../../src/dhcp/codec/dhcpv4.js';
import { cat, expectDecodeError, hex } from './helpers.js';

const u16 = (n: number) => Uint8Array.of(n >> 8, n & 0xff);

// Stand-in payload: at this layer OPTION_DHCPV4_MSG is opaque (RFC 7341 7.1).
const V4 = hex('01 01 06 00 de ad be ef');

describe('DHCPv4-query / DHCPv4-response (RFC 7341 section 6)', () => {
  it('the Unicast flag is the most significant of the 24 flag bits (section 6.3, Figure 3)', () => {
    expect(DHCP4O6_FLAG_UNICAST).toBe(0x800000);
  });

  it('encodes and decodes a DHCPv4-query with U set (Figures 2, 3, 4)', () => {
    const bytes = hex(
      '14', //          msg-type DHCPV4-QUERY (20)
      '80 00 00', //    flags: U = 1 (bit 0), MBZ = 0
      '00 57 00 08', // OPTION_DHCPV4_MSG (87), option-len 8
      '01 01 06 00 de ad be ef', // DHCPv4-message
    );
    const m: Dhcp4o6Message = { msgType: 20, flags: DHCP4O6_FLAG_UNICAST, dhcpv4Message: V4, options: [] };
    expect(encodeDhcp4o6Message(m)).toEqual(bytes);
    const d = decodeDhcp4o6Message(bytes);
    expect(d).toEqual(m);
    expect(isUnicast(d)).toBe(true);
  });

  it('U clear, and MBZ bits ignored on receipt (section 6.3)', () => {
    const d = decodeDhcp4o6Message(hex('14', '7f ff ff', '00 57 00 08', '01 01 06 00 de ad be ef'));
    expect(d.flags).toBe(0x7fffff);
    expect(isUnicast(d)).toBe(false);
  });

  it('encodes and decodes a DHCPv4-response: flags all zero (section 6.4), other options kept', () => {
    const bytes = hex(
      '15', //          DHCPV4-RESPONSE (21)
      '00 00 00', //    flags: none defined, all 0
      '00 57 00 08 01 01 06 00 de ad be ef',
      'fe dc 00 01 07', // some other option (kept raw, after OPTION_DHCPV4_MSG)
    );
    const m: Dhcp4o6Message = { msgType: 21, flags: 0, dhcpv4Message: V4, options: [{ kind: 'raw', code: 0xfedc, data: hex('07') }] };
    expect(encodeDhcp4o6Message(m)).toEqual(bytes);
    expect(decodeDhcp4o6Message(bytes)).toEqual(m);
    // A response never reports unicast, whatever its flags hold.
    expect(isUnicast({ ...m, flags: 0x800000 })).toBe(false);
  });

  it('refuses a message without OPTION_DHCPV4_MSG (6.2: MUST be carried), with two, or of another type', () => {
    expectDecodeError(() => decodeDhcp4o6Message(hex('14 00 00 00')), 'missing-option');
    const opt = hex('00 57 00 01 00');
    expectDecodeError(() => decodeDhcp4o6Message(cat(hex('14 00 00 00'), opt, opt)), 'duplicate-option');
    expectDecodeError(() => decodeDhcp4o6Message(cat(hex('01 00 00 00'), opt)), 'bad-message-type');
    expectDecodeError(() => decodeDhcp4o6Message(hex('14 00 00')), 'truncated');
    expectDecodeError(() => decodeDhcp4o6Message(cat(hex('0c 00'), new Uint8Array(32), hex('00 09 00 08 14 00 00 00 00 57 00 00'))), 'bad-message-type');
  });

  it('an empty DHCPv4 message is carried as is (option-len 0)', () => {
    const d = decodeDhcp4o6Message(hex('14 00 00 00 00 57 00 00'));
    expect(d.dhcpv4Message).toEqual(new Uint8Array(0));
  });

  it('refuses to encode flags wider than 24 bits, or a second DHCPv4 message in options', () => {
    expect(() => encodeDhcp4o6Message({ msgType: 20, flags: 0x1000000, dhcpv4Message: V4, options: [] })).toThrow(RangeError);
    expect(() =>
      encodeDhcp4o6Message({ msgType: 20, flags: 0, dhcpv4Message: V4, options: [{ kind: 'raw', code: 87, data: V4 }] }),
    ).toThrow(RangeError);
  });
});

describe('OPTION_DHCP4_O_DHCP6_SERVER (RFC 7341 section 7.2, Figure 5)', () => {
  it('two addresses in a DHCPv6 Reply', () => {
    const reply: Dhcp6ClientServerMessage = {
      kind: 'client-server',
      msgType: 7,
      transactionId: 1,
      options: [dhcp4oDhcp6ServerOption(['2001:db8::547', 'ff02::1:2'])],
    };
    const bytes = hex(
      '07 00 00 01',
      '00 58 00 20', //                                   OPTION_DHCP4_O_DHCP6_SERVER (88), len 32
      '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 05 47', //  2001:db8::547
      'ff 02 00 00 00 00 00 00 00 00 00 00 00 01 00 02', //  ff02::1:2 (All_DHCP_Relay_Agents_and_Servers)
    );
    expect(encodeDhcp6Message(reply)).toEqual(bytes);
    const [opt] = findRawOptions((decodeDhcp6Message(bytes) as Dhcp6ClientServerMessage).options, 88);
    expect(decodeDhcp4oDhcp6ServerData(opt.data)).toEqual(['2001:db8::547', 'ff02::1:2']);
  });

  it('no address: option-len 0 ("Minimal length of this option is 0")', () => {
    expect(dhcp4oDhcp6ServerOption([])).toEqual({ kind: 'raw', code: 88, data: new Uint8Array(0) });
    expect(decodeDhcp4oDhcp6ServerData(new Uint8Array(0))).toEqual([]);
  });

  it('refuses a length that is not a multiple of 16', () => {
    expectDecodeError(() => decodeDhcp4oDhcp6ServerData(new Uint8Array(17)), 'bad-option-length');
    expect(() => dhcp4oDhcp6ServerOption(['192.0.2.1'])).toThrow(RangeError);
  });
});

describe('relayed DHCPv4-query, and the answer back through the relay', () => {
  it('unwraps a Relay-forward carrying a DHCPv4-query with a real DHCPDISCOVER, and wraps the response', () => {
    const discover = emptyDhcp4Message(1);
    discover.xid = 0x3903f326;
    discover.chaddr = hex('00 11 22 33 44 55', '00'.repeat(10)); // 16 octets, as decoded
    discover.options.messageType = Dhcp4MessageType.DISCOVER;
    discover.options.parameterRequestList = [1, 3, 6, 159];
    const v4 = encodeDhcp4Message(discover);

    const fwBytes = cat(
      hex(
        '0c 00', //                                          RELAY-FORW, hop-count 0
        '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 01', // link-address
        'fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 02', // peer-address
        '00 09', //                                          OPTION_RELAY_MSG
      ),
      u16(v4.length + 8),
      hex('14 00 00 00', '00 57'), //                         DHCPV4-QUERY, U=0 (DISCOVER is broadcast, section 8)
      u16(v4.length),
      v4,
    );
    const { relays, inner } = unwrapRelays(decodeDhcp6Message(fwBytes));
    const q = dhcp4o6FromDhcp6(inner);
    expect(q.msgType).toBe(20);
    expect(isUnicast(q)).toBe(false);
    expect(decodeDhcp4Message(q.dhcpv4Message)).toEqual(discover);

    const resp: Dhcp4o6Message = { msgType: 21, flags: 0, dhcpv4Message: hex('02'), options: [] };
    const out = encodeDhcp6Message(buildRelayReply(relays, dhcp4o6ToDhcp6(resp)));
    expect(out).toEqual(
      hex(
        '0d 00',
        '20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 01',
        'fe 80 00 00 00 00 00 00 00 00 00 00 00 00 00 02',
        '00 09 00 09', //     Relay Message, len 9
        '15 00 00 00', //       DHCPV4-RESPONSE, flags 0
        '00 57 00 01 02', //    OPTION_DHCPV4_MSG
      ),
    );
  });
});
