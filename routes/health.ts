// Probes for load balancers and orchestrators: /health (alive) and /ready (should get traffic).
import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { VERSION } from '../src/version.js'
import { healthSchema, jsonResponse, readinessSchema } from '../src/rest/response-schemas.js'

const MB = 1024 * 1024

// Probes take no parameters; an unknown one is a 400 (as on every other route) rather than being
// silently ignored, so a mistyped probe URL shows up at once.
const noParameters = z.object({}).strict()

const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/health', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getHealth',
      tags: ['health'],
      summary: 'Liveness: the process answers',
      security: [],
      querystring: noParameters,
      response: { 200: jsonResponse('The process answers', healthSchema) }
    }
  }, async () => {
    const memory = process.memoryUsage()
    return {
      status: 'healthy' as const,
      timestamp: new Date().toISOString(),
      version: VERSION,
      connections: app.sessions.size,
      memory_usage: {
        rss_mb: +(memory.rss / MB).toFixed(1),
        heap_used_mb: +(memory.heapUsed / MB).toFixed(1),
        heap_total_mb: +(memory.heapTotal / MB).toFixed(1),
        external_mb: +(memory.external / MB).toFixed(1)
      }
    }
  })

  app.get('/ready', {
    config: { rateLimit: false },
    schema: {
      operationId: 'getReadiness',
      tags: ['health'],
      summary: 'Readiness: serving and the store backend answers',
      security: [],
      querystring: noParameters,
      response: {
        200: jsonResponse('Ready for traffic', readinessSchema),
        503: jsonResponse('Starting, draining, or the store backend does not answer', readinessSchema)
      }
    }
  }, async (_request, reply) => {
    if (app.lifecycle.draining) return reply.code(503).send({ status: 'draining' as const })
    const storeReady = await app.store.isReady().catch(() => false)
    if (!storeReady) return reply.code(503).send({ status: 'unavailable' as const, store: app.store.backend })
    return { status: 'ready' as const, store: app.store.backend }
  })
}

export default healthRoutes
