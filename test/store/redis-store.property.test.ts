// The store's property test, run against the Redis backend: random sequences of writes,
// overwrites, priority changes, removals, clears and budgeted queries, decided by the Lua scripts
// in Redis, must leave exactly what the naive reference of CONTRACT §1 keeps. A second instance
// following the streams must end up with the same store. Fewer runs than the in-memory property
// test: every operation is a round trip to Redis.
import fc from 'fast-check'
import { RedisContextStore } from '../../src/store/redis-store.js'
import { ContextError } from '../../src/errors.js'
import { tokenCounter } from '../../src/token-counter.js'
import { ReferenceStore } from '../helpers/reference-store.js'
import { oracleCount, storeOperation } from '../helpers/store-operations.js'
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
      const reference = new ReferenceStore(maxTokens)
      const sources = new Map<string, string>()
      const check = (what: string): boolean => {
        const realKeys = store.snapshot(tenant).entries.map((e) => e.key)
        const expectedKeys = reference.ranked().map((e) => e.key)
        if (JSON.stringify(realKeys) !== JSON.stringify(expectedKeys) || store.metadata(tenant).total_tokens !== reference.total()) {
          failure = `${what}: ${JSON.stringify(realKeys)} != ${JSON.stringify(expectedKeys)}`
          return false
        }
        return true
      }
      for (const step of operations) {
        if (step.op === 'write' || step.op === 'writeGenerated') {
          const content = { text: step.words.join(' ') }
          const source = step.words.length % 2 === 0 ? 's1' : 's2'
          const tokens = oracleCount(content)
          if (tokens > budget) continue
          const result = await store.write(root, { content, priority: step.priority, source, key: step.op === 'write' ? step.key : undefined })
          if (result.tokens !== tokens) { failure = `tokens ${result.tokens} != ${tokens}`; return false }
          reference.write(result.key, tokens, step.priority)
          sources.set(result.key, source)
        } else if (step.op === 'priority') {
          const present = reference.entries.has(step.key)
          try {
            await store.setPriority(root, step.key, step.priority)
            if (!present) { failure = 'priority of a missing key succeeded'; return false }
            reference.setPriority(step.key, step.priority)
          } catch (error) {
            if (present || !(error instanceof ContextError) || error.code !== 'not_found') throw error
          }
        } else if (step.op === 'remove') {
          const present = reference.entries.has(step.key)
          try {
            await store.remove(root, step.key)
            reference.remove(step.key)
          } catch (error) {
            if (present || !(error instanceof ContextError) || error.code !== 'not_found') throw error
          }
        } else if (step.op === 'clearSource') {
          const result = await store.clear(root, { source: step.prefix })
          const expected = [...reference.entries.keys()].filter((k) => sources.get(k)?.startsWith(step.prefix))
          if (result.count !== expected.length) { failure = `clear removed ${result.count}, expected ${expected.length}`; return false }
          for (const k of expected) reference.remove(k)
        } else {
          const { entries } = store.query(tenant, { max_tokens: step.budget, min_priority: step.minPriority })
          let left = step.budget
          const expected = reference.ranked().filter((e) => e.priority >= step.minPriority)
            .filter((e) => (e.tokens <= left ? ((left -= e.tokens), true) : false)).map((e) => e.key)
          if (JSON.stringify(entries.map((e) => e.key)) !== JSON.stringify(expected)) { failure = 'query differs'; return false }
        }
        if (!check(step.op)) return false
      }
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
