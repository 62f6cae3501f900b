// A TTL that expires between two reads of one synchronous step (GET /context reads the entries, then
// the totals) must not make them disagree: the store applies due expiries once per step. Found by
// the fuzz run's budget invariant (test/fuzz); the clock is stepped here so the moment is certain.
import { test } from 'tap'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { alice } from '../helpers/actors.js'

test('entries and totals read in one step agree while a TTL expires between them', async (t) => {
  const store = new MemoryContextStore({ maxTokens: 10000, maxEntryTokens: 10000, countTokens: tokenCounter('o200k_base'), historySize: 100 })
  t.teardown(() => store.close())
  await store.write(alice, { key: 'short', content: { v: 1 }, ttl_seconds: 1 })
  await store.write(alice, { key: 'kept', content: { v: 2 } })
  await new Promise((resolve) => setImmediate(resolve))

  // Each reading of the clock is 0.6 s later than the last: the entry is live at the first read
  // of this step and due at the second.
  const realNow = Date.now
  const start = realNow() + 500
  let readings = 0
  Date.now = () => start + 600 * readings++
  let entries: string[]
  let metadata: ReturnType<typeof store.metadata>
  try {
    entries = store.query('default', {}).entries.map((stored) => stored.key)
    metadata = store.metadata('default')
  } finally {
    Date.now = realNow
  }
  t.equal(metadata.entry_count, entries.length, `entries ${JSON.stringify(entries)} and totals ${JSON.stringify(metadata)} agree`)
  const total = entries.reduce((sum, key) => sum + (store.get('default', key)?.entry.tokens ?? 0), 0)
  t.equal(metadata.total_tokens, total)

  // The next step sees the expiry.
  await new Promise((resolve) => setImmediate(resolve))
  Date.now = () => start + 5000
  try {
    t.same(store.query('default', {}).entries.map((stored) => stored.key), ['kept'])
  } finally {
    Date.now = realNow
  }
})
