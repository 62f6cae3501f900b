// A Redis of the test's own is stopped and started again under two app instances: /ready is 503
// while it is down, writes fail with `unavailable` (never a false success), no acknowledged write
// is lost, and listeners and WebSocket delta subscribers on the other instance are caught up from
// the stream afterwards.
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { ContextError } from '../../src/errors.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { testConfig } from '../helpers/config.js'
import { alice } from '../helpers/actors.js'
import { eventually, privateRedis, redisTest, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, wsUrl } from '../helpers/ws-client.js'

/** A redis-server of the test's own (so it can be stopped) and two instances sharing it. */
async function twoInstancesOnPrivateRedis (t: Test) {
  const redis = await privateRedis(t)
  const config = testConfig({ MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: uniquePrefix(t, redis.url) })
  const a = await buildApp(config, { logger: false })
  t.teardown(() => a.close())
  const b = await buildApp(config, { logger: false })
  t.teardown(() => b.close())
  return { redis, config, a, b }
}

redisTest('Redis stopped and started mid-run: not ready, no false success, nothing acknowledged lost', async (t) => {
  const { redis, config, a, b } = await twoInstancesOnPrivateRedis(t)
  const ready = async (app: typeof a) => (await app.inject({ method: 'GET', url: '/ready' })).statusCode
  t.equal(await ready(a), 200)
  t.equal(await ready(b), 200)
  const heard: ChangeEvent[] = []
  b.store.onChange((change) => heard.push(change))
  await a.listen({ port: 0, host: '127.0.0.1' })
  await b.listen({ port: 0, host: '127.0.0.1' })
  const token = signTestToken({ sub: 'alice', roles: ['writer'] })
  const subscriber = await connectAuthenticated(wsUrl(b), token, { mode: 'delta' })
  t.teardown(() => subscriber.close())
  const wsWriter = await connectAuthenticated(wsUrl(a), token, { mode: 'none' })
  t.teardown(() => wsWriter.close())

  // A writer that keeps going through the outage, recording what was acknowledged.
  const acked = new Map<string, number>()
  const refused: string[] = []
  const run = { writing: true }
  let n = 0
  const writer = (async () => {
    while (run.writing) {
      const key = `k${n++}`
      try {
        const result = await a.store.write(alice, { content: { n }, key })
        acked.set(key, result.version)
      } catch (error) {
        if (!(error instanceof ContextError)) throw error
        refused.push(`${error.code}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  })()

  await eventually(() => acked.size >= 20, 10_000, 'writes before the outage')
  await redis.stop()
  await eventually(async () => (await ready(a)) === 503 && (await ready(b)) === 503, 10_000, '/ready to report 503')
  const notReady = await a.inject({ method: 'GET', url: '/ready' })
  t.same(notReady.json(), { status: 'unavailable', store: 'redis' })
  const refusedBefore = refused.length
  await eventually(() => refused.length >= refusedBefore + 5, 10_000, 'writes to be refused while Redis is down')
  t.ok(refused.every((code) => code === 'unavailable'), 'every refusal says unavailable')
  const wsRefusal = await wsWriter.request({ type: 'update_context', key: 'ws-during-outage', context: { lost: false } })
  t.equal(wsRefusal.type, 'error', 'a WebSocket write is refused too, not acknowledged')
  t.match(wsRefusal.message, /unavailable/)
  t.match(wsRefusal, { code: 'internal', details: { reason: 'unavailable' } }, 'a listed code on the wire, the precise one in details')
  const restRefusal = await b.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${signTestToken({ sub: 'alice' })}` }, payload: { context: { lost: false } } })
  t.equal(restRefusal.statusCode, 503, 'REST: 503 while Redis is down')
  t.match(restRefusal.json(), { statusCode: 503, code: 'internal', details: { reason: 'unavailable' } })

  await redis.start()
  await eventually(async () => (await ready(a)) === 200 && (await ready(b)) === 200, 15_000, '/ready to recover')
  const ackedBefore = acked.size
  await eventually(() => acked.size >= ackedBefore + 20, 10_000, 'writes after the outage')
  run.writing = false
  await writer

  await eventually(() => b.store.seq('default') === a.store.seq('default'), 10_000, 'B to catch up')
  for (const store of [a.store, b.store]) {
    const missing = [...acked].filter(([key, version]) => store.get('default', key)?.entry.version !== version)
    t.same(missing, [], 'every acknowledged write is present')
  }
  const seqs = heard.map((c) => c.seq)
  t.same(seqs, Array.from({ length: a.store.seq('default') }, (_, i) => i + 1), 'B heard every change once, in order, across the outage')
  const deltas = await subscriber.collect((f) => f.type === 'context_delta', seqs.length)
  t.same(deltas.map((d) => d.seq), seqs, "B's WebSocket delta subscriber got every change once, in order")
  t.equal(b.store.get('default', 'ws-during-outage'), undefined, 'the refused WebSocket write never happened')

  // A third instance started now reads the same from Redis's own persistence.
  const c = await buildApp(config, { logger: false })
  t.teardown(() => c.close())
  await c.store.use('default')
  t.same(c.store.snapshot('default').entries.map((e) => e.json), a.store.snapshot('default').entries.map((e) => e.json))
})

redisTest('Redis restarted empty (no persistence): instances follow its new state instead of ignoring it', async (t) => {
  const { redis, a, b } = await twoInstancesOnPrivateRedis(t)
  await b.store.use('default')
  for (let i = 0; i < 5; i++) await a.store.write(alice, { content: { i }, key: `old${i}` })
  await eventually(() => b.store.seq('default') === 5, 10_000, 'B to follow')

  await redis.stop()
  redis.wipe()
  await redis.start()
  await eventually(() => a.store.seq('default') === 0 && b.store.seq('default') === 0, 15_000, 'both to follow the empty Redis')
  const write = await a.store.write(alice, { content: { fresh: true }, key: 'new' })
  t.equal(write.seq, 1, 'Redis numbers from 1 again')
  await eventually(() => b.store.get('default', 'new') !== undefined, 10_000, 'B to see the new write')
  t.same(b.store.snapshot('default').entries.map((e) => e.key), ['new'], 'the old entries are gone everywhere')
  t.same(a.store.snapshot('default').entries.map((e) => e.key), ['new'])
})
