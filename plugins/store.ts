// Builds the configured context store and closes it with the server: Redis (MCP_STORE=redis),
// memory persisted to MCP_DATA_DIR (the default), or memory only (MCP_DATA_DIR empty).
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { tokenCounter } from '../src/token-counter.js'
import { MemoryContextStore } from '../src/store/memory-store.js'
import { openPersistentStore } from '../src/store/sqlite-journal.js'
import { RedisContextStore } from '../src/store/redis-store.js'
import type { ContextStore } from '../src/store/context-store.js'
import type { Surface } from '../src/store/types.js'

declare module 'fastify' {
  interface FastifyInstance { store: ContextStore }
}

async function createStore (app: FastifyInstance): Promise<ContextStore> {
  const { config, log } = app
  const options = {
    maxTokens: config.maxTokens,
    maxEntryTokens: config.maxEntryTokens,
    countTokens: tokenCounter(config.tokenEncoding),
    // Large contents are counted on the pool's worker threads (plugins/tokenizer.ts).
    countWriteTokens: (text: string) => app.tokenizer.count(text),
    historySize: config.historySize,
    historyBytes: config.historyBytes,
    maxDepth: config.maxDepth,
    idempotencyTtlMs: config.idempotencyTtlMs,
    idempotencyMaxKeys: config.idempotencyMaxKeys,
    // Read when a request is answered, long after boot: the metrics plugin is registered by then.
    onIdempotency: (outcome: 'replayed' | 'conflict', surface: Surface) => {
      (outcome === 'replayed' ? app.metrics.idempotencyReplays : app.metrics.idempotencyConflicts).inc({ surface })
    },
    onError: (error: unknown) => log.error({ err: error }, 'context store background failure')
  }
  if (config.store === 'redis') {
    const store = await RedisContextStore.connect({
      ...options,
      target: config.redisTarget,
      prefix: config.redisPrefix,
      waitReplicas: config.redisWaitReplicas,
      waitTimeoutMs: config.redisWaitTimeoutMs,
      log
    })
    log.info({ tenants: store.tenants().length, prefix: config.redisPrefix, cluster: 'cluster' in config.redisTarget, waitReplicas: config.redisWaitReplicas },
      'store: redis, shared with every instance on the same prefix')
    return store
  }
  if (config.dataDir === undefined) {
    log.warn('store: memory only (MCP_DATA_DIR is empty): nothing survives a restart')
    return new MemoryContextStore(options)
  }
  const { store, restoredTenants } = openPersistentStore({ ...options, dataDir: config.dataDir, fsync: config.fsync })
  log.info({ dataDir: config.dataDir, fsync: config.fsync, restoredTenants }, 'store: memory, persisted to MCP_DATA_DIR')
  return store
}

export default fp(async (app) => {
  app.decorate('store', await createStore(app))
  app.addHook('onClose', async () => { await app.store.close() })
}, { name: 'store', dependencies: ['config', 'tokenizer'] })
