// The dashboard's pure functions: table filter/sort/page, the budget breakdown and the feed.
import { test } from 'tap'
import { budgetBreakdown, defaultTableQuery, feedItems, pushFeed, shortDuration, tablePage } from '../../dashboard/src/model.js'

type Entry = Parameters<typeof tablePage>[0] extends ReadonlyMap<string, infer E> ? E : never

function entry (fields: Partial<Entry> & { source: string, priority: number, tokens: number }): Entry {
  return { timestamp: '2026-12-01T10:00:00.000Z', content: { note: fields.source }, owner: 'alice', version: 1, ...fields } as Entry
}

const store = new Map<string, Entry>([
  ['a', entry({ source: 'content_agent', priority: 5, tokens: 40, timestamp: '2026-12-01T10:00:01.000Z' })],
  ['b', entry({ source: 'content_agent', priority: 9, tokens: 10, content: { quiz: 'fractions' } })],
  ['c', entry({ source: 'quiz_agent', priority: 5, tokens: 30, timestamp: '2026-12-01T10:00:05.000Z' })],
  ['d', entry({ source: 'tool', priority: 1, tokens: 20, expires_at: '2026-12-01T11:00:00.000Z' })]
])

test('the table filters by source prefix, priority range and text, in key order on ties', async (t) => {
  const keys = (query: Partial<typeof defaultTableQuery>) => tablePage(store, { ...defaultTableQuery, ...query }).rows.map((row) => row.key)
  t.strictSame(keys({}), ['b', 'c', 'a', 'd'], 'priority descending, then the newest write first')
  t.strictSame(keys({ source: 'content' }), ['b', 'a'])
  t.strictSame(keys({ minPriority: 5, maxPriority: 5 }), ['c', 'a'])
  t.strictSame(keys({ text: 'FRACTIONS' }), ['b'], 'text matches the content, case-insensitively')
  t.strictSame(keys({ text: 'd' }), ['d'], 'text matches the key too')
  t.strictSame(keys({ sort: 'tokens', descending: false }), ['b', 'd', 'c', 'a'])
  t.strictSame(keys({ sort: 'key', descending: false }), ['a', 'b', 'c', 'd'])
  t.strictSame(keys({ sort: 'ttl', descending: false }), ['d', 'a', 'b', 'c'], 'entries with a TTL first, then the rest by key')
})

test('the table pages, and a page past the end shows the last one', async (t) => {
  const big = new Map<string, Entry>()
  for (let i = 0; i < 10_000; i++) big.set(`k${String(i).padStart(5, '0')}`, entry({ source: 's', priority: 1 + (i % 10), tokens: 1 }))
  const first = tablePage(big, { ...defaultTableQuery, sort: 'key', descending: false })
  t.equal(first.rows.length, 50)
  t.equal(first.pages, 200)
  t.equal(first.matched, 10_000)
  t.equal(first.rows[0].key, 'k00000')
  const beyond = tablePage(big, { ...defaultTableQuery, sort: 'key', descending: false, page: 999 })
  t.equal(beyond.page, 199)
  t.equal(beyond.rows.at(-1)?.key, 'k09999')
})

test('the budget splits by source (largest first, the rest as other) and by priority', async (t) => {
  const { bySource, byPriority, used } = budgetBreakdown(store, 200, 2)
  t.equal(used, 100)
  t.strictSame(bySource.map((s) => [s.label, s.tokens]), [['content_agent', 50], ['quiz_agent', 30], ['other sources', 20]])
  t.equal(bySource[0].share, 0.25)
  t.strictSame(byPriority.map((s) => [s.label, s.tokens]), [['priority 9', 10], ['priority 5', 70], ['priority 1', 20]])
})

test('the feed names evictions, expiries and clears, with the actor', async (t) => {
  const write = feedItems({ seq: 7, reason: 'created', upserted: { x: store.get('a') as Entry }, removed: ['old'], actor: { sub: 'alice', surface: 'ws' } })
  t.strictSame(write.map((item) => [item.reason, item.keys, item.actor]), [['written', ['x'], 'alice (ws)'], ['evicted', ['old'], 'system']])
  t.strictSame(feedItems({ seq: 8, reason: 'expired', upserted: {}, removed: ['t'] }).map((item) => item.reason), ['expired'])
  t.strictSame(feedItems({ seq: 9, reason: 'cleared', upserted: {}, removed: ['a', 'b'], actor: { sub: 'root', surface: 'rest' } }).map((item) => [item.reason, item.actor]), [['cleared', 'root (rest)']])
  t.strictSame(feedItems({ seq: 10, reason: 'priority', upserted: new Map([['a', store.get('a') as Entry]]), removed: [] }).map((item) => item.reason), ['priority'])
  t.strictSame(feedItems({ seq: 11, upserted: {}, removed: [], resync: true }).map((item) => item.reason), ['resync'])
  const feed = pushFeed(pushFeed([], write, 3), feedItems({ seq: 8, reason: 'expired', upserted: {}, removed: ['t'] }), 3)
  t.strictSame(feed.map((item) => `${item.seq}:${item.reason}`), ['8:expired', '7:evicted', '7:written'], 'newest first, bounded')
})

test('durations are short and never negative', async (t) => {
  t.strictSame([shortDuration(-5), shortDuration(4_400), shortDuration(300_000), shortDuration(7_200_000), shortDuration(3 * 86_400_000)], ['0 s', '4 s', '5 min', '2 h', '3 d'])
})
