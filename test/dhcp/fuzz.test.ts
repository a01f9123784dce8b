/**
 * Robustness: every decoder, given random octets or mutated valid messages, returns a
 * value or throws DhcpDecodeError with a known reason, never anything else. When it
 * returns a value, that value encodes without error and decodes back to itself.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DHCP_DECODE_REASONS, DhcpDecodeError } from '../../src/dhcp/codec/errors.js';
import {
  type Dhcp6Message,
  buildRelayReply,
  decodeDhcp6Message,
  decodeDhcp6Options,
  duidEn,
  duidFromBytes,
  duidLl,
  duidLlt,
  duidToBytes,
  duidUuid,
  encodeDhcp6Message,
  encodeDhcp6Options,
  unwrapRelays,
} from '../../src/dhcp/codec/dhcpv6.js';
import {
  decodeDhcp4oDhcp6ServerData,
  decodeDhcp4o6Message,
  dhcp4o6ToDhcp6,
  dhcp4oDhcp6ServerOption,
  encodeDhcp4o6Message,
} from '../../src/dhcp/codec/dhcp4o6.js';
import {
  type Dhcp4Message,
  decodeClientIdData,
  decodeDhcp4Message,
  decodeV4PortParamsOption,
  emptyDhcp4Message,
  encodeClientIdData,
  encodeDhcp4Message,
  encodeV4PortParamsOption,
} from '../../src/dhcp/codec/dhcpv4.js';
import {
  type S46Option,
  decodeS46Option,
  decodeS46Options,
  encodeS46Option,
  s46ToDhcp6Option,
} from '../../src/dhcp/codec/s46.js';
import { decodePortParamsBody, encodePortParamsBody } from '../../src/dhcp/codec/portparams.js';
import { cat, hex } from './helpers.js';

/** Raise with XBR_FUZZ_RUNS=20000 for a longer soak. */
const RUNS = Number(process.env.XBR_FUZZ_RUNS ?? 400);
const REASONS: readonly string[] = DHCP_DECODE_REASONS;

// ---------------------------------------------------------------------------------
// Seeds: valid encodings of every message and option kind.

const MAC = hex('00 11 22 33 44 55');
const DUIDS = [duidLlt(1, 0x1c9d6a2b, MAC), duidLl(1, MAC), duidEn(9, hex('0cc084d303000912')), duidUuid(new Uint8Array(16).fill(7))];

const discover: Dhcp4Message = {
  ...emptyDhcp4Message(1),
  xid: 0x3903f326,
  flags: 0x8000,
  chaddr: cat(MAC, new Uint8Array(10)),
  options: {
    messageType: 1,
    parameterRequestList: [1, 3, 6, 51, 159],
    clientId: { kind: 'rfc4361', iaid: 1, duid: DUIDS[0] },
    portParams: { offset: 0, psidLen: 6, psid: 0 },
    raw: [{ code: 60, data: hex('78 62 72') }],
  },
};
const ack: Dhcp4Message = {
  ...discover,
  op: 2,
  yiaddr: '198.51.100.7',
  options: {
    messageType: 5,
    subnetMask: '255.255.255.0',
    routers: ['198.51.100.1'],
    dnsServers: ['192.0.2.53', '198.51.100.53'],
    requestedAddress: '198.51.100.7',
    leaseTime: 3600,
    serverId: '192.0.2.1',
    message: 'ok',
    maxMessageSize: 1500,
    renewalTime: 1800,
    rebindingTime: 3150,
    clientId: { kind: 'other', type: 1, id: MAC },
    portParams: { offset: 6, psidLen: 4, psid: 5 },
    raw: [],
  },
};
const overloaded = hex(
  '02 01 06 00 39 03 f3 26 00 00 00 00',
  '00'.repeat(16),
  '00 11 22 33 44 55',
  '00'.repeat(10),
  '3d 07 01 00 11 22 33 44 55 e0 01 cc ff',
  '00'.repeat(51),
  '37 01 06 33 04 00 00 0e 10 e0 01 bb ff',
  '00'.repeat(115),
  '63 82 53 63 35 01 05 34 01 03 37 02 01 03 e0 01 aa ff',
);
const DHCP4_SEEDS = [encodeDhcp4Message(discover), encodeDhcp4Message(ack), overloaded];

const S46_SEEDS_V: S46Option[] = [
  {
    kind: 'cont-mapt',
    options: [
      {
        kind: 'rule',
        fmr: true,
        eaLen: 16,
        prefix4Len: 24,
        ipv4Prefix: '192.0.2.0',
        prefix6Len: 40,
        ipv6Prefix: '2001:db8::',
        options: [{ kind: 'portparams', offset: 6, psidLen: 8, psid: 0x34 }],
      },
      { kind: 'dmr', prefix6Len: 64, prefix: '64:ff9b::' },
    ],
  },
  { kind: 'cont-mape', options: [{ kind: 'br', address: '2001:db8:ffff::1' }, { kind: 'raw', code: 999, data: hex('01') }] },
  {
    kind: 'cont-lw',
    options: [
      {
        kind: 'v4v6bind',
        ipv4Address: '198.51.100.7',
        prefix6Len: 128,
        ipv6Prefix: '2001:db8:77::1',
        options: [{ kind: 'portparams', offset: 6, psidLen: 6, psid: 12 }],
      },
      { kind: 'br', address: '2001:db8:ffff::1' },
    ],
  },
  { kind: 'dmr', prefix6Len: 35, prefix: '2001:db8:e000::' },
];
const S46_SEEDS = S46_SEEDS_V.map(encodeS46Option);

const query = encodeDhcp4o6Message({ msgType: 20, flags: 0x800000, dhcpv4Message: DHCP4_SEEDS[0], options: [] });
const relayed: Dhcp6Message = {
  kind: 'relay',
  msgType: 12,
  hopCount: 1,
  linkAddress: '::',
  peerAddress: '2001:db8:a::1',
  options: [
    {
      kind: 'relay-msg',
      message: {
        kind: 'relay',
        msgType: 12,
        hopCount: 0,
        linkAddress: '2001:db8:c::1',
        peerAddress: 'fe80::c',
        options: [
          { kind: 'interface-id', id: hex('65 74 68 30') },
          { kind: 'relay-msg', message: decodeDhcp6Message(query) },
        ],
      },
    },
  ],
};
const reply: Dhcp6Message = {
  kind: 'client-server',
  msgType: 7,
  transactionId: 0xabcdef,
  options: [
    { kind: 'server-id', duid: DUIDS[2] },
    { kind: 'client-id', duid: DUIDS[0] },
    { kind: 'oro', codes: [88, 95] },
    { kind: 'status-code', status: 0, message: 'Success' },
    dhcp4oDhcp6ServerOption(['2001:db8::547']),
    ...S46_SEEDS_V.slice(0, 2).map(s46ToDhcp6Option),
  ],
};
const DHCP6_SEEDS = [
  query,
  encodeDhcp6Message(relayed),
  encodeDhcp6Message(reply),
  encodeDhcp6Message(buildRelayReply(unwrapRelays(relayed).relays, dhcp4o6ToDhcp6({ msgType: 21, flags: 0, dhcpv4Message: DHCP4_SEEDS[1], options: [] }))),
];

// ---------------------------------------------------------------------------------
// Inputs: random octets, or a seed with a few mutations.

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; v: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; n: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), v: fc.constantFrom(0, 1, 2, 4, 8, 9, 12, 13, 16, 0x20, 0x7f, 0x80, 0xfe, 0xff) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(seed: Uint8Array, muts: Mutation[]): Uint8Array {
  let b: Uint8Array = seed.slice();
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.op === 'insert' ? 1 : 0));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[at] ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length > 0) b[at] = m.v;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert':
        b = cat(b.subarray(0, at), m.bytes, b.subarray(at));
        break;
      case 'delete':
        b = cat(b.subarray(0, at), b.subarray(at + m.n));
        break;
    }
  }
  return b;
}

function inputs(seeds: Uint8Array[], maxRandom = 300): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: maxRandom }), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom(...seeds), fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
        .map(([s, m]) => mutate(s, m)),
      weight: 3,
    },
  );
}

/** The property: a value that re-encodes to itself, or a DhcpDecodeError with a known reason. */
function robust<T>(decode: (b: Uint8Array) => T, encode?: (v: T) => Uint8Array) {
  return (b: Uint8Array): void => {
    let v: T;
    try {
      v = decode(b);
    } catch (e) {
      if (e instanceof DhcpDecodeError && REASONS.includes(e.reason)) return;
      throw e;
    }
    if (encode !== undefined) expect(decode(encode(v))).toEqual(v);
  };
}

function fuzz<T>(seeds: Uint8Array[], decode: (b: Uint8Array) => T, encode?: (v: T) => Uint8Array, maxRandom?: number): void {
  // Seeds themselves must decode: otherwise the mutations test little.
  for (const s of seeds) expect(() => decode(s)).not.toThrow();
  fc.assert(fc.property(inputs(seeds, maxRandom), robust(decode, encode)), { numRuns: RUNS });
}

describe('decoders never throw anything but DhcpDecodeError, and what they return re-encodes', () => {
  it('decodeDhcp6Message', () => fuzz(DHCP6_SEEDS, decodeDhcp6Message, encodeDhcp6Message));

  it('decodeDhcp6Options', () =>
    fuzz(
      DHCP6_SEEDS.map((s) => s.subarray(s[0] === 12 || s[0] === 13 ? 34 : 4)),
      decodeDhcp6Options,
      encodeDhcp6Options,
    ));

  it('decodeDhcp4o6Message', () => fuzz([query, encodeDhcp4o6Message({ msgType: 21, flags: 0, dhcpv4Message: DHCP4_SEEDS[1], options: [{ kind: 'status-code', status: 1, message: 'x' }] })], decodeDhcp4o6Message, encodeDhcp4o6Message));

  it('decodeDhcp4Message', () => fuzz(DHCP4_SEEDS, decodeDhcp4Message, encodeDhcp4Message, 600));

  it('decodeDhcp4Message, random options area behind a valid header', () => {
    const header = DHCP4_SEEDS[0].subarray(0, 240);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(0, 1, 3, 6, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 61, 159, 255), fc.integer({ min: 0, max: 255 })), { maxLength: 200 }),
        (opts) => robust(decodeDhcp4Message, encodeDhcp4Message)(cat(header, Uint8Array.from(opts))),
      ),
      { numRuns: RUNS },
    );
  });

  it('decodeS46Option / decodeS46Options', () => {
    fuzz(S46_SEEDS, decodeS46Option, encodeS46Option);
    fuzz([cat(...S46_SEEDS)], decodeS46Options, (l) => cat(...l.map(encodeS46Option)));
  });

  it('port parameters (option 159 and the shared body)', () => {
    fuzz([encodeV4PortParamsOption({ offset: 6, psidLen: 4, psid: 5 })], decodeV4PortParamsOption, encodeV4PortParamsOption, 8);
    fuzz([hex('06 08 34 00'), hex('00 10 ab cd')], decodePortParamsBody, encodePortParamsBody, 6);
  });

  it('DUIDs, client identifiers, 4o6 server addresses', () => {
    fuzz(DUIDS.map(duidToBytes), duidFromBytes, duidToBytes, 140);
    fuzz(
      [encodeClientIdData({ kind: 'rfc4361', iaid: 7, duid: DUIDS[1] }), hex('01 00 11 22 33 44 55')],
      decodeClientIdData,
      encodeClientIdData,
      40,
    );
    fuzz([dhcp4oDhcp6ServerOption(['2001:db8::1', 'ff02::1:2']).data], decodeDhcp4oDhcp6ServerData, (a) => dhcp4oDhcp6ServerOption(a).data, 64);
  });
});
