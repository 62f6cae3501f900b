// GET /changes (contract §8): the audit trail of the caller's tenant, paged through the retained
// history oldest first: each change's seq, time, reason, actor and keys.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { auditItems } from '../src/store/change-actor.js'
import { errorResponses, jsonResponse } from '../src/rest/response-schemas.js'
import { changesQuerySchema, changesSchema } from '../src/security/security-schemas.js'
import { adminOf } from './revocations.js'

const DEFAULT_LIMIT = 100

const changesRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/changes', {
    preHandler: app.authenticate,
    schema: {
      tags: ['security'],
      summary: 'The audit trail: who changed what, and when',
      description: "The caller's tenant's retained history (the last MCP_HISTORY_SIZE changes), oldest first, after " +
        '`since_seq`. Each change names its actor: the user and surface (ws, rest, mcp) and client, or `system` for ' +
        'expiries and evictions. Admin role.',
      querystring: changesQuerySchema,
      response: { 200: jsonResponse('Changes after since_seq, oldest first', changesSchema), ...errorResponses(400, 403) }
    }
  }, async (request) => {
    const { tenant } = adminOf(request)
    const limit = request.query.limit ?? DEFAULT_LIMIT
    const { store } = app
    // One synchronous step: the page, the current seq and the epoch agree.
    const page = store.retainedChanges(tenant, request.query.since_seq ?? 0, limit + 1)
    const seq = store.seq(tenant)
    return {
      changes: page.slice(0, limit).flatMap(auditItems),
      seq,
      epoch: store.epoch(tenant),
      has_more: page.length > limit
    }
  })
}

export default changesRoutes
