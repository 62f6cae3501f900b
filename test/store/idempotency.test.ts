// Idempotent writes on every backend (memory, the embedded journal, Redis): the first result is
// kept per (tenant, user, key) and replayed marked `replayed`, with no new change; a different
// request under the key is refused and changes nothing; concurrent requests with one key apply
// once; entries expire after the TTL and beyond the cap the oldest keys go first; the journal
// keeps them across a restart.
import { test, type Test } from 'tap'
import { ContextError } from '../../src/errors.js'
import type { ContextStore } from '../../src/store/context-store.js'
import type { IdempotencyOptions } from '../../src/store/idempotency.js'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { RedisContextStore } from '../../src/store/redis-store.js'
import { openPersistentStore } from '../../src/store/sqlite-journal.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { tokenCounter } from '../../src/token-counter.js'
import { alice, bob } from '../helpers/actors.js'
import { REDIS_URL, redisAnswers, uniquePrefix } from '../helpers/redis.js'

const base = { maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 100 }
const redisAvailable = await redisAnswers()

type Backend = { name: string, open: (t: Test, options?: IdempotencyOptions) => Promise<ContextStore> }

const BACKENDS: Backend[] = [
  { name: 'memory', open: async (t, options) => track(t, new MemoryContextStore({ ...base, ...options })) },
  { name: 'journal', open: async (t, options) => track(t, openPersistentStore({ ...base, ...options, dataDir: t.testdir(), fsync: 'batch' }).store) },
  ...(redisAvailable
    ? [{ name: 'redis', open: async (t: Test, options?: IdempotencyOptions) => track(t, await RedisContextStore.connect({ ...base, ...options, url: REDIS_URL, prefix: uniquePrefix(t) })) }]
    : [])
]

function track<S extends ContextStore> (t: Test, store: S): S {
  t.teardown(() => store.close())
  return store
}

const key = (k: string) => ({ idempotencyKey: k })

function changesOf (store: ContextStore): ChangeEvent[] {
  const heard: ChangeEvent[] = []
  store.onChange((change) => heard.push(change))
  return heard
}

async function refusal (t: Test, promise: Promise<unknown>): Promise<ContextError | undefined> {
  try {
    await promise
    t.fail('expected a refusal')
  } catch (error) {
    if (error instanceof ContextError) return error
    throw error
  }
  return undefined
}

for (const backend of BACKENDS) {
  test(`${backend.name}: a repeated write gets its first result back, replayed, and changes nothing`, async (t) => {
    const store = await backend.open(t)
    const heard = changesOf(store)
    const first = await store.write(alice, { key: 'k', content: { step: 1 }, priority: 3 }, key('w1'))
    t.equal(first.replayed, undefined, 'the first reply is not a replay')
    const again = await store.write(alice, { key: 'k', content: { step: 1 }, priority: 3 }, key('w1'))
    const { entry: _entry, ...firstReply } = first
    t.same(again, { ...firstReply, replayed: true }, 'same key, tokens, version, seq, evicted; marked replayed')
    t.equal(store.get('default', 'k')?.entry.version, 1, 'applied once')
    t.same(heard.map((c) => c.seq), [first.seq], 'one change, so one broadcast')

    const reused = await refusal(t, store.write(alice, { key: 'k', content: { step: 2 } }, key('w1')))
    t.equal(reused?.code, 'validation_error')
    t.same(reused?.details, { reason: 'idempotency_key_reused' })
    t.same(store.get('default', 'k')?.entry.content, { step: 1 }, 'the refused request changed nothing')
    t.same(heard.map((c) => c.seq), [first.seq], 'and made no change')

    const bobs = await store.write(bob, { key: 'b', content: { step: 1 }, priority: 3 }, key('w1'))
    t.equal(bobs.replayed, undefined, "another user's key is their own")
    const generated = await store.write(alice, { content: { note: true } }, key('gen'))
    const generatedAgain = await store.write(alice, { content: { note: true } }, key('gen'))
    t.equal(generatedAgain.key, generated.key, 'a write without key replays the key the server made')
    t.equal(store.snapshot('default').entries.length, 3, 'and made one entry')
  })

  test(`${backend.name}: set_priority, remove and clear replay too; a refused first request keeps nothing`, async (t) => {
    const store = await backend.open(t)
    await store.write(alice, { key: 'a', content: { a: 1 } })
    await store.write(alice, { key: 'b', content: { b: 1 } })
    const priority = await store.setPriority(alice, 'a', 7, key('p'))
    t.same(await store.setPriority(alice, 'a', 7, key('p')), { ...priority, replayed: true })
    t.equal(store.get('default', 'a')?.entry.version, 2, 'the priority change counted once')
    t.equal((await refusal(t, store.setPriority(alice, 'a', 8, key('p'))))?.code, 'validation_error')

    const removed = await store.remove(alice, 'a', key('r'))
    t.same(await store.remove(alice, 'a', key('r')), { ...removed, replayed: true }, 'a repeated delete is not a not_found')
    const cleared = await store.clear(alice, { keys: ['b'] }, key('c'))
    t.same(cleared.removed, ['b'])
    await store.write(alice, { key: 'b', content: { b: 2 } })
    t.same(await store.clear(alice, { keys: ['b'] }, key('c')), { ...cleared, replayed: true }, 'a repeated clear does not clear the new entry')
    t.ok(store.get('default', 'b') !== undefined, 'which is still there')
    const nothing = await store.clear(alice, { source: 'none-such' }, key('empty'))
    t.same(await store.clear(alice, { source: 'none-such' }, key('empty')), { ...nothing, replayed: true }, 'a clear that matched nothing replays too')

    await refusal(t, store.write(alice, { key: 'b', content: { x: 1 }, expected_version: 9 }, key('conflict')))
    const retried = await store.write(alice, { key: 'b', content: { x: 1 }, expected_version: 9 }, key('conflict')).catch((error: unknown) => error)
    t.equal((retried as ContextError).code, 'version_conflict', 'a refused request is not kept: its retry is decided again')
  })

  test(`${backend.name}: concurrent requests with one key apply once`, async (t) => {
    const store = await backend.open(t)
    const results = await Promise.all(Array.from({ length: 6 }, () => store.write(alice, { key: 'once', content: { n: 1 } }, key('same'))))
    t.equal(results.filter((r) => r.replayed !== true).length, 1, 'one applied')
    t.same(new Set(results.map((r) => r.seq)).size, 1, 'every reply names the same change')
    t.equal(store.get('default', 'once')?.entry.version, 1)
  })

  test(`${backend.name}: beyond the cap the oldest keys go first`, async (t) => {
    const store = await backend.open(t, { idempotencyMaxKeys: 2 })
    for (const name of ['a', 'b', 'c']) await store.write(alice, { key: name, content: { v: 1 } }, key(name))
    const oldest = await store.write(alice, { key: 'a', content: { v: 1 } }, key('a'))
    t.equal(oldest.replayed, undefined, 'the oldest key was dropped at the cap: applied again')
    t.equal(oldest.version, 2)
    t.equal((await store.write(alice, { key: 'a', content: { v: 1 } }, key('a'))).replayed, true, 'and kept anew')
    t.equal((await store.write(alice, { key: 'c', content: { v: 1 } }, key('c'))).replayed, true, 'the newer keys are kept')
  })

  test(`${backend.name}: keys expire after the TTL`, async (t) => {
    const store = await backend.open(t, { idempotencyTtlMs: 300 })
    await store.write(alice, { key: 'a', content: { v: 1 } }, key('a'))
    // Waiting past the TTL (any longer wait gives the same outcome).
    await new Promise((resolve) => setTimeout(resolve, 400))
    const late = await store.write(alice, { key: 'a', content: { v: 1 } }, key('a'))
    t.equal(late.replayed, undefined, 'after the TTL the key is free again')
    t.equal(late.version, 2, 'and the write applies again')
  })
}

test('journal: kept replies survive a restart of the store on the same MCP_DATA_DIR', async (t) => {
  const dataDir = t.testdir()
  const first = openPersistentStore({ ...base, dataDir, fsync: 'batch' }).store
  const written = await first.write(alice, { key: 'k', content: { v: 1 } }, key('durable'))
  await first.close()
  const second = track(t, openPersistentStore({ ...base, dataDir, fsync: 'batch' }).store)
  const { entry: _entry, ...reply } = written
  t.same(await second.write(alice, { key: 'k', content: { v: 1 } }, key('durable')), { ...reply, replayed: true })
  t.equal(second.get('default', 'k')?.entry.version, 1, 'not applied twice')
  t.equal((await refusal(t, second.write(alice, { key: 'k', content: { v: 2 } }, key('durable'))))?.code, 'validation_error')
})
