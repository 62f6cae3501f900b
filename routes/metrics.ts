// GET /metrics: Prometheus text from this instance's registry. Open, unless MCP_METRICS_TOKEN is
// set; then the scraper must send it as a bearer token.
import { timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { bearerToken } from '../plugins/auth.js'
import { ContextError } from '../src/errors.js'

/** Compares in constant time, so response timing does not reveal how much of a guess was right. */
function sameSecret (given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

const metricsRoutes: FastifyPluginAsyncZod = async (app) => {
  const { metricsToken } = app.config

  app.get('/metrics', {
    schema: {
      operationId: 'getMetrics',
      tags: ['metrics'],
      summary: 'Prometheus metrics of this instance',
      description: 'Prometheus text format: WebSocket connections, messages by type, errors by code and surface, ' +
        'authentication attempts by result, entries and tokens per tenant, removals by reason, broadcast and ' +
        'message handling histograms, and the Node.js process metrics. Open unless the server sets ' +
        'MCP_METRICS_TOKEN; then send it as `Authorization: Bearer <token>`.',
      // Anonymous ({}) or the metrics token: which one applies depends on the deployment.
      security: [{}, { metricsToken: [] }],
      response: {
        // 401 (a wrong or missing metrics token) and 429 come from the document conventions.
        200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } }
      }
    }
  }, async (request, reply) => {
    if (metricsToken !== undefined) {
      const given = bearerToken(request.headers.authorization)
      if (given === undefined) throw new ContextError('unauthorized', 'This server requires its metrics token')
      if (!sameSecret(given, metricsToken)) throw new ContextError('unauthorized', 'Invalid metrics token')
    }
    const text = await app.metrics.registry.metrics()
    return reply.type(app.metrics.registry.contentType).send(text)
  })
}

export default metricsRoutes
