// Per-subscriber counters: choose the bindings to trace, read their counters.
import type { FastifyInstance } from 'fastify';
import type { BoxSource } from '../../box/types.js';
import { errors, keyParams, traceSchema } from '../schemas.js';

export function traceRoutes(app: FastifyInstance, box: BoxSource): void {
  app.get('/v1/trace', {
    schema: {
      summary: 'Counters of the traced subscribers',
      tags: ['trace'],
      response: { 200: traceSchema, ...errors(401, 403) },
    },
    handler: async () => ({ subscribers: box.subscriberCounters() }),
  });

  app.put<{ Params: { ipv4: string; psid: number } }>('/v1/trace/:ipv4/:psid', {
    schema: {
      summary: 'Start counting the traffic of one binding (also as xbr_subscriber_*_total)',
      tags: ['trace'],
      params: keyParams,
      response: { 204: { type: 'null', description: 'Traced.' }, ...errors(400, 401, 403, 404, 409) },
    },
    handler: async (req, reply) => {
      box.traceSubscriber(req.params.ipv4, req.params.psid, true);
      return reply.code(204).send();
    },
  });

  app.delete<{ Params: { ipv4: string; psid: number } }>('/v1/trace/:ipv4/:psid', {
    schema: {
      summary: 'Stop tracing one binding',
      tags: ['trace'],
      params: keyParams,
      response: { 204: { type: 'null', description: 'No longer traced.' }, ...errors(400, 401, 403, 404) },
    },
    handler: async (req, reply) => {
      const { ipv4, psid } = req.params;
      if (box.traceSubscriber(ipv4, psid, false)) return reply.code(204).send();
      return reply.code(404).send({ error: `${ipv4} PSID ${psid} is not traced` });
    },
  });
}
