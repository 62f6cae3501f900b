// HTTP rate limits (@fastify/rate-limit) on every route that does not opt out (/health and /ready
// set config.rateLimit = false): per user when the request carries a token that verifies, else per
// client address. Registered before the routes because it attaches itself through an onRoute hook.
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import { openRedis, type RedisClient, type RedisTarget } from '../src/store/redis-connection.js'
import { bearerToken } from './auth.js'
import { ContextError } from '../src/errors.js'

export interface RateLimitPluginOptions {
  /** Requests per minute for one user, or for one address without a valid token (MCP_HTTP_RATE_LIMIT). */
  max: number
  /**
   * A shared counter store for several instances. Without it each instance counts on its own, so
   * behind a load balancer a client gets up to `max` per instance.
   */
  redis?: RedisClient
  /**
   * Or where that Redis is (MCP_STORE=redis: REDIS_URL or a cluster): the plugin opens its own
   * connection, with the short timeouts @fastify/rate-limit recommends, and closes it with the
   * server. Each bucket is one key, so a cluster spreads them over its slots.
   */
  redisTarget?: RedisTarget
  /** Key prefix in Redis, so several deployments can share one Redis. */
  nameSpace?: string
}

const WINDOW_MS = 60_000

export default fp<RateLimitPluginOptions>(async (app, options) => {
  /**
   * The bucket a request counts against. A user keeps one bucket across addresses (agents behind
   * one NAT do not starve each other); a request without a valid token counts against its address,
   * so bad tokens cannot mint fresh buckets. The tenant is part of the user key: subs are only
   * unique within a tenant.
   */
  function bucketOf (request: FastifyRequest): string {
    const query = request.query as Record<string, unknown> | undefined
    const headerToken = bearerToken(request.headers.authorization)
    // The WebSocket upgrade may carry its token in the query string (contract §2).
    const token = headerToken ?? (typeof query?.token === 'string' ? query.token : undefined)
    if (token !== undefined) {
      try {
        const identity = app.verifyToken(token)
        // Verified from the Authorization header: `authenticate` reuses it instead of verifying twice.
        if (token === headerToken) request.identity = identity
        return `user:${identity.tenant}:${identity.userId}`
      } catch {
        // Falls through to the address: an invalid token is treated like none.
      }
    }
    return `ip:${fastifyRateLimit.normalizeIP(request.ip)}`
  }

  let redis = options.redis
  if (redis === undefined && options.redisTarget !== undefined) {
    const own = openRedis(options.redisTarget, { connectTimeout: 500, maxRetriesPerRequest: 1 })
    own.on('error', () => {}) // an outage shows in /ready (the store's connection), not per retry
    app.addHook('onClose', async () => { await own.quit().catch(() => own.disconnect()) })
    redis = own
  }

  await app.register(fastifyRateLimit, {
    global: true,
    max: options.max,
    timeWindow: WINDOW_MS,
    keyGenerator: bucketOf,
    // With a shared Redis: while it is unreachable, requests go unlimited rather than failing
    // (reads still work from the local replica; writes fail on their own with 503).
    ...(redis !== undefined ? { redis, nameSpace: options.nameSpace ?? 'mcp-rate-limit-', skipOnError: true } : {}),
    // Thrown to the central error handler, which gives it the contract's shape (code rate_limited).
    errorResponseBuilder: (_request, context) => new ContextError('rate_limited',
      `Rate limit exceeded: at most ${context.max} requests per minute, retry in ${context.after}`,
      { retry_after_ms: context.ttl })
  })
}, { name: 'rate-limit' })
