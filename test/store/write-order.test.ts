// A tenant's operations are applied in the order they were called, on every backend, while a
// large write before them is being counted on a worker thread: nothing sent later overtakes it,
// a refused count changes nothing and lets the next operation go on, and another tenant is not
// held up by it.
import { test, type Test } from 'tap'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { RedisContextStore } from '../../src/store/redis-store.js'
import type { ContextStore } from '../../src/store/context-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { TokenCountingPool } from '../../src/tokenizer/counting-pool.js'
import { prose } from '../../bench/prose.js'
import { actor, alice, bob } from '../helpers/actors.js'
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'

const BIG = { note: prose(300_000) }

function options (t: Test, maxQueue = 8) {
  const pool = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 1024, maxQueue })
  t.teardown(() => pool.close())
  return { maxTokens: 1_000_000, maxEntryTokens: 1_000_000, countTokens: tokenCounter('o200k_base'), countWriteTokens: (text: string) => pool.count(text), historySize: 100 }
}

const backends: Array<[string, (t: Test, maxQueue?: number) => Promise<ContextStore>, (name: string, fn: (t: Test) => Promise<void>) => void]> = [
  ['memory', async (t, maxQueue) => {
    const store = new MemoryContextStore(options(t, maxQueue))
    t.teardown(() => store.close())
    return store
  }, (name, fn) => { test(name, fn) }],
  ['redis', async (t, maxQueue) => {
    const store = await RedisContextStore.connect({ ...options(t, maxQueue), url: REDIS_URL, prefix: uniquePrefix(t) })
    t.teardown(() => store.close())
    return store
  }, redisTest]
]

for (const [backend, open, testOn] of backends) {
  testOn(`${backend}: operations sent after a large write are applied after it, in order`, async (t) => {
    const store = await open(t)
    // Called back to back, none awaited: the order of the calls is the order of sending.
    const big = store.write(alice, { key: 'big', content: BIG })
    const small = store.write(alice, { key: 'small', content: { n: 1 } })
    const raised = store.setPriority(alice, 'big', 9) // fails with not_found if it overtook the write
    const removed = store.remove(alice, 'small')
    const byBob = store.write(bob, { key: 'bob', content: { n: 2 } })
    const cleared = store.clear(bob, {})
    const results = await Promise.all([big, small, raised, removed, byBob, cleared])
    t.same(results.map((r) => r.seq), [1, 2, 3, 4, 5, 6], 'seqs follow the calls')
    t.equal(results[0].tokens, tokenCounter('o200k_base')(JSON.stringify(BIG)), 'the thread counted what the inline counter counts')
    t.same(store.snapshot('default').entries.map((e) => [e.key, e.entry.priority]), [['big', 9]])
  })

  testOn(`${backend}: a refused count changes nothing and the tenant's next write goes on`, async (t) => {
    const store = await open(t, 0)
    const first = store.write(alice, { key: 'first', content: BIG })
    const refused = store.write(alice, { key: 'refused', content: BIG }) // the one thread is busy, no queue
    const after = store.write(alice, { key: 'after', content: { n: 1 } })
    const outcomes = await Promise.allSettled([first, refused, after])
    t.same(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled'])
    t.match((outcomes[1] as PromiseRejectedResult).reason, { code: 'rate_limited' })
    t.same([(await first).seq, (await after).seq], [1, 2], 'no seq was spent on the refused write')
    t.same(store.snapshot('default').entries.map((e) => e.key).sort(), ['after', 'first'])
  })

  testOn(`${backend}: another tenant's writes do not wait for this tenant's large write`, async (t) => {
    const store = await open(t)
    const elsewhere = actor('carol', ['writer'], 'other')
    const big = store.write(alice, { key: 'big', content: BIG })
    const other = await store.write(elsewhere, { key: 'other', content: { n: 1 } })
    t.equal(other.seq, 1)
    t.equal(store.get('default', 'big'), undefined, 'the other tenant\'s write was acknowledged while the large one was still being counted')
    t.equal((await big).seq, 1)
  })
}
