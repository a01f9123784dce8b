// The HTTP API of a running box (fastify): JSON in and out, every request and response
// under a JSON Schema, errors as {"error": "<reason>"} with a proper status, bearer-token
// auth (auth.ts), /metrics for Prometheus and /openapi.json describing it all.
//
//   GET    /v1/status                      mode, uptime, workers, interfaces, generation
//   GET    /v1/rules                       mapping rules in force
//   GET    /v1/counters[?nonzero=true]     core counters, total and per worker
//   GET    /v1/pools                       4o6 pool use
//   GET    /v1/bindings?ipv4&psid&ipv6&source&offset&limit
//   GET    /v1/bindings/{ipv4}/{psid}
//   POST   /v1/bindings                    add a static binding
//   PUT    /v1/bindings/{ipv4}/{psid}      add or replace a static binding
//   DELETE /v1/bindings/{ipv4}/{psid}      remove a static binding
//   GET    /v1/leases?ipv4&psid&clientId&pool&offset&limit
//   DELETE /v1/leases/{ipv4}/{psid}        release a lease
//   POST   /v1/reload                      reload the config file
//   GET    /v1/trace                       per-subscriber counters
//   PUT    /v1/trace/{ipv4}/{psid}         start tracing a binding
//   DELETE /v1/trace/{ipv4}/{psid}         stop tracing it
//   GET    /metrics                        Prometheus text format
//   GET    /openapi.json                   this API, described
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { BoxError, type BoxSource } from '../box/types.js';
import { createMetrics, type XbrMetrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../log.js';
import { authorize, isLoopbackHost, parseListen } from './auth.js';
import { OpenApiBuilder } from './openapi.js';
import { bindingRoutes } from './routes/bindings.js';
import { leaseRoutes } from './routes/leases.js';
import { metricsRoutes } from './routes/metrics.js';
import { reloadRoutes } from './routes/reload.js';
import { statusRoutes } from './routes/status.js';
import { traceRoutes } from './routes/trace.js';

export interface ApiServerOptions {
  /** "127.0.0.1:8080" or "[::1]:8080" (api.listen); port 0 picks a free one. */
  listen: string;
  /**
   * The bearer token (the content of api.token-file), or a function returning the
   * current one (so a reload can rotate it). Undefined: no changes possible, and a
   * non-loopback listen is refused.
   */
  token?: string | (() => string | undefined);
  logger?: Logger;
  /** Metrics over the same box; created when not given. */
  metrics?: XbrMetrics;
  version?: string;
}

export interface ApiAddress {
  host: string;
  port: number;
  /** http://host:port, for clients. */
  url: string;
}

export interface ApiServer {
  /** The fastify instance (inject() in tests). */
  readonly app: FastifyInstance;
  /** Listens on loopback only. */
  readonly loopback: boolean;
  readonly metrics: XbrMetrics;
  listen(): Promise<ApiAddress>;
  close(): Promise<void>;
}

export class ApiConfigError extends Error {}

const STATUS_OF_KIND: Record<BoxError['kind'], number> = { invalid: 400, 'not-found': 404, conflict: 409, unsupported: 501 };

/** The reason of a schema error: where, and what is wrong ("body/psidLen must be <= 16"). */
function validationReason(err: FastifyError): string {
  const v = err.validation?.[0];
  if (!v) return err.message;
  const where = `${err.validationContext ?? 'request'}${v.instancePath ?? ''}`;
  const params = v.params as Record<string, unknown>;
  if (v.keyword === 'additionalProperties') return `${where}: unknown field "${String(params.additionalProperty)}"`;
  if (v.keyword === 'required') return `${where}: "${String(params.missingProperty)}" is required`;
  if (v.keyword === 'enum') return `${where} ${v.message}: ${(params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
  return `${where} ${v.message ?? 'is invalid'}`;
}

export function createApiServer(box: BoxSource, opts: ApiServerOptions): ApiServer {
  const { host, port } = parseListen(opts.listen);
  const loopback = isLoopbackHost(host);
  const tokenOf = typeof opts.token === 'function' ? opts.token : () => opts.token as string | undefined;
  if (!loopback && tokenOf() === undefined) {
    throw new ApiConfigError(`the API may listen on ${opts.listen} (not loopback) only with api.token-file: every call there needs the token`);
  }
  const log = opts.logger ?? silentLogger();
  const version = opts.version ?? 'unknown';
  const metrics = opts.metrics ?? createMetrics(box, { version });
  const app = Fastify({
    loggerInstance: log.child({ component: 'api' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });
  const openapi = new OpenApiBuilder();
  app.addHook('onRoute', (r) => openapi.add(r));

  // An empty JSON body (POST /v1/reload from a client that sets the header) is no body;
  // anything else goes to fastify's own parser (which refuses prototype poisoning).
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (String(body).trim() === '') return done(null, undefined);
    json(req, body as string, done);
  });

  // auth first: before the body is read, so a refused request changes nothing
  app.addHook('onRequest', async (req, reply) => {
    const d = authorize({ method: req.method, loopback, token: tokenOf(), authorization: req.headers.authorization });
    if (d.ok) return;
    if (d.status === 401) reply.header('www-authenticate', 'Bearer realm="xbr"');
    req.log.warn({ method: req.method, url: req.url, status: d.status, remote: req.ip }, `API ${d.status}: ${d.error}`);
    return reply.code(d.status).send({ error: d.error });
  });

  // changes at info, reads (and scrapes) at debug: never a line per packet
  app.addHook('onResponse', async (req, reply) => {
    const line = { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (req.method === 'GET' || req.method === 'HEAD') req.log.debug(line, 'API read');
    else if (reply.statusCode !== 401 && reply.statusCode !== 403) req.log.info(line, `API ${req.method} ${req.url} -> ${reply.statusCode}`);
    // (a refused one was logged as a warning by the auth hook)
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) return reply.code(400).send({ error: validationReason(err) });
    if (err instanceof BoxError) return reply.code(STATUS_OF_KIND[err.kind]).send({ error: err.message });
    const code = err.statusCode ?? 500;
    if (code < 500) return reply.code(code).send({ error: err.message });
    req.log.error({ err, method: req.method, url: req.url }, 'API request failed');
    return reply.code(500).send({ error: `internal error: ${err.message}` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split('?')[0]} (see /openapi.json)` }));

  app.get('/', {
    schema: {
      summary: 'Where things are',
      tags: ['box'],
      response: {
        200: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'version', 'api', 'openapi', 'metrics'],
          properties: { name: { type: 'string' }, version: { type: 'string' }, api: { type: 'string' }, openapi: { type: 'string' }, metrics: { type: 'string' } },
        },
      },
    },
    handler: async () => ({ name: 'xbr', version, api: '/v1', openapi: '/openapi.json', metrics: '/metrics' }),
  });
  statusRoutes(app, box);
  bindingRoutes(app, box);
  leaseRoutes(app, box);
  reloadRoutes(app, box);
  traceRoutes(app, box);
  metricsRoutes(app, metrics);
  let doc: object | undefined;
  app.get('/openapi.json', {
    schema: { summary: 'This API, described (OpenAPI 3.1)', tags: ['box'] },
    handler: async () => (doc ??= openapi.document({ version, readsNeedToken: !loopback })),
  });

  return {
    app,
    loopback,
    metrics,
    async listen(): Promise<ApiAddress> {
      await app.listen({ host, port });
      const a = app.server.address();
      if (a === null || typeof a === 'string') throw new Error('the API server has no TCP address');
      const h = a.family === 'IPv6' || a.address.includes(':') ? `[${a.address}]` : a.address;
      log.info({ event: 'api-listen', address: `${h}:${a.port}`, auth: tokenOf() ? 'token' : 'none' }, `API listening on http://${h}:${a.port}`);
      return { host: a.address, port: a.port, url: `http://${h}:${a.port}` };
    },
    async close(): Promise<void> {
      await app.close();
    },
  };
}
