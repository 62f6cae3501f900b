// The WebSocket surface (CONTRACT §2) at /ws and at / (clients of the original design connect to
// ws://host:9877?token=...). Browser origins and the connection cap are checked before the upgrade;
// everything after it is the hub's (src/ws).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { errorBody } from '../src/rest/http-error.js'
import { WsHub } from '../src/ws/hub.js'

export const WEBSOCKET_PATHS = ['/ws', '/'] as const

const websocketRoutes: FastifyPluginAsync = async (app) => {
  const log = app.log.child({ surface: 'ws' })
  const hub = new WsHub({
    config: app.config,
    store: app.store,
    sessions: app.sessions,
    verifyToken: app.verifyToken,
    metrics: app.metrics,
    log,
    audit: app.audit,
    largeFrames: app.tokenizer
  })
  // A revocation closes the tenant's matching connections at once, here and (through the
  // revocation backend) on every other instance.
  const stopEnforcing = app.revocations.onEnforce((tenant, revokes) => hub.closeRevoked(tenant, revokes))

  // Finish in-flight messages, then close every client with 1001, before the server stops.
  app.addHook('preClose', async () => { await hub.shutdown() })
  app.addHook('onClose', async () => {
    stopEnforcing()
    hub.stop()
  })

  // A live connection should cost its socket and its session, not the HTTP request that opened
  // it. The upgrade leaves the request reachable from the socket twice: through the response
  // (socket._httpMessage) and through the plugin's per-socket error listener, which closes over
  // request and reply. Both are cut after the upgrade (about 3 KB per connection, see bench:ws).
  const responses = new WeakMap<IncomingMessage, ServerResponse>()
  function onSocketError (this: WebSocket, error: Error) {
    // Protocol errors (oversize frame 1009, bad UTF-8 1007...): ws is already closing with the code.
    log.debug({ err: error }, 'websocket protocol error')
  }

  const allowedOrigins = new Set(app.config.allowedOrigins)
  async function beforeUpgrade (request: FastifyRequest, reply: FastifyReply) {
    if (!request.ws) return
    responses.set(request.raw, reply.raw)
    const origin = request.headers.origin
    // Only browsers send Origin; agents and tools do not, and are not refused for it.
    if (allowedOrigins.size > 0 && origin !== undefined && !allowedOrigins.has(origin)) {
      app.metrics.authAttempts.inc({ result: 'origin_refused', surface: 'ws' })
      return reply.code(403).send({ statusCode: 403, error: 'Forbidden', message: 'Origin not allowed', code: 'forbidden' })
    }
    if (!hub.hasCapacity()) {
      return reply.code(503).header('retry-after', '5')
        .send(errorBody(503, 'unavailable', 'Too many connections'))
    }
  }

  for (const url of WEBSOCKET_PATHS) {
    app.route({
      method: 'GET',
      url,
      schema: { hide: true },
      // The upgrade counts against the HTTP rate limit like any request (plugins/rate-limit.ts);
      // frames inside the connection have their own limit (MCP_WS_RATE_LIMIT).
      onRequest: beforeUpgrade,
      handler: async (_request, reply) => reply.code(426).header('upgrade', 'websocket')
        .send({ statusCode: 426, error: 'Upgrade Required', message: `${url} speaks WebSocket; see docs/protocol.md (REST: /docs)` }),
      wsHandler: (socket, request) => {
        const netSocket = request.raw.socket
        responses.get(request.raw)?.detachSocket(netSocket)
        socket.removeAllListeners('error')
        socket.on('error', onSocketError)
        // Only what the connection needs is passed on; the request objects are not kept.
        hub.accept(socket, { authorization: request.headers.authorization, query: request.query, netSocket })
      }
    })
  }
}

export default websocketRoutes
