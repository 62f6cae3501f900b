// The property test of the eviction rule on the embedded persistent backend: random sequences that
// keep the store full and evicting must leave exactly what the naive reference of CONTRACT §1
// keeps, and a store reopened from the journal must hold the same, byte for byte.
import { test } from 'tap'
import fc from 'fast-check'
import { openPersistentStore } from '../../src/store/sqlite-journal.js'
import { tokenCounter } from '../../src/token-counter.js'
import { EVICTING_MAX_TOKENS, differenceFromReference, evictingOperation, type RunStats } from '../helpers/store-operations.js'
import { admin } from '../helpers/actors.js'

const NUM_RUNS = 150

test('a persisted store kept full and evicting keeps exactly what the reference keeps, across a reopen', async (t) => {
  const maxTokens = EVICTING_MAX_TOKENS
  const options = (dataDir: string) => ({
    dataDir, fsync: 'batch' as const, maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100
  })
  const totals: RunStats = { writes: 0, evictions: 0 }
  let run = 0
  let evictingRuns = 0
  let failure: string | undefined
  const root = t.testdir()
  await fc.assert(fc.asyncProperty(
    fc.array(evictingOperation, { minLength: 10, maxLength: 40 }),
    async (operations) => {
      const dir = `${root}/run-${++run}`
      const { store } = openPersistentStore(options(dir))
      const stats: RunStats = { writes: 0, evictions: 0 }
      let before: string[]
      try {
        failure = await differenceFromReference(store, admin, maxTokens, operations, Infinity, stats)
        before = store.snapshot('default').entries.map((e) => e.json)
      } finally {
        await store.close()
      }
      totals.writes += stats.writes
      totals.evictions += stats.evictions
      if (stats.evictions > 0) evictingRuns++
      if (failure !== undefined) return false
      const reopened = openPersistentStore(options(dir)).store
      const after = reopened.snapshot('default').entries.map((e) => e.json)
      await reopened.close()
      if (JSON.stringify(after) !== JSON.stringify(before)) failure = 'the reopened store differs'
      return failure === undefined
    }
  ), { numRuns: NUM_RUNS }).catch((error: Error) => { t.fail(`${error.message}\n${failure ?? ''}`) })
  t.ok(evictingRuns >= NUM_RUNS * 0.9, `${evictingRuns} of ${NUM_RUNS} runs evicted (${totals.evictions} evictions in ${totals.writes} writes)`)
})
