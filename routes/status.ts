// GET /status: the caller's tenant at a glance (entries, tokens, connected clients), for admins.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { ContextError } from '../src/errors.js'
import { assertAdmin } from '../src/store/permissions.js'
import { statusBody } from '../src/status.js'
import { errorResponses, jsonResponse, statusSchema } from '../src/rest/response-schemas.js'

const statusRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/status', {
    preHandler: app.authenticate,
    schema: {
      operationId: 'getStatus',
      tags: ['admin'],
      summary: "The caller's tenant: store totals and connected clients",
      description: 'The same body as the WebSocket get_status reply. Needs the admin role; shows only the caller\'s tenant.',
      response: { 200: jsonResponse('The tenant status', statusSchema), ...errorResponses(403) }
    }
  }, async (request) => {
    if (request.identity === null) throw new ContextError('unauthorized', 'Authentication token required')
    assertAdmin(request.identity)
    return statusBody(request.identity.tenant, { config: app.config, store: app.store, sessions: app.sessions })
  })
}

export default statusRoutes
