// Paging of TenantStore.query: a walk with `limit` and `cursor` returns the matches in rank order,
// never one entry twice, and every entry that stayed unchanged during the walk exactly once,
// whatever writes, re-prioritisations and removals happen between its pages.
import fc from 'fast-check'
import { test } from 'tap'
import { ContextError } from '../../src/errors.js'
import { decodeCursor, encodeCursor, epochTag, type PagePosition } from '../../src/store/query-paging.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import type { ContextQuery } from '../../src/store/types.js'
import { tokenCounter } from '../../src/token-counter.js'
import { alice } from '../helpers/actors.js'

const count = tokenCounter('o200k_base')
const newStore = () => new TenantStore('default', { maxTokens: 1_000_000, maxEntryTokens: 1_000_000, countTokens: count, historySize: 50 })

function errorOf (fn: () => unknown): { code: string, details: unknown } | undefined {
  try { fn() } catch (error) { return error instanceof ContextError ? { code: error.code, details: error.details } : { code: `unexpected: ${String(error)}`, details: undefined } }
  return undefined
}

/** Every page of a walk, calling `between` after each page (where concurrent writes go). */
function walk (store: TenantStore, query: ContextQuery, between: (page: number) => void = () => {}): string[][] {
  const pages: string[][] = []
  let cursor: string | undefined
  do {
    const result = store.query({ ...query, ...(cursor !== undefined ? { cursor } : {}) })
    pages.push(result.entries.map((stored) => stored.key))
    cursor = result.metadata.next_cursor
    if (pages.length > 1000) throw new Error('the walk does not end')
    between(pages.length)
  } while (cursor !== undefined)
  return pages
}

test('a walk returns every match once, in rank order, with next_cursor while more remain', async (t) => {
  const store = newStore()
  for (let i = 0; i < 7; i++) store.write(alice, { key: `k${i}`, content: { i }, priority: i % 2 === 0 ? 5 : 2 })
  const ranked = store.query({}).entries.map((stored) => stored.key)
  t.same(ranked, ['k6', 'k4', 'k2', 'k0', 'k5', 'k3', 'k1'], 'priority descending, then most recent write')
  const first = store.query({ limit: 3 })
  t.same(first.entries.map((s) => s.key), ['k6', 'k4', 'k2'])
  t.equal(first.metadata.truncated, true)
  t.type(first.metadata.next_cursor, 'string')
  t.same(walk(store, { limit: 3 }), [['k6', 'k4', 'k2'], ['k0', 'k5', 'k3'], ['k1']])
  t.same(walk(store, { limit: 7 }), [ranked], 'a page that holds the rest has no next_cursor')
  t.same(walk(store, { limit: 2, max_priority: 2 }), [['k5', 'k3'], ['k1']], 'filters apply on every page')
  t.equal(store.query({}).metadata.next_cursor, undefined, 'no limit: the whole result, no cursor')
  t.equal(store.query({ limit: 2, max_tokens: 1000 }).metadata.next_cursor, undefined, 'max_tokens picks matches: no cursor')
})

test('writes between pages: nothing twice, the unchanged entries all once, new ones left out', async (t) => {
  const store = newStore()
  for (let i = 0; i < 6; i++) store.write(alice, { key: `k${i}`, content: { i }, priority: 3 })
  // Rank: k5 k4 k3 k2 k1 k0.
  const pages = walk(store, { limit: 2 }, (page) => {
    if (page !== 1) return
    store.write(alice, { key: 'k5', content: { again: true }, priority: 1 }) // returned, rewritten to rank last
    store.setPriority(alice, 'k0', 9) // not returned yet, moves before the cursor
    store.write(alice, { key: 'new', content: { n: 1 }, priority: 1 }) // created during the walk
    store.remove(alice, 'k2')
  })
  t.same(pages, [['k5', 'k4'], ['k3', 'k1']], 'k5 not again, k2 gone, k0 and new written during the walk')
})

test('bad cursors and cursors with max_tokens are validation errors that name the cursor', async (t) => {
  const store = newStore()
  store.write(alice, { key: 'a', content: { a: 1 } })
  for (const cursor of ['', 'nonsense', encodeCursor({ priority: 11, seq: 1, walkSeq: 1 }).slice(0, -1) + '!', Buffer.from('c1.0.1.1').toString('base64url'), Buffer.from('c1.5.9.3').toString('base64url')]) {
    t.same(errorOf(() => store.query({ limit: 1, cursor })), {
      code: 'validation_error', details: [{ path: 'cursor', message: 'is not a cursor this server returned' }]
    }, `cursor ${JSON.stringify(cursor)}`)
  }
  const cursor = encodeCursor({ priority: 1, seq: 1, walkSeq: 1 })
  t.match(errorOf(() => store.query({ cursor, max_tokens: 10 })), { code: 'validation_error', details: [{ path: 'cursor' }] })
  t.same(decodeCursor(cursor), { priority: 1, seq: 1, walkSeq: 1 })
})

test('a cursor from an earlier history of the tenant (another epoch) is refused, not read against this one', async (t) => {
  const fill = () => {
    const store = newStore()
    for (let i = 0; i < 6; i++) store.write(alice, { key: `k${i}`, content: { i } })
    return store
  }
  const before = fill()
  const cursor = before.query({ limit: 2 }).metadata.next_cursor as string
  t.equal(decodeCursor(cursor)?.epoch, epochTag(before.epoch), 'the cursor carries the epoch it was made in')
  t.same(before.query({ limit: 2, cursor }).entries.map((e) => e.key), ['k3', 'k2'], 'it pages its own history')
  // The same writes after a memory-only restart: same seqs, another history.
  const after = fill()
  t.not(after.epoch, before.epoch)
  t.same(errorOf(() => after.query({ limit: 2, cursor })), {
    code: 'validation_error', details: [{ path: 'cursor', message: 'is from an earlier history of the tenant (epoch changed)' }]
  })
  const ahead = encodeCursor({ priority: 5, seq: 1, walkSeq: 99, epoch: epochTag(after.epoch) })
  t.match(errorOf(() => after.query({ limit: 2, cursor: ahead })), { code: 'validation_error', details: [{ path: 'cursor' }] }, 'a walk that began past this store\'s seq')
  const { epoch: _made, ...position } = decodeCursor(cursor) as PagePosition
  const legacy = encodeCursor(position)
  t.ok(legacy.length > 0 && Buffer.from(legacy, 'base64url').toString().startsWith('c1.'), 'the first format has no epoch')
  t.same(after.query({ limit: 2, cursor: legacy }).entries.map((e) => e.key), ['k3', 'k2'], 'and is still read')
})

test('property: under random writes between pages, no entry twice and every untouched entry once', async (t) => {
  const operation = fc.record({
    kind: fc.constantFrom('write', 'priority', 'remove'),
    key: fc.integer({ min: 0, max: 29 }),
    priority: fc.integer({ min: 1, max: 10 })
  })
  fc.assert(fc.property(
    fc.array(fc.record({ key: fc.integer({ min: 0, max: 29 }), priority: fc.integer({ min: 1, max: 10 }) }), { minLength: 1, maxLength: 40 }),
    fc.integer({ min: 1, max: 7 }),
    fc.array(fc.array(operation, { maxLength: 4 }), { maxLength: 12 }),
    fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
    (initial, limit, batches, minPriority) => {
      const store = newStore()
      for (const { key, priority } of initial) store.write(alice, { key: `k${key}`, content: { key }, priority })
      const query: ContextQuery = { limit, ...(minPriority !== undefined ? { min_priority: minPriority } : {}) }
      const atStart = store.query({ ...query, limit: undefined }).entries.map((s) => s.key)
      const touched = new Set<string>()
      const pages = walk(store, query, (page) => {
        for (const op of batches[page - 1] ?? []) {
          const key = `k${op.key}`
          touched.add(key)
          if (op.kind === 'write') store.write(alice, { key, content: { op }, priority: op.priority })
          else if (op.kind === 'priority' && store.get(key) !== undefined) store.setPriority(alice, key, op.priority)
          else if (op.kind === 'remove' && store.get(key) !== undefined) store.remove(alice, key)
        }
      })
      const returned = pages.flat()
      if (new Set(returned).size !== returned.length) throw new Error(`returned twice: ${JSON.stringify(pages)}`)
      const untouched = atStart.filter((key) => !touched.has(key))
      const untouchedReturned = returned.filter((key) => !touched.has(key))
      if (JSON.stringify(untouchedReturned) !== JSON.stringify(untouched)) {
        throw new Error(`untouched entries ${JSON.stringify(untouched)}, returned ${JSON.stringify(untouchedReturned)}`)
      }
      for (const key of returned) if (!atStart.includes(key) && !touched.has(key)) throw new Error(`${key} came from nowhere`)
      for (const page of pages) if (page.length > limit) throw new Error('page over limit')
    }
  ), { numRuns: 300 })
  t.pass('300 random walks')
})

test('relevant_to orders by score, not rank: no next_cursor with it, and no cursor combined with it', async (t) => {
  const store = newStore()
  for (let i = 0; i < 4; i++) store.write(alice, { key: `k${i}`, content: { text: i % 2 === 0 ? 'deploy the database' : 'lunch menu' } })
  const ranked = store.query({ limit: 2, relevant_to: 'database deploy' })
  t.same(ranked.entries.map((s) => s.key), ['k2', 'k0'], 'the relevant entries first')
  t.equal(ranked.metadata.next_cursor, undefined)
  const cursor = store.query({ limit: 2 }).metadata.next_cursor as string
  t.match(errorOf(() => store.query({ limit: 2, cursor, relevant_to: 'database' })), {
    code: 'validation_error', details: [{ path: 'cursor', message: /relevant_to/ }]
  })
})
