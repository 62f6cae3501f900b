// The resume history's two bounds (MCP_HISTORY_SIZE changes, MCP_HISTORY_BYTES bytes): the oldest
// changes give way first, a resume from before them is told (undefined: the caller resyncs), and a
// tenant rewriting large entries holds at most the byte bound, however often it writes.
import { test } from 'tap'
import { ChangeHistory, changeBytes } from '../../src/store/change-history.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import { buildStoredEntry } from '../../src/store/tenant-store.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { alice } from '../helpers/actors.js'

function change (seq: number, size: number): ChangeEvent {
  const content = 'x'.repeat(size)
  const stored = buildStoredEntry('k', seq, JSON.stringify(content), content,
    { timestamp: '2026-01-01T00:00:00.000Z', tokens: 1, source: 's', priority: 1, owner: 'alice', version: 1 })
  return {
    tenant: 't',
    epoch: 'e',
    seq,
    reason: 'replaced',
    at: '2026-01-01T00:00:00.000Z',
    upserted: [stored],
    removed: [],
    actor: { sub: 'alice', surface: 'ws' },
    metadata: { total_tokens: 1, max_tokens: 10, entry_count: 1 }
  }
}
const seqs = (changes: ChangeEvent[] | undefined) => changes?.map((c) => c.seq)

test('bounded in changes: the last `capacity` are kept', async (t) => {
  const history = new ChangeHistory(3)
  for (let seq = 1; seq <= 5; seq++) history.record(change(seq, 10))
  t.strictSame(seqs(history.since(2, 5)), [3, 4, 5])
  t.equal(history.since(1, 5), undefined, 'seq 2 is gone')
  t.strictSame(history.since(5, 5), [])
})

test('bounded in bytes: older changes give way, and a resume from before them is told', async (t) => {
  const size = changeBytes(change(1, 1000))
  const history = new ChangeHistory(100, 2.5 * size)
  for (let seq = 1; seq <= 10; seq++) {
    history.record(change(seq, 1000))
    t.ok(history.heldBytes <= 2.5 * size, `within the bound after ${seq}`)
  }
  t.equal(history.heldBytes, 2 * size)
  t.strictSame(seqs(history.since(8, 10)), [9, 10])
  t.equal(history.since(7, 10), undefined)
  // Small changes fill the room the big ones leave.
  for (let seq = 11; seq <= 20; seq++) history.record(change(seq, 10))
  t.strictSame(seqs(history.since(10, 20)), range(11, 20))
})

test('a change larger than the byte bound alone is not kept, and the next ones are', async (t) => {
  const history = new ChangeHistory(100, 5000)
  history.record(change(1, 100))
  history.record(change(2, 10_000))
  t.equal(history.heldBytes, 0)
  t.equal(history.since(1, 2), undefined, 'seq 2 cannot be replayed')
  t.strictSame(history.since(2, 2), [], 'a client at the newest seq needs nothing')
  history.record(change(3, 100))
  t.strictSame(seqs(history.since(2, 3)), [3])
})

test('with no history at all (MCP_HISTORY_SIZE=0) every resume from the past is told', async (t) => {
  const history = new ChangeHistory(0)
  history.record(change(1, 10))
  t.equal(history.since(0, 1), undefined)
  t.strictSame(history.since(1, 1), [])
  t.equal(history.oldestSeq, 2)
})

test('a tenant rewriting one 450 KB entry holds at most MCP_HISTORY_BYTES of history (issue 18 item 3)', async (t) => {
  const historyBytes = 4 * 1024 * 1024
  // Token counting is not what this test is about: a cheap stand-in keeps 60 writes of 450 KB fast.
  const store = new TenantStore('t', { maxTokens: 10_000_000, maxEntryTokens: 10_000_000, countTokens: (text) => Math.ceil(text.length / 8), historySize: 10_000, historyBytes })
  const big = 'word '.repeat(90_000)
  for (let i = 0; i < 60; i++) store.write(alice, { content: { big, i }, key: 'same' })
  const kept = store.changesSince(store.seq - 8)
  t.equal(kept?.length, 8, 'the last eight rewrites can be replayed')
  t.equal(store.changesSince(store.seq - 10), undefined, 'older ones gave way: a resume from there resyncs')
  t.ok(store.oldestRetainedSeq > 50 && store.oldestRetainedSeq <= 53, `oldest retained: ${store.oldestRetainedSeq}`)
})

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
