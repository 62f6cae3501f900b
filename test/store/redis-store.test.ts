// The Redis backend against the real Redis at REDIS_URL: it answers exactly like the memory
// backend, several instances share one store and one ordered change stream, eviction stays exact
// with concurrent writers, and an instance cut off from Redis refuses writes and catches up.
import { test, type Test } from 'tap'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { RedisContextStore, type RedisStoreOptions } from '../../src/store/redis-store.js'
import type { ContextStore } from '../../src/store/context-store.js'
import type { ChangeEvent, StoredEntry } from '../../src/store/types.js'
import { ContextError } from '../../src/errors.js'
import { tokenCounter } from '../../src/token-counter.js'
import { ReferenceStore } from '../helpers/reference-store.js'
import { actor, admin, alice, bob, reader } from '../helpers/actors.js'
import { REDIS_URL, eventually, freePort, partitionableProxy, redisTest, uniquePrefix } from '../helpers/redis.js'

const storeOptions = (maxTokens: number) => ({
  maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100
})

async function redisStore (t: Test, options: Partial<RedisStoreOptions> & { prefix: string, maxTokens?: number }) {
  const store = await RedisContextStore.connect({ ...storeOptions(options.maxTokens ?? 1000), url: REDIS_URL, ...options })
  t.teardown(() => store.close())
  return store
}

/** What a client sees of an entry, minus the wall-clock timestamps two backends cannot share. */
const visible = (stored: StoredEntry) => {
  const { timestamp, ...rest } = stored.entry
  return { key: stored.key, ...rest }
}
const state = (store: ContextStore, tenant = 'default') => ({
  entries: store.snapshot(tenant).entries.map(visible),
  metadata: store.metadata(tenant),
  seq: store.seq(tenant)
})

async function outcome (operation: () => Promise<unknown>) {
  try {
    const result = await operation() as Record<string, unknown>
    // Each backend has its own history, so its own epoch; the rest must be the same.
    const { entry, epoch: _epoch, ...rest } = result
    if (entry !== undefined) {
      const { timestamp, ...entryRest } = entry as Record<string, unknown>
      return { ok: { ...rest, entry: entryRest } }
    }
    return { ok: rest }
  } catch (error) {
    if (!(error instanceof ContextError)) throw error
    return { error: { code: error.code, message: error.message } }
  }
}

redisTest('the Redis backend answers every operation exactly like the memory backend', async (t) => {
  const memory = new MemoryContextStore(storeOptions(60))
  t.teardown(() => memory.close())
  const redis = await redisStore(t, { prefix: uniquePrefix(t), maxTokens: 60 })
  const words = (n: number) => ({ text: Array.from({ length: n }, () => 'word').join(' ') })
  const scenario: Array<[string, (s: ContextStore) => Promise<unknown>]> = [
    ['create', (s) => s.write(alice, { content: { a: 1 }, key: 'a', priority: 3 })],
    ['replace', (s) => s.write(alice, { content: { a: 2 }, key: 'a', priority: 3, expected_version: 1 })],
    ['stale expected_version', (s) => s.write(alice, { content: { a: 3 }, key: 'a', expected_version: 1 })],
    ['create with a source', (s) => s.write(alice, { content: { k: 1 }, key: 'kept', priority: 7, source: 'planner' })],
    ['rewrite keeps priority and source', (s) => s.write(alice, { content: { k: 2 }, key: 'kept' })],
    ['rewrite changes them when given', (s) => s.write(alice, { content: { k: 3 }, key: 'kept', priority: 2, source: 'critic' })],
    ['create-only on an existing key', (s) => s.write(alice, { content: { a: 3 }, key: 'a', expected_version: 0 })],
    ["another writer's key", (s) => s.write(bob, { content: { b: 1 }, key: 'a' })],
    ['a reader writes', (s) => s.write(reader, { content: { r: 1 }, key: 'r' })],
    ['priority out of range', (s) => s.write(alice, { content: {}, key: 'p', priority: 11 })],
    ['too large alone', (s) => s.write(alice, { content: words(100), key: 'big' })],
    ['bob writes', (s) => s.write(bob, { content: words(20), key: 'b1', source: 'bob_agent', priority: 2 })],
    ['low priority fills up', (s) => s.write(alice, { content: words(20), key: 'low', source: 'alice_agent', priority: 1 })],
    ['a write evicts the last ranked', (s) => s.write(alice, { content: words(20), key: 'c', priority: 2 })],
    ['a low write evicts itself', (s) => s.write(alice, { content: words(30), key: 'self', priority: 1 })],
    ['admin raises priority', (s) => s.setPriority(admin, 'b1', 9)],
    ['reader sets priority of a missing key', (s) => s.setPriority(reader, 'nope', 2)],
    ['reader sets priority of an existing key', (s) => s.setPriority(reader, 'a', 2)],
    ["alice sets priority of bob's key", (s) => s.setPriority(alice, 'b1', 2)],
    ['remove a missing key', (s) => s.remove(alice, 'nope')],
    ["remove bob's key as alice", (s) => s.remove(alice, 'b1')],
    ['alice names a key of bob in a clear', (s) => s.clear(alice, { keys: ['a', 'b1'] })],
    ['a key named three times is cleared once', (s) => s.clear(admin, { keys: ['kept', 'kept', 'kept'] })],
    ['reader clears', (s) => s.clear(reader, {})],
    ['writer clears all', (s) => s.clear(alice, { all: true })],
    ['alice clears her own', (s) => s.clear(alice, {})],
    ['nothing left to clear', (s) => s.clear(alice, {})],
    ['bob writes again', (s) => s.write(bob, { content: { again: true }, key: 'b2', source: 'bob_other' })],
    ['admin clears by source prefix', (s) => s.clear(admin, { source: 'bob_agent' })],
    ['bob removes his own', (s) => s.remove(bob, 'b2')]
  ]
  for (const [name, operation] of scenario) {
    const expected = await outcome(() => operation(memory))
    const actual = await outcome(() => operation(redis))
    t.same(actual, expected, name)
    t.same(state(redis), state(memory), `${name}: same store afterwards`)
  }
})

redisTest('a change on one instance reaches the listeners of another once each, in seq order', async (t) => {
  const prefix = uniquePrefix(t)
  const a = await redisStore(t, { prefix })
  const b = await redisStore(t, { prefix })
  // B serves the tenant (a client of it connected there), so it follows it.
  await b.use('acme')
  const heard: ChangeEvent[] = []
  b.onChange((change) => heard.push(change))
  const writer = actor('alice', ['writer'], 'acme')
  for (let i = 0; i < 20; i++) await a.write(writer, { content: { i }, key: `k${i % 7}`, priority: 1 + (i % 3) })
  await a.remove(writer, 'k0')
  await eventually(() => b.seq('acme') === 21, 10_000, 'B to reach seq 21')
  t.same(heard.map((c) => c.seq), Array.from({ length: 21 }, (_, i) => i + 1), 'every seq once, in order')
  t.ok(heard.every((c) => c.tenant === 'acme'))
  t.same(state(b, 'acme'), state(a, 'acme'), 'both replicas hold the same store')
  t.same(b.changesSince('acme', 15)?.map((c) => c.seq), [16, 17, 18, 19, 20, 21], 'B can resume a client of A')

  // An instance started later loads the store and the recent history from Redis.
  const c = await redisStore(t, { prefix })
  await c.use('acme')
  t.same(state(c, 'acme'), state(a, 'acme'))
  t.same(c.changesSince('acme', 18)?.map((ch) => ch.seq), [19, 20, 21])
  t.same(c.changesSince('acme', 3)?.map((ch) => ch.upserted.map((u) => u.json)), a.changesSince('acme', 3)?.map((ch) => ch.upserted.map((u) => u.json)),
    'the same changes, byte for byte')
})

redisTest('a tenant first written on one instance is followed by another that uses it', async (t) => {
  const prefix = uniquePrefix(t)
  const a = await redisStore(t, { prefix })
  const b = await redisStore(t, { prefix })
  await b.use('brand-new')
  const heard: ChangeEvent[] = []
  b.onChange((change) => heard.push(change))
  await a.write(actor('zed', ['writer'], 'brand-new'), { content: { first: true }, key: 'x' })
  await eventually(() => heard.length === 1, 10_000, 'B to hear the new tenant')
  t.equal(heard[0].tenant, 'brand-new')
  t.ok(b.tenants().includes('brand-new'))
  t.same(b.get('brand-new', 'x')?.entry.content, { first: true })
})

redisTest('concurrent writers on two instances keep eviction exact', async (t) => {
  const prefix = uniquePrefix(t)
  const maxTokens = 300
  const a = await redisStore(t, { prefix, maxTokens })
  const b = await redisStore(t, { prefix, maxTokens })
  const count = tokenCounter('o200k_base')
  const writes: Array<{ seq: number, key: string, tokens: number, priority: number }> = []
  const tenantActor = actor('root', ['admin'], 'race')
  const writer = (store: RedisContextStore, name: string) => (async () => {
    for (let i = 0; i < 60; i++) {
      const content = { text: 'lorem ipsum '.repeat(1 + ((i * 7) % 13)), by: name }
      const priority = 1 + ((i * 3 + name.length) % 4)
      const key = `${name}-${i % 25}`
      const result = await store.write(tenantActor, { content, key, priority })
      writes.push({ seq: result.seq, key, tokens: count(JSON.stringify(content)), priority })
    }
  })()
  await Promise.all([writer(a, 'a'), writer(b, 'bb'), writer(a, 'ccc'), writer(b, 'dddd')])
  const reference = new ReferenceStore(maxTokens)
  for (const w of writes.sort((x, y) => x.seq - y.seq)) reference.write(w.key, w.tokens, w.priority)
  t.same(writes.map((w) => w.seq), Array.from({ length: 240 }, (_, i) => i + 1), 'every write got its own seq')
  await eventually(() => a.seq('race') === 240 && b.seq('race') === 240, 10_000, 'both replicas to reach seq 240')
  const expected = reference.ranked().map((e) => e.key)
  t.same(a.snapshot('race').entries.map((e) => e.key), expected, 'A keeps exactly what the reference keeps')
  t.same(b.snapshot('race').entries.map((e) => e.key), expected, 'B keeps exactly what the reference keeps')
  t.equal(a.metadata('race').total_tokens, reference.total())
  t.ok(reference.total() <= maxTokens)
  const fresh = await redisStore(t, { prefix, maxTokens })
  await fresh.use('race')
  t.same(fresh.snapshot('race').entries.map((e) => e.key), expected, 'Redis itself holds the same')
})

redisTest('generated keys stay unique when instances write at once', async (t) => {
  const prefix = uniquePrefix(t)
  const a = await redisStore(t, { prefix })
  const b = await redisStore(t, { prefix, maxTokens: 1000 })
  const results = await Promise.all(Array.from({ length: 60 }, (_, i) =>
    (i % 2 === 0 ? a : b).write(alice, { content: { i }, source: 'same_source' })))
  t.equal(new Set(results.map((r) => r.key)).size, 60)
  t.ok(results.every((r) => /^same_source_\d+\.\d{6}$/.test(r.key)))
})

redisTest('entries with a TTL expire once, on every instance', async (t) => {
  const prefix = uniquePrefix(t)
  const a = await redisStore(t, { prefix, expirySweepMs: 100 })
  const b = await redisStore(t, { prefix, expirySweepMs: 100 })
  await b.use('default')
  const heard: ChangeEvent[] = []
  b.onChange((change) => heard.push(change))
  const write = await a.write(alice, { content: { brief: true }, key: 'ttl', ttl_seconds: 1 })
  t.match(write.entry?.expires_at, /^\d{4}-\d\d-\d\dT/)
  await eventually(() => heard.some((c) => c.reason === 'expired'), 10_000, 'the expiry')
  t.equal(a.get('default', 'ttl'), undefined)
  t.equal(b.get('default', 'ttl'), undefined)
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(heard.map((c) => c.reason), ['created', 'expired'], 'one expiry for both instances sweeping')
  t.same(heard[1].removed, [{ key: 'ttl', reason: 'expired' }])
})

redisTest('an instance cut off from Redis refuses writes, then catches up, reloading what was trimmed', async (t) => {
  const prefix = uniquePrefix(t)
  const proxy = await partitionableProxy(t)
  const a = await redisStore(t, { prefix, maxTokens: 5000 })
  const b = await redisStore(t, { prefix, maxTokens: 5000, url: proxy.url })
  await b.use('default')
  const heard: ChangeEvent[] = []
  b.onChange((change) => heard.push(change))
  await a.write(alice, { content: { before: true }, key: 'before' })
  await eventually(() => b.seq('default') === 1, 10_000, 'B to follow')

  proxy.cut()
  await eventually(async () => !(await b.isReady()), 10_000, 'B to report not ready')
  const refused = await outcome(() => b.write(alice, { content: { during: true }, key: 'during' }))
  t.same(refused, { error: { code: 'unavailable', message: 'The shared store (Redis) is unavailable; the change was not acknowledged, retry later' } },
    'a write on B fails: no false success')

  // More changes than the stream keeps (at least 1000), so B cannot replay them all.
  for (let i = 0; i < 1500; i++) await a.write(alice, { content: { i }, key: `k${i % 40}` })
  proxy.restore()
  await eventually(() => b.seq('default') === a.seq('default'), 20_000, 'B to catch up')
  // The command connection may bring B up to date before the wake connection is back.
  await eventually(async () => await b.isReady(), 10_000, 'B to be ready again')
  t.ok(await b.isReady(), 'B is ready again')
  t.same(state(b), state(a), 'B holds exactly what A holds')
  t.equal(b.get('default', 'during'), undefined, 'the refused write never happened')
  const seqs = heard.map((c) => c.seq)
  t.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'listeners still hear increasing seqs, no duplicates')
  // Replaying what B's listeners heard onto what they had gives A's store.
  const view = new Map<string, string>()
  for (const change of heard) {
    for (const { key } of change.removed) view.delete(key)
    for (const stored of change.upserted) view.set(stored.key, stored.json)
  }
  t.same(new Map(a.snapshot('default').entries.map((e) => [e.key, e.json])), view, 'the deltas B sent add up to the store')
  t.equal(b.changesSince('default', 1), undefined, 'resuming from before the gap asks for a resync')
})

test('a Redis that does not answer at start stops the start with its address and the cause', async (t) => {
  const port = await freePort()
  await t.rejects(RedisContextStore.connect({ ...storeOptions(100), url: `redis://127.0.0.1:${port}`, prefix: 'never' }),
    { message: `Redis at 127.0.0.1:${port} (REDIS_URL) did not answer: connect ECONNREFUSED 127.0.0.1:${port}` })
})
