// The store's property test, run against the Redis backend: random sequences of writes,
// overwrites, priority changes, removals, clears and budgeted queries, decided by the Lua scripts
// in Redis, must leave exactly what the naive reference of CONTRACT §1 keeps. A second instance
// following the streams must end up with the same store. Fewer runs than the in-memory property
// test: every operation is a round trip to Redis.
import fc from 'fast-check'
import { RedisContextStore } from '../../src/store/redis-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import {
  EVICTING_MAX_TOKENS, concurrentEvictionHolds, differenceFromReference, evictingOperation, storeOperation, type RunStats
} from '../helpers/store-operations.js'
import { actor } from '../helpers/actors.js'
import { REDIS_URL, eventually, redisTest, uniquePrefix } from '../helpers/redis.js'

const NUM_RUNS = 200

redisTest('the Redis backend keeps exactly what the naive reference keeps', async (t) => {
  const prefix = uniquePrefix(t)
  const maxTokens = 150
  const options = { url: REDIS_URL, prefix, maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 }
  const store = await RedisContextStore.connect(options)
  t.teardown(() => store.close())
  const follower = await RedisContextStore.connect(options)
  t.teardown(() => follower.close())
  let run = 0
  let failure = ''

  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 20, max: maxTokens }),
    fc.array(storeOperation, { minLength: 1, maxLength: 40 }),
    async (budget, operations) => {
      // Each run is its own tenant, so runs never see each other's entries. The tenant budget is
      // the store's; `budget` caps entries written, so small stores are exercised too.
      const tenant = `run-${++run}`
      const root = actor('root', ['admin'], tenant)
      // The follower serves the tenant too (a client of it is connected there).
      await follower.use(tenant)
      failure = await differenceFromReference(store, root, maxTokens, operations, budget) ?? ''
      if (failure !== '') return false
      // The follower applied the same changes from the stream.
      await eventually(() => follower.seq(tenant) === store.seq(tenant), 10_000, `follower to reach seq ${store.seq(tenant)}`)
      const followerJson = follower.snapshot(tenant).entries.map((e) => e.json)
      if (JSON.stringify(followerJson) !== JSON.stringify(store.snapshot(tenant).entries.map((e) => e.json))) {
        failure = 'the follower differs'
        return false
      }
      return true
    }
  ), { numRuns: NUM_RUNS }).catch((error: Error) => { t.fail(`${error.message}\n${failure}`) })
  t.equal(run >= NUM_RUNS, true, `ran ${run} sequences`)
  t.equal(Object.getPrototypeOf({}), Object.prototype, 'Object.prototype untouched')
})

redisTest('a Redis store kept full and evicting keeps exactly what the naive reference keeps', async (t) => {
  const NUM_FULL_RUNS = 150
  const maxTokens = EVICTING_MAX_TOKENS
  const options = { url: REDIS_URL, prefix: uniquePrefix(t), maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 }
  const store = await RedisContextStore.connect(options)
  t.teardown(() => store.close())
  const totals: RunStats = { writes: 0, evictions: 0 }
  let run = 0
  let evictingRuns = 0
  let failure = ''
  await fc.assert(fc.asyncProperty(
    fc.array(evictingOperation, { minLength: 10, maxLength: 40 }),
    async (operations) => {
      const root = actor('root', ['admin'], `full-${++run}`)
      const stats: RunStats = { writes: 0, evictions: 0 }
      failure = await differenceFromReference(store, root, maxTokens, operations, Infinity, stats) ?? ''
      totals.writes += stats.writes
      totals.evictions += stats.evictions
      if (stats.evictions > 0) evictingRuns++
      return failure === ''
    }
  ), { numRuns: NUM_FULL_RUNS }).catch((error: Error) => { t.fail(`${error.message}\n${failure}`) })
  t.ok(evictingRuns >= NUM_FULL_RUNS * 0.9, `${evictingRuns} of ${NUM_FULL_RUNS} runs evicted (${totals.evictions} evictions in ${totals.writes} writes)`)
})

redisTest('two instances writing one full, evicting store at once keep exactly what the naive reference keeps', async (t) => {
  const maxTokens = EVICTING_MAX_TOKENS
  const options = { url: REDIS_URL, prefix: uniquePrefix(t), maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 }
  const stores = [await RedisContextStore.connect(options), await RedisContextStore.connect(options)] as const
  for (const store of stores) t.teardown(() => store.close())
  t.ok(await concurrentEvictionHolds(t, stores, 60), 'every run matched the reference')
})
