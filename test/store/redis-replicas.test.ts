// Replicas on demand on one Redis (the shared one, under a prefix of this run): the scenarios of
// test/helpers/replica-scenarios.ts (the cluster runs them too), and a tenant that cannot be
// loaded because Redis is away: `unavailable` to the caller, loaded on the next use once it is back.
import { ContextError } from '../../src/errors.js'
import { RedisContextStore } from '../../src/store/redis-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { replicaScenarios } from '../helpers/replica-scenarios.js'
import { REDIS_URL, eventually, privateRedis, redisTest, uniquePrefix } from '../helpers/redis.js'
import { testConfig } from '../helpers/config.js'
import { buildApp } from '../../src/app.js'
import { signTestToken } from '../helpers/tokens.js'

redisTest('replicas on demand on one Redis', async (t) => {
  await replicaScenarios(t, { target: { url: REDIS_URL }, env: { MCP_STORE: 'redis', REDIS_URL }, prefix: (sub) => uniquePrefix(sub) })
})

redisTest('a tenant that cannot be loaded (Redis away) is refused unavailable, and loads once Redis is back', async (t) => {
  const redis = await privateRedis(t)
  const store = await RedisContextStore.connect({
    maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 10, url: redis.url, prefix: 'down'
  })
  t.teardown(() => store.close())
  const app = await buildApp(testConfig({ MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: 'down' }), { logger: false })
  t.teardown(() => app.close())
  await redis.stop()
  const refused = await store.use('away').then(() => undefined, (error: unknown) => error)
  t.ok(refused instanceof ContextError && refused.code === 'unavailable', 'use() rejects unavailable')
  t.same(store.tenants(), [], 'nothing half-loaded is kept')
  const res = await app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${signTestToken({ sub: 'r', roles: ['reader'], tenant: 'away' })}` } })
  t.equal(res.statusCode, 503, 'a REST request of the tenant gets 503')
  t.match(res.json(), { details: { reason: 'unavailable' } })
  await redis.start()
  await eventually(async () => await store.use('away').then(() => true, () => false), 15_000, 'the tenant to load once Redis is back')
  t.same(store.tenants(), ['away'])
})
