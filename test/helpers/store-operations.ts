// Random store operations for the property tests, the js-tiktoken oracle they count tokens with,
// and the one interpreter that runs them on any backend and on the naive reference side by side.
import fc from 'fast-check'
import { getEncoding } from 'js-tiktoken'
import { ContextError } from '../../src/errors.js'
import type { ContextStore } from '../../src/store/context-store.js'
import type { Actor } from '../../src/store/types.js'
import { ReferenceStore } from './reference-store.js'

const oracle = getEncoding('o200k_base')

/** Tokens of JSON.stringify(content) as js-tiktoken counts them: the oracle. */
export const oracleCount = (content: unknown) => oracle.encode(JSON.stringify(content), [], []).length

// Keys include __proto__ and constructor; words include special-token text, unicode and JSON quoting.
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '__proto__', 'constructor')
const priority = fc.integer({ min: 1, max: 10 })
const word = fc.constantFrom('alpha', 'beta', 'gamma', 'δέλτα', '🎉', '<|endoftext|>', '42', 'a/b', '"q"')

/** The operations, with writes of `words` (how many words a write holds) and weights for writes. */
function operationOf (words: fc.Arbitrary<string[]>, writeWeight: number, removalWeight: number) {
  return fc.oneof(
    { weight: writeWeight, arbitrary: fc.record({ op: fc.constant('write' as const), key, priority, words }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('writeGenerated' as const), priority, words }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('priority' as const), key, priority }) },
    { weight: removalWeight, arbitrary: fc.record({ op: fc.constant('remove' as const), key }) },
    { weight: removalWeight, arbitrary: fc.record({ op: fc.constant('clearSource' as const), prefix: fc.constantFrom('s1', 's2') }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('query' as const), budget: fc.integer({ min: 0, max: 120 }), minPriority: priority }) }
  )
}

export const storeOperation = operationOf(fc.array(word, { maxLength: 40 }), 6, 1)

/**
 * Operations that keep a store of EVICTING_MAX_TOKENS full and evicting: writes of 10-40 tokens
 * (three to six fill it), few removals. Random sequences of storeOperation mostly leave a store
 * half empty, so a broken eviction rule (`>=` for `>`, a reversed rank) would go unnoticed.
 */
export const evictingOperation = operationOf(fc.array(word, { minLength: 6, maxLength: 30 }), 10, 1)
export const EVICTING_MAX_TOKENS = 60

export type StoreOperation = typeof storeOperation extends fc.Arbitrary<infer T> ? T : never

/** What a run did, to check that the sequences exercised what they are meant to. */
export interface RunStats { writes: number, evictions: number }

/**
 * Runs `operations` on `store` (any backend, through the ContextStore interface) and on the naive
 * reference side by side, comparing after every step. Returns what differed first, or undefined.
 * `writeCap` skips writes larger than it, so small stores are exercised on a store with a large
 * budget (the Redis test shares one store between runs).
 */
export async function differenceFromReference (
  store: ContextStore, who: Actor, maxTokens: number, operations: StoreOperation[], writeCap = Infinity,
  stats: RunStats = { writes: 0, evictions: 0 }
): Promise<string | undefined> {
  const tenant = who.tenant
  const reference = new ReferenceStore(maxTokens)
  const sources = new Map<string, string>()
  const expectRefusal = async (code: string, present: boolean, operation: () => Promise<unknown>) => {
    try {
      await operation()
      return present ? undefined : `${code} expected`
    } catch (error) {
      if (present || !(error instanceof ContextError) || error.code !== code) throw error
      return 'refused'
    }
  }
  for (const step of operations) {
    if (step.op === 'write' || step.op === 'writeGenerated') {
      const content = { text: step.words.join(' ') }
      const source = step.words.length % 2 === 0 ? 's1' : 's2'
      const tokens = oracleCount(content)
      if (tokens > writeCap) continue
      const outcome = await expectRefusal('entry_too_large', tokens <= maxTokens, async () => {
        const result = await store.write(who, { content, priority: step.priority, source, key: step.op === 'write' ? step.key : undefined })
        if (result.tokens !== tokens) throw new Error(`tokens ${result.tokens} != oracle ${tokens}`)
        stats.writes++
        stats.evictions += result.evicted.length
        reference.write(result.key, tokens, step.priority)
        sources.set(result.key, source)
      })
      if (outcome !== undefined && outcome !== 'refused') return outcome
    } else if (step.op === 'priority') {
      const outcome = await expectRefusal('not_found', reference.entries.has(step.key), async () => {
        await store.setPriority(who, step.key, step.priority)
        reference.setPriority(step.key, step.priority)
      })
      if (outcome !== undefined && outcome !== 'refused') return `priority of ${step.key}: ${outcome}`
    } else if (step.op === 'remove') {
      const outcome = await expectRefusal('not_found', reference.entries.has(step.key), async () => {
        await store.remove(who, step.key)
        reference.remove(step.key)
      })
      if (outcome !== undefined && outcome !== 'refused') return `remove of ${step.key}: ${outcome}`
    } else if (step.op === 'clearSource') {
      const result = await store.clear(who, { source: step.prefix })
      const expected = [...reference.entries.keys()].filter((k) => sources.get(k)?.startsWith(step.prefix))
      if (result.count !== expected.length) return `clear removed ${result.count}, expected ${expected.length}`
      for (const k of expected) reference.remove(k)
    } else {
      const { entries, metadata } = store.query(tenant, { max_tokens: step.budget, min_priority: step.minPriority })
      const matches = reference.ranked().filter((e) => e.priority >= step.minPriority)
      let left = step.budget
      const expected = matches.filter((e) => (e.tokens <= left ? ((left -= e.tokens), true) : false)).map((e) => e.key)
      if (JSON.stringify(entries.map((e) => e.key)) !== JSON.stringify(expected)) return `query: ${JSON.stringify(entries.map((e) => e.key))} != ${JSON.stringify(expected)}`
      if (metadata.matched !== matches.length || metadata.returned + metadata.omitted.length !== matches.length) return 'query metadata'
    }
    const realKeys = store.snapshot(tenant).entries.map((e) => e.key)
    const expectedKeys = reference.ranked().map((e) => e.key)
    if (JSON.stringify(realKeys) !== JSON.stringify(expectedKeys)) return `after ${step.op}: ${JSON.stringify(realKeys)} != ${JSON.stringify(expectedKeys)}`
    const total = store.metadata(tenant).total_tokens
    if (total !== reference.total() || total > maxTokens) return `after ${step.op}: ${total} tokens, reference ${reference.total()}`
  }
  return undefined
}
