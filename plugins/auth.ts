// JWT verification for every surface. The algorithm is pinned (no `none`, no algorithm switching),
// `exp` is required, and issuer/audience are enforced when configured. REST routes use the
// `authenticate` preHandler; the WebSocket and MCP surfaces call `verifyToken` directly.
import fp from 'fastify-plugin'
import fastifyJwt from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ContextError } from '../src/errors.js'
import { identityFromPayload, type Identity } from '../src/auth/identity.js'
import { VerifiedTokens } from '../src/auth/verified-tokens.js'
import { TokenRevokedError } from '../src/security/revocation-list.js'

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: Record<string, unknown>
    user: Record<string, unknown>
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Verifies a JWT and returns its identity; throws ContextError('unauthorized') otherwise. */
    verifyToken: (token: string) => Identity
    /** preHandler for routes that need a bearer token; sets request.identity. */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /** authenticate's check as a plain call, for callback hooks: sets request.identity or throws. */
    authenticateRequest: (request: FastifyRequest) => void
  }
  interface FastifyRequest {
    identity: Identity | null
  }
}

/** The token of an `Authorization: Bearer <jwt>` header, or undefined. */
export function bearerToken (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

// Tokens whose verification is remembered, here and in fast-jwt's own cache (which also remembers
// refusals); docs/limits.md.
const VERIFICATION_CACHE_SIZE = 10_000

export default fp(async (app) => {
  const { jwt } = app.config
  const asymmetric = jwt.publicKey !== undefined && !jwt.algorithm.startsWith('HS')
  await app.register(fastifyJwt, {
    secret: asymmetric ? { public: jwt.publicKey as string } : jwt.secret as string,
    verify: {
      algorithms: [jwt.algorithm],
      // Agents reuse one token for many requests: fast-jwt remembers verified tokens (never
      // beyond their exp), so a repeated token costs a lookup, not a signature check.
      cache: VERIFICATION_CACHE_SIZE,
      // fast-jwt checks iss/aud only when the token carries them: configured means required.
      requiredClaims: ['exp', ...(jwt.issuer !== undefined ? ['iss'] : []), ...(jwt.audience !== undefined ? ['aud'] : [])],
      ...(jwt.issuer !== undefined ? { allowedIss: jwt.issuer } : {}),
      ...(jwt.audience !== undefined ? { allowedAud: jwt.audience } : {})
    }
  })

  const revocations = app.hasDecorator('revocations') ? app.revocations : undefined
  // A repeated token skips @fastify/jwt and the claims' zod parse (why: src/auth/verified-tokens.ts).
  const verified = new VerifiedTokens(VERIFICATION_CACHE_SIZE)
  const verifySignatureAndClaims = (token: string): Identity => {
    let payload: unknown
    try {
      payload = app.jwt.verify(token)
    } catch {
      throw new ContextError('unauthorized', 'Invalid authentication token')
    }
    const identity = identityFromPayload(payload)
    if (identity === undefined) throw new ContextError('unauthorized', 'Invalid authentication token')
    // Shared by every request that carries this token from now on.
    Object.freeze(identity.roles)
    verified.remember(token, Object.freeze(identity))
    return identity
  }
  app.decorate('verifyToken', (token: string): Identity => {
    const identity = verified.get(token) ?? verifySignatureAndClaims(token)
    // After the verification caches: a cached token is refused as soon as its revocation is known.
    if (revocations?.revokes(identity) === true) throw new TokenRevokedError(identity)
    return identity
  })

  app.decorateRequest('identity', null)

  // authenticate is the REST surface's check, so its attempts are counted as surface "rest"
  // (when the metrics plugin is present; it is registered after this one).
  const countAttempt = (result: 'success' | 'missing' | 'invalid') => {
    if (app.hasDecorator('metrics')) app.metrics.authAttempts.inc({ result, surface: 'rest' })
  }
  const auditRefusal = (request: FastifyRequest, error?: unknown) => {
    if (!app.hasDecorator('audit')) return
    const revoked = error instanceof TokenRevokedError
    app.audit.refused({ surface: 'rest', reason: error === undefined ? 'missing' : revoked ? 'revoked' : 'invalid', ip: request.ip, ...(revoked ? { token: error.token } : {}) })
  }

  app.decorate('authenticateRequest', (request: FastifyRequest) => {
    // The rate limiter sets it only from this request's Authorization header, once it verified.
    if (request.identity !== null) {
      countAttempt('success')
      return
    }
    const token = bearerToken(request.headers.authorization)
    if (token === undefined) {
      countAttempt('missing')
      auditRefusal(request)
      throw new ContextError('unauthorized', 'Authentication token required')
    }
    try {
      request.identity = app.verifyToken(token)
    } catch (error) {
      countAttempt('invalid')
      auditRefusal(request, error)
      throw error
    }
    countAttempt('success')
  })
  app.decorate('authenticate', async (request: FastifyRequest) => { app.authenticateRequest(request) })
}, { name: 'auth', dependencies: ['config'] })
