// Flow control seen from real sockets: a reader that keeps up is judged by what its socket has not
// sent after the previous flush, never by what the current tick queued; the store on connect, a
// resync and get_context reach a client that reads, whatever the store's size; a client that stops
// reading is still cut off; a lagging delta client keeps its resync when a TTL expires as it drains;
// a stalled snapshot client does not make each change build a frame of the whole store.
import type { Socket } from 'node:net'
import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, connectPausable, startServer, type Frame, type TestClient } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))
const seqsOf = (frames: Frame[]) => frames.filter((f) => f.type === 'context_delta').map((f) => f.seq as number)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
// Ordinary prose: token counting stays linear, so the tests measure the sockets, not the tokenizer.
const prose = (bytes: number) => 'lorem ipsum dolor sit amet '.repeat(Math.ceil(bytes / 27)).slice(0, bytes)

/**
 * Watches the server's TCP sockets; the returned function gives the bytes one of them holds unsent,
 * the largest (rank 0: the stalled client's, in these tests) or the rank-th after it. Call before clients connect.
 */
function watchServerSockets (app: FastifyInstance): (rank?: number) => number {
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  // The bytes queued on the server's socket with the most (rank 0), the second most (rank 1)...
  return (rank = 0) => [...sockets].map((socket) => socket.writableLength).sort((a, b) => b - a)[rank] ?? 0
}

/** Waits, with its own deadline, until `check` holds. */
async function until (t: Test, what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(20)
  }
  t.pass(what)
}

async function slowConsumerCloses (app: FastifyInstance): Promise<number> {
  return (await app.metrics.errors.get()).values.filter((v) => v.labels.code === 'slow_consumer').reduce((sum, v) => sum + v.value, 0)
}

for (const store of ['memory', 'persisted'] as const) {
  test(`a delta reader that keeps up gets every delta of eight 128 KiB writes in a row, with a 256 KiB cap (${store})`, async (t) => {
    // Persisted, the journal commits the burst together and its deltas are written in one tick:
    // a megabyte queued for a cap of 256 KiB, which must not count against a reader that reads.
    const { app, url } = await startServer(t, {
      MCP_MAX_BUFFERED_BYTES: '262144',
      MCP_MAX_TOKENS: '10000000',
      MCP_WS_BYTE_RATE: '1000000000',
      ...(store === 'persisted' ? { MCP_DATA_DIR: t.testdir() } : {})
    })
    const readers = await Promise.all(['d1', 'd2'].map(async (sub) => await connectAuthenticated(url, as(sub, ['reader']), { mode: 'delta' })))
    const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
    const text = prose(128 * 1024 - 100)
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 8; i++) writer.send({ type: 'update_context', id: `${round}-${i}`, key: `k${i}`, context: { text } })
      await writer.collect((f) => typeof f.id === 'string' && f.id.startsWith(`${round}-`), 8)
    }
    t.same(writer.frames.filter((f) => f.type === 'error'), [], 'every write acknowledged')
    for (const reader of readers) {
      await Promise.race([
        reader.next((f) => f.type === 'context_delta' && f.seq === 24),
        reader.closed.then((closed) => { throw new Error(`closed ${JSON.stringify(closed)}`) })
      ])
      t.same(seqsOf(reader.frames), range(1, 24), 'every delta, once, in order')
      t.notOk(reader.frames.some((f) => f.resync === true), 'never resynced')
    }
    t.equal(await slowConsumerCloses(app), 0, 'nobody closed 4008')
    for (const c of [...readers, writer]) c.close()
  })
}

test('a delta reader that stops reading is still closed 4008 at the cap, and the reader beside it keeps every delta', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '262144', MCP_MAX_TOKENS: '100000000', MCP_DATA_DIR: t.testdir(), MCP_WS_BYTE_RATE: '1000000000' })
  const { client: stalled, tcp } = await connectPausable(url, as('stuck', ['reader']), { mode: 'delta' })
  const healthy = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  tcp.pause()
  const text = prose(128 * 1024 - 100)
  let written = 0
  // Kernel buffers take a few megabytes first; bounded at 400 writes (50 MB).
  while (await slowConsumerCloses(app) === 0 && written < 400) {
    for (let i = 0; i < 8; i++) writer.send({ type: 'update_context', id: written + i, key: `k${i}`, context: { text } })
    await writer.next((f) => f.id === written + 7)
    written += 8
  }
  t.equal(await slowConsumerCloses(app), 1, `cut off after ${written} writes`)
  await healthy.next((f) => f.type === 'context_delta' && f.seq === written)
  t.same(seqsOf(healthy.frames), range(1, written), 'the reader that reads got every delta')
  tcp.resume()
  t.same(await stalled.waitClosed(), { code: 4008, reason: 'Slow consumer' })
  for (const c of [writer, healthy]) c.close()
})

/** About 700 KB of store: larger than the 256 KiB cap of these tests. */
async function fillStore (writer: TestClient): Promise<void> {
  const text = prose(100_000)
  for (let i = 0; i < 7; i++) {
    const ack = await writer.request({ type: 'update_context', key: `big${i}`, context: { text }, priority: 5 })
    if (ack.type !== 'update_ack') throw new Error(JSON.stringify(ack))
  }
}

test('the store on connect and get_context reach a client that reads, whatever the store\'s size', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '262144', MCP_MAX_TOKENS: '10000000' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  for (const mode of ['none', 'snapshot', 'delta']) {
    const client = await connectAuthenticated(url, as(`d-${mode}`, ['reader']), { mode })
    t.same(client.frames.map((f) => f.type), ['context', 'auth_success'], `${mode}: the store, then auth_success`)
    t.equal(Object.keys(client.frames[0].data).length, 7, `${mode}: the whole store`)
    const again = await client.request({ type: 'get_context' })
    t.equal(Object.keys(again.data).length, 7, `${mode}: get_context too`)
  }
  // Three subscribers read snapshot updates of the whole (oversized) store as it changes.
  for (let i = 0; i < 3; i++) await writer.request({ type: 'set_priority', key: 'big0', priority: 6 + i })
  const snapshotClient = await connectAuthenticated(url, as('late', ['reader']))
  await writer.request({ type: 'set_priority', key: 'big1', priority: 9 })
  const update = await snapshotClient.nextOfType('context_update')
  t.equal(Object.keys(update.data).length, 7, 'a snapshot update larger than the cap is delivered')
  t.equal(await slowConsumerCloses(app), 0, 'nobody was closed 4008')
})

test('clients joining at the same seq share one store frame', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_TOKENS: '10000000' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  let built = 0
  const snapshot = app.store.snapshot.bind(app.store)
  app.store.snapshot = (tenant: string) => { built++; return snapshot(tenant) }
  t.teardown(() => { app.store.snapshot = snapshot })
  const joined = await Promise.all(['d1', 'd2', 'd3', 'd4', 'd5'].map(async (sub) => await connectAuthenticated(url, as(sub, ['reader']), { mode: 'none' })))
  // Held weakly, the frame may be collected between two joins: at most once more, not once each.
  t.ok(built <= 2, `the store was serialized ${built} times for five clients`)
  for (const client of joined) t.equal(Object.keys(client.frames[0].data).length, 7)
  for (const c of [writer, ...joined]) c.close()
})

test('get_context asked again and again without reading is still cut off: one whole-store frame at a time', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '262144', MCP_MAX_TOKENS: '10000000' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  const { client, tcp } = await connectPausable(url, as('hoarder', ['reader']), { mode: 'none' })
  tcp.pause()
  for (let i = 0; i < 20; i++) client.send({ type: 'get_context', id: i })
  await until(t, 'the hoarder is closed 4008', async () => await slowConsumerCloses(app) === 1)
  tcp.resume()
  t.same(await client.waitClosed(), { code: 4008, reason: 'Slow consumer' })
  t.ok(client.frames.filter((f) => f.type === 'context').length < 20, 'not all twenty were queued for it')
})

test('a resync larger than the cap reaches a delta client that fell behind and reads again', async (t) => {
  // 256 KiB cap: resync at 128 KiB behind; the resync itself is about 700 KB.
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '262144', MCP_MAX_TOKENS: '10000000', MCP_WS_RATE_LIMIT: '100000', MCP_WS_BYTE_RATE: '1000000000' })
  const largestServerBacklog = watchServerSockets(app)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  const { client, tcp } = await connectPausable(url, as('dash', ['reader']), { mode: 'delta' })
  tcp.pause()
  // Small changes until the kernel buffers are full and the client is behind, then a few more.
  const small = prose(8_000)
  let n = 0
  for (let i = 0; largestServerBacklog() < 128 * 1024 && i < 2000; i++) await writer.request({ type: 'update_context', key: `s${n++ % 5}`, context: { small } })
  for (let i = 0; i < 3; i++) await writer.request({ type: 'update_context', key: `s${n++ % 5}`, context: { small } })
  t.equal(await slowConsumerCloses(app), 0, 'behind, not cut off')
  tcp.resume()
  const resync = await client.next((f) => f.type === 'context' && f.resync === true)
  t.equal(Object.keys(resync.data).length, 12, 'the whole store')
  t.equal(resync.seq, app.store.seq('default'))
  const before = seqsOf(client.frames.slice(0, client.frames.indexOf(resync)))
  t.same(before, range(8, 7 + before.length), 'deltas before it were contiguous')
  await writer.request({ type: 'update_context', key: 'after', context: { n: 1 } })
  await client.next((f) => f.type === 'context_delta' && f.seq === resync.seq + 1)
  t.equal(await slowConsumerCloses(app), 0, 'nobody was closed 4008')
  for (const c of [writer, client]) c.close()
})

test('a snapshot client that stops reading a store larger than the cap is conflated, then cut off by the heartbeat', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '262144', MCP_MAX_TOKENS: '10000000', MCP_HEARTBEAT_INTERVAL: '1' })
  const largestServerBacklog = watchServerSockets(app)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  const { client, tcp } = await connectPausable(url, as('dash', ['reader']))
  tcp.pause()
  const changes = async () => {
    for (let i = 0; i < 40 && client.socket.readyState === client.socket.OPEN; i++) {
      await writer.request({ type: 'set_priority', key: `big${i % 7}`, priority: 1 + (i % 10) })
      await sleep(50)
    }
  }
  await Promise.all([changes(), until(t, 'the stalled client is cut off', () => app.sessions.size === 1)])
  t.ok(largestServerBacklog() < 64 * 1024, 'nothing is left queued for it')
  tcp.resume()
  const closed = await client.waitClosed()
  t.ok([1006, 4008].includes(closed.code), `closed ${closed.code}`)
  writer.close()
})

test('a lagging filtered delta client keeps its resync when a TTL expires as its socket drains (memory only)', async (t) => {
  // Resync at 512 KiB behind, cut off at 1 MiB (backlog plus skipped deltas).
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: '1048576', MCP_MAX_TOKENS: '10000000', MCP_WS_RATE_LIMIT: '100000', MCP_WS_BYTE_RATE: '1000000000' })
  const largestServerBacklog = watchServerSockets(app)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const { client, tcp } = await connectPausable(url, as('dash', ['reader']), { mode: 'none' })
  await client.request({ type: 'subscribe', mode: 'delta', filter: { source: 'feed' } })
  tcp.pause()
  const text = prose(60_000)
  let n = 0
  const write = async () => await writer.request({ type: 'update_context', key: `f${n++ % 4}`, source: 'feed', context: { text } })
  for (let i = 0; largestServerBacklog() < 512 * 1024 && i < 1000; i++) await write()
  await write()
  await write() // two deltas held back
  await writer.request({ type: 'update_context', key: 'ttl1', source: 'feed', context: { n: 1 }, ttl_seconds: 1 })
  await writer.request({ type: 'update_context', key: 'ttl2', source: 'feed', context: { n: 2 }, ttl_seconds: 1 })
  const lastWrite = app.store.seq('default')
  t.equal(await slowConsumerCloses(app), 0, 'behind, not cut off')
  // Past the TTL, nothing touches the store: the expiry runs when the drain reads it.
  await sleep(1030)
  tcp.resume()
  const resync = await client.next((f) => f.type === 'context' && f.resync === true)
  t.ok(resync.seq > lastWrite, `the resync (@${resync.seq}) includes the expiry`)
  t.same(Object.keys(resync.data).filter((key) => key.startsWith('ttl')), [], 'the expired entries are gone from it')
  const before = seqsOf(client.frames.slice(0, client.frames.indexOf(resync)))
  t.same(before, range(1, before.length), 'deltas before the resync: contiguous from the first')
  t.ok(before.length < lastWrite, 'some were skipped, and the resync covers them')
  await writer.request({ type: 'update_context', key: 'after', source: 'feed', context: { n: 3 } })
  const after = await client.next((f) => f.type === 'context_delta' && f.seq > resync.seq)
  t.equal(after.seq, resync.seq + 1, 'live again right after the resync')
  for (const c of [writer, client]) c.close()
})

test('snapshot mode: while every subscriber is behind, changes do not build the whole-store frame', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024), MCP_MAX_TOKENS: '10000000' })
  const largestServerBacklog = watchServerSockets(app)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await fillStore(writer)
  const stalled = await Promise.all(['d1', 'd2'].map(async (sub) => await connectPausable(url, as(sub, ['reader']))))
  for (const { tcp } of stalled) tcp.pause()
  // Fill both sockets until they are behind (each update is the whole 700 KB store): the second
  // largest backlog, since with only the largest one behind the other could still take a frame.
  let i = 0
  while (largestServerBacklog(1) < 2 * 1024 * 1024 && i < 200) await writer.request({ type: 'set_priority', key: `big${i % 7}`, priority: 1 + (i++ % 10) })
  let built = 0
  const snapshot = app.store.snapshot.bind(app.store)
  app.store.snapshot = (tenant: string) => { built++; return snapshot(tenant) }
  for (let k = 0; k < 30; k++) await writer.request({ type: 'set_priority', key: `big${k % 7}`, priority: 1 + (k % 10) })
  app.store.snapshot = snapshot
  t.ok(built <= 1, `the store was serialized ${built} times for 30 changes nobody could take`)
  for (const { tcp } of stalled) tcp.resume()
  const finalSeq = app.store.seq('default')
  for (const { client } of stalled) {
    const last = await client.next((f) => f.type === 'context_update' && f.seq === finalSeq)
    t.equal(last.data.big0.priority, (await writer.request({ type: 'get_context' })).data.big0.priority, 'and the latest state arrives once they read')
  }
  for (const c of [writer, ...stalled.map((s) => s.client)]) c.close()
})
