// The relevant_to query path (src/relevance/relevance-query.ts: postings only, a heap for the
// budget, the rank walk only while budget remains, omitted listed on demand) returns exactly what
// the plain full scan returns: every entry filtered in rank order, all of them ordered by
// orderByRelevance, the budget filled by fillBudget, on random stores, filters, tasks, budgets and
// limits. The reference builds its own index from the store's snapshot, so it shares neither the
// incremental index nor the query path.
import fc from 'fast-check'
import { test } from 'tap'
import { ContextError } from '../../src/errors.js'
import { RelevanceIndex } from '../../src/relevance/relevance-index.js'
import { orderByRelevance } from '../../src/relevance/score.js'
import { fillBudget } from '../../src/store/budget-fill.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import type { ContextQuery } from '../../src/store/types.js'
import { tokenCounter } from '../../src/token-counter.js'
import { admin } from '../helpers/actors.js'

const countTokens = tokenCounter('o200k_base')
const T0 = Date.parse('2026-12-01T00:00:00.000Z')
const HOUR = 3_600_000

const word = fc.constantFrom('quiz', 'lesson', 'percentages', 'the', '3', 'dark', 'mode', 'payment', 'timeout', 'invoice', 'deploy')
// Some contents are long, so tokens vary from a couple to a few hundred and budgets bite.
const content = fc.oneof(
  fc.array(word, { maxLength: 8 }).map((list) => ({ note: list.join(' ') })),
  fc.tuple(fc.array(word, { maxLength: 4 }), fc.integer({ min: 1, max: 60 })).map(([list, repeat]) => ({ log: `${list.join(' ')} `.repeat(repeat) })),
  fc.constant(0),
  fc.constant({ note: 'quiz lesson' })
)
// Few distinct ages, so that equal scores happen and the tie-breaks (priority, then the later write) count.
const hoursAgo = fc.constantFrom(0, 0, 1, 24, 72)
const key = fc.integer({ min: 0, max: 24 }).map((n) => `k${n}`)
const source = fc.constantFrom('agent_quiz', 'agent_video', 'tool_log')
const operation = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), key, content, source, priority: fc.integer({ min: 1, max: 10 }), hoursAgo }) },
  // Many entries at once (up to 80 keys of their own), so that heaps are large enough to be pruned.
  { weight: 1, arbitrary: fc.record({ op: fc.constant('bulk' as const), count: fc.integer({ min: 10, max: 80 }), words: fc.array(word, { minLength: 1, maxLength: 6 }), priority: fc.integer({ min: 1, max: 3 }), hoursAgo }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('priority' as const), key, priority: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('query' as const), task: word }) }
)
const someFilters = fc.record({
  source: fc.constantFrom('agent', 'agent_q', 'tool'),
  sources: fc.subarray(['agent_quiz', 'agent_video', 'tool_log'], { minLength: 1 }),
  keys: fc.array(key, { maxLength: 10 }),
  min_priority: fc.integer({ min: 1, max: 10 }),
  max_priority: fc.integer({ min: 1, max: 10 }),
  since: fc.integer({ min: 0, max: 72 }).map((hours) => new Date(T0 - hours * HOUR).toISOString()),
  text: word
}, { requiredKeys: [] })
// Mostly none or one filter, so that queries have matches to rank and budgets to fill.
const filters = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.tuple(someFilters, fc.nat()).map(([all, n]) => Object.fromEntries(Object.entries(all).slice(n % 7, n % 7 + 1))) },
  { weight: 1, arbitrary: someFilters }
)
const query = fc.record({
  filters,
  task: fc.array(word, { minLength: 1, maxLength: 4 }).map((list) => list.join(' ')),
  max_tokens: fc.option(fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 3000 })), { nil: undefined }),
  limit: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined })
})

type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never
type Query = typeof query extends fc.Arbitrary<infer T> ? T : never

function storeAfter (maxTokens: number, operations: Operation[]): TenantStore {
  const store = new TenantStore('default', { maxTokens, maxEntryTokens: maxTokens, countTokens, historySize: 10 })
  // Built first, so the index follows every change below rather than starting from the end state.
  store.query({ relevant_to: 'lesson' }, T0)
  for (const step of operations) {
    try {
      if (step.op === 'write') store.write(admin, { key: step.key, content: step.content, source: step.source, priority: step.priority }, T0 - step.hoursAgo * HOUR)
      else if (step.op === 'bulk') {
        for (let i = 0; i < step.count; i++) {
          const note = step.words.slice(i % step.words.length).join(' ').repeat(1 + (i % 5))
          store.write(admin, { key: `b${i}`, content: { note }, source: 'tool_log', priority: step.priority + (i % 3) }, T0 - step.hoursAgo * HOUR)
        }
      } else if (step.op === 'priority') store.setPriority(admin, step.key, step.priority, T0)
      else if (step.op === 'remove') store.remove(admin, step.key, T0)
      else store.query({ relevant_to: step.task }, T0)
    } catch (error) {
      if (!(error instanceof ContextError)) throw error
    }
  }
  return store
}

/** The plain full scan: what a relevant_to query returned before relevance-query.ts. */
function reference (store: TenantStore, { filters, task, max_tokens: maxTokens, limit }: Query, now: number) {
  const filtered = store.query(filters, now).entries
  const index = new RelevanceIndex()
  for (const stored of store.snapshot().entries) index.add(stored)
  const ranking = orderByRelevance(filtered, index.matches(task), now)
  const result = fillBudget(ranking.ordered, { max_tokens: maxTokens, limit })
  const scores = result.entries.map((stored) => [stored.key, ranking.scoreOf(stored)])
  const scoreOf = (k: string) => { const stored = store.get(k); return stored === undefined ? 0 : ranking.scoreOf(stored) }
  return { keys: result.entries.map((stored) => stored.key), metadata: { ...result.metadata, scores }, scoreOf }
}

function fast (store: TenantStore, { filters, task, max_tokens: maxTokens, limit }: Query, now: number) {
  const query: ContextQuery = { ...filters, relevant_to: task, max_tokens: maxTokens, limit }
  const result = store.query(query, now)
  return { keys: result.entries.map((stored) => stored.key), metadata: { ...result.metadata }, scoreOf: result.scoreOf ?? (() => NaN) }
}

test('the relevant_to query path returns what the full scan returns', async (t) => {
  let compared = 0
  let truncated = 0
  fc.assert(fc.property(
    fc.constantFrom(2_000, 100_000), fc.array(operation, { minLength: 5, maxLength: 60 }), fc.array(query, { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 48 }),
    (maxTokens, operations, queries, hoursLater) => {
      const store = storeAfter(maxTokens, operations)
      const now = T0 + hoursLater * HOUR
      // All the queries first: omitted and scoreOf of each are worked out after the later ones ran.
      const results = queries.map((q) => store.query({ ...q.filters, relevant_to: q.task, max_tokens: q.max_tokens, limit: q.limit }, now))
      // scoreOf of each first, then each omitted, then the comparisons: every lazy step runs after
      // other queries' steps have reused the index's buffers.
      for (const result of results) result.scoreOf?.('k0')
      const actuals = results.map((result) => ({ keys: result.entries.map((stored) => stored.key), metadata: { ...result.metadata }, scoreOf: result.scoreOf ?? (() => NaN) }))
      for (const [n, q] of queries.entries()) {
        const actual = actuals[n]
        const expected = reference(store, q, now)
        if (JSON.stringify(actual.keys) !== JSON.stringify(expected.keys)) return false
        if (JSON.stringify(actual.metadata) !== JSON.stringify(expected.metadata)) return false
        for (const k of ['k0', 'k1', 'k2', 'k3', 'k7', 'k24']) if (actual.scoreOf(k) !== expected.scoreOf(k)) return false
        compared++
        if (expected.metadata.truncated) truncated++
      }
      return true
    }
  ), { numRuns: 400 })
  t.ok(compared >= 400, `${compared} queries compared`)
  t.ok(truncated > compared / 4, `${truncated} of them left matches out (budgets and limits bite)`)
})

test('metadata.omitted of a relevant_to query cannot be read once the store has changed', async (t) => {
  const store = storeAfter(100_000, [])
  store.write(admin, { key: 'a', content: { note: 'quiz lesson' } }, T0)
  store.write(admin, { key: 'b', content: { note: 'invoice' } }, T0)
  const result = store.query({ relevant_to: 'quiz', max_tokens: 1 }, T0)
  t.strictSame(result.metadata.omitted, ['a', 'b'], 'listed when read, in order')
  const later = store.query({ relevant_to: 'quiz', max_tokens: 1 }, T0)
  store.write(admin, { key: 'c', content: { note: 'quiz' } }, T0)
  t.throws(() => later.metadata.omitted, /after the store changed/)
  t.strictSame(result.metadata.omitted, ['a', 'b'], 'a list already read stays as it was')
})

test('a nearly spent budget still takes a later match that fits exactly, after many that do not', async (t) => {
  const store = storeAfter(1_000_000, [])
  // Forty large matches rank first (the task's word twice; the padding is no index term), the
  // latest write first, then one small match, then the others.
  for (let i = 0; i < 40; i++) store.write(admin, { key: `large${i}`, content: { note: 'quiz quiz', pad: '-'.repeat(400 + i) } }, T0)
  store.write(admin, { key: 'small', content: { note: 'quiz', pad: '' } }, T0)
  store.write(admin, { key: 'other', content: { note: 'invoice' } }, T0)
  const small = store.get('small')?.entry.tokens ?? 0
  const first = store.get('large39')?.entry.tokens ?? 0
  const q: Query = { filters: {}, task: 'quiz', max_tokens: first + small, limit: undefined }
  const actual = fast(store, q, T0)
  t.strictSame(actual.keys, ['large39', 'small'], 'the best match, then the small one that fills the budget exactly')
  t.strictSame(actual, { ...actual, ...reference(store, q, T0), scoreOf: actual.scoreOf }, 'as the full scan')
})

test('a query with many matches, whose heap is fed in tranches, returns what the full scan returns', async (t) => {
  // Hundreds of entries of random lengths, priorities and ages: BM25+ values spread over the
  // whole range, so that the first tranche (a thirty-second of the matches, plus 64) runs out and
  // a match left out may outscore what is at the top of the heap.
  const entry = fc.record({ words: fc.array(word, { minLength: 1, maxLength: 30 }), priority: fc.integer({ min: 1, max: 10 }), hoursAgo: fc.integer({ min: 0, max: 96 }) })
  let compared = 0
  fc.assert(fc.property(
    fc.array(entry, { minLength: 200, maxLength: 800 }), fc.array(query, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 48 }),
    (entries, queries, hoursLater) => {
      const store = storeAfter(10_000_000, [])
      for (const [i, { words, priority, hoursAgo }] of entries.entries()) {
        store.write(admin, { key: `e${i}`, content: { note: words.join(' ') }, source: 'tool_log', priority }, T0 - hoursAgo * HOUR)
      }
      const now = T0 + hoursLater * HOUR
      for (const q of queries) {
        const bigger = { ...q, max_tokens: q.max_tokens === undefined ? undefined : q.max_tokens * 10, limit: q.limit === undefined ? undefined : q.limit * 20 }
        for (const asked of [q, bigger]) {
          const actual = fast(store, asked, now)
          const expected = reference(store, asked, now)
          if (JSON.stringify(actual.keys) !== JSON.stringify(expected.keys)) return false
          if (JSON.stringify(actual.metadata) !== JSON.stringify(expected.metadata)) return false
          compared++
        }
      }
      return true
    }
  ), { numRuns: 40 })
  t.ok(compared >= 80, `${compared} queries compared`)
})
