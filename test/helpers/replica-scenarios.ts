// Replicas on demand (src/store/replica-leases.ts), the same scenarios on one Redis and on a
// Redis Cluster: an instance loads only the tenants used on it, keeps one in use however long,
// drops an idle one after MCP_REPLICA_IDLE_SECONDS and, loading it again, misses nothing that
// another instance wrote meanwhile: entries, history (a resume gets exactly the missed deltas), a
// new epoch (a resume gets a resync), and TTLs that came due while nobody held the tenant.
import type { Test } from 'tap'
import { Redis, Cluster } from 'ioredis'
import { buildApp } from '../../src/app.js'
import { ContextError } from '../../src/errors.js'
import { RedisContextStore, type RedisStoreOptions } from '../../src/store/redis-store.js'
import { tenantKeys } from '../../src/store/redis-keys.js'
import type { RedisTarget } from '../../src/store/redis-connection.js'
import { tokenCounter } from '../../src/token-counter.js'
import { actor } from './actors.js'
import { testConfig } from './config.js'
import { eventually } from './redis.js'
import { signTestToken } from './tokens.js'
import { connectAuthenticated, wsUrl } from './ws-client.js'

/** Where the scenarios run: a target for stores and the same as environment for apps. */
export interface ReplicaTarget {
  target: RedisTarget
  env: Record<string, string>
  /** A key prefix of the subtest's own (cleaned at its teardown where Redis is shared). */
  prefix: (t: Test) => string
}

const IDLE_MS = 400

async function store (t: Test, where: ReplicaTarget, prefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisContextStore> {
  const limits = { maxTokens: 10_000, maxEntryTokens: 10_000, countTokens: tokenCounter('o200k_base'), historySize: 100 }
  const opened = await RedisContextStore.connect({ ...limits, target: where.target, prefix, ...options })
  t.teardown(() => opened.close())
  return opened
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

/** Whether a synchronous read of the tenant is refused as a read of a tenant not loaded. */
function refusesRead (store: RedisContextStore, tenant: string): boolean {
  try {
    store.seq(tenant)
    return false
  } catch (error) {
    return error instanceof ContextError && error.code === 'internal' && /not loaded/.test(error.message)
  }
}

export async function replicaScenarios (t: Test, where: ReplicaTarget): Promise<void> {
  t.test('an idle replica is dropped, and loaded again on use with every change made meanwhile', async (t) => {
    const prefix = where.prefix(t)
    const writer = await store(t, where, prefix)
    const reader = await store(t, where, prefix, { replicaIdleMs: IDLE_MS })
    const who = actor('w', ['writer'], 'idle')
    for (let i = 0; i < 10; i++) await writer.write(who, { key: `k${i}`, content: { i } })
    t.same(reader.tenants(), [], 'a tenant nobody used here is not loaded')
    t.ok(refusesRead(reader, 'idle'), 'a read without use() is refused loudly')

    const lease = await reader.use('idle')
    t.equal(reader.seq('idle'), 10, 'loaded with what Redis holds')
    await writer.write(who, { key: 'k10', content: { live: true } })
    await eventually(() => reader.seq('idle') === 11, 10_000, 'the loaded replica to follow')
    const epoch = reader.epoch('idle')
    // Held past several idle periods: never dropped.
    await sleep(IDLE_MS * 3)
    t.same(reader.tenants(), ['idle'], 'a tenant in use stays loaded')
    lease.release()
    await eventually(() => reader.tenants().length === 0, 10_000, 'the idle replica to be dropped')
    t.match(reader.replicaStats(), { loaded: 0, inUse: 0, loads: 1, unloads: 1 })
    t.ok(refusesRead(reader, 'idle'), 'its store is gone')

    // Written elsewhere while this instance does not follow the tenant.
    for (let i = 0; i < 5; i++) await writer.write(who, { key: `k${i}`, content: { again: i } })
    await writer.remove(who, 'k9')
    const again = await reader.use('idle')
    t.teardown(() => { again.release() })
    t.same(reader.snapshot('idle').entries.map((e) => e.json), writer.snapshot('idle').entries.map((e) => e.json), 'the same store as the writer')
    t.equal(reader.seq('idle'), 17)
    t.equal(reader.epoch('idle'), epoch, 'the same history')
    t.same(reader.changesSince('idle', 11)?.map((c) => c.seq), [12, 13, 14, 15, 16, 17], 'the missed changes can be replayed')
    t.match(reader.replicaStats(), { loaded: 1, inUse: 1, loads: 2 })
  })

  t.test('each use restarts the idle time; concurrent first uses share one load', async (t) => {
    const reader = await store(t, where, where.prefix(t), { replicaIdleMs: IDLE_MS })
    const [first, second] = await Promise.all([reader.use('busy'), reader.use('busy')])
    t.equal(reader.replicaStats().loads, 1, 'one load for both')
    first.release()
    second.release()
    // One short use every half idle period, for three idle periods: never idle that long.
    for (let i = 0; i < 6; i++) {
      await sleep(IDLE_MS / 2)
      const lease = reader.useLoaded('busy')
      t.ok(lease !== undefined, `still loaded at use ${i + 1}`)
      lease?.release()
    }
    t.equal(reader.replicaStats().unloads, 0, 'never dropped while used more often than the idle time')
  })

  t.test('TTLs that came due while no instance held the tenant are expired before it is read', async (t) => {
    // The writer never sweeps: nobody expires the entry before the reader loads the tenant.
    const prefix = where.prefix(t)
    const writer = await store(t, where, prefix, { expirySweepMs: 600_000 })
    const reader = await store(t, where, prefix)
    const who = actor('w', ['writer'], 'ttl')
    await writer.write(who, { key: 'short', content: { brief: true }, ttl_seconds: 1 })
    await writer.write(who, { key: 'kept', content: { long: true } })
    await sleep(1100)
    const heard: string[] = []
    reader.onChange((change) => heard.push(change.reason))
    await reader.use('ttl')
    t.same(reader.snapshot('ttl').entries.map((e) => e.key), ['kept'], 'the expired entry is gone from the first read')
    t.equal(reader.seq('ttl'), 3, 'its expiry is a change of the tenant')
    t.same(heard, ['expired'])
  })

  t.test('a WebSocket subscriber resumes on an instance that dropped its tenant: the missed deltas, or a resync after a new epoch', async (t) => {
    const env = { ...where.env, MCP_REDIS_PREFIX: where.prefix(t), MCP_REPLICA_IDLE_SECONDS: '1' }
    const a = await buildApp(testConfig(env), { logger: false })
    t.teardown(() => a.close())
    const b = await buildApp(testConfig(env), { logger: false })
    t.teardown(() => b.close())
    await b.listen({ port: 0, host: '127.0.0.1' })
    const who = actor('w', ['writer'], 'default')
    for (let i = 0; i < 3; i++) await a.store.write(who, { key: `k${i}`, content: { i } })
    t.same(b.store.tenants(), [], 'B loads nothing before a client of the tenant comes')

    const token = signTestToken({ sub: 'dash', roles: ['reader'] })
    const first = await connectAuthenticated(wsUrl(b), token, { mode: 'delta' })
    await a.store.write(who, { key: 'k3', content: { live: true } })
    const live = await first.next((f) => f.type === 'context_delta' && f.seq === 4)
    const epoch = live.epoch as string
    first.close()
    await eventually(async () => (await metric(b, 'mcp_replicas_loaded')) === 0, 10_000, 'B to drop the tenant')
    t.equal(await metric(b, 'mcp_replica_unloads_total'), 1)

    for (let i = 0; i < 4; i++) await a.store.write(who, { key: `m${i}`, content: { i } })
    const back = await connectAuthenticated(wsUrl(b), token, { mode: 'delta', since_seq: 4, epoch })
    t.teardown(() => back.close())
    const deltas = await back.collect((f) => f.type === 'context_delta', 4)
    t.same(deltas.map((d) => d.seq), [5, 6, 7, 8], 'exactly the deltas missed while the tenant was dropped')
    t.same(back.frames.filter((f) => f.type === 'context' && f.resync === true), [])
    back.close()
    await eventually(() => b.store.tenants().length === 0, 10_000, 'B to drop the tenant again')

    // The tenant's history starts again in Redis while B does not hold it.
    const keys = tenantKeys(env.MCP_REDIS_PREFIX, 'default')
    await deleteKeys(where.target, keys.all)
    await a.store.write(who, { key: 'fresh', content: { reset: true } })
    const stale = await connectAuthenticated(wsUrl(b), token, { mode: 'delta', since_seq: 8, epoch })
    t.teardown(() => stale.close())
    await stale.request({ type: 'ping' })
    t.same(stale.frames.filter((f) => f.type === 'context_delta'), [], 'no deltas of another history')
    t.match(stale.frames.filter((f) => f.type === 'context' && f.resync === true), [{ seq: 1, data: { fresh: {} } }], 'one resync into the new history')
  })

  t.test('an instance loads only the tenants used on it: REST requests load theirs', async (t) => {
    const env = { ...where.env, MCP_REDIS_PREFIX: where.prefix(t) }
    const a = await buildApp(testConfig(env), { logger: false })
    t.teardown(() => a.close())
    const b = await buildApp(testConfig(env), { logger: false })
    t.teardown(() => b.close())
    for (let i = 0; i < 20; i++) await a.store.write(actor('w', ['writer'], `t${i}`), { key: 'k', content: { i } })
    t.equal(await metric(b, 'mcp_replicas_loaded'), 0, 'nothing loaded on B')
    const res = await b.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${signTestToken({ sub: 'r', roles: ['reader'], tenant: 't7' })}` } })
    t.equal(res.statusCode, 200)
    t.same(Object.keys(res.json().data), ['k'], 'the tenant is served in full from its first request')
    t.same(b.store.tenants(), ['t7'], 'only the tenant requested')
    t.equal(await metric(b, 'mcp_replicas_loaded'), 1)
    t.equal(await metric(b, 'mcp_replicas_in_use'), 0, 'the request is over: loaded, not in use')
  })
}

/** A value of an unlabelled metric of the app's /metrics. */
async function metric (app: Awaited<ReturnType<typeof buildApp>>, name: string): Promise<number> {
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return Number(line?.split(' ')[1])
}

async function deleteKeys (target: RedisTarget, keys: readonly string[]): Promise<void> {
  const client = 'url' in target ? new Redis(target.url) : new Cluster(target.cluster.map((node) => ({ ...node })))
  try {
    await client.del(...keys)
  } finally {
    client.disconnect()
  }
}
