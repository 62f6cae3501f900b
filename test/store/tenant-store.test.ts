import { test } from 'tap'
import { TenantStore } from '../../src/store/tenant-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { ContextError } from '../../src/errors.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { admin, alice, bob, reader } from '../helpers/actors.js'

const count = tokenCounter('o200k_base')
const newStore = (maxTokens = 1000, extra: Partial<ConstructorParameters<typeof TenantStore>[1]> = {}) =>
  new TenantStore('default', { maxTokens, maxEntryTokens: maxTokens, countTokens: count, historySize: 50, ...extra })

const codeOf = (fn: () => unknown): string | undefined => {
  try { fn() } catch (error) { return error instanceof ContextError ? error.code : `unexpected: ${String(error)}` }
  return undefined
}

test('a write stores the contract entry shape, counted with tiktoken', async (t) => {
  const store = newStore()
  const content = { agent: 'ContentAgent', task: 'Generate math lesson' }
  const { result, change } = store.write(alice, { content, source: 'content_agent_001', priority: 5 }, Date.parse('2026-11-24T10:30:00.123Z'))
  t.equal(result.key, 'content_agent_001_1795516200.123000', 'source, epoch seconds, microseconds')
  t.same(result.entry, {
    timestamp: '2026-11-24T10:30:00.123Z',
    content,
    tokens: count(JSON.stringify(content)),
    source: 'content_agent_001',
    priority: 5,
    owner: 'alice',
    version: 1
  })
  t.equal(result.seq, 1)
  t.same(result.evicted, [])
  t.equal(change.reason, 'created')
  const stored = store.get(result.key)
  t.equal(stored?.json, JSON.stringify(stored?.entry), 'the cached JSON is exactly JSON.stringify(entry)')
  t.same(store.metadata, { total_tokens: result.tokens, max_tokens: 1000, entry_count: 1 })
})

test('defaults: priority 1, source from the writer, versions count writes of a key', async (t) => {
  const store = newStore()
  const first = store.write(alice, { content: { v: 1 }, key: 'k' }).result
  t.equal(first.entry.priority, 1)
  t.equal(first.entry.source, 'alice')
  const second = store.write(alice, { content: { v: 2 }, key: 'k' })
  t.equal(second.result.version, 2)
  t.equal(second.change.reason, 'replaced')
  t.equal(store.size, 1)
})

test('a rewrite that leaves out priority or source keeps the entry\'s own', async (t) => {
  const store = newStore()
  store.write(alice, { content: { step: 1 }, key: 'progress', priority: 8, source: 'planner' })
  const kept = store.write(alice, { content: { step: 2 }, key: 'progress' }).result.entry
  t.equal(kept.priority, 8)
  t.equal(kept.source, 'planner')
  const changed = store.write(alice, { content: { step: 3 }, key: 'progress', priority: 2, source: 'critic' }).result.entry
  t.equal(changed.priority, 2)
  t.equal(changed.source, 'critic')
})

test('generated keys are unique even within one millisecond', async (t) => {
  const store = newStore(100000)
  const now = Date.now()
  const keys = new Set<string>()
  for (let i = 0; i < 50; i++) keys.add(store.write(alice, { content: { i }, source: 'agent' }, now).result.key)
  t.equal(keys.size, 50)
})

test('an entry over the budget or MCP_MAX_ENTRY_TOKENS is refused and nothing changes', async (t) => {
  const store = newStore(50)
  store.write(alice, { content: { small: true }, key: 'keep' })
  const before = JSON.stringify(store.snapshot())
  t.equal(codeOf(() => store.write(alice, { content: { text: 'word '.repeat(200) } })), 'entry_too_large')
  t.equal(JSON.stringify(store.snapshot()), before, 'store unchanged, seq unchanged')

  const capped = newStore(1000, { maxEntryTokens: 10 })
  t.equal(codeOf(() => capped.write(alice, { content: { text: 'word '.repeat(20) } })), 'entry_too_large')
  t.equal(capped.seq, 0)
})

test('eviction removes the lowest priority, oldest write first; a write may evict itself', async (t) => {
  const content = (n: number) => ({ text: 'x'.repeat(n) })
  const tokens = count(JSON.stringify(content(40)))
  const store = newStore(tokens * 3)
  store.write(alice, { content: content(40), key: 'low-old', priority: 2 })
  store.write(alice, { content: content(40), key: 'low-new', priority: 2 })
  store.write(alice, { content: content(40), key: 'high', priority: 9 })
  const { result, change } = store.write(alice, { content: content(40), key: 'mid', priority: 5 })
  t.same(result.evicted, ['low-old'])
  t.same(change.removed, [{ key: 'low-old', reason: 'evicted' }])
  t.ok(result.stored)

  const own = store.write(alice, { content: content(40), key: 'lowest', priority: 1 })
  t.same(own.result.evicted, ['lowest'], 'the new entry ranks last and leaves at once')
  t.equal(own.result.stored, false)
  t.same(own.change.upserted, [])
  t.same(store.snapshot().entries.map((e) => e.key), ['high', 'mid', 'low-new'])
  t.equal(store.metadata.total_tokens, tokens * 3)
})

test('change metadata equals the store metadata after the change', async (t) => {
  const store = newStore(60)
  const changes: ChangeEvent[] = []
  for (let i = 0; i < 30; i++) {
    changes.push(store.write(admin, { content: { i, pad: 'y'.repeat(i) }, priority: 1 + (i % 10), key: `k${i % 7}` }).change)
    t.same(changes.at(-1)?.metadata, store.metadata)
  }
})

test('expected_version: optimistic concurrency, 0 means create-only', async (t) => {
  const store = newStore()
  store.write(alice, { content: { v: 1 }, key: 'doc', expected_version: 0 })
  t.equal(codeOf(() => store.write(alice, { content: { v: 2 }, key: 'doc', expected_version: 0 })), 'version_conflict')
  t.equal(codeOf(() => store.write(alice, { content: { v: 2 }, key: 'doc', expected_version: 5 })), 'version_conflict')
  t.equal(store.get('doc')?.entry.version, 1, 'nothing changed on conflict')
  t.equal(store.write(alice, { content: { v: 2 }, key: 'doc', expected_version: 1 }).result.version, 2)
  t.equal(codeOf(() => store.write(alice, { content: {}, key: 'absent', expected_version: 3 })), 'version_conflict')
})

test('roles and ownership: readers read, writers change their own, admins any', async (t) => {
  const store = newStore()
  t.equal(codeOf(() => store.write(reader, { content: {} })), 'forbidden')
  store.write(alice, { content: { mine: true }, key: 'a' })
  t.equal(codeOf(() => store.write(bob, { content: { theirs: true }, key: 'a' })), 'forbidden')
  t.equal(codeOf(() => store.setPriority(bob, 'a', 5)), 'forbidden')
  t.equal(codeOf(() => store.remove(bob, 'a')), 'forbidden')
  t.equal(codeOf(() => store.setPriority(reader, 'a', 5)), 'forbidden')
  t.equal(store.get('a')?.entry.version, 1)
  t.equal(store.setPriority(admin, 'a', 7).result.version, 2)
  t.equal(codeOf(() => store.setPriority(alice, 'missing', 3)), 'not_found')
  t.equal(codeOf(() => store.setPriority(alice, 'a', 11)), 'validation_error')
  t.equal(codeOf(() => store.remove(alice, 'missing')), 'not_found')
  store.remove(admin, 'a')
  t.equal(store.size, 0)
})

test('set_priority is a write: version +1 and it becomes the most recent of its priority', async (t) => {
  const store = newStore()
  store.write(alice, { content: { n: 1 }, key: 'one', priority: 3 })
  store.write(alice, { content: { n: 2 }, key: 'two', priority: 3 })
  const { result, change } = store.setPriority(alice, 'one', 3)
  t.same(result, { key: 'one', priority: 3, version: 2, seq: 3 })
  t.equal(change.reason, 'priority')
  t.same(store.snapshot().entries.map((e) => e.key), ['one', 'two'])
  t.equal(store.get('one')?.json, JSON.stringify(store.get('one')?.entry))
})

test('clear: own entries by default, source prefix and keys narrow it, all is admin-only', async (t) => {
  const store = newStore(100000)
  store.write(alice, { content: {}, key: 'a1', source: 'agent.alpha' })
  store.write(alice, { content: {}, key: 'a2', source: 'agent.beta' })
  store.write(bob, { content: {}, key: 'b1', source: 'agent.alpha' })
  t.equal(codeOf(() => store.clear(alice, { all: true })), 'forbidden')
  t.equal(codeOf(() => store.clear(alice, { keys: ['a1', 'b1'] })), 'forbidden', 'naming another user\'s key is refused')
  t.equal(store.size, 3, 'nothing removed by a refused clear')
  t.same(store.clear(alice, { source: 'agent.al' }).result.removed, ['a1'])
  t.same(store.clear(alice, {}).result.removed, ['a2'])
  t.equal(store.clear(alice, {}).result.count, 0)
  t.same(store.clear(admin, { source: 'agent' }).result.removed, ['b1'])
  store.write(bob, { content: {}, key: 'b2' })
  t.same(store.clear(admin, { all: true }).result.removed, ['b2'])
  t.equal(codeOf(() => store.clear(reader, {})), 'forbidden')
})

test('keys such as __proto__ and constructor are ordinary keys', async (t) => {
  const store = newStore()
  store.write(alice, { content: { polluted: true }, key: '__proto__' })
  store.write(alice, { content: { __proto__: { polluted: true } } as Record<string, unknown>, key: 'constructor' })
  t.same(store.snapshot().entries.map((e) => e.key).sort(), ['__proto__', 'constructor'])
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})

test('content nested deeper than maxDepth is a validation_error with its path', async (t) => {
  const store = newStore(1000, { maxDepth: 3 })
  store.write(alice, { content: { a: { b: { c: 1 } } } })
  try {
    store.write(alice, { content: { a: { b: { c: { d: 1 } } } } })
    t.fail('should refuse')
  } catch (error) {
    t.ok(error instanceof ContextError && error.code === 'validation_error')
    t.same((error as ContextError).details, [{ path: 'content.a.b.c', message: 'nested deeper than 3 levels' }])
  }
  t.equal(store.size, 1)
})

test('TTL: entries expire with reason expired; a rewrite resets the clock', async (t) => {
  const store = newStore()
  const t0 = 1_800_000_000_000
  store.write(alice, { content: { a: 1 }, key: 'short', ttl_seconds: 5 }, t0)
  store.write(alice, { content: { b: 1 }, key: 'rewritten', ttl_seconds: 5 }, t0)
  store.write(alice, { content: { b: 2 }, key: 'rewritten', ttl_seconds: 60 }, t0 + 1000)
  t.equal(store.get('short')?.entry.expires_at, new Date(t0 + 5000).toISOString())
  t.equal(store.expireDue(t0 + 4999), undefined)
  const change = store.expireDue(t0 + 5000)
  t.same(change?.removed, [{ key: 'short', reason: 'expired' }])
  t.equal(change?.reason, 'expired')
  t.ok(store.get('rewritten'), 'the stale expiry of the first write is ignored')
  t.equal(store.expireDue(t0 + 61_000)?.removed[0].key, 'rewritten')
  t.equal(store.size, 0)
})

test('history: changes since a seq, undefined once it no longer reaches back', async (t) => {
  const store = newStore(100000, { historySize: 5 })
  for (let i = 0; i < 8; i++) store.write(alice, { content: { i }, key: `k${i}` })
  t.same(store.changesSince(8), [])
  t.same(store.changesSince(5)?.map((c) => c.seq), [6, 7, 8])
  t.same(store.changesSince(3)?.map((c) => c.seq), [4, 5, 6, 7, 8])
  t.equal(store.changesSince(2), undefined)
})

test('query: every filter, rank order, and the max_tokens manifest', async (t) => {
  const store = newStore(100000)
  const t0 = Date.parse('2026-01-01T00:00:00.000Z')
  store.write(alice, { content: { topic: 'math lesson' }, key: 'm', source: 'content_agent_001', priority: 5 }, t0)
  store.write(alice, { content: { topic: 'history' }, key: 'h', source: 'content_agent_002', priority: 8 }, t0 + 1000)
  store.write(bob, { content: { topic: 'math quiz', body: 'q'.repeat(400) }, key: 'q', source: 'quiz_agent', priority: 5 }, t0 + 2000)
  const keys = (q: Parameters<TenantStore['query']>[0]) => store.query(q).entries.map((e) => e.key)
  t.same(keys({}), ['h', 'q', 'm'])
  t.same(keys({ source: 'content_agent' }), ['h', 'm'])
  t.same(keys({ sources: ['quiz_agent', 'content_agent_001'] }), ['q', 'm'])
  t.same(keys({ keys: ['m', 'q', 'nope'] }), ['q', 'm'])
  t.same(keys({ min_priority: 6 }), ['h'])
  t.same(keys({ max_priority: 5 }), ['q', 'm'])
  t.same(keys({ since: '2026-01-01T00:00:01.000Z' }), ['h', 'q'])
  t.same(keys({ text: 'math' }), ['q', 'm'])
  t.same(keys({ limit: 2 }), ['h', 'q'])
  const small = store.get('h')!.entry.tokens + store.get('m')!.entry.tokens
  const budgeted = store.query({ max_tokens: small })
  t.same(budgeted.entries.map((e) => e.key), ['h', 'm'], 'the large q is skipped, the smaller m still fits')
  t.same(budgeted.metadata, { matched: 3, returned: 2, returned_tokens: small, truncated: true, omitted: ['q'] })
})

test('nesting is measured through arrays and objects alike; the limit itself is accepted', async (t) => {
  const store = newStore(1000, { maxDepth: 4 })
  store.write(alice, { content: { a: [{ b: [] }] } }) // depth 4: object, array, object, array
  try {
    store.write(alice, { content: { a: [{ b: [[1]] }] } })
    t.fail('depth 5 should be refused')
  } catch (error) {
    t.same((error as ContextError).details, [{ path: 'content.a.0.b.0', message: 'nested deeper than 4 levels' }])
  }
  t.equal(store.size, 1)
})

test('clear with a key named twice removes it once and keeps the totals right', async (t) => {
  const store = newStore()
  store.write(alice, { content: { a: 1 }, key: 'a' })
  store.write(alice, { content: { b: 1 }, key: 'b' })
  const { result, change } = store.clear(alice, { keys: ['a', 'a', 'a'] })
  t.same(result.removed, ['a'])
  t.equal(result.count, 1)
  t.same(change?.metadata, store.metadata, 'the change carries the real totals')
  t.equal(store.metadata.total_tokens, store.get('b')?.entry.tokens)
})

test('rewriting TTL entries does not grow the expiry queue without bound', async (t) => {
  const store = newStore()
  const t0 = 1_900_000_000_000
  for (let i = 0; i < 5000; i++) store.write(alice, { content: { i }, key: 'hot', ttl_seconds: 3600 }, t0 + i)
  const queued = (store as unknown as { expiries: { size: number } }).expiries.size
  t.ok(queued <= 2 * 1 + 1024 + 1, `queue holds ${queued} items for 1 live TTL entry`)
  t.equal(store.expireDue(t0 + 5000 + 3600 * 1000)?.removed[0].key, 'hot', 'the live entry still expires')
})
