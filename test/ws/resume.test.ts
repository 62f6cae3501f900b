// Resume with since_seq: exactly the missed deltas, then live, with no gap and no duplicate, even
// while writes keep arriving; a context resync when the history no longer reaches back.
import { test, type Test } from 'tap'
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, openClient, startServer, type Frame, type TestClient } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })
const seqsOf = (frames: Frame[]) => frames.filter((f) => f.type === 'context_delta').map((f) => f.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

async function writeMany (writer: TestClient, count: number, prefix = 'k'): Promise<void> {
  for (let i = 0; i < count; i++) await writer.request({ type: 'update_context', key: `${prefix}${i % 7}`, context: { i } })
}

test('a client that reconnects with since_seq gets exactly the deltas it missed, then live ones', async (t) => {
  const { url } = await startServer(t)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const first = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  await writeMany(writer, 5)
  const seen = await first.collect((f) => f.type === 'context_delta', 5)
  const lastSeen = seen.at(-1)?.seq as number
  first.close()
  await first.waitClosed()

  await writeMany(writer, 6, 'missed')
  const back = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: lastSeen })
  const replayed = await back.collect((f) => f.type === 'context_delta', 6)
  t.same(replayed.map((f) => f.seq), range(6, 11), 'exactly the missed changes')
  t.ok(back.frames.indexOf(replayed[0]) > back.frames.findIndex((f) => f.type === 'auth_success'), 'after auth_success')
  t.same(Object.keys(replayed[0].upserted), ['missed0'])
  await writeMany(writer, 2, 'live')
  await back.collect((f) => f.type === 'context_delta', 8)
  t.same(seqsOf(back.frames), range(6, 13), 'then live, no gap, no duplicate')
  for (const c of [writer, back]) c.close()
})

test('subscribe with since_seq replays mid-session; since_seq at the current seq replays nothing', async (t) => {
  const { url } = await startServer(t)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 10)
  const client = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'none' })
  const subscribed = await client.request({ type: 'subscribe', mode: 'delta', since_seq: 4 })
  t.match(subscribed, { type: 'subscribed', mode: 'delta', seq: 10 })
  await client.collect((f) => f.type === 'context_delta', 6)
  t.same(seqsOf(client.frames), range(5, 10))
  t.ok(client.frames.indexOf(subscribed) < client.frames.findIndex((f) => f.type === 'context_delta'), 'subscribed comes first')

  const current = await connectAuthenticated(url, as('dash2', ['reader']), { mode: 'delta', since_seq: 10 })
  await writeMany(writer, 1)
  await current.nextOfType('context_delta')
  t.same(seqsOf(current.frames), [11])
  for (const c of [writer, client, current]) c.close()
})

test('when the history no longer reaches back, a context with resync: true replaces the replay', async (t) => {
  const { app, url } = await startServer(t, { MCP_HISTORY_SIZE: '5' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 20)
  const client = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: 3 })
  const resync = await client.next((f) => f.type === 'context' && f.resync === true)
  t.equal(resync.seq, 20)
  t.same(resync.data, (await writer.request({ type: 'get_context' })).data)
  t.equal(seqsOf(client.frames).length, 0, 'no partial replay')
  await writeMany(writer, 1)
  await client.nextOfType('context_delta')
  t.same(seqsOf(client.frames), [21], 'live after the resync')

  // Still within the retained history: a replay, not a resync.
  const near = await connectAuthenticated(url, as('dash2', ['reader']), { mode: 'delta', since_seq: 17 })
  await near.collect((f) => f.type === 'context_delta', 4)
  t.same(seqsOf(near.frames), [18, 19, 20, 21])
  t.notOk(near.frames.some((f) => f.resync === true))

  // A seq from another history (beyond this store's) also resyncs.
  const future = await connectAuthenticated(url, as('dash3', ['reader']), { mode: 'delta', since_seq: 999 })
  const again = await future.next((f) => f.type === 'context' && f.resync === true)
  t.equal(again.seq, app.store.seq('default'))
  for (const c of [writer, client, near, future]) c.close()
})

test('since_seq must be a non-negative decimal integer, on connect and in subscribe; anything else is validation_error', async (t) => {
  const { app, url } = await startServer(t)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 3)
  for (const raw of ['', '%20', '+', '0x2', '1e0', '-1', '1.5', '%201', 'abc', '1&since_seq=2']) {
    const client = await openClient(`${url}?token=${as('dash', ['reader'])}&mode=delta&since_seq=${raw}`)
    const error = await client.nextOfType('error')
    t.equal(error.code, 'validation_error', `since_seq=${raw}`)
    t.same(error.details.map((d: { path: string }) => d.path), ['since_seq'], `since_seq=${raw}: the problem is named`)
    t.equal((await client.waitClosed()).code, 1008)
    t.notOk(client.frames.some((f) => f.type === 'context_delta' || f.type === 'auth_success'), `since_seq=${raw}: nothing replayed`)
  }
  const valid = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: '0' })
  await valid.collect((f) => f.type === 'context_delta', 3)
  t.same(seqsOf(valid.frames), [1, 2, 3], 'since_seq=0 is a seq like any other')

  for (const sinceSeq of ['', '2', -1, 1.5, Number.MAX_SAFE_INTEGER + 2, null]) {
    const reply = await valid.request({ type: 'subscribe', mode: 'delta', since_seq: sinceSeq })
    t.equal(reply.code, 'validation_error', `subscribe since_seq ${JSON.stringify(sinceSeq)}`)
    t.equal(reply.details[0].path, 'since_seq')
  }
  t.same(seqsOf(valid.frames), [1, 2, 3], 'no refused subscribe replayed anything')
  t.equal(app.sessions.size, 2, 'the connection stays open after refused subscribes')
  for (const c of [writer, valid]) c.close()
})

test('a replay larger than a resync is sent as a resync', async (t) => {
  // Resync threshold: half of MCP_MAX_BUFFERED_BYTES (32 KB here); the replay below is about 100 KB.
  const { url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(64 * 1024) })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 50; i++) await writer.request({ type: 'update_context', key: `k${i % 3}`, context: { text: 'word '.repeat(400), i } })
  const client = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: 0 })
  const resync = await client.next((f) => f.type === 'context' && f.resync === true)
  t.equal(resync.seq, 50)
  t.same(Object.keys(resync.data).sort(), ['k0', 'k1', 'k2'])
  for (const c of [writer, client]) c.close()
})

/**
 * Writers pipeline their writes while three clients join from seq 0 or 50 (on connect, by
 * subscribe). With a durable backend a change is applied before it is announced, so the history
 * can run ahead of the broadcasts; the replay must still hand over to live with no gap or duplicate.
 */
async function resumeUnderLoad (t: Test, overrides: Record<string, string>): Promise<void> {
  // The writers pipeline their writes, well past the default per-connection burst.
  const { url } = await startServer(t, { MCP_WS_RATE_LIMIT: '100000', ...overrides })
  const writers = await Promise.all(['w1', 'w2'].map(async (sub) => await connectAuthenticated(url, as(sub), { mode: 'none' })))
  const perWriter = 300
  const total = perWriter * writers.length
  for (const [w, writer] of writers.entries()) {
    for (let i = 0; i < perWriter; i++) writer.send({ type: 'update_context', id: i, key: `w${w}-${i % 20}`, context: { w, i } })
  }
  await writers[0].next((f) => f.type === 'update_ack' && f.id === 10)
  const onConnect = openClient(url, { query: { token: as('d1', ['reader']), mode: 'delta', since_seq: 0 } })
  await writers[0].next((f) => f.type === 'update_ack' && f.id === 100)
  const bySubscribe = await connectAuthenticated(url, as('d2', ['reader']), { mode: 'none' })
  bySubscribe.send({ type: 'subscribe', mode: 'delta', since_seq: 0 })
  const late = await connectAuthenticated(url, as('d3', ['reader']), { mode: 'delta', since_seq: 50 })

  for (const [client, from] of [[await onConnect, 1], [bySubscribe, 1], [late, 51]] as const) {
    await client.next((f) => f.type === 'context_delta' && f.seq === total)
    t.same(seqsOf(client.frames), range(from, total), `from ${from}: no gap, no duplicate`)
    client.close()
  }
  for (const w of writers) w.close()
}

test('resuming while writes keep arriving: every seq exactly once, in order (memory)', async (t) => {
  await resumeUnderLoad(t, {})
})

test('resuming while writes keep arriving: every seq exactly once, in order (persisted to MCP_DATA_DIR)', async (t) => {
  await resumeUnderLoad(t, { MCP_DATA_DIR: t.testdir() })
})

redisTest('resuming while writes keep arriving: every seq exactly once, in order (Redis)', async (t) => {
  await resumeUnderLoad(t, { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) })
})

test('a resume while commits lag replays only what was announced: no seq twice', async (t) => {
  // Persisted, a write is applied (and in the history) at once but announced only after its
  // commit. A subscribe handled in the same tick as a pipelined batch of writes sees the history
  // ahead of the broadcasts; the replay must stop at the last announced seq, or the rest would
  // arrive twice: once replayed, once live.
  const { app, url } = await startServer(t, { MCP_DATA_DIR: t.testdir() })
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(client, 5)
  for (let i = 0; i < 50; i++) client.send({ type: 'update_context', id: i, key: `batch${i}`, context: { i } })
  client.send({ type: 'subscribe', id: 'sub', mode: 'delta', since_seq: 2 })
  const subscribed = await client.next((f) => f.id === 'sub')
  t.ok(subscribed.seq < 55, `the subscribe was handled while commits lagged (announced up to ${subscribed.seq})`)
  await client.next((f) => f.type === 'context_delta' && f.seq === 55)
  await client.request({ type: 'ping' })
  t.same(seqsOf(client.frames), range(3, 55), 'every seq once, in order')
  t.equal(app.store.seq('default'), 55)
  client.close()
})

test('since_seq in snapshot mode replays the deltas, then goes on with live snapshots', async (t) => {
  const { url } = await startServer(t)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 4)
  const client = await connectAuthenticated(url, as('dash', ['reader']), { since_seq: 2 })
  await client.collect((f) => f.type === 'context_delta', 2)
  t.same(seqsOf(client.frames), [3, 4])
  await writeMany(writer, 1)
  const update = await client.nextOfType('context_update')
  t.equal(update.seq, 5)
  for (const c of [writer, client]) c.close()
})
