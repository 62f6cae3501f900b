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
  // The tenant is read synchronously between operations: held loaded for the run, as a client would.
  const lease = await store.use(who.tenant)
  try {
    return await stepsFromReference(store, who, maxTokens, operations, writeCap, stats)
  } finally {
    lease.release()
  }
}

async function stepsFromReference (
  store: ContextStore, who: Actor, maxTokens: number, operations: StoreOperation[], writeCap: number, stats: RunStats
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

/**
 * Runs `operations` split between two instances of one shared store (even steps on the first,
 * odd on the second), both at once, then replays what was acknowledged in seq order on the naive
 * reference: every write must have evicted exactly what the reference evicts at its seq, the seqs
 * must be 1..n with none missing, and both instances must end holding exactly the reference's
 * entries. Refusals (`not_found` for a key the other instance just removed) are not replayed.
 * Returns what differed first, or undefined.
 */
export async function concurrentDifferenceFromReference (
  stores: readonly [ContextStore, ContextStore], who: Actor, maxTokens: number, operations: StoreOperation[],
  stats: RunStats = { writes: 0, evictions: 0 }
): Promise<string | undefined> {
  const tenant = who.tenant
  const acked: Acked[] = []
  const refusedOrSkipped = (error: unknown) => {
    if (error instanceof ContextError && (error.code === 'not_found' || error.code === 'entry_too_large')) return
    throw error
  }
  const run = async (store: ContextStore, steps: StoreOperation[]) => {
    for (const step of steps) {
      if (step.op === 'write' || step.op === 'writeGenerated') {
        const content = { text: step.words.join(' ') }
        const source = step.words.length % 2 === 0 ? 's1' : 's2'
        const tokens = oracleCount(content)
        const result = await store.write(who, { content, priority: step.priority, source, key: step.op === 'write' ? step.key : undefined }).catch(refusedOrSkipped)
        if (result === undefined) continue
        stats.writes++
        stats.evictions += result.evicted.length
        acked.push({
          seq: result.seq,
          replay: (reference, sources) => {
            if (result.tokens !== tokens) return `tokens ${result.tokens} != oracle ${tokens}`
            const before = new Set(reference.entries.keys())
            reference.write(result.key, tokens, step.priority)
            sources.set(result.key, source)
            const evicted = [...before, result.key].filter((key) => !reference.entries.has(key))
            const stored = [...new Set(result.evicted)].sort()
            if (JSON.stringify([...new Set(evicted)].sort()) !== JSON.stringify(stored)) return `write of ${result.key} at seq ${result.seq} evicted ${JSON.stringify(stored)}, the reference ${JSON.stringify(evicted)}`
            return undefined
          }
        })
      } else if (step.op === 'priority') {
        const result = await store.setPriority(who, step.key, step.priority).catch(refusedOrSkipped)
        if (result !== undefined) acked.push({ seq: result.seq, replay: (reference) => { reference.setPriority(step.key, step.priority); return undefined } })
      } else if (step.op === 'remove') {
        const result = await store.remove(who, step.key).catch(refusedOrSkipped)
        if (result !== undefined) acked.push({ seq: result.seq, replay: (reference) => { reference.remove(step.key); return undefined } })
      } else if (step.op === 'clearSource') {
        const result = await store.clear(who, { source: step.prefix })
        // A clear that matched nothing made no change (its seq is the tenant's at the time).
        if (result.count === 0) continue
        acked.push({
          seq: result.seq,
          replay: (reference, sources) => {
            const expected = [...reference.entries.keys()].filter((k) => sources.get(k)?.startsWith(step.prefix)).sort()
            for (const key of expected) reference.remove(key)
            return JSON.stringify(expected) === JSON.stringify([...result.removed].sort()) ? undefined : `clear at seq ${result.seq} removed ${JSON.stringify(result.removed)}, the reference ${JSON.stringify(expected)}`
          }
        })
      }
    }
  }
  // Both serve the tenant from the start (as their clients would make them), so both follow it.
  const leases = await Promise.all(stores.map(async (store) => await store.use(tenant)))
  try {
    await Promise.all([
      run(stores[0], operations.filter((_, i) => i % 2 === 0)),
      run(stores[1], operations.filter((_, i) => i % 2 === 1))
    ])
    return await compareReplayed(stores, tenant, maxTokens, acked)
  } finally {
    for (const lease of leases) lease.release()
  }
}

interface Acked { seq: number, replay: (reference: ReferenceStore, sources: Map<string, string>) => string | undefined }

async function compareReplayed (stores: readonly ContextStore[], tenant: string, maxTokens: number, acked: Acked[]): Promise<string | undefined> {
  acked.sort((x, y) => x.seq - y.seq)
  const seqs = acked.map((a) => a.seq)
  if (seqs.some((seq, i) => seq !== i + 1)) return `seqs ${JSON.stringify(seqs)} are not 1..${seqs.length}`
  const reference = new ReferenceStore(maxTokens)
  const sources = new Map<string, string>()
  for (const change of acked) {
    const difference = change.replay(reference, sources)
    if (difference !== undefined) return difference
  }
  const expected = JSON.stringify(reference.ranked().map((e) => e.key))
  const last = seqs.length
  const deadline = Date.now() + 10_000
  for (const store of stores) {
    while (store.seq(tenant) < last && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
    const held = JSON.stringify(store.snapshot(tenant).entries.map((e) => e.key))
    if (held !== expected) return `an instance holds ${held}, the reference ${expected}`
    if (store.metadata(tenant).total_tokens !== reference.total()) return `an instance holds ${store.metadata(tenant).total_tokens} tokens, the reference ${reference.total()}`
  }
  return undefined
}

/** The concurrent property over `runs` sequences kept full and evicting (also run over a Redis Cluster). */
export async function concurrentEvictionHolds (
  t: { ok: (value: boolean, message: string) => void, fail: (message: string) => void }, stores: readonly [ContextStore, ContextStore], runs: number
): Promise<boolean> {
  const totals: RunStats = { writes: 0, evictions: 0 }
  let run = 0
  let evictingRuns = 0
  let failure = ''
  let held = true
  await fc.assert(fc.asyncProperty(
    fc.array(evictingOperation, { minLength: 10, maxLength: 40 }),
    async (operations) => {
      const root: Actor = { userId: 'root', roles: ['admin'], tenant: `both-${++run}` }
      const stats: RunStats = { writes: 0, evictions: 0 }
      failure = await concurrentDifferenceFromReference(stores, root, EVICTING_MAX_TOKENS, operations, stats) ?? ''
      totals.writes += stats.writes
      totals.evictions += stats.evictions
      if (stats.evictions > 0) evictingRuns++
      return failure === ''
    }
  ), { numRuns: runs }).catch((error: Error) => { held = false; t.fail(`${error.message}\n${failure}`) })
  t.ok(evictingRuns >= runs * 0.9, `${evictingRuns} of ${runs} runs evicted (${totals.evictions} evictions in ${totals.writes} writes)`)
  return held
}
