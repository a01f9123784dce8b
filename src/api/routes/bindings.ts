// Bindings: list (filtered, paged), one, add, add-or-replace, remove.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { BindingFilter, BindingView, BoxSource } from '../../box/types.js';
import { bindingBodySchema, bindingQuery, bindingSchema, errors, keyParams, newBindingSchema, pageOf } from '../schemas.js';

interface Key {
  ipv4: string;
  psid: number;
}
type Body = Omit<BindingView, 'source' | 'ipv4' | 'psid'>;
type Query = BindingFilter & { offset: number; limit: number };

function one(box: BoxSource, k: Key): BindingView | undefined {
  return box.bindings({ ipv4: k.ipv4, psid: k.psid }, 0, 1).items[0];
}

export function bindingRoutes(app: FastifyInstance, box: BoxSource): void {
  app.get<{ Querystring: Query }>('/v1/bindings', {
    schema: {
      summary: 'Bindings (static and leased) in (IPv4, PSID) order, filtered and paged',
      tags: ['bindings'],
      querystring: bindingQuery,
      response: { 200: pageOf(bindingSchema, 'One page of bindings.'), ...errors(400, 401, 403) },
    },
    handler: async (req) => {
      const { offset, limit, ...filter } = req.query;
      return box.bindings(filter, offset, limit);
    },
  });

  app.get<{ Params: Key }>('/v1/bindings/:ipv4/:psid', {
    schema: {
      summary: 'One binding',
      tags: ['bindings'],
      params: keyParams,
      response: { 200: bindingSchema, ...errors(400, 401, 403, 404) },
    },
    handler: async (req, reply) => one(box, req.params) ?? reply.code(404).send({ error: `no binding for ${req.params.ipv4} PSID ${req.params.psid}` }),
  });

  const put = async (k: Key, body: Body, reply: FastifyReply, mustBeNew: boolean) => {
    const had = one(box, k);
    if (had?.source === 'lease') return reply.code(409).send({ error: `${k.ipv4} PSID ${k.psid} is leased by the 4o6 server: release the lease instead` });
    if (had && mustBeNew) return reply.code(409).send({ error: `${k.ipv4} PSID ${k.psid} already has a binding (PUT /v1/bindings/${k.ipv4}/${k.psid} replaces it)` });
    await box.putBinding({ ipv4: k.ipv4, psid: k.psid, psidLen: body.psidLen, psidOffset: body.psidOffset, ipv6: body.ipv6 });
    const now = one(box, k);
    return reply.code(had ? 200 : 201).send(now);
  };

  app.post<{ Body: Key & Body }>('/v1/bindings', {
    schema: {
      summary: 'Add a static binding (409 when the key is taken)',
      tags: ['bindings'],
      body: newBindingSchema,
      response: { 201: bindingSchema, ...errors(400, 401, 403, 409) },
    },
    handler: async (req, reply) => {
      const { ipv4, psid, ...rest } = req.body;
      return put({ ipv4, psid }, rest, reply, true);
    },
  });

  app.put<{ Params: Key; Body: Body }>('/v1/bindings/:ipv4/:psid', {
    schema: {
      summary: 'Add (201) or replace (200) the static binding of (IPv4, PSID)',
      tags: ['bindings'],
      params: keyParams,
      body: bindingBodySchema,
      response: { 200: bindingSchema, 201: bindingSchema, ...errors(400, 401, 403, 409) },
    },
    handler: async (req, reply) => put(req.params, req.body, reply, false),
  });

  app.delete<{ Params: Key }>('/v1/bindings/:ipv4/:psid', {
    schema: {
      summary: 'Remove a static binding (until the next reload, if the config has it)',
      tags: ['bindings'],
      params: keyParams,
      response: { 204: { type: 'null', description: 'Removed.' }, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) => {
      const { ipv4, psid } = req.params;
      if (await box.removeBinding(ipv4, psid)) return reply.code(204).send();
      if (one(box, req.params)?.source === 'lease') {
        return reply.code(409).send({ error: `${ipv4} PSID ${psid} is a lease's binding: DELETE /v1/leases/${ipv4}/${psid} releases it` });
      }
      return reply.code(404).send({ error: `no static binding for ${ipv4} PSID ${psid}` });
    },
  });
}
