// Injected faults on the Redis backend (issue 9, "Faults"), with two app instances and real
// WebSocket subscribers: redis-server killed with SIGKILL under write load (append-only file,
// appendfsync always) loses no acknowledged write and keeps its history; the connection between
// one instance and Redis cut for 5 s by a TCP proxy: both instances converge, every subscriber's
// view ends equal to GET /context of its instance, and a resume across the cut has no gap.
import type { Test } from 'tap'
import type { App } from '../../src/app.js'
import { ContextError } from '../../src/errors.js'
import { actor } from '../helpers/actors.js'
import { eventually, partitionableProxy, privateRedis, redisTest, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer, wsUrl, type Frame, type TestClient } from '../helpers/ws-client.js'

const reader = signTestToken({ sub: 'dash', roles: ['reader'] })
const writerHeaders = { authorization: `Bearer ${signTestToken({ sub: 'alice', roles: ['writer'] })}` }

/** An app instance listening on a random port (the production factory), closed at teardown. */
const listeningApp = async (t: Test, env: Record<string, string>) => (await startServer(t, env)).app

/** Writes on `app` until stopped; records what was acknowledged (key -> version) and what was refused. */
function keepWriting (app: App, name: string) {
  const acked = new Map<string, number>()
  const refused: string[] = []
  const state = { writing: true, acknowledged: 0 }
  const writer = actor(name)
  let n = 0
  const done = (async () => {
    while (state.writing) {
      const key = `${name}${n++ % 200}`
      try {
        acked.set(key, (await app.store.write(writer, { content: { n }, key })).version)
        state.acknowledged++
      } catch (error) {
        if (!(error instanceof ContextError)) throw error
        refused.push(error.code)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      // About 200 writes a second per writer: a 5 s cut stays well within what the stream keeps,
      // so the instance catches up from the stream (a longer absence reloads and resyncs, by design).
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()
  return { acked, refused, counts: state, stop: async () => { state.writing = false; await done } }
}

/** What a delta subscriber holds after applying every frame it got: key -> version. */
function viewOf (frames: Frame[]): Map<string, number> {
  const view = new Map<string, number>()
  for (const frame of frames) {
    if (frame.type === 'context') {
      view.clear()
      for (const [key, entry] of Object.entries(frame.data as Record<string, { version: number }>)) view.set(key, entry.version)
    } else if (frame.type === 'context_delta') {
      for (const key of frame.removed as string[]) view.delete(key)
      for (const [key, entry] of Object.entries(frame.upserted as Record<string, { version: number }>)) view.set(key, entry.version)
    }
  }
  return view
}

async function restView (app: App): Promise<Map<string, number>> {
  const body = (await app.inject({ method: 'GET', url: '/context', headers: writerHeaders })).json() as { data: Record<string, { version: number }> }
  return new Map(Object.entries(body.data).map(([key, entry]) => [key, entry.version]))
}

/** Seqs of the deltas after the last resync: consecutive when nothing was lost. */
function gapsIn (frames: Frame[]): string[] {
  const gaps: string[] = []
  let last: number | undefined
  for (const frame of frames) {
    if (frame.type === 'context') last = frame.seq
    if (frame.type !== 'context_delta') continue
    if (last !== undefined && frame.seq !== last + 1) gaps.push(`${last} -> ${frame.seq}`)
    last = frame.seq
  }
  return gaps
}

const missingFrom = (acked: Map<string, number>, app: App) =>
  [...acked].filter(([key, version]) => (app.store.get('default', key)?.entry.version ?? 0) < version)

redisTest('redis-server SIGKILLed under write load (AOF, appendfsync always): no acknowledged write lost, same epoch', async (t) => {
  const redis = await privateRedis(t)
  const env = { MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: uniquePrefix(t, redis.url) }
  const a = await listeningApp(t, env)
  const b = await listeningApp(t, env)
  const subscriber = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta' })
  t.teardown(() => subscriber.close())
  const writers = [keepWriting(a, 'a'), keepWriting(b, 'b')]
  await eventually(() => writers.every((w) => w.acked.size >= 100), 15_000, 'writes before the kill')
  const epoch = a.store.epoch('default')

  await redis.kill()
  await eventually(() => writers.every((w) => w.refused.length >= 3), 10_000, 'writes to be refused while Redis is gone')
  t.ok(writers.every((w) => w.refused.every((code) => code === 'unavailable')), 'every refusal says unavailable')
  await redis.start()
  const ackedAtRestart = writers.map((w) => w.acked.size)
  await eventually(() => writers.every((w, i) => w.acked.size >= ackedAtRestart[i] + 50), 15_000, 'writes after the restart')
  for (const w of writers) await w.stop()

  t.comment(`acknowledged writes: ${writers.map((w) => w.counts.acknowledged).join(' + ')}; refused while Redis was down: ${writers.map((w) => w.refused.length).join(' + ')}`)
  await eventually(() => b.store.seq('default') === a.store.seq('default'), 10_000, 'the instances to converge')
  for (const app of [a, b]) {
    t.strictSame(writers.flatMap((w) => missingFrom(w.acked, app)), [], 'every acknowledged write is there (its key at its version or later)')
  }
  t.equal(a.store.epoch('default'), epoch, 'the append-only file kept the history: same epoch')
  t.equal(b.store.epoch('default'), epoch)
  t.strictSame(b.store.snapshot('default').entries.map((e) => e.json), a.store.snapshot('default').entries.map((e) => e.json))
  await eventually(() => subscriber.frames.at(-1)?.seq === b.store.seq('default'), 10_000, 'the subscriber to catch up')
  t.strictSame(viewOf(subscriber.frames), await restView(b), "the subscriber's view is GET /context")
  t.strictSame(gapsIn(subscriber.frames), [], 'no gap in its deltas')
})

redisTest('one instance cut off from Redis for 5 s: both converge, subscribers end equal to GET /context, resume has no gap', async (t) => {
  const redis = await privateRedis(t)
  const proxy = await partitionableProxy(t, redis.url)
  const prefix = uniquePrefix(t, redis.url)
  const a = await listeningApp(t, { MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: prefix })
  const b = await listeningApp(t, { MCP_STORE: 'redis', REDIS_URL: proxy.url, MCP_REDIS_PREFIX: prefix })
  const onA = await connectAuthenticated(wsUrl(a), reader, { mode: 'delta' })
  const onB = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta' })
  t.teardown(() => { onA.close(); onB.close() })
  const writers = [keepWriting(a, 'a'), keepWriting(b, 'b')]
  await eventually(() => writers.every((w) => w.acked.size >= 50), 15_000, 'writes before the cut')

  // A client of B leaves just before the cut and comes back after it, resuming.
  await eventually(() => onB.frames.at(-1)?.seq === b.store.seq('default'), 10_000, "B's subscriber to be current")
  const leaving = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta' })
  const leftAt = { seq: b.store.seq('default'), epoch: b.store.epoch('default') }
  leaving.close()

  proxy.cut()
  await eventually(async () => (await b.inject({ method: 'GET', url: '/ready' })).statusCode === 503, 5_000, 'B to report not ready')
  await new Promise((resolve) => setTimeout(resolve, 5_000))
  t.ok(writers[1].refused.length > 0 && writers[1].refused.every((code) => code === 'unavailable'), 'B refused writes during the cut, as unavailable')
  proxy.restore()
  await eventually(async () => (await b.inject({ method: 'GET', url: '/ready' })).statusCode === 200, 15_000, 'B to be ready again')
  const ackedAtRestore = writers[1].acked.size
  await eventually(() => writers[1].acked.size >= ackedAtRestore + 30, 15_000, 'B to write again')
  for (const w of writers) await w.stop()
  t.comment(`acknowledged writes: A ${writers[0].counts.acknowledged}, B ${writers[1].counts.acknowledged}; refused on B during the cut: ${writers[1].refused.length}`)

  await eventually(() => b.store.seq('default') === a.store.seq('default'), 15_000, 'the instances to converge')
  t.strictSame(b.store.snapshot('default').entries.map((e) => e.json), a.store.snapshot('default').entries.map((e) => e.json), 'the same store on both')
  for (const app of [a, b]) t.strictSame(writers.flatMap((w) => missingFrom(w.acked, app)), [], 'every acknowledged write is there')
  for (const [name, client, app] of [['A', onA, a], ['B', onB, b]] as Array<[string, TestClient, App]>) {
    await eventually(() => client.frames.at(-1)?.seq === app.store.seq('default'), 10_000, `the subscriber on ${name} to catch up`)
    t.strictSame(viewOf(client.frames), await restView(app), `the subscriber on ${name} ends equal to GET /context`)
    t.strictSame(gapsIn(client.frames), [], `no gap in the deltas on ${name}`)
  }

  const back = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta', since_seq: leftAt.seq, epoch: leftAt.epoch })
  t.teardown(() => back.close())
  await back.request({ type: 'ping' })
  const replayed = back.frames.filter((f) => f.type === 'context_delta').map((f) => f.seq)
  t.strictSame(back.frames.filter((f) => f.type === 'context' && f.resync === true), [], 'a resume, not a resync')
  t.strictSame(replayed, Array.from({ length: b.store.seq('default') - leftAt.seq }, (_, i) => leftAt.seq + 1 + i), 'every change since it left, across the cut')
})
