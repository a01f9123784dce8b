// JSON Schemas of every request and response (fastify validates requests with them and
// serializes responses through them; /openapi.json is built from them). Objects are
// closed (additionalProperties: false): an unknown field or query parameter is a 400
// naming it, not silently ignored.

export const errorSchema = {
  type: 'object',
  description: 'A refused request: the reason, in one line (several for a refused config).',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { type: 'string' } },
} as const;

export const ipv4Schema = { type: 'string', format: 'ipv4', description: 'An IPv4 address (dotted quad).' } as const;
export const psidSchema = { type: 'integer', minimum: 0, maximum: 65535, description: 'Port Set ID (0 for a full address).' } as const;
const count = { type: 'integer', minimum: 0 } as const;

export const keyParams = {
  type: 'object',
  required: ['ipv4', 'psid'],
  additionalProperties: false,
  properties: { ipv4: ipv4Schema, psid: psidSchema },
} as const;

const bindingFields = {
  psidLen: { type: 'integer', minimum: 0, maximum: 16, description: 'PSID length k (0: the whole address).' },
  psidOffset: { type: 'integer', minimum: 0, maximum: 15, description: "PSID offset 'a' (RFC 7597 5.1)." },
  ipv6: {
    type: 'string',
    minLength: 2,
    maxLength: 64,
    description: "map-t, map-e: the CE's end-user prefix (addr/len, at most /64); lw4o6: the B4's address (addr or addr/128).",
  },
} as const;

export const bindingSchema = {
  type: 'object',
  required: ['ipv4', 'psidLen', 'psidOffset', 'psid', 'ipv6', 'source'],
  additionalProperties: false,
  properties: {
    ipv4: ipv4Schema,
    psid: psidSchema,
    ...bindingFields,
    source: { type: 'string', enum: ['static', 'lease'], description: 'static: config or API; lease: the 4o6 server.' },
  },
} as const;

/** PUT /v1/bindings/{ipv4}/{psid}: the rest of the binding. */
export const bindingBodySchema = {
  type: 'object',
  required: ['ipv6'],
  additionalProperties: false,
  properties: {
    psidLen: { ...bindingFields.psidLen, default: 0 },
    psidOffset: { ...bindingFields.psidOffset, default: 6 },
    ipv6: bindingFields.ipv6,
  },
} as const;

/** POST /v1/bindings: a whole new binding. */
export const newBindingSchema = {
  type: 'object',
  required: ['ipv4', 'ipv6'],
  additionalProperties: false,
  properties: {
    ipv4: ipv4Schema,
    psid: { ...psidSchema, default: 0 },
    ...bindingBodySchema.properties,
  },
} as const;

export const pagingProperties = {
  offset: { type: 'integer', minimum: 0, default: 0, description: 'Items to skip.' },
  limit: { type: 'integer', minimum: 0, maximum: 1000, default: 100, description: 'Items to return (at most 1000).' },
} as const;

export const bindingQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ipv4: { type: 'string', maxLength: 18, description: 'An address, or a prefix a.b.c.d/len.' },
    psid: psidSchema,
    ipv6: { type: 'string', maxLength: 64, description: 'An address (bindings whose prefix holds it) or a prefix (bindings overlapping it).' },
    source: { type: 'string', enum: ['static', 'lease'] },
    ...pagingProperties,
  },
} as const;

export const pageOf = (item: object, description: string) =>
  ({
    type: 'object',
    description,
    required: ['items', 'total', 'offset', 'limit'],
    additionalProperties: false,
    properties: {
      items: { type: 'array', items: item },
      total: { ...count, description: 'Items matching the filter, over all pages.' },
      offset: count,
      limit: count,
    },
  }) as const;

export const leaseSchema = {
  type: 'object',
  required: ['ipv4', 'psid', 'psidLen', 'psidOffset', 'pool', 'clientId', 'ipv6', 'expiresAt', 'state'],
  additionalProperties: false,
  properties: {
    ipv4: ipv4Schema,
    psid: psidSchema,
    psidLen: bindingFields.psidLen,
    psidOffset: bindingFields.psidOffset,
    pool: { type: 'string' },
    clientId: { type: 'string', description: 'The client identifier, hex.' },
    ipv6: { type: 'string', description: "The client's 4o6 source address." },
    expiresAt: { type: 'string', format: 'date-time' },
    state: { type: 'string', description: 'offered, bound, declined, …' },
  },
} as const;

export const leaseQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ipv4: ipv4Schema,
    psid: psidSchema,
    clientId: { type: 'string', maxLength: 300, pattern: '^[0-9a-fA-F:]*$', description: 'Client identifier, hex.' },
    pool: { type: 'string', maxLength: 100 },
    ...pagingProperties,
  },
} as const;

export const statusSchema = {
  type: 'object',
  required: ['mode', 'startedAt', 'uptimeSeconds', 'configPath', 'configGeneration', 'lastReload', 'interfaces', 'bindMode', 'workers', 'workerRestarts', 'reloads'],
  additionalProperties: false,
  properties: {
    mode: { type: 'string', enum: ['map-t', 'map-e', 'lw4o6'] },
    startedAt: { type: 'string', format: 'date-time' },
    uptimeSeconds: count,
    configPath: { type: 'string' },
    configGeneration: { type: 'integer', minimum: 1, description: '1 at start, +1 per successful reload.' },
    lastReload: {
      type: ['object', 'null'],
      required: ['at', 'ok'],
      additionalProperties: false,
      properties: { at: { type: 'string', format: 'date-time' }, ok: { type: 'boolean' }, error: { type: 'string' } },
    },
    interfaces: {
      type: ['object', 'null'],
      required: ['ipv4', 'ipv6'],
      additionalProperties: false,
      properties: { ipv4: { type: 'string' }, ipv6: { type: 'string' } },
    },
    bindMode: { type: 'string', description: 'AF_XDP bind mode (copy, zerocopy) or in-process.' },
    workers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['worker', 'queue', 'alive', 'heartbeat'],
        additionalProperties: false,
        properties: { worker: count, queue: count, alive: { type: 'boolean' }, heartbeat: { type: 'number' } },
      },
    },
    workerRestarts: count,
    reloads: {
      type: 'object',
      required: ['ok', 'failed'],
      additionalProperties: false,
      properties: { ok: count, failed: count },
    },
  },
} as const;

const counterRecord = { type: 'object', additionalProperties: { type: 'number' } } as const;

export const countersSchema = {
  type: 'object',
  required: ['total', 'perWorker'],
  additionalProperties: false,
  properties: {
    total: { ...counterRecord, description: 'Every core counter summed over the workers (names from assembly/counters.ts).' },
    perWorker: { type: 'array', items: counterRecord },
  },
} as const;

export const countersQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { nonzero: { type: 'boolean', default: false, description: 'Only counters that moved (in any worker).' } },
} as const;

export const rulesSchema = {
  type: 'object',
  required: ['mode', 'rules'],
  additionalProperties: false,
  properties: {
    mode: { type: 'string' },
    dmr: { type: 'string' },
    br: { type: 'string' },
    rules: {
      type: 'array',
      description: 'The Basic / Forwarding Mapping Rules as configured (keys as in xbr.yaml), with the PSID length they give.',
      items: {
        type: 'object',
        required: ['ipv6-prefix', 'ipv4-prefix', 'ea-len', 'interface-id', 'fmr', 'psid-len'],
        additionalProperties: false,
        properties: {
          'ipv6-prefix': { type: 'string' },
          'ipv4-prefix': { type: 'string' },
          'ea-len': count,
          'psid-offset': count,
          'sharing-ratio': count,
          'contiguous-ports': count,
          'interface-id': { type: 'string' },
          fmr: { type: 'boolean' },
          'psid-len': { type: 'integer', description: 'k = ea-len - (32 - IPv4 prefix length); negative: the CE gets an IPv4 prefix.' },
        },
      },
    },
  },
} as const;

export const poolsSchema = {
  type: 'object',
  required: ['pools'],
  additionalProperties: false,
  properties: {
    pools: {
      type: 'array',
      items: {
        type: 'object',
        required: ['pool', 'leased', 'total'],
        additionalProperties: false,
        properties: { pool: { type: 'string' }, leased: count, total: { ...count, description: 'Leasable (address, PSID) pairs.' } },
      },
    },
  },
} as const;

export const reloadSchema = {
  type: 'object',
  required: ['ok', 'generation'],
  additionalProperties: false,
  properties: {
    ok: { type: 'boolean' },
    generation: { type: 'integer', description: 'The running config generation (unchanged when refused).' },
    error: { type: 'string', description: 'Why the config was refused: one issue a line (file:line:col: key: reason).' },
  },
} as const;

export const traceSchema = {
  type: 'object',
  required: ['subscribers'],
  additionalProperties: false,
  properties: {
    subscribers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['ipv4', 'psid', 'rxPackets', 'rxBytes', 'txPackets', 'txBytes'],
        additionalProperties: false,
        properties: {
          ipv4: ipv4Schema,
          psid: psidSchema,
          rxPackets: { ...count, description: 'From the subscriber.' },
          rxBytes: count,
          txPackets: { ...count, description: 'To the subscriber.' },
          txBytes: count,
        },
      },
    },
  },
} as const;

/** The error responses a route can give, for its response schema. */
export function errors(...codes: number[]): Record<number, typeof errorSchema> {
  return Object.fromEntries(codes.map((c) => [c, errorSchema]));
}
