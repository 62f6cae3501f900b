// Revocation (contract §8): an admin refuses a user's tokens issued before a time, or one token by
// its jti, in their own tenant. Every instance refuses them on every surface within a second or
// two, and ends the WebSocket connections and MCP streams they hold.
import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { FastifyRequest } from 'fastify'
import { ContextError } from '../src/errors.js'
import type { Identity } from '../src/auth/identity.js'
import { assertAdmin } from '../src/store/permissions.js'
import { errorResponses, jsonResponse } from '../src/rest/response-schemas.js'
import { revocationListSchema, revocationParamsSchema, revocationRequestSchema, revocationSchema } from '../src/security/security-schemas.js'

/** The admin making the request (the preHandler authenticated it). */
export function adminOf (request: FastifyRequest): Identity {
  if (request.identity === null) throw new ContextError('unauthorized', 'Authentication token required')
  assertAdmin(request.identity)
  return request.identity
}

const revocationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { revocations, audit } = app

  app.post('/revocations', {
    preHandler: app.authenticate,
    schema: {
      tags: ['security'],
      summary: 'Revoke tokens',
      description: '`{"sub"}`: every token of that user issued before `issued_before` (default now; a token without ' +
        '`iat` counts as issued before). `{"jti"}`: the one token with that id. Within 2 seconds, on every instance, ' +
        'matching WebSocket connections are closed 4001 `Token revoked`, matching MCP streams end, and the tokens are ' +
        'refused as invalid (401) everywhere. Kept 24 hours, or until `expires_at`. Admin role; own tenant only.',
      body: revocationRequestSchema,
      response: { 201: jsonResponse('The revocation, in force', revocationSchema), ...errorResponses(400, 403) }
    }
  }, async (request, reply) => {
    const admin = adminOf(request)
    const revocation = await revocations.create(admin.tenant, admin.userId, request.body)
    audit.revocation('revocation_created', revocation, { sub: admin.userId, surface: 'rest' })
    return reply.code(201).send(revocation)
  })

  app.get('/revocations', {
    preHandler: app.authenticate,
    schema: {
      tags: ['security'],
      summary: 'The revocations in force',
      description: "The caller's tenant's revocations that have not expired or been lifted, oldest first. Admin role.",
      response: { 200: jsonResponse('Revocations in force', revocationListSchema), ...errorResponses(403) }
    }
  }, async (request) => {
    return { revocations: revocations.inForce(adminOf(request).tenant) }
  })

  app.delete('/revocations/:id', {
    preHandler: app.authenticate,
    schema: {
      tags: ['security'],
      summary: 'Lift a revocation',
      description: 'The tokens it named are accepted again (unless another revocation names them). Admin role.',
      params: revocationParamsSchema,
      response: { 204: z.undefined().describe('Lifted'), ...errorResponses(400, 403, 404) }
    }
  }, async (request, reply) => {
    const admin = adminOf(request)
    const revocation = await revocations.lift(admin.tenant, request.params.id)
    audit.revocation('revocation_lifted', revocation, { sub: admin.userId, surface: 'rest' })
    return reply.code(204).send()
  })
}

export default revocationRoutes
