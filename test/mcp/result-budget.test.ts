// The budgeted read behind get_context and query_context, as a plain function over a real store:
// property tests that whatever the store holds and whatever budget is asked, the rendered result
// stays within the cap (unless unbounded), keeps a rank-order prefix of the content-budgeted
// matches, and accounts in its manifest for every match it leaves out.
import { test } from 'tap'
import fc from 'fast-check'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { DEFAULT_RESULT_TOKENS, OMITTED_LISTED, RESULT_TOKEN_CAP, budgetedRead, type Manifest } from '../../src/mcp/result-budget.js'
import { inputWithContentJson } from '../../src/store/content-from-json.js'
import { actor } from '../helpers/actors.js'

const countTokens = tokenCounter('o200k_base')
const writer = actor('alice')

function newStore (): MemoryContextStore {
  return new MemoryContextStore({ maxTokens: 10_000_000, maxEntryTokens: 10_000_000, countTokens, historySize: 100, expirySweepMs: 3_600_000 })
}

const render = (data: Record<string, unknown>, manifest: Manifest) => ({ data, manifest })

const entryArbitrary = fc.record({
  words: fc.integer({ min: 0, max: 400 }),
  priority: fc.integer({ min: 1, max: 10 }),
  source: fc.constantFrom('agent_a', 'agent_b', 'planner')
})

test('the rendered result fits the cap and its manifest accounts for every match', async (t) => {
  await fc.assert(fc.asyncProperty(
    fc.array(entryArbitrary, { minLength: 0, maxLength: 40 }),
    fc.option(fc.integer({ min: 0, max: 6000 }), { nil: undefined }),
    fc.boolean(),
    fc.integer({ min: 300, max: 4000 }),
    async (entries, maxTokens, unbounded, resultCap) => {
      const store = newStore()
      try {
        for (const [i, e] of entries.entries()) {
          await store.write(writer, { key: `k${i}`, source: e.source, priority: e.priority, content: { text: 'lorem ipsum '.repeat(e.words) } })
        }
        const read = budgetedRead(store, 'default', {}, { maxTokens, unbounded, countTokens, resultCap }, render)
        const { data, manifest } = read.structured
        const keys = Object.keys(data)
        const budget = maxTokens ?? (unbounded ? undefined : DEFAULT_RESULT_TOKENS)

        t.equal(read.text, JSON.stringify(read.structured))
        if (!unbounded && keys.length > 0) t.ok(countTokens(read.text) <= resultCap, 'within the cap')
        if (unbounded) t.equal(manifest.result_cap_tokens, null)

        const budgeted = store.query('default', budget === undefined ? {} : { max_tokens: budget }).entries.map((s) => s.key)
        t.same(keys, budgeted.slice(0, keys.length), 'a rank-order prefix of what the content budget allows')
        if (unbounded) t.same(keys, budgeted, 'nothing is cut when unbounded')

        const all = store.snapshot('default')
        const returnedTokens = keys.reduce((sum, key) => sum + (store.get('default', key)?.entry.tokens ?? 0), 0)
        t.equal(manifest.matched, all.entries.length)
        t.equal(manifest.returned, keys.length)
        t.equal(manifest.returned_tokens, returnedTokens)
        if (budget !== undefined) t.ok(returnedTokens <= budget, 'within the content budget')
        t.equal(manifest.omitted_count, all.entries.length - keys.length)
        t.equal(manifest.omitted_tokens, all.metadata.total_tokens - returnedTokens)
        t.equal(manifest.truncated, manifest.omitted_count > 0)
        t.equal(manifest.budget_tokens, budget ?? null)

        const omittedRanked = all.entries.map((s) => s.key).filter((key) => !keys.includes(key))
        t.same(manifest.omitted.map((item) => item.key), omittedRanked.slice(0, OMITTED_LISTED), 'the best-ranked omissions, listed in rank order')
        for (const item of manifest.omitted) {
          const stored = store.get('default', item.key)
          t.same(item, { key: item.key, tokens: stored?.entry.tokens, priority: stored?.entry.priority, source: stored?.entry.source })
        }
      } finally {
        await store.close()
      }
    }
  ), { numRuns: 60 })
})

test('many small entries: the default read stays under the real cap', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  // 3,000 entries of a few tokens: the content budget alone would let all of them through, but
  // their rendered JSON (keys, timestamps, owners) is several times the content.
  for (let i = 0; i < 3000; i++) await store.write(writer, { key: `note-${i}`, source: 'agent', content: { n: i } })
  const read = budgetedRead(store, 'default', {}, { countTokens }, render)
  const tokens = countTokens(read.text)
  t.ok(tokens <= RESULT_TOKEN_CAP, `${tokens} tokens rendered`)
  t.ok(read.structured.manifest.truncated)
  t.equal(read.structured.manifest.returned + read.structured.manifest.omitted_count, 3000)
  t.equal(read.structured.manifest.omitted.length, OMITTED_LISTED)
  t.equal(read.structured.manifest.budget_tokens, DEFAULT_RESULT_TOKENS)

  const unbounded = budgetedRead(store, 'default', {}, { countTokens, unbounded: true }, render)
  t.equal(unbounded.structured.manifest.returned, 3000, 'unbounded returns everything')
  t.ok(countTokens(unbounded.text) > RESULT_TOKEN_CAP)
})

test('with relevant_to, entries the result cap leaves out merge into the manifest in relevance order', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  // By score: best, big (too large for the content budget), third; "none" shares no term. The
  // budget leaves "big" out; the cap then leaves out "third" and "none" too: the manifest merges
  // both lists, and must do it by score (by priority it would start with "none", then "third").
  await store.write(writer, { key: 'best', priority: 1, content: { text: 'quiz lesson percentages' } })
  await store.write(writer, { key: 'big', priority: 1, content: { text: `quiz lesson percentages ${'filler '.repeat(200)}` } })
  await store.write(writer, { key: 'third', priority: 1, content: { text: `quiz ${'filler '.repeat(60)}` } })
  await store.write(writer, { key: 'none', priority: 10, content: { text: `unrelated ${'filler '.repeat(60)}` } })
  const task = 'lesson quiz on percentages'
  const tokens = (key: string) => store.get('default', key)?.entry.tokens ?? 0
  const ranked = store.query('default', { relevant_to: task })
  t.strictSame(ranked.entries.map((stored) => stored.key), ['best', 'big', 'third', 'none'], 'precondition: the relevance order')
  const readWithCap = (resultCap: number) => budgetedRead(store, 'default', { relevant_to: task },
    { maxTokens: tokens('best') + tokens('third') + tokens('none'), countTokens, resultCap }, (data, manifest, scores) => ({ data, manifest, scores }))
  t.strictSame(Object.keys(readWithCap(100_000).structured.data), ['best', 'third', 'none'], 'precondition: the budget leaves out "big" only')
  // The smallest cap that keeps one entry.
  let cap = 50
  while (cap < 100_000 && Object.keys(readWithCap(cap).structured.data).length === 0) cap += 10
  const read = readWithCap(cap)
  t.strictSame(Object.keys(read.structured.data), ['best'])
  t.strictSame(Object.keys(read.structured.scores ?? {}), ['best'], 'scores of the kept entries only')
  t.strictSame(read.structured.manifest.omitted.map((item) => item.key), ['big', 'third', 'none'])
})

test('a large content kept as JSON is parsed once per read, however often the result is serialized', async (t) => {
  const store = newStore()
  const content = { plan: 'Fractions and decimals for lesson three. '.repeat(200) }
  const contentJson = JSON.stringify(content)
  // As a large frame's write reaches the store (src/ws/large-frame.ts): its content as JSON only.
  await store.writeDeferred(writer, Promise.resolve({ input: inputWithContentJson({ key: 'big' }, contentJson), contentJson, tokens: countTokens(contentJson) }))
  await store.write(writer, { key: 'small', content: { n: 1 } })
  const parse = JSON.parse
  let parses = 0
  JSON.parse = (text: string, reviver?: Parameters<typeof parse>[1]) => { parses++; return parse(text, reviver) }
  let read
  try {
    read = budgetedRead(store, 'default', {}, { countTokens }, render)
    // What the MCP SDK does with structuredContent besides the text.
    JSON.stringify(read.structured)
  } finally {
    JSON.parse = parse
  }
  t.equal(parses, 1, 'parsed once')
  t.same(parse(read.text).data.big.content, content, 'served as written')
  t.same(parse(read.text).data.small.content, { n: 1 })
})
