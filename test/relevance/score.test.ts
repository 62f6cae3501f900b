// The relevant_to ordering through the store's real query: more shared terms rank higher, priority
// and then recency break ties, entries sharing no term come last in the usual order, scores are
// given best first, and without relevant_to nothing changes. Plus the formula's own properties and
// BM25+ against its definition.
import fc from 'fast-check'
import { test } from 'tap'
import { BM25, RelevanceIndex } from '../../src/relevance/relevance-index.js'
import { combinedScore } from '../../src/relevance/score.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { alice } from '../helpers/actors.js'

const countTokens = tokenCounter('o200k_base')
const NOW = Date.parse('2026-12-01T12:00:00.000Z')
const HOUR = 3_600_000

function newStore () {
  return new TenantStore('default', { maxTokens: 1_000_000, maxEntryTokens: 1_000_000, countTokens, historySize: 100 })
}

const keysOf = (result: ReturnType<TenantStore['query']>) => result.entries.map((stored) => stored.key)

test('more terms shared with the task rank higher, all else equal', async (t) => {
  const store = newStore()
  // Same length (four words), same priority, same write time; only the overlap with the task differs.
  store.write(alice, { key: 'one', content: { note: 'quiz draft pending today' } }, NOW)
  store.write(alice, { key: 'three', content: { note: 'lesson quiz percentages today' } }, NOW)
  store.write(alice, { key: 'two', content: { note: 'lesson quiz pending today' } }, NOW)
  store.write(alice, { key: 'none', content: { note: 'invoice paid pending today' } }, NOW)
  const result = store.query({ relevant_to: 'Write the quiz for the lesson on percentages' }, NOW)
  t.strictSame(keysOf(result), ['three', 'two', 'one', 'none'])
  const scores = result.metadata.scores ?? []
  t.strictSame(scores.map(([key]) => key), ['three', 'two', 'one', 'none'], 'scores are listed best first, one per returned entry')
  t.ok(scores[0][1] > scores[1][1] && scores[1][1] > scores[2][1] && scores[2][1] > 0, 'strictly decreasing for matches')
  t.equal(scores[3][1], 0, 'no shared term: score 0')
  const formula = combinedScore({ relevance: 1, priority: 1, ageMs: 0 })
  t.equal(scores[0][1], Math.round(formula * 1e6) / 1e6, 'the best match has relevance 1 and the formula gives its score (six decimals)')
})

test('equal relevance: higher priority first; equal priority: the more recent first; equal time: the later write', async (t) => {
  const store = newStore()
  const content = { finding: 'reverse percentages had the lowest pass rate' }
  store.write(alice, { key: 'old-high', content, priority: 8 }, NOW - 48 * HOUR)
  store.write(alice, { key: 'new-low', content, priority: 2 }, NOW)
  store.write(alice, { key: 'old-low', content, priority: 2 }, NOW - 48 * HOUR)
  store.write(alice, { key: 'new-low-later', content, priority: 2 }, NOW)
  const result = store.query({ relevant_to: 'reverse percentages' }, NOW)
  t.strictSame(keysOf(result), ['old-high', 'new-low-later', 'new-low', 'old-low'])
  const scores = new Map(result.metadata.scores)
  t.ok((scores.get('old-high') ?? 0) > (scores.get('new-low') ?? 0), 'priority 8 two days old beats priority 2 now')
  t.equal(scores.get('new-low'), scores.get('new-low-later'), 'same score; the later write ranks first (rank order)')
  t.ok((scores.get('new-low') ?? 0) > (scores.get('old-low') ?? 0), 'recency lowers the score')
})

test('entries sharing no term come after every match, in rank order, whatever their priority', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'notice', content: { notice: 'deployment freeze from 20 December' }, priority: 10 }, NOW)
  store.write(alice, { key: 'match-low', content: { note: 'the dark mode palette has 12 tokens' }, priority: 1 }, NOW)
  store.write(alice, { key: 'standup', content: { standup: 'worked through the queue' }, priority: 4 }, NOW)
  store.write(alice, { key: 'match-mid', content: { decision: 'replace hard-coded colours in dark mode' }, priority: 5 }, NOW)
  const result = store.query({ relevant_to: 'fix the dark mode colours' }, NOW)
  t.strictSame(keysOf(result), ['match-mid', 'match-low', 'notice', 'standup'])
  t.strictSame(result.metadata.scores?.slice(2), [['notice', 0], ['standup', 0]])
})

test('max_tokens is filled in score order (greedy: a large match is skipped for smaller ones) and the rest is omitted in order', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'big', content: { quiz: 'quiz '.repeat(300) } }, NOW)
  store.write(alice, { key: 'small', content: { quiz: 'lesson 3 quiz' } }, NOW)
  store.write(alice, { key: 'other', content: { unrelated: 'nothing here' } }, NOW)
  const budget = (store.get('small')?.entry.tokens ?? 0) + (store.get('other')?.entry.tokens ?? 0)
  const ranked = store.query({ relevant_to: 'lesson 3 quiz' }, NOW)
  const filled = store.query({ relevant_to: 'lesson 3 quiz', max_tokens: budget }, NOW)
  t.strictSame(keysOf(ranked), ['small', 'big', 'other'])
  t.strictSame(keysOf(filled), ['small', 'other'])
  t.strictSame(filled.metadata.omitted, ['big'])
  t.strictSame(filled.metadata.scores?.map(([key]) => key), ['small', 'other'], 'scores cover the returned entries only')
  t.match(filled.metadata, { matched: 3, returned: 2, truncated: true })
})

test('filters apply before the ranking; without relevant_to the query is exactly as before', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'a', source: 'quiz_agent', content: { quiz: 'lesson 3' }, priority: 2 }, NOW)
  store.write(alice, { key: 'b', source: 'video_agent', content: { quiz: 'lesson 3 quiz quiz' }, priority: 3 }, NOW)
  store.write(alice, { key: 'c', source: 'quiz_agent', content: { other: 'x' }, priority: 9 }, NOW)
  t.strictSame(keysOf(store.query({ relevant_to: 'lesson', source: 'quiz' }, NOW)), ['a', 'c'], 'b matches best but is filtered out')
  const plain = store.query({ source: 'quiz' }, NOW)
  t.strictSame(keysOf(plain), ['c', 'a'])
  t.equal(plain.metadata.scores, undefined)
  t.equal(plain.scoreOf, undefined)
  t.equal(store.relevanceIndex()?.size, 3, 'the index exists once a relevant_to query has run')
})

test('a task with no indexable term (only stopwords) leaves the usual order, every score 0', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'low', content: { a: 'the quiz' }, priority: 1 }, NOW)
  store.write(alice, { key: 'high', content: { a: 'lesson' }, priority: 9 }, NOW)
  const result = store.query({ relevant_to: 'the and of it' }, NOW)
  t.strictSame(result.metadata.scores, [['high', 0], ['low', 0]])
})

test('content keys, numbers, camelCase keys and the source are searchable; stems match', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'k1', content: { lessonPlan: { week: 3 } } }, NOW)
  store.write(alice, { key: 'k2', source: 'grading_agent', content: { x: 'y' } }, NOW)
  store.write(alice, { key: 'k3', content: { note: 'lessons were graded' } }, NOW)
  const scored = (task: string) => (store.query({ relevant_to: task }, NOW).metadata.scores ?? []).filter(([, s]) => s > 0).map(([k]) => k)
  t.strictSame(scored('lesson plan'), ['k1', 'k3'], 'the camelCase key lessonPlan holds both words')
  t.strictSame(scored('week 3'), ['k1'])
  t.strictSame(scored('grading').sort(), ['k2', 'k3'], 'the source is indexed, and "graded" shares the stem of "grading"')
  t.strictSame(scored('lesson'), ['k3', 'k1'], '"lesson" matches "lessons" (stemmed) and the key lessonPlan')
})

test('BM25+ is the textbook formula: idf x (tf(k1+1)/(tf + k1(1 - b + b len/avg)) + delta)', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'a', source: 's', content: { t: 'apple apple banana' } }, NOW)
  store.write(alice, { key: 'b', source: 's', content: { t: 'banana cherry' } }, NOW)
  store.write(alice, { key: 'c', source: 's', content: { t: 'cherry date elder fig' } }, NOW)
  const index = new RelevanceIndex()
  for (const stored of store.snapshot().entries) index.add(stored)
  // Terms per entry: the content key "t", the words, and the source "s".
  const lengths = { a: 5, b: 4, c: 6 }
  const average = (5 + 4 + 6) / 3
  const { k1, b, delta } = BM25
  const part = (tf: number, length: number, df: number) =>
    Math.log(1 + (3 - df + 0.5) / (df + 0.5)) * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / average)) + delta)
  const found = index.matches('apple banana')
  t.equal(found.size, 2)
  t.ok(Math.abs((found.get('a')?.bm25 ?? 0) - (part(2, lengths.a, 1) + part(1, lengths.a, 2))) < 1e-12)
  t.ok(Math.abs((found.get('b')?.bm25 ?? 0) - part(1, lengths.b, 2)) < 1e-12)
  t.equal(found.get('c'), undefined)
})

test('the combined score grows with relevance and priority, shrinks with age, and stays positive', async (t) => {
  const factors = fc.record({
    relevance: fc.double({ min: 1e-3, max: 1, noNaN: true }),
    priority: fc.integer({ min: 1, max: 10 }),
    ageMs: fc.integer({ min: 0, max: 365 * 24 * HOUR })
  })
  fc.assert(fc.property(factors, fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 1_000_000 }), (f, shrink, step, more) => {
    const base = combinedScore(f)
    if (!(base > 0)) return false
    if (!(combinedScore({ ...f, relevance: f.relevance * shrink }) < base)) return false
    if (f.priority + step <= 10 && !(combinedScore({ ...f, priority: f.priority + step }) > base)) return false
    // Older is never better, and strictly worse while the recency part has not faded below precision.
    const older = combinedScore({ ...f, ageMs: f.ageMs + more * 1000 })
    return older <= base && (f.ageMs + more * 1000 >= 30 * 24 * HOUR || older < base)
  }))
  t.pass('properties held')
})
