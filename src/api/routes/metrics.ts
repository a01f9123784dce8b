// GET /metrics: the Prometheus text format.
import type { FastifyInstance } from 'fastify';
import type { XbrMetrics } from '../../metrics/registry.js';
import { errors } from '../schemas.js';

export function metricsRoutes(app: FastifyInstance, metrics: XbrMetrics): void {
  app.get('/metrics', {
    config: { produces: 'text/plain; version=0.0.4' },
    schema: {
      summary: 'Prometheus metrics (text format 0.0.4)',
      tags: ['metrics'],
      response: { 200: { type: 'string', description: 'The exposition text.' }, ...errors(401, 403) },
    },
    handler: async (_req, reply) => {
      const text = await metrics.metrics();
      return reply.type(metrics.contentType).send(text);
    },
  });
}
