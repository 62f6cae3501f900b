// Tracks whether this instance should receive traffic: not before it is listening, not once a
// shutdown has begun. /ready reports it so load balancers drain the instance first.
import fp from 'fastify-plugin'

function createLifecycle () {
  return {
    draining: false,
    /** Called first thing on SIGTERM/SIGINT, before connections close. */
    beginShutdown () { this.draining = true }
  }
}

declare module 'fastify' {
  interface FastifyInstance { lifecycle: ReturnType<typeof createLifecycle> }
}

export default fp(async (app) => {
  app.decorate('lifecycle', createLifecycle())
  // app.close() without a signal (tests, embedding) drains too.
  app.addHook('preClose', async () => { app.lifecycle.beginShutdown() })
}, { name: 'lifecycle' })
