// /mcp: the Model Context Protocol over Streamable HTTP (POST for messages, GET for a 2025
// session's notification stream, DELETE to end a session). This route checks Host and Origin,
// authenticates the bearer JWT (401 with an RFC 9728 challenge otherwise), and hands the request to
// the framework-free endpoint in src/mcp, which also hears every store change to notify hosts.
import { errorBody } from '../src/rest/http-error.js'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { bearerToken } from '../plugins/auth.js'
import type { Identity } from '../src/auth/identity.js'
import { McpEndpoint } from '../src/mcp/mcp-endpoint.js'
import { TokenRevokedError } from '../src/security/revocation-list.js'
import { MCP_PATH, bearerChallenge, publicBaseUrl } from '../src/mcp/protected-resource.js'
import { rebindingPolicy, rebindingRefusal } from '../src/mcp/rebinding-guard.js'
import { tokenCounter } from '../src/token-counter.js'
import { VERSION } from '../src/version.js'

// Connection-level headers describe the hop to us, not the request the SDK sees.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'te', 'trailer'])

const mcpRoutes: FastifyPluginAsync = async (app) => {
  const { config } = app
  const endpoint = new McpEndpoint({
    store: app.store,
    countTokens: tokenCounter(config.tokenEncoding),
    version: VERSION,
    registry: app.sessions,
    maxSessions: config.maxConnections,
    maxSessionsPerUser: config.maxConnectionsPerUser,
    idleTimeoutMs: config.mcpSessionIdleTimeoutMs,
    maxBufferedBytes: config.mcpStreamMaxBufferedBytes,
    onToolError: (code) => app.metrics.errors.inc({ code, surface: 'mcp' }),
    onInternalError: (error) => app.log.error({ err: error }, 'MCP tool failed'),
    // Mostly requests the SDK refused on protocol grounds: the client's problem, not ours.
    onProtocolError: (error) => app.log.debug({ err: error }, 'MCP protocol error')
  })
  const unsubscribe = app.store.onChange((change) => endpoint.publish(change))
  const stopForgetting = app.store.onUnload((tenant) => { endpoint.forget(tenant) })
  const stopEnforcing = app.revocations.onEnforce((tenant, revokes) => endpoint.endRevoked(tenant, revokes))
  // Open streams are live sockets: end them before the server waits for connections to drain.
  app.addHook('preClose', async () => {
    unsubscribe()
    stopForgetting()
    stopEnforcing()
    await endpoint.close()
  })

  const policy = rebindingPolicy(config.host, config.publicUrl, config.allowedOrigins)

  async function guardRebinding (request: FastifyRequest, reply: FastifyReply) {
    const refusal = rebindingRefusal(policy, request.headers.host, request.headers.origin)
    if (refusal !== undefined) {
      app.metrics.authAttempts.inc({ result: `${refusal.header}_refused`, surface: 'mcp' })
      return reply.code(403).send({ jsonrpc: '2.0', error: { code: -32000, message: refusal.message }, id: null })
    }
  }

  // Before the body is read: without a valid token the answer is 401 with the challenge, whatever
  // the body holds (malformed JSON included), and no parsing is spent on it.
  async function authenticate (request: FastifyRequest, reply: FastifyReply) {
    const token = bearerToken(request.headers.authorization)
    const identity = token === undefined ? undefined : verified(token, request)
    if (token === undefined) app.audit.refused({ surface: 'mcp', reason: 'missing', ip: request.ip })
    if (token === undefined || identity === undefined) {
      app.metrics.authAttempts.inc({ result: token === undefined ? 'missing' : 'invalid', surface: 'mcp' })
      const message = token === undefined ? 'Authentication token required' : 'Invalid authentication token'
      const base = publicBaseUrl(config.publicUrl, request)
      return reply.code(401)
        .header('www-authenticate', bearerChallenge(base, token === undefined ? undefined : { description: message }))
        .send(errorBody(401, 'unauthorized', message))
    }
    app.metrics.authAttempts.inc({ result: 'success', surface: 'mcp' })
    request.identity = identity
  }

  async function serve (request: FastifyRequest, reply: FastifyReply) {
    // Set by `authenticate` (onRequest), which refused the request otherwise.
    const identity = request.identity as Identity
    const token = bearerToken(request.headers.authorization) as string

    const closed = new AbortController()
    reply.raw.once('close', () => closed.abort())
    const response = await endpoint.handle({
      method: request.method,
      url: requestUrl(request),
      headers: webHeaders(request),
      body: request.body,
      closed: closed.signal,
      abort: () => reply.raw.destroy()
    }, identity, token)
    return reply.send(response)
  }

  function verified (token: string, request: FastifyRequest): Identity | undefined {
    try {
      return app.verifyToken(token)
    } catch (error) {
      const revoked = error instanceof TokenRevokedError
      app.audit.refused({ surface: 'mcp', reason: revoked ? 'revoked' : 'invalid', ip: request.ip, ...(revoked ? { token: error.token } : {}) })
      return undefined
    }
  }

  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    // Hidden from the OpenAPI document, which describes the REST API; docs/mcp.md covers this.
    // No automatic HEAD twin of GET: it would open a notification stream only to drop its body.
    app.route({ method, url: MCP_PATH, schema: { hide: true }, exposeHeadRoute: false, onRequest: [guardRebinding, authenticate], handler: serve })
  }
}

/** The absolute URL the SDK sees; a Host that is no valid authority (possible when no Host check applies) falls back. */
function requestUrl (request: FastifyRequest): string {
  try {
    return new URL(request.url, `http://${request.headers.host ?? 'localhost'}`).href
  } catch {
    return new URL(request.url, 'http://localhost').href
  }
}

function webHeaders (request: FastifyRequest): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    if (Array.isArray(value)) for (const item of value) headers.append(name, item)
    else headers.set(name, value)
  }
  return headers
}

export default mcpRoutes
