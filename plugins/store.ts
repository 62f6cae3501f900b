// Builds the configured context store (memory or Redis) and closes it with the server.
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { tokenCounter } from '../src/token-counter.js'
import { MemoryContextStore } from '../src/store/memory-store.js'
import type { ContextStore } from '../src/store/context-store.js'

declare module 'fastify' {
  interface FastifyInstance { store: ContextStore }
}

async function createStore (app: FastifyInstance): Promise<ContextStore> {
  const { config } = app
  const tenantOptions = {
    maxTokens: config.maxTokens,
    maxEntryTokens: config.maxEntryTokens,
    countTokens: tokenCounter(config.tokenEncoding),
    historySize: config.historySize,
    maxDepth: config.maxDepth
  }
  const onError = (error: unknown) => app.log.error({ err: error }, 'context store background failure')
  return new MemoryContextStore({ ...tenantOptions, onError })
}

export default fp(async (app) => {
  app.decorate('store', await createStore(app))
  app.addHook('onClose', async () => { await app.store.close() })
}, { name: 'store', dependencies: ['config'] })
