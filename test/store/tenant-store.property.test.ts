// Thousands of random operation sequences against the naive reference of CONTRACT §1: the real
// store (ranked index, no sorting) must hold exactly the same entries in the same rank order.
// The Redis backend runs the same sequences through the same interpreter (redis-store.property).
import { test } from 'tap'
import fc from 'fast-check'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { EVICTING_MAX_TOKENS, differenceFromReference, evictingOperation, storeOperation, type RunStats } from '../helpers/store-operations.js'
import { admin } from '../helpers/actors.js'

const NUM_RUNS = 2000

test('the ranked store keeps exactly what the naive reference keeps', async (t) => {
  let runs = 0
  let failure: string | undefined
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 20, max: 150 }),
    fc.array(storeOperation, { minLength: 1, maxLength: 60 }),
    async (maxTokens, operations) => {
      runs++
      const store = new MemoryContextStore({ maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 })
      try {
        failure = await differenceFromReference(store, admin, maxTokens, operations)
      } finally {
        await store.close()
      }
      return failure === undefined
    }
  ), { numRuns: NUM_RUNS }).catch((error: Error) => { t.fail(`${error.message}\n${failure ?? ''}`) })
  t.equal(runs >= NUM_RUNS, true, `ran ${runs} sequences`)
  t.equal(Object.getPrototypeOf({}), Object.prototype, 'Object.prototype untouched')
  t.equal(({} as Record<string, unknown>).text, undefined, 'no polluted properties')
})

test('a store kept full and evicting keeps exactly what the naive reference keeps', async (t) => {
  const NUM_FULL_RUNS = 500
  const totals: RunStats = { writes: 0, evictions: 0 }
  let evictingRuns = 0
  let failure: string | undefined
  await fc.assert(fc.asyncProperty(
    fc.array(evictingOperation, { minLength: 10, maxLength: 40 }),
    async (operations) => {
      const maxTokens = EVICTING_MAX_TOKENS
      const store = new MemoryContextStore({ maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 })
      const stats: RunStats = { writes: 0, evictions: 0 }
      try {
        failure = await differenceFromReference(store, admin, maxTokens, operations, Infinity, stats)
      } finally {
        await store.close()
      }
      totals.writes += stats.writes
      totals.evictions += stats.evictions
      if (stats.evictions > 0) evictingRuns++
      return failure === undefined
    }
  ), { numRuns: NUM_FULL_RUNS }).catch((error: Error) => { t.fail(`${error.message}\n${failure ?? ''}`) })
  t.ok(evictingRuns >= NUM_FULL_RUNS * 0.9, `${evictingRuns} of ${NUM_FULL_RUNS} runs evicted (${totals.evictions} evictions in ${totals.writes} writes)`)
})
