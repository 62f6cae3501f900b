// HTTP rate limits (@fastify/rate-limit) on every route that does not opt out (/health and /ready
// set config.rateLimit = false): per user when the request carries a token that verifies, else per
// client address. Registered before the routes because it attaches itself through an onRoute hook.
import fp from 'fastify-plugin'
import fastifyRateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import { bearerToken } from './auth.js'
import { ContextError } from '../src/errors.js'

export interface RateLimitPluginOptions {
  /** Requests per minute for one user, or for one address without a valid token (MCP_HTTP_RATE_LIMIT). */
  max: number
  /**
   * A shared counter store for several instances. Without it each instance counts on its own, so
   * behind a load balancer a client gets up to `max` per instance.
   */
  redis?: Redis
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
    // The WebSocket upgrade may carry its token in the query string (contract §2).
    const token = bearerToken(request.headers.authorization) ?? (typeof query?.token === 'string' ? query.token : undefined)
    if (token !== undefined) {
      try {
        const identity = app.verifyToken(token)
        return `user:${identity.tenant}:${identity.userId}`
      } catch {
        // Falls through to the address: an invalid token is treated like none.
      }
    }
    return `ip:${fastifyRateLimit.normalizeIP(request.ip)}`
  }

  await app.register(fastifyRateLimit, {
    global: true,
    max: options.max,
    timeWindow: WINDOW_MS,
    keyGenerator: bucketOf,
    ...(options.redis !== undefined ? { redis: options.redis, nameSpace: options.nameSpace ?? 'mcp-rate-limit-' } : {}),
    // Thrown to the central error handler, which gives it the contract's shape (code rate_limited).
    errorResponseBuilder: (_request, context) => new ContextError('rate_limited',
      `Rate limit exceeded: at most ${context.max} requests per minute, retry in ${context.after}`,
      { retry_after_ms: context.ttl })
  })
}, { name: 'rate-limit' })
