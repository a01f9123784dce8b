// Reads of the box as a whole: status, rules, counters, pools.
import type { FastifyInstance } from 'fastify';
import { parseIPv4Prefix } from '../../map/ip.js';
import type { BoxSource } from '../../box/types.js';
import { countersQuery, countersSchema, errors, poolsSchema, rulesSchema, statusSchema } from '../schemas.js';

export function statusRoutes(app: FastifyInstance, box: BoxSource): void {
  app.get('/v1/status', {
    schema: {
      summary: 'Mode, uptime, workers, interfaces, config generation and the last reload',
      tags: ['box'],
      response: { 200: statusSchema, ...errors(401, 403) },
    },
    handler: async () => box.status(),
  });

  app.get('/v1/rules', {
    schema: {
      summary: 'The mapping rules in force (as configured), with the DMR or BR address',
      tags: ['box'],
      response: { 200: rulesSchema, ...errors(401, 403) },
    },
    handler: async () => {
      const c = box.config();
      return {
        mode: c.mode,
        ...(c.dmr !== undefined ? { dmr: c.dmr } : {}),
        ...(c.br !== undefined ? { br: c.br } : {}),
        rules: c.rules.map((r) => ({ ...r, 'psid-len': r['ea-len'] - (32 - parseIPv4Prefix(r['ipv4-prefix']).len) })),
      };
    },
  });

  app.get<{ Querystring: { nonzero: boolean } }>('/v1/counters', {
    schema: {
      summary: 'Core counters: the total and per worker',
      tags: ['box'],
      querystring: countersQuery,
      response: { 200: countersSchema, ...errors(400, 401, 403) },
    },
    handler: async (req) => {
      const snap = box.counters();
      if (!req.query.nonzero) return snap;
      const moved = Object.keys(snap.total).filter((k) => snap.total[k] !== 0 || snap.perWorker.some((w) => (w[k] ?? 0) !== 0));
      const pick = (r: Record<string, number>) => Object.fromEntries(moved.map((k) => [k, r[k] ?? 0]));
      return { total: pick(snap.total), perWorker: snap.perWorker.map(pick) };
    },
  });

  app.get('/v1/pools', {
    schema: {
      summary: '4o6 pool use: leased and leasable (address, PSID) pairs per pool',
      tags: ['leases'],
      response: { 200: poolsSchema, ...errors(401, 403) },
    },
    handler: async () => ({ pools: await box.poolUse() }),
  });
}
