// Broadcasts: every store change, from any surface, reaches the matching subscribers of its tenant
// in snapshot, delta or none mode, with gap-free seqs; filters apply per client; a client that is
// behind gets conflated snapshots or a resync, and one that stops reading is cut off at the cap.
import { test } from 'tap'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, connectPausable, startServer, type Frame, type TestClient } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })
const deltas = (client: TestClient) => client.frames.filter((f) => f.type === 'context_delta')

/** Applies deltas the way a client is meant to: removals first, then upserts. */
function applyDeltas (start: Record<string, unknown>, frames: Frame[]): Map<string, any> {
  const state = new Map(Object.entries(start))
  for (const delta of frames) {
    for (const key of delta.removed) state.delete(key)
    for (const [key, entry] of Object.entries(delta.upserted)) state.set(key, entry)
  }
  return state
}

test('snapshot mode (the default) sends the whole store as context_update after every change', async (t) => {
  const { url } = await startServer(t)
  const watcher = await connectAuthenticated(url, as('dash', ['reader']))
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writer.request({ type: 'update_context', key: 'a', context: { n: 1 }, priority: 2 })
  await writer.request({ type: 'update_context', key: 'b', context: { n: 2 }, priority: 7 })
  const [first, second] = await watcher.collect((f) => f.type === 'context_update', 2)
  t.same(Object.keys(first.data), ['a'])
  t.equal(first.seq, 1)
  t.same(Object.keys(second.data), ['b', 'a'], 'the whole store, in rank order')
  t.same(second.data.b.content, { n: 2 })
  t.equal(second.seq, 2)
  t.equal(second.metadata.entry_count, 2)
  t.equal(second.metadata.total_tokens, second.data.a.tokens + second.data.b.tokens)
  for (const c of [watcher, writer]) c.close()
})

test('delta mode: upserted, removed (evictions included) and metadata, seq without gaps', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_TOKENS: '80' })
  const watcher = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const root = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  const text = 'word '.repeat(30) // 34 tokens: two entries fit, a third evicts
  await alice.request({ type: 'update_context', key: 'old', context: { text }, priority: 3 })
  await alice.request({ type: 'update_context', key: 'mid', context: { text }, priority: 3 })
  const evicting = await alice.request({ type: 'update_context', key: 'top', context: { text }, priority: 8 })
  t.same(evicting.evicted, ['old'])
  await alice.request({ type: 'set_priority', key: 'mid', priority: 9 })
  await alice.request({ type: 'update_context', key: 'tiny', context: { n: 1 }, priority: 1 })
  await root.request({ type: 'clear_context', keys: ['tiny'] })
  await alice.request({ type: 'update_context', key: 'mid', context: { text: 'changed' }, priority: 9 })
  await app.store.remove({ userId: 'alice', roles: ['writer'], tenant: 'default' }, 'top')

  const received = await watcher.collect((f) => f.type === 'context_delta', 8)
  t.same(received.map((d) => d.seq), [1, 2, 3, 4, 5, 6, 7, 8], 'every change, in order, no gap')
  const third = received[2]
  t.same(Object.keys(third.upserted), ['top'])
  t.same(third.removed, ['old'], 'the eviction is in removed')
  t.equal(third.metadata.entry_count, 2)
  t.equal(received[3].reason, 'priority')
  t.equal(received[3].upserted.mid.priority, 9)
  t.same(received[5].removed, ['tiny'])
  t.same(received[7].removed, ['top'], 'a removal made straight on the store is broadcast too')
  const rebuilt = applyDeltas({}, received)
  const context = await watcher.request({ type: 'get_context' })
  t.same(Object.fromEntries(rebuilt), context.data, 'applying the deltas reproduces the store')
  t.same(received[7].metadata, context.metadata)
  for (const c of [watcher, alice, root]) c.close()
})

test('mode none receives no broadcasts', async (t) => {
  const { url } = await startServer(t)
  const quiet = await connectAuthenticated(url, as('agent'), { mode: 'none' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 5; i++) await writer.request({ type: 'update_context', context: { i } })
  // Broadcasts are written before the writer's ack, so any would arrive before this pong.
  await quiet.request({ type: 'ping' })
  t.same(quiet.frames.map((f) => f.type), ['context', 'auth_success', 'pong'])
  t.equal(writer.frames.filter((f) => f.type === 'context_update' || f.type === 'context_delta').length, 0)
  for (const c of [quiet, writer]) c.close()
})

test('a client can switch modes with subscribe, and filters apply per client', async (t) => {
  const { url } = await startServer(t)
  const bySource = await connectAuthenticated(url, as('d1', ['reader']), { mode: 'none' })
  const byPriority = await connectAuthenticated(url, as('d2', ['reader']), { mode: 'none' })
  const snapshotFiltered = await connectAuthenticated(url, as('d3', ['reader']), { mode: 'none' })
  const everything = await connectAuthenticated(url, as('d4', ['reader']), { mode: 'none' })
  await bySource.request({ type: 'subscribe', mode: 'delta', filter: { source: 'content_' } })
  await byPriority.request({ type: 'subscribe', mode: 'delta', filter: { min_priority: 5 } })
  await snapshotFiltered.request({ type: 'subscribe', mode: 'snapshot', filter: { source: 'quiz' } })
  await everything.request({ type: 'subscribe', mode: 'delta' })

  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const write = async (key: string, source: string, priority: number) =>
    await writer.request({ type: 'update_context', key, source, priority, context: { key } })
  await write('c1', 'content_agent', 2) // seq 1
  await write('q1', 'quiz_agent', 7) // seq 2
  await write('c2', 'content_agent', 6) // seq 3
  await writer.request({ type: 'set_priority', key: 'c2', priority: 1 }) // seq 4: c2 leaves byPriority's view
  await write('o1', 'other', 1) // seq 5: matches no filter

  await everything.collect((f) => f.type === 'context_delta', 5)
  await writer.request({ type: 'ping' })
  for (const c of [bySource, byPriority, snapshotFiltered]) await c.request({ type: 'ping' })

  t.same(deltas(bySource).map((d) => [d.seq, Object.keys(d.upserted)]), [[1, ['c1']], [3, ['c2']], [4, ['c2']]])
  t.same(deltas(byPriority).map((d) => [d.seq, Object.keys(d.upserted), d.removed]), [[2, ['q1'], []], [3, ['c2'], []], [4, [], ['c2']]],
    'an entry that stops matching is reported as removed')
  const snapshots = snapshotFiltered.frames.filter((f) => f.type === 'context_update')
  t.same(snapshots.map((s) => [s.seq, Object.keys(s.data)]), [[2, ['q1']]], 'snapshot mode: only matching entries, only on matching changes')
  t.equal(snapshots[0].metadata.entry_count, 2, 'the metadata describes the whole store')
  for (const c of [bySource, byPriority, snapshotFiltered, everything, writer]) c.close()
})

test('a REST write, a store write and a TTL expiry all reach WebSocket subscribers', async (t) => {
  const { app, url } = await startServer(t)
  const watcher = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  const rest = await app.inject({
    method: 'POST',
    url: '/context',
    headers: { authorization: `Bearer ${as('alice')}` },
    payload: { context: { via: 'rest' }, key: 'from-rest', source: 'ops' }
  })
  t.equal(rest.statusCode, 201)
  const viaRest = await watcher.next((f) => f.type === 'context_delta' && f.upserted['from-rest'] !== undefined)
  t.same(viaRest.upserted['from-rest'].content, { via: 'rest' })

  await app.store.write({ userId: 'mcp-host', roles: ['writer'], tenant: 'default' }, { content: { via: 'store' }, key: 'from-store', ttl_seconds: 1 })
  const viaStore = await watcher.next((f) => f.type === 'context_delta' && f.upserted['from-store'] !== undefined)
  t.equal(viaStore.seq, 2)
  const expired = await watcher.next((f) => f.type === 'context_delta' && f.removed.includes('from-store'))
  t.equal(expired.reason, 'expired')
  t.equal(expired.seq, 3)
  watcher.close()
})

test('a delta subscriber sees every change of a burst of concurrent writers, in seq order, once', async (t) => {
  const { app, url } = await startServer(t)
  const watcher = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  const writers = await Promise.all(['w1', 'w2', 'w3', 'w4'].map(async (sub) => await connectAuthenticated(url, as(sub), { mode: 'delta' })))
  const perWriter = 50
  for (const [i, writer] of writers.entries()) {
    for (let n = 0; n < perWriter; n++) writer.send({ type: 'update_context', id: n, context: { writer: i, n }, key: `w${i}-${n % 10}` })
  }
  await Promise.all(writers.map(async (w) => await w.collect((f) => f.type === 'update_ack', perWriter)))
  const total = writers.length * perWriter
  const received = await watcher.collect((f) => f.type === 'context_delta', total)
  t.same(received.map((d) => d.seq), Array.from({ length: total }, (_, i) => i + 1))
  for (const writer of writers) {
    await writer.collect((f) => f.type === 'context_delta', total)
    t.same(deltas(writer).map((d) => d.seq), Array.from({ length: total }, (_, i) => i + 1), 'writers subscribed in delta mode see them all too')
  }
  t.same(Object.fromEntries(applyDeltas({}, received)), (await watcher.request({ type: 'get_context' })).data)
  t.equal(app.store.seq('default'), total)
  for (const c of [watcher, ...writers]) c.close()
})

/** Four entries of about 200 KB each; every set_priority on one then broadcasts about 200 KB. */
async function writeBigEntries (writer: TestClient): Promise<void> {
  const text = 'lorem ipsum dolor sit amet '.repeat(7500)
  for (const key of ['big0', 'big1', 'big2', 'big3']) {
    const ack = await writer.request({ type: 'update_context', key, context: { text }, priority: 5 })
    if (ack.type !== 'update_ack') throw new Error(JSON.stringify(ack))
  }
}

test('snapshot mode: a client that is behind gets conflated snapshots, and always the last one', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024), MCP_MAX_TOKENS: '1000000' })
  const writer = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await writeBigEntries(writer)
  const { client: slow, tcp } = await connectPausable(url, as('dash', ['reader']))
  const fast = await connectAuthenticated(url, as('dash2', ['reader']))
  tcp.pause()
  const changes = 30 // each snapshot is about 800 KB: 24 MB if none were skipped
  for (let i = 0; i < changes; i++) await writer.request({ type: 'set_priority', key: `big${i % 4}`, priority: 1 + (i % 10) })
  const finalSeq = app.store.seq('default')
  await fast.next((f) => f.type === 'context_update' && f.seq === finalSeq)
  t.equal(fast.frames.filter((f) => f.type === 'context_update').length, changes, 'a client that keeps up gets every snapshot')
  tcp.resume()
  const last = await slow.next((f) => f.type === 'context_update' && f.seq === finalSeq)
  t.same(last.data.big0.priority, (await writer.request({ type: 'get_context' })).data.big0.priority, 'the last snapshot is the current state')
  const received = slow.frames.filter((f) => f.type === 'context_update')
  t.ok(received.length < changes, `intermediate snapshots were skipped (${received.length} of ${changes} sent)`)
  t.same(received.map((f) => f.seq), [...received.map((f) => f.seq)].sort((a, b) => a - b), 'in seq order')
  t.equal(slow.socket.readyState, slow.socket.OPEN, 'not cut off')
  for (const c of [writer, slow, fast]) c.close()
})

test('snapshot mode: skipped snapshots do not count toward the slow-consumer cap', async (t) => {
  // 20 snapshots of ~800 KB would be 16 MB held back against a 4 MB cap if they were added up.
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(4 * 1024 * 1024), MCP_MAX_TOKENS: '1000000' })
  const writer = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await writeBigEntries(writer)
  const { client: slow, tcp } = await connectPausable(url, as('dash', ['reader']))
  tcp.pause()
  for (let i = 0; i < 20; i++) await writer.request({ type: 'set_priority', key: `big${i % 4}`, priority: 1 + (i % 10) })
  const finalSeq = app.store.seq('default')
  tcp.resume()
  const last = await slow.next((f) => f.type === 'context_update' && f.seq === finalSeq)
  t.ok(last, 'the stalled dashboard gets the latest snapshot once it reads again')
  t.equal(slow.socket.readyState, slow.socket.OPEN, 'conflated, not cut off')
  for (const c of [writer, slow]) c.close()
})

test('delta mode: a client that falls too far behind gets a context resync, then deltas after it, no gap', async (t) => {
  // Resync at 16 MB unsent; cut off only at 32 MB (unsent plus held back).
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(32 * 1024 * 1024), MCP_MAX_TOKENS: '1000000' })
  const writer = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await writeBigEntries(writer)
  const { client: slow, tcp } = await connectPausable(url, as('dash', ['reader']), { mode: 'delta' })
  tcp.pause()
  // About 30 MB of deltas: past the resync point (16 MB unsent, after whatever the kernel buffers
  // hold, a few MB here) and short of the cut-off for kernel buffers of up to 14 MB.
  const changes = 150
  for (let i = 0; i < changes; i++) await writer.request({ type: 'set_priority', key: `big${i % 4}`, priority: 1 + (i % 10) })
  tcp.resume()
  const resync = await slow.next((f) => f.type === 'context' && f.resync === true)
  await writer.request({ type: 'update_context', key: 'after', context: { n: 1 } })
  const finalSeq = app.store.seq('default')
  await slow.next((f) => f.type === 'context_delta' && f.seq === finalSeq)
  const before = slow.frames.slice(0, slow.frames.indexOf(resync)).filter((f) => f.type === 'context_delta').map((f) => f.seq)
  const after = slow.frames.slice(slow.frames.indexOf(resync)).filter((f) => f.type === 'context_delta').map((f) => f.seq)
  t.same(before, Array.from({ length: before.length }, (_, i) => 5 + i), 'deltas up to the resync: contiguous, none skipped')
  t.ok(resync.seq >= (before.at(-1) ?? 4), 'the resync is not older than what was sent')
  t.same(after, Array.from({ length: finalSeq - resync.seq }, (_, i) => resync.seq + 1 + i), 'then every delta after the resync')
  t.same(Object.keys(resync.data).sort(), ['big0', 'big1', 'big2', 'big3'])
  t.equal(slow.socket.readyState, slow.socket.OPEN)
  for (const c of [writer, slow]) c.close()
})

test('a client that stops reading is closed 4008 at the buffer cap while the others keep receiving', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(1024 * 1024), MCP_MAX_TOKENS: '1000000' })
  const writer = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await writeBigEntries(writer)
  const { client: stalled, tcp } = await connectPausable(url, as('stuck', ['reader']), { mode: 'delta' })
  const healthy = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  tcp.pause()
  const slowConsumerCloses = async () => (await app.metrics.errors.get()).values
    .filter((v) => v.labels.code === 'slow_consumer').reduce((sum, v) => sum + v.value, 0)
  let changes = 0
  // Each change adds about 200 KB for the stalled client; kernel buffers take some first. Bounded.
  while (await slowConsumerCloses() === 0 && changes < 400) {
    await writer.request({ type: 'set_priority', key: `big${changes % 4}`, priority: 1 + (changes % 10) })
    changes++
  }
  t.equal(await slowConsumerCloses(), 1, `cut off after ${changes} changes`)
  for (let i = 0; i < 5; i++) await writer.request({ type: 'set_priority', key: 'big0', priority: 1 + i }) && changes++
  const finalSeq = app.store.seq('default')
  await healthy.next((f) => f.type === 'context_delta' && f.seq === finalSeq)
  t.same(deltas(healthy).map((d) => d.seq), Array.from({ length: changes }, (_, i) => 5 + i), 'the healthy client got every delta')
  tcp.resume()
  t.same(await stalled.waitClosed(), { code: 4008, reason: 'Slow consumer' })
  for (const c of [writer, healthy]) c.close()
})
