// Probes for load balancers and orchestrators: /health (alive) and /ready (should get traffic).
import type { FastifyPluginAsync } from 'fastify'
import { VERSION } from '../src/version.js'

const MB = 1024 * 1024

const healthRoutes: FastifyPluginAsync = async (app) => {
  app.get('/health', {
    config: { rateLimit: false },
    schema: { tags: ['health'], summary: 'Liveness: the process answers', security: [] }
  }, async () => {
    const memory = process.memoryUsage()
    return {
      status: 'healthy',
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
    schema: { tags: ['health'], summary: 'Readiness: serving and the store backend answers', security: [] }
  }, async (_request, reply) => {
    if (app.lifecycle.draining) return reply.code(503).send({ status: 'draining' })
    const storeReady = await app.store.isReady().catch(() => false)
    if (!storeReady) return reply.code(503).send({ status: 'unavailable', store: app.store.backend })
    return { status: 'ready', store: app.store.backend }
  })
}

export default healthRoutes
