// 4o6 leases: list (filtered, paged) and release.
import type { FastifyInstance } from 'fastify';
import type { BoxSource, LeaseFilter } from '../../box/types.js';
import { errors, keyParams, leaseQuery, leaseSchema, pageOf } from '../schemas.js';

export function leaseRoutes(app: FastifyInstance, box: BoxSource): void {
  app.get<{ Querystring: LeaseFilter & { offset: number; limit: number } }>('/v1/leases', {
    schema: {
      summary: 'Leases of the 4o6 server, filtered and paged',
      tags: ['leases'],
      querystring: leaseQuery,
      response: { 200: pageOf(leaseSchema, 'One page of leases.'), ...errors(400, 401, 403) },
    },
    handler: async (req) => {
      const { offset, limit, ...filter } = req.query;
      return box.leases(filter, offset, limit);
    },
  });

  app.delete<{ Params: { ipv4: string; psid: number } }>('/v1/leases/:ipv4/:psid', {
    schema: {
      summary: 'Release a lease (durably) and remove its binding',
      tags: ['leases'],
      params: keyParams,
      response: { 204: { type: 'null', description: 'Released.' }, ...errors(400, 401, 403, 404) },
    },
    handler: async (req, reply) => {
      const { ipv4, psid } = req.params;
      if (await box.releaseLease(ipv4, psid)) return reply.code(204).send();
      return reply.code(404).send({ error: `no lease for ${ipv4} PSID ${psid}` });
    },
  });
}
