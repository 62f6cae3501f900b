// Thousands of random operation sequences against the naive reference of CONTRACT §1: the real
// store (ranked index, no sorting) must hold exactly the same entries in the same rank order.
import { test, type Test } from 'tap'
import fc from 'fast-check'
import { TenantStore } from '../../src/store/tenant-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { ContextError } from '../../src/errors.js'
import { ReferenceStore } from '../helpers/reference-store.js'
import { oracleCount, storeOperation } from '../helpers/store-operations.js'
import { admin } from '../helpers/actors.js'

function sameState (t: Test, store: TenantStore, reference: ReferenceStore): boolean {
  const real = store.snapshot()
  const expected = reference.ranked()
  const realKeys = real.entries.map((e) => e.key)
  const expectedKeys = expected.map((e) => e.key)
  if (JSON.stringify(realKeys) !== JSON.stringify(expectedKeys)) {
    t.same(realKeys, expectedKeys, 'ranked keys match the reference')
    return false
  }
  if (real.metadata.total_tokens !== reference.total()) {
    t.equal(real.metadata.total_tokens, reference.total(), 'token totals match')
    return false
  }
  return real.metadata.total_tokens <= reference.maxTokens
}

test('the ranked store keeps exactly what the naive reference keeps', async (t) => {
  let runs = 0
  fc.assert(fc.property(
    fc.integer({ min: 20, max: 150 }),
    fc.array(storeOperation, { minLength: 1, maxLength: 60 }),
    (maxTokens, operations) => {
      runs++
      const store = new TenantStore('t', { maxTokens, maxEntryTokens: maxTokens, countTokens: tokenCounter('o200k_base'), historySize: 100 })
      const reference = new ReferenceStore(maxTokens)
      const sources = new Map<string, string>()
      let now = 1_700_000_000_000
      for (const step of operations) {
        now += 1
        if (step.op === 'write' || step.op === 'writeGenerated') {
          const content = { text: step.words.join(' ') }
          const source = step.words.length % 2 === 0 ? 's1' : 's2'
          const tokens = oracleCount(content)
          try {
            const { result } = store.write(admin, { content, priority: step.priority, source, key: step.op === 'write' ? step.key : undefined }, now)
            if (result.tokens !== tokens) return false
            reference.write(result.key, tokens, step.priority)
            sources.set(result.key, source)
          } catch (error) {
            if (!(error instanceof ContextError) || error.code !== 'entry_too_large' || tokens <= maxTokens) throw error
          }
        } else if (step.op === 'priority') {
          const present = reference.entries.has(step.key)
          try {
            store.setPriority(admin, step.key, step.priority, now)
            if (!present) return false
            reference.setPriority(step.key, step.priority)
          } catch (error) {
            if (present || !(error instanceof ContextError) || error.code !== 'not_found') throw error
          }
        } else if (step.op === 'remove') {
          const present = reference.entries.has(step.key)
          try {
            store.remove(admin, step.key, now)
            reference.remove(step.key)
          } catch (error) {
            if (present || !(error instanceof ContextError) || error.code !== 'not_found') throw error
          }
        } else if (step.op === 'clearSource') {
          const { result } = store.clear(admin, { source: step.prefix }, now)
          const expected = [...reference.entries.keys()].filter((k) => sources.get(k)?.startsWith(step.prefix))
          if (result.count !== expected.length) return false
          for (const k of expected) reference.remove(k)
        } else {
          const { entries, metadata } = store.query({ max_tokens: step.budget, min_priority: step.minPriority })
          const matches = reference.ranked().filter((e) => e.priority >= step.minPriority)
          let left = step.budget
          const expected = matches.filter((e) => (e.tokens <= left ? ((left -= e.tokens), true) : false)).map((e) => e.key)
          if (JSON.stringify(entries.map((e) => e.key)) !== JSON.stringify(expected)) return false
          if (metadata.matched !== matches.length || metadata.returned + metadata.omitted.length !== matches.length) return false
        }
        if (!sameState(t, store, reference)) return false
      }
      return true
    }
  ), { numRuns: 2000 })
  t.equal(runs, 2000, 'ran every sequence')
  t.equal(Object.getPrototypeOf({}), Object.prototype, 'Object.prototype untouched')
  t.equal(({} as Record<string, unknown>).text, undefined, 'no polluted properties')
})
