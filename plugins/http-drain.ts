// Closes HTTP the way the contract's shutdown clause asks (SIGTERM, SIGINT, app.close()): stop
// taking work, finish what was taken, then close. A request already being handled runs to its end,
// and every response from then on says `Connection: close`, so keep-alive clients leave; a request
// that arrives once draining began is answered 503 `unavailable` before anything is done (so a
// client always knows whether its write happened); idle connections are closed as they fall idle.
// Fastify's forceCloseConnections would instead reset every open connection, in-flight requests
// included (acknowledged or not, applied or not: the client cannot tell).
import fp from 'fastify-plugin'
import { errorBody } from '../src/rest/http-error.js'

// Probes keep answering with their own bodies: /ready says "draining", which is what a load
// balancer needs to hear.
const ANSWERED_WHILE_DRAINING = new Set(['/health', '/ready'])

// How often connections that fell idle during the drain are closed (a stream that ended, a client
// that kept its connection without a new request).
const IDLE_SWEEP_MS = 100

export default fp(async (app) => {
  const { server, config } = app
  let sweeper: NodeJS.Timeout | undefined
  let cutoff: NodeJS.Timeout | undefined

  // Callback hooks rather than async ones: they run on every request, and an async hook costs a
  // promise and a turn of the microtask queue each time for nothing while not draining.
  app.addHook('onRequest', (request, reply, done) => {
    if (!app.lifecycle.draining || ANSWERED_WHILE_DRAINING.has(request.routeOptions.url ?? '')) {
      done()
      return
    }
    // Answered here: the rest of the request's hooks and its handler do not run.
    reply.code(503).header('retry-after', '5').send(errorBody(503, 'unavailable', 'Server is shutting down'))
  })

  app.addHook('onSend', (request, reply, payload, done) => {
    if (app.lifecycle.draining && request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
    done(null, payload)
  })

  app.addHook('preClose', async () => {
    // A request that reached an idle keep-alive connection just before the signal may still be
    // unread in its socket; one turn of the event loop (through its poll phase) reads it, so it is
    // being handled, no longer idle, when Node closes the idle connections.
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    sweeper = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS)
    sweeper.unref()
    // Requests still running this close to the grace period are cut, so that the process still
    // exits 0 on its own (close-with-grace ends it with 1 at MCP_SHUTDOWN_GRACE).
    cutoff = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs * 0.75)
    cutoff.unref()
  })

  app.addHook('onClose', async () => {
    clearInterval(sweeper)
    clearTimeout(cutoff)
  })
}, { name: 'http-drain', dependencies: ['config', 'lifecycle'] })
