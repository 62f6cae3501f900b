// Holds the caller's tenant loaded for the life of each authenticated HTTP request (REST and
// /mcp, streams included): with replicas on demand (src/store/replica-leases.ts) a route reads
// the store synchronously only once its tenant is here. One place for every route: an onRoute
// hook appends the hold to each route's preHandlers, so it runs after whichever hook of the
// route authenticated the request (preParsing, onRequest or preHandler).
import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify'

export default fp(async (app) => {
  async function holdTenant (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const identity = request.identity
    if (identity === null) return
    const { store } = app
    // Refused with `unavailable` (503) when the tenant cannot be loaded (Redis away).
    const lease = store.useLoaded(identity.tenant) ?? await store.use(identity.tenant)
    // 'close' comes once the response is sent or the client went away: every request ends there,
    // a stream included. One that went away while its tenant loaded gets nothing more.
    if (reply.raw.closed) lease.release()
    else reply.raw.once('close', () => { lease.release() })
  }

  app.addHook('onRoute', (route) => {
    // A WebSocket connection holds its tenant itself, from authentication to close (src/ws).
    if (route.websocket === true) return
    const own = route.preHandler === undefined ? [] : Array.isArray(route.preHandler) ? route.preHandler : [route.preHandler]
    route.preHandler = [...own, holdTenant as preHandlerHookHandler]
  })
}, { name: 'tenant-use', dependencies: ['store', 'auth'] })
