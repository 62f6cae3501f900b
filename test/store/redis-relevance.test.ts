// relevant_to on the Redis backend, two app instances sharing the shared Redis: B's replica builds
// its index from the change stream, and after writes, a replace, an eviction-free delete and a
// priority change made on A, B answers GET /context?relevant_to exactly as A does.
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { FROM_JSON, contentOfEntry } from '../../src/store/content-from-json.js'
import { testConfig } from '../helpers/config.js'
import { actor } from '../helpers/actors.js'
import { REDIS_URL, eventually, redisTest, uniquePrefix } from '../helpers/redis.js'
import { EXPECTED_ORDER, seedRelevance, TASK } from '../helpers/relevance-seed.js'
import { signTestToken } from '../helpers/tokens.js'

/** Two app instances sharing one Redis prefix, and a reader's headers for the default tenant. */
async function twoInstances (t: Test) {
  const config = testConfig({ MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) })
  const a = await buildApp(config, { logger: false })
  t.teardown(() => a.close())
  const b = await buildApp(config, { logger: false })
  t.teardown(() => b.close())
  const headers = { authorization: `Bearer ${signTestToken({ sub: 'bob', roles: ['reader'], tenant: 'default' })}` }
  return { a, b, headers }
}

redisTest('a Redis replica ranks relevant_to exactly as the instance that wrote', async (t) => {
  const { a, b, headers } = await twoInstances(t)
  const ranked = async (app: typeof a) => {
    const res = await app.inject({ method: 'GET', url: '/context', query: { relevant_to: TASK }, headers })
    return res.json() as { metadata: { scores: Record<string, number> }, seq: number }
  }

  const alice = actor('alice')
  // B serves the tenant throughout (as a connected client would make it).
  await b.store.use('default')
  await seedRelevance(a.store, alice)
  // B has asked relevant_to (so its index exists) before the later changes reach it.
  await eventually(() => b.store.seq('default') === a.store.seq('default'), 10_000, 'B to apply the seed')
  t.strictSame(Object.keys((await ranked(b)).metadata.scores), EXPECTED_ORDER)

  await a.store.write(alice, { key: 'video-plan', priority: 4, content: { task: 'Lesson 3 quiz video: percentages explained' } })
  await a.store.remove(alice, 'quiz-finding')
  await a.store.setPriority(alice, 'notice', 2)
  await a.store.write(alice, { key: 'late', priority: 7, content: { quiz: 'ten percentages questions for lesson 3' } })
  await eventually(() => b.store.seq('default') === a.store.seq('default'), 10_000, 'B to apply the changes')
  const onA = await ranked(a)
  const onB = await ranked(b)
  t.equal(onB.seq, onA.seq)
  t.strictSame(Object.keys(onB.metadata.scores), Object.keys(onA.metadata.scores), 'same order on both instances')
  // The two queries run a few milliseconds apart and recency moves with the clock, so the sixth
  // decimal may differ; anything more would be a different index.
  for (const [key, score] of Object.entries(onA.metadata.scores)) {
    t.ok(Math.abs(onB.metadata.scores[key] - score) < 1e-5, `${key}: ${score} on A, ${onB.metadata.scores[key]} on B`)
  }
  t.strictSame(Object.keys(onA.metadata.scores).slice(0, 2).sort(), ['late', 'quiz-plan'])
  t.notOk('quiz-finding' in onB.metadata.scores, 'the deleted entry is gone from the replica\'s index')
})

redisTest('a large entry reaches a Redis replica as JSON: read as written, ranked by its words, served whole', async (t) => {
  const { a, b, headers } = await twoInstances(t)
  await b.store.use('default')
  const alice = actor('alice')
  const content = { plan: 'Fractions and decimals, worked examples for lesson three. '.repeat(400), steps: [1, 2, 3] }
  await a.store.write(alice, { key: 'plan', priority: 5, content })
  await a.store.write(alice, { key: 'other', content: { note: 'the shopping list' } })
  await eventually(() => b.store.seq('default') === a.store.seq('default'), 10_000, 'B to apply the writes')
  const replica = b.store.get('default', 'plan')
  // Internals reached on purpose: B parsed the entry's fields, not its 23 KB content.
  t.equal(replica === undefined ? undefined : contentOfEntry(replica.entry), FROM_JSON, 'kept as JSON on the replica')
  t.same(replica?.entry.content, content, 'read as written')
  const ranked = await b.inject({ method: 'GET', url: '/context', query: { relevant_to: 'fractions lesson three' }, headers })
  t.same(Object.keys(ranked.json().metadata.scores), ['plan', 'other'], 'ranked first by its words on the replica')
  const served = await b.inject({ method: 'GET', url: '/context/plan', headers })
  t.same(served.json().content, content, 'served whole by the replica')
})
