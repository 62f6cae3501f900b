// The Redis backend over a real 3-primary, 3-replica Redis Cluster (MCP_REDIS_CLUSTER_NODES), one
// cluster for the whole file: two server processes pass the same scenarios as on one Redis
// (fan-out, exact eviction with concurrent writers, resume across instances, shared rate limit);
// writes go on while the tenant's slot is migrated to another primary (MOVED/ASK) and none is
// lost; and with MCP_REDIS_WAIT_REPLICAS=1 a primary killed mid-run loses no acknowledged write.
import { Redis } from 'ioredis'
import tap, { test, type Test } from 'tap'
import { ContextError } from '../../src/errors.js'
import { RedisContextStore, type RedisStoreOptions } from '../../src/store/redis-store.js'
import { tenantKeys } from '../../src/store/redis-keys.js'
import { parseClusterNodes, type RedisNode } from '../../src/store/redis-connection.js'
import { tokenCounter } from '../../src/token-counter.js'
import { actor } from '../helpers/actors.js'
import { eventually } from '../helpers/redis.js'
import { startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js'
import { sharedRateLimit, twoInstanceScenarios } from '../helpers/two-instance-scenarios.js'
import { replicaScenarios } from '../helpers/replica-scenarios.js'
import { EVICTING_MAX_TOKENS, concurrentEvictionHolds } from '../helpers/store-operations.js'

async function clusterStore (t: Test, nodes: RedisNode[], prefix: string, options: Partial<RedisStoreOptions> = {}): Promise<RedisContextStore> {
  const store = await RedisContextStore.connect({
    maxTokens: 1_000_000,
    maxEntryTokens: 1_000_000,
    countTokens: tokenCounter('o200k_base'),
    historySize: 1000,
    target: { cluster: nodes },
    prefix,
    tenantRescanMs: 500,
    ...options
  })
  t.teardown(() => store.close())
  return store
}

async function direct (t: Test, port: number): Promise<Redis> {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  return client
}

/** The slot of a tenant's keys (all of them share it: one hash tag). */
async function slotOf (cluster: TestCluster, t: Test, prefix: string, tenant: string): Promise<number> {
  const client = await direct(t, cluster.nodes[0].port)
  return Number(await client.cluster('KEYSLOT', tenantKeys(prefix, tenant).state))
}

/** Moves `slot` to another primary as redis-cli --cluster reshard does: IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE. */
async function migrateSlot (cluster: TestCluster, t: Test, slot: number, pace: () => Promise<void>): Promise<number> {
  const source = await cluster.primaryOf(slot)
  const primaries = new Set<number>()
  for (let s = 0; s < 16384; s += 5461) primaries.add((await cluster.primaryOf(s)).port)
  const targetPort = [...primaries].find((port) => port !== source.port)
  if (targetPort === undefined) throw new Error('no other primary to migrate to')
  const from = await direct(t, source.port)
  const to = await direct(t, targetPort)
  const fromId = await from.cluster('MYID') as string
  const toId = await to.cluster('MYID') as string
  await to.cluster('SETSLOT', slot, 'IMPORTING', fromId)
  await from.cluster('SETSLOT', slot, 'MIGRATING', toId)
  for (;;) {
    const keys = await from.cluster('GETKEYSINSLOT', slot, 1) as string[]
    if (keys.length === 0) break
    // One key at a time, with writes in between: scripts meet a half-moved slot (ASK, TRYAGAIN).
    await from.call('MIGRATE', '127.0.0.1', targetPort, '', 0, 5000, 'KEYS', ...keys)
    await pace()
  }
  for (const port of primaries) await (await direct(t, port)).cluster('SETSLOT', slot, 'NODE', toId)
  return targetPort
}

// One cluster start (~5 s) and six server processes; a migration and a failover each take seconds.
tap.setTimeout(240_000)

test('the Redis backend over a Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  const nodes = parseClusterNodes(cluster.seeds) as RedisNode[]

  t.test('two server processes: fan-out, exact eviction, resume across instances', async (t) => {
    await twoInstanceScenarios(t, { MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: cluster.seeds, MCP_REDIS_PREFIX: 'scenarios' })
  })

  t.test('replicas on demand over the cluster', async (t) => {
    let n = 0
    await replicaScenarios(t, { target: { cluster: nodes }, env: { MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: cluster.seeds }, prefix: () => `replicas-${++n}` })
  })

  t.test('two instances writing one full, evicting tenant at once keep exactly what the naive reference keeps', async (t) => {
    const limits = { maxTokens: EVICTING_MAX_TOKENS, maxEntryTokens: EVICTING_MAX_TOKENS, historySize: 100 }
    const stores = [await clusterStore(t, nodes, 'property', limits), await clusterStore(t, nodes, 'property', limits)] as const
    t.ok(await concurrentEvictionHolds(t, stores, 40), 'every run matched the reference')
  })

  t.test('the HTTP rate limit is shared over the cluster', async (t) => {
    await sharedRateLimit(t, { MCP_STORE: 'redis', MCP_REDIS_CLUSTER_NODES: cluster.seeds, MCP_REDIS_PREFIX: 'limits' })
  })

  t.test('writes go on while the tenant\'s slot moves to another primary; none is lost', async (t) => {
    const failures = new Set<string>()
    const onError = (error: unknown) => { failures.add((error as Error).message.slice(0, 80)) }
    const [a, b] = [await clusterStore(t, nodes, 'reshard', { onError }), await clusterStore(t, nodes, 'reshard')]
    const writer = actor('w', ['writer'], 'moving')
    // B serves the tenant (a client of it is connected there), so it follows it through the move.
    await b.use('moving')
    const slot = await slotOf(cluster, t, 'reshard', 'moving')
    const acked: string[] = []
    const refused: string[] = []
    let i = 0
    const writeSome = async (count: number) => {
      for (let n = 0; n < count; n++, i++) {
        const key = `k${i}`
        try {
          await a.write(writer, { key, content: { i } })
          acked.push(key)
        } catch (error) {
          if (!(error instanceof ContextError)) throw error
          refused.push(error.code)
        }
      }
    }
    await writeSome(20)
    const before = await cluster.primaryOf(slot)
    const after = await migrateSlot(cluster, t, slot, async () => { await writeSome(3) })
    await writeSome(20)
    t.not(after, before.port, 'the slot is served by another primary now')
    t.equal((await cluster.primaryOf(slot)).port, after)
    t.comment(`acknowledged ${acked.length}, refused ${refused.length}: ${[...failures].join('; ')}`)
    t.same([...new Set(refused)], refused.length === 0 ? [] : ['unavailable'], 'a refused write says unavailable')
    t.ok(acked.length >= 40, 'writes went on through the migration')
    // A fresh instance loads what Redis holds; B followed the changes.
    const fresh = await clusterStore(t, nodes, 'reshard')
    await fresh.use('moving')
    const held = new Set(fresh.snapshot('moving').entries.map((stored) => stored.key))
    t.same(acked.filter((key) => !held.has(key)), [], 'every acknowledged write is in the cluster')
    await eventually(() => b.seq('moving') === fresh.seq('moving'), 10_000, 'the other instance to follow the migrated tenant')
    t.same(b.snapshot('moving').entries.map((s) => s.key).sort(), [...held].sort(), 'the other instance holds the same entries')
  })

  t.test('MCP_REDIS_WAIT_REPLICAS=1: a primary killed mid-run loses no acknowledged write', async (t) => {
    const store = await clusterStore(t, nodes, 'failover', { waitReplicas: 1, waitTimeoutMs: 1000 })
    const writer = actor('w', ['writer'], 'durable')
    const slot = await slotOf(cluster, t, 'failover', 'durable')
    const primary = await cluster.primaryOf(slot)
    const acked: string[] = []
    const refusals = new Set<string>()
    const running = { stop: false }
    const loop = (async () => {
      for (let i = 0; !running.stop; i++) {
        try {
          await store.write(writer, { key: `k${i}`, content: { i } })
          acked.push(`k${i}`)
        } catch (error) {
          if (!(error instanceof ContextError)) throw error
          refusals.add(error.code)
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    })()
    await eventually(() => acked.length >= 30, 10_000, '30 acknowledged writes before the kill')
    await primary.stop('SIGKILL')
    const promoted = await cluster.waitFailover(slot, primary.port)
    // The promoted node has no replica until the killed one rejoins as its replica: until then
    // WAIT 1 cannot be met and writes are refused (never acknowledged unheld).
    await primary.start()
    const atPromotion = acked.length
    await eventually(() => acked.length >= atPromotion + 30, 20_000, '30 acknowledged writes after the failover')
    running.stop = true
    await loop
    t.not(promoted.port, primary.port, 'a replica was promoted')
    t.same([...refusals], refusals.size === 0 ? [] : ['unavailable'], 'a refused write says unavailable, never anything else')
    t.comment(`acknowledged ${acked.length} writes, ${atPromotion} before the old primary rejoined`)
    const fresh = await clusterStore(t, nodes, 'failover')
    await fresh.use('durable')
    const held = new Set(fresh.snapshot('durable').entries.map((stored) => stored.key))
    t.same(acked.filter((key) => !held.has(key)), [], 'every acknowledged write survived the failover')
  })

  t.test('MCP_REDIS_WAIT_REPLICAS above the replicas there are: unavailable, and the change may still be applied', async (t) => {
    const store = await clusterStore(t, nodes, 'toomany', { waitReplicas: 3, waitTimeoutMs: 200 })
    const writer = actor('w', ['writer'], 'short')
    const error = await store.write(writer, { key: 'k', content: { x: 1 } }).then(() => undefined, (e: unknown) => e)
    t.ok(error instanceof ContextError && error.code === 'unavailable', 'refused unavailable')
    t.match((error as Error).message, /may still be applied/)
  })
})
