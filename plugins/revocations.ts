// Builds the revocation service on the configured store's persistence (the journal's database,
// Redis, or memory only) and decorates the instance with it. The auth plugin consults it on every
// verification; the WebSocket and MCP routes register enforcers that end revoked sessions.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { MemoryContextStore } from '../src/store/memory-store.js'
import { RedisContextStore } from '../src/store/redis-store.js'
import { openRedis } from '../src/store/redis-connection.js'
import { SqliteJournal } from '../src/store/sqlite-journal.js'
import { LocalRevocations, RedisRevocations, SqliteRevocations, type RevocationBackend } from '../src/security/revocation-backends.js'
import { Revocations } from '../src/security/revocations.js'

declare module 'fastify' {
  interface FastifyInstance { revocations: Revocations }
}

/** Revocations live where the store lives, so they last exactly as long as the data they protect. */
function backendFor (app: FastifyInstance): RevocationBackend {
  const { store, config } = app
  const onError = (error: unknown) => app.log.error({ err: error }, 'revocations: background failure')
  if (store instanceof RedisContextStore) {
    const subscriber = openRedis(config.redisTarget, { lazyConnect: false, maxRetriesPerRequest: null })
    subscriber.on('error', () => {}) // an outage shows in /ready (the store's connection)
    return new RedisRevocations({ redis: store.redis, subscriber, prefix: config.redisPrefix, onError })
  }
  if (store instanceof MemoryContextStore && store.journal instanceof SqliteJournal) return new SqliteRevocations(store.journal.database)
  return new LocalRevocations()
}

export default fp(async (app) => {
  const revocations = await Revocations.open(backendFor(app), {
    maxPerTenant: app.config.maxRevocations,
    onError: (error) => app.log.error({ err: error }, 'revocations: enforcement failed')
  })
  app.decorate('revocations', revocations)
  // Registered after the store, so this runs before the store's onClose closes the database.
  app.addHook('onClose', async () => { await revocations.close() })
}, { name: 'revocations', dependencies: ['config', 'store'] })
