// The relevance index after random change sequences equals an index built from scratch over what the
// store holds: writes, replaces, evictions (small budgets), deletes, clears, priority changes and
// TTL expiries, with relevant_to queries (which catch the index up) at random points. A replica
// fed only by `apply(change)`, as journal replay and Redis replicas are, must agree too.
import fc from 'fast-check'
import { test } from 'tap'
import { ContextError } from '../../src/errors.js'
import { RelevanceIndex, WORD_TABLE_SLACK, WORDS_PER_TERM } from '../../src/relevance/relevance-index.js'
import { PENDING_SLACK } from '../../src/relevance/tenant-relevance.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { tokenCounter } from '../../src/token-counter.js'
import { admin } from '../helpers/actors.js'

const countTokens = tokenCounter('o200k_base')
const NUM_RUNS = 300
const T0 = Date.parse('2026-12-01T00:00:00.000Z')

const word = fc.constantFrom('quiz', 'quizzes', 'lesson', 'Lesson', 'percentages', 'the', 'of', '3', '42', 'dark', 'mode',
  'colourPalette', 'δέλτα', 'naïve', '🎉', 'a/b', 'x'.repeat(40), 'payment', 'timeouts', 'timeout')
const words = fc.array(word, { maxLength: 12 })
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', '__proto__', 'constructor')
const priority = fc.integer({ min: 1, max: 10 })
const task = fc.array(word, { minLength: 1, maxLength: 5 }).map((list) => list.join(' '))

const operation = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('write' as const), key, priority, words, source: fc.constantFrom('s1_quiz', 's2_video'), ttl: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('writeGenerated' as const), priority, words }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('priority' as const), key, priority }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), key }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const), prefix: fc.constantFrom('s1', 's2', 'root') }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('query' as const), task }) }
)

type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never

/** The index a store would have if it were built now from what the store holds. */
function rebuilt (store: TenantStore): RelevanceIndex {
  const index = new RelevanceIndex()
  for (const stored of store.snapshot().entries) index.add(stored)
  return index
}

function run (maxTokens: number, operations: Operation[]): string | undefined {
  const options = { maxTokens, maxEntryTokens: maxTokens, countTokens, historySize: 100 }
  const store = new TenantStore('default', options)
  const replica = new TenantStore('default', { ...options, expiresEntries: false })
  let now = T0
  const changes: ChangeEvent[] = []
  const attempt = (step: () => { change?: ChangeEvent }) => {
    try {
      const { change } = step()
      if (change !== undefined) changes.push(change)
    } catch (error) {
      if (!(error instanceof ContextError)) throw error
    }
  }
  // The first query builds the index; everything after it must be followed.
  store.query({ relevant_to: 'lesson' }, now)
  replica.query({ relevant_to: 'lesson' }, now)
  for (const op of operations) {
    switch (op.op) {
      case 'write': attempt(() => store.write(admin, { key: op.key, priority: op.priority, source: op.source, content: { text: op.words.join(' '), n: op.words.length }, ttl_seconds: op.ttl }, now)); break
      case 'writeGenerated': attempt(() => store.write(admin, { priority: op.priority, content: { note: op.words.join(' ') } }, now)); break
      case 'priority': attempt(() => store.setPriority(admin, op.key, op.priority, now)); break
      case 'remove': attempt(() => store.remove(admin, op.key, now)); break
      case 'clear': attempt(() => store.clear(admin, { source: op.prefix }, now)); break
      case 'tick': {
        now += op.seconds * 1000
        const expired = store.expireDue(now)
        if (expired !== undefined) changes.push(expired)
        break
      }
      case 'query': {
        for (const change of changes.splice(0)) replica.apply(change)
        const live = store.query({ relevant_to: op.task }, now).metadata.scores
        const fresh = replica.query({ relevant_to: op.task }, now).metadata.scores
        if (JSON.stringify(live) !== JSON.stringify(fresh)) return `scores differ for "${op.task}": ${JSON.stringify(live)} vs replica ${JSON.stringify(fresh)}`
      }
    }
  }
  for (const change of changes.splice(0)) replica.apply(change)
  const expected = JSON.stringify(rebuilt(store).dump())
  for (const [name, tenant] of [['store', store], ['replica', replica]] as const) {
    const actual = JSON.stringify(tenant.relevanceIndex()?.dump())
    if (actual !== expected) return `${name} index differs from a rebuild:\n${actual}\n${expected}`
  }
  return undefined
}

test('after any change sequence the index equals a rebuild from scratch, on the store and on an apply-fed replica', async (t) => {
  let failure: string | undefined
  let runs = 0
  try {
    fc.assert(fc.property(fc.integer({ min: 15, max: 200 }), fc.array(operation, { minLength: 1, maxLength: 50 }), (maxTokens, operations) => {
      runs++
      failure = run(maxTokens, operations)
      return failure === undefined
    }), { numRuns: NUM_RUNS })
  } catch (error) {
    t.fail(`${(error as Error).message}\n${failure ?? ''}`)
  }
  t.equal(runs >= NUM_RUNS, true, `ran ${runs} sequences`)
})

test('a tenant that keeps writing new keys without asking relevant_to drops its index, and the next query rebuilds it', async (t) => {
  const store = new TenantStore('default', { maxTokens: 200, maxEntryTokens: 200, countTokens, historySize: 10 })
  t.equal(store.relevanceIndex(), undefined, 'no index before the first relevant_to query')
  store.write(admin, { key: 'keep', priority: 10, content: { note: 'lesson 3 quiz' } }, T0)
  store.query({ relevant_to: 'quiz' }, T0)
  t.equal(store.relevanceIndex()?.size, 1)
  // Each write evicts the previous generated key: the store stays small while the keys keep changing.
  for (let i = 0; i < PENDING_SLACK + 100; i++) store.write(admin, { priority: 1, content: { note: `quiz draft ${i}` } }, T0 + i)
  t.equal(store.relevanceIndex(), undefined, 'dropped once the pending keys outnumbered the entries by the slack')
  const result = store.query({ relevant_to: 'quiz draft' }, T0 + 5000)
  t.strictSame(JSON.stringify(store.relevanceIndex()?.dump()), JSON.stringify(rebuilt(store).dump()), 'rebuilt from what the store holds')
  t.equal(result.metadata.scores?.length, store.size)
})

test('a word whose term left the index and comes back is found again (the word table does not keep the old postings)', async (t) => {
  const store = new TenantStore('default', { maxTokens: 10_000, maxEntryTokens: 10_000, countTokens, historySize: 10 })
  store.write(admin, { key: 'first', content: { note: 'zebra crossing' } }, T0)
  t.strictSame(store.query({ relevant_to: 'zebra' }, T0).metadata.scores?.map(([key]) => key), ['first'])
  store.remove(admin, 'first', T0)
  store.write(admin, { key: 'filler', content: { note: 'unrelated' } }, T0)
  store.query({ relevant_to: 'zebra' }, T0) // catches up: "zebra" has no entry left, its postings go
  store.write(admin, { key: 'second', content: { note: 'Zebra zebra' } }, T0)
  const scores = store.query({ relevant_to: 'zebra' }, T0).metadata.scores ?? []
  t.strictSame(scores.map(([key]) => key), ['second', 'filler'])
  t.ok(scores[0][1] > 0 && scores[1][1] === 0, 'the new entry matches the term again')
  t.strictSame(JSON.stringify(store.relevanceIndex()?.dump()), JSON.stringify(rebuilt(store).dump()))
})

test('unique words (ids, counts) do not pile up in the word table: it is cleared, and the index still equals a rebuild', async (t) => {
  const store = new TenantStore('default', { maxTokens: 400, maxEntryTokens: 400, countTokens, historySize: 10 })
  store.query({ relevant_to: 'ticket' }, T0)
  let most = 0
  for (let i = 0; i < 3 * WORD_TABLE_SLACK; i++) {
    store.write(admin, { priority: 1, content: { note: `ticket ${i} opened by Agent${i}x` } }, T0 + i)
    if (i % 50 === 0) most = Math.max(most, store.relevanceIndex()?.wordCount ?? 0)
  }
  const index = store.relevanceIndex()
  t.ok(index !== undefined)
  t.ok(most <= WORDS_PER_TERM * (index?.termCount ?? 0) + WORD_TABLE_SLACK + 200, `the table stayed bounded (at most ${most} words for ${index?.termCount} terms)`)
  t.ok(most > WORD_TABLE_SLACK / 2, 'and the test did fill it')
  t.strictSame(JSON.stringify(index?.dump()), JSON.stringify(rebuilt(store).dump()))
  const last = 3 * WORD_TABLE_SLACK - 1
  const best = store.query({ relevant_to: `ticket ${last}` }, T0 + 1e6).metadata.scores?.[0][0]
  t.match(store.snapshot().entries.find((stored) => stored.key === best)?.entry.content, { note: `ticket ${last} opened by Agent${last}x` }, 'the latest unique number is found')
})

test('entries full of unique words retire their postings and clear the word table often; the terms that stay keep their own postings', async (t) => {
  const store = new TenantStore('default', { maxTokens: 1_000_000, maxEntryTokens: 100_000, countTokens, historySize: 10 })
  store.query({ relevant_to: 'zebra' }, T0)
  const churn = (i: number) => ({ key: `churn${i % 3}`, priority: 1, content: { note: Array.from({ length: 300 }, (_, j) => `w${i}x${j}`).join(' ') + (i % 2 === 0 ? ' quiz' : '') } })
  // The entry that stays is written after some churn, so its terms' ids are neither the first nor the last.
  for (let i = 0; i < 5; i++) store.write(admin, churn(i), T0 + i)
  store.write(admin, { key: 'keeper', priority: 10, content: { note: 'zebra quiz lesson' } }, T0 + 5)
  let mismatches = 0
  let checks = 0
  for (let i = 5; i < 200; i++) {
    store.write(admin, churn(i), T0 + i)
    if (i % 5 !== 0) continue
    checks++
    store.query({ relevant_to: 'zebra quiz' }, T0 + i)
    if (JSON.stringify(store.relevanceIndex()?.dump()) !== JSON.stringify(rebuilt(store).dump())) mismatches++
  }
  t.equal(checks, 39)
  t.equal(mismatches, 0, 'after every few writes the index equals a rebuild from scratch')
  t.ok((store.relevanceIndex()?.wordCount ?? 0) < WORDS_PER_TERM * 1000 + WORD_TABLE_SLACK, 'the word table was cleared along the way')
  t.strictSame(store.query({ relevant_to: 'zebra lesson' }, T0 + 1000).metadata.scores?.filter(([, score]) => score > 0).map(([key]) => key), ['keeper'])
})
