// The OpenAPI 3.1 description of the API, built from the routes' own JSON Schemas (the
// ones fastify validates and serializes with), so it cannot drift from what the
// server does. OpenAPI 3.1 schemas are JSON Schema: they are used as they are.
import type { RouteOptions } from 'fastify';

// The OpenAPI fields a route's schema carries beside the JSON Schemas (fastify ignores them).
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: readonly string[];
  }
}

interface RouteSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  params?: { properties?: Record<string, object>; required?: string[] };
  querystring?: { properties?: Record<string, object>; required?: string[] };
  body?: object;
  response?: Record<string, { description?: string; type?: string | string[] }>;
}

const REASONS: Record<string, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad request: the reason names the field',
  401: 'Missing or invalid bearer token',
  403: 'Not allowed: the API has no token configured for this',
  404: 'Not found',
  409: 'Conflict with the running box',
  422: 'Refused config (the running config stays)',
  501: 'Not supported by this data plane',
};

export interface OpenApiOptions {
  version: string;
  /** Reads need the token too (non-loopback listen). */
  readsNeedToken: boolean;
}

/** Collects routes as they are added; document() renders them. */
export class OpenApiBuilder {
  private readonly routes: RouteOptions[] = [];

  add(route: RouteOptions): void {
    if (route.method === 'HEAD' || (Array.isArray(route.method) && route.method.every((m) => m === 'HEAD'))) return;
    this.routes.push(route);
  }

  document(opts: OpenApiOptions): object {
    const paths: Record<string, Record<string, object>> = {};
    for (const r of this.routes) {
      const schema = (r.schema ?? {}) as RouteSchema;
      const path = r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const methods = (Array.isArray(r.method) ? r.method : [r.method]).filter((m) => m !== 'HEAD');
      for (const method of methods) {
        const read = method === 'GET';
        const parameters = [
          ...Object.entries(schema.params?.properties ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
          ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({
            name,
            in: 'query',
            required: schema.querystring?.required?.includes(name) ?? false,
            schema: s,
          })),
        ];
        const produces = (r.config as { produces?: string } | undefined)?.produces ?? 'application/json';
        const responses: Record<string, object> = {};
        for (const [code, s] of Object.entries(schema.response ?? {})) {
          const description = s.description ?? REASONS[code] ?? 'Response';
          responses[code] = code === '204' ? { description } : { description, content: { [Number(code) < 300 ? produces : 'application/json']: { schema: s } } };
        }
        const op: Record<string, unknown> = {
          operationId: operationId(method, r.url),
          summary: schema.summary,
          ...(schema.description ? { description: schema.description } : {}),
          tags: schema.tags,
          parameters: parameters.length ? parameters : undefined,
          responses,
          // reads on loopback: no token needed ({} = anonymous allowed)
          security: read && !opts.readsNeedToken ? [{}, { bearer: [] }] : [{ bearer: [] }],
        };
        if (schema.body) op.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
        (paths[path] ??= {})[method.toLowerCase()] = JSON.parse(JSON.stringify(op));
      }
    }
    return {
      openapi: '3.1.0',
      info: {
        title: 'xbr Border Relay API',
        version: opts.version,
        description:
          'Query and change a running xbr (MAP-T / MAP-E / lw4o6 BR with a DHCP 4o6 server). Changes need "Authorization: Bearer <token>" ' +
          '(api.token-file); when the API listens beyond loopback, every call does. Errors are {"error": "<reason>"}.',
      },
      paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The content of api.token-file.' } } },
    };
  }
}

function operationId(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s && s !== 'v1')
    .map((s) => (s.startsWith(':') ? `by-${s.slice(1)}` : s))
    .join('-');
  return `${method.toLowerCase()}-${words || 'root'}`.replace(/[^a-z0-9]+(.)?/gi, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''));
}
