// The registry of connected clients, shared by the WebSocket route (which fills it) and the
// status/health routes (which read it).
import fp from 'fastify-plugin'
import { SessionRegistry, type SessionInfo } from '../src/sessions/session-registry.js'

declare module 'fastify' {
  interface FastifyInstance { sessions: SessionRegistry<SessionInfo> }
}

export default fp(async (app) => {
  app.decorate('sessions', new SessionRegistry())
}, { name: 'sessions' })
