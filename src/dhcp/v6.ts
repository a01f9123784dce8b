// Plain DHCPv6 as far as a DHCP 4o6 client needs it (RFC 7341 section 9: "The client
// MUST obtain necessary IPv6 configuration from a DHCPv6 server before using DHCPv4
// over DHCPv6" and learns the 4o6 servers from OPTION_DHCP4_O_DHCP6_SERVER).
//
// xbr assigns no IPv6 addresses: every IA_NA / IA_TA / IA_PD is answered with status
// NoAddrsAvail / NoPrefixAvail inside the IA (RFC 8415 sections 18.3.1, 21.4, 21.21),
// and every reply carries option 88 and, when the client's ORO asks for it, the
// Softwire46 container of the configured mode (RFC 7598 section 5, Table 1), built
// from the same xbr.yaml the BR runs.
//
// Validation per RFC 8415 section 16: Solicit needs a Client Identifier and no Server
// Identifier; Request, Renew, Release and Decline need both, the Server Identifier
// ours; Rebind needs a Client Identifier and no Server Identifier; an
// Information-request may carry a Server Identifier only if it is ours.
import type { XbrConfig } from '../config/schema.js';
import { mapRuleFromConfig } from '../config/rules.js';
import { psidLength } from '../map/rule.js';
import { parseIPv6Prefix } from '../map/ip.js';
import {
  ByteReader,
  ByteWriter,
  Dhcp6MessageType as M,
  Dhcp6OptionCode,
  Dhcp6StatusCode,
  S46OptionCode,
  checkS46Container,
  dhcp4oDhcp6ServerOption,
  duidEquals,
  findOption,
  rawOption,
  s46ToDhcp6Option,
  type Dhcp6ClientServerMessage,
  type Dhcp6Option,
  type Duid,
  type S46Container,
  type S46Option,
} from './codec/index.js';
import type { Counters } from './counters.js';

/** RFC 8415 section 21.4 (IA_NA), 21.5 (IA_TA), 21.21 (IA_PD), 21.14 (Rapid Commit). */
const OPTION_IA_NA = 3;
const OPTION_IA_TA = 4;
const OPTION_IA_PD = 25;
const OPTION_RAPID_COMMIT = 14;

export interface V6Options {
  config: XbrConfig;
  serverDuid: Duid;
  counters: Counters;
}

/** The Softwire46 container for the mode (RFC 7598 sections 5.1-5.3), or null when the config cannot make a valid one. */
export function s46Container(config: XbrConfig, clientAddress?: Uint8Array): S46Container | null {
  const rules: S46Option[] = config.rules.map((r) => {
    const rule = mapRuleFromConfig(r, config.mode);
    const [v4, len4] = r['ipv4-prefix'].split('/');
    const [v6, len6] = r['ipv6-prefix'].split('/');
    return {
      kind: 'rule',
      fmr: r.fmr,
      eaLen: r['ea-len'],
      prefix4Len: Number(len4),
      ipv4Prefix: v4,
      prefix6Len: Number(len6),
      ipv6Prefix: v6,
      // RFC 7598 4.5: the rule's PSID offset ('a'); PSID-len 0 = the PSID comes from the EA bits.
      options: psidLength(rule) > 0 ? [{ kind: 'portparams', offset: rule.psidOffset, psidLen: 0, psid: 0 }] : [],
    };
  });
  let c: S46Container;
  if (config.mode === 'map-t') {
    if (config.dmr === undefined) return null;
    const dmr = parseIPv6Prefix(config.dmr);
    c = { kind: 'cont-mapt', options: [...rules, { kind: 'dmr', prefix6Len: dmr.len, prefix: config.dmr.split('/')[0] }] };
  } else if (config.mode === 'map-e') {
    c = { kind: 'cont-mape', options: [...rules, { kind: 'br', address: config.br! }] };
  } else {
    c = { kind: 'cont-lw', options: [{ kind: 'br', address: config.br! }] };
    // A static lw4o6 binding for exactly this B4 address: S46_V4V6BIND + S46_PORTPARAMS (RFC 7598 4.4).
    if (clientAddress !== undefined) {
      const hex = Buffer.from(clientAddress).toString('hex');
      const b = config.bindings.find((x) => {
        const p = parseIPv6Prefix(x.ipv6, true);
        return Buffer.from(p.addr).toString('hex') === hex;
      });
      if (b !== undefined) {
        c.options.push({
          kind: 'v4v6bind',
          ipv4Address: b.ipv4,
          prefix6Len: 128,
          ipv6Prefix: b.ipv6.split('/')[0],
          options: [{ kind: 'portparams', offset: b['psid-offset'], psidLen: b['psid-len'], psid: b.psid }],
        });
      }
    }
  }
  return checkS46Container(c).length === 0 ? c : null;
}

const CONTAINER_CODE = { 'map-e': S46OptionCode.CONT_MAPE, 'map-t': S46OptionCode.CONT_MAPT, lw4o6: S46OptionCode.CONT_LW } as const;

/** An IA echoed with a status and no addresses (RFC 8415 21.4 / 21.21: IAID, T1, T2 then options; 21.5: IAID then options). */
function emptyIa(o: Dhcp6Option): Dhcp6Option | null {
  if (o.kind !== 'raw' || (o.code !== OPTION_IA_NA && o.code !== OPTION_IA_TA && o.code !== OPTION_IA_PD)) return null;
  if (o.data.length < (o.code === OPTION_IA_TA ? 4 : 12)) return null;
  const iaid = new ByteReader(o.data).u32();
  const w = new ByteWriter().u32(iaid);
  if (o.code !== OPTION_IA_TA) w.u32(0).u32(0);
  const status = o.code === OPTION_IA_PD ? Dhcp6StatusCode.NoPrefixAvail : Dhcp6StatusCode.NoAddrsAvail;
  const msg = new TextEncoder().encode(o.code === OPTION_IA_PD ? 'no prefixes: DHCP 4o6 only' : 'no addresses: DHCP 4o6 only');
  w.u16(Dhcp6OptionCode.STATUS_CODE).u16(2 + msg.length).u16(status).bytes(msg);
  return rawOption(o.code, w.finish());
}

export class Dhcp6Service {
  constructor(private readonly o: V6Options) {}

  private drop(reason: string): null {
    this.o.counters.inc(`drop-${reason}`);
    return null;
  }

  /** The reply to a client/server DHCPv6 message, or null (a counter says why). */
  handle(req: Dhcp6ClientServerMessage, clientAddress?: Uint8Array): Dhcp6ClientServerMessage | null {
    const clientId = findOption(req.options, 'client-id');
    const serverId = findOption(req.options, 'server-id');
    const ours = serverId !== undefined && duidEquals(serverId.duid, this.o.serverDuid);
    let replyType: number = M.REPLY;
    switch (req.msgType) {
      case M.SOLICIT:
        if (clientId === undefined) return this.drop('v6-solicit-without-client-id');
        if (serverId !== undefined) return this.drop('v6-solicit-with-server-id');
        // RFC 8415 18.3.1: with Rapid Commit the server answers a Solicit with a Reply.
        replyType = req.options.some((x) => x.kind === 'raw' && x.code === OPTION_RAPID_COMMIT) ? M.REPLY : M.ADVERTISE;
        break;
      case M.REQUEST:
      case M.RENEW:
      case M.RELEASE:
      case M.DECLINE:
        if (clientId === undefined) return this.drop('v6-without-client-id');
        if (!ours) return this.drop('v6-not-our-server-id');
        break;
      case M.REBIND:
        if (clientId === undefined) return this.drop('v6-without-client-id');
        if (serverId !== undefined) return this.drop('v6-rebind-with-server-id');
        break;
      case M.INFORMATION_REQUEST:
        if (serverId !== undefined && !ours) return this.drop('v6-not-our-server-id');
        break;
      default:
        return this.drop(`v6-unsupported-type-${req.msgType}`);
    }
    this.o.counters.inc(`v6-rx-${req.msgType}`);
    const options: Dhcp6Option[] = [{ kind: 'server-id', duid: this.o.serverDuid }];
    if (clientId !== undefined) options.push(clientId);
    if (req.msgType === M.RELEASE || req.msgType === M.DECLINE) {
      // RFC 8415 18.3.7 / 18.3.8: a Reply with a Status Code of Success; nothing was leased.
      options.push({ kind: 'status-code', status: Dhcp6StatusCode.Success, message: 'nothing to release' });
      return { kind: 'client-server', msgType: M.REPLY, transactionId: req.transactionId, options };
    }
    if (replyType === M.REPLY && req.msgType === M.SOLICIT) options.push(rawOption(OPTION_RAPID_COMMIT, new Uint8Array(0)));
    if (req.msgType !== M.INFORMATION_REQUEST) {
      for (const o of req.options) {
        const ia = emptyIa(o);
        if (ia !== null) options.push(ia);
      }
    }
    // RFC 7341 section 7.2: the presence of option 88 is what enables DHCP 4o6 on the client.
    options.push(dhcp4oDhcp6ServerOption(this.o.config.dhcp4o6?.['server-addresses'] ?? []));
    const oro = findOption(req.options, 'oro');
    const code = CONTAINER_CODE[this.o.config.mode];
    if (oro?.codes.includes(code)) {
      const c = s46Container(this.o.config, clientAddress);
      if (c !== null) options.push(s46ToDhcp6Option(c));
      else this.o.counters.inc('v6-s46-container-unavailable');
    }
    return { kind: 'client-server', msgType: replyType, transactionId: req.transactionId, options };
  }
}
