// Reload: the same read -> validate -> compile -> swap as SIGHUP.
import type { FastifyInstance } from 'fastify';
import type { BoxSource } from '../../box/types.js';
import { errors, reloadSchema } from '../schemas.js';

export function reloadRoutes(app: FastifyInstance, box: BoxSource): void {
  app.post('/v1/reload', {
    schema: {
      summary: 'Reload the config file: 200 when in force, 422 with the reasons when refused (the running config stays)',
      tags: ['box'],
      response: { 200: reloadSchema, 422: reloadSchema, ...errors(401, 403) },
    },
    handler: async (_req, reply) => {
      const r = await box.reload();
      return reply.code(r.ok ? 200 : 422).send(r);
    },
  });
}
