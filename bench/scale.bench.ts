// npm run bench:scale — the Redis backend's scale-out figures, measured in one run against private
// Redis servers on loopback ports (never the shared 6379):
//   (a) memory: RSS and heap after GC of one server instance with 10,000 tenants of 100 entries in
//       Redis, once with 100 of them in use (replicas on demand) and once with all 10,000 in use
//       (what full replication held on every instance), in the same process;
//   (b) ingest: writes/s of many tenants written at once through one instance, on one Redis and on
//       a 3-primary, 3-replica Redis Cluster, and on the cluster with MCP_REDIS_WAIT_REPLICAS=1;
//   (c) load: how long a fresh instance takes to load a tenant of 10,000 entries from the cluster.
//
// `-- --writes N --tenants N --entries N` change the sizes (defaults 4000, 64, 10000);
// `--parts a,b,c` picks what to run. Run with node --expose-gc (the npm script does).
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import tap, { type Test } from 'tap'
import { buildApp } from '../src/app.js'
import { tenantKeys, tenantSetKey } from '../src/store/redis-keys.js'
import { testConfig } from '../test/helpers/config.js'
import { RedisContextStore, type RedisStoreOptions } from '../src/store/redis-store.js'
import { parseClusterNodes, type RedisNode, type RedisTarget } from '../src/store/redis-connection.js'
import { tokenCounter } from '../src/token-counter.js'
import type { Actor } from '../src/store/types.js'
import { startRedisCluster } from '../test/helpers/redis-cluster.js'
import { privateRedis } from '../test/helpers/redis.js'

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '4000' },
    tenants: { type: 'string', default: '64' },
    entries: { type: 'string', default: '10000' },
    parts: { type: 'string', default: 'a,b,c' }
  }
})
const PARTS = new Set(values.parts.split(','))
const WRITES = Number(values.writes)
const TENANTS = Number(values.tenants)
const ENTRIES = Number(values.entries)

// The Redis helpers import tap, whose root would end the run after its default 30 s.
tap.setTimeout(0)

// The test helpers clean up through tap's teardown; here, at the end of the run.
const cleanups: Array<() => unknown> = []
const harness = { teardown: (fn: () => unknown) => { cleanups.push(fn) } } as unknown as Test

const options = (target: RedisTarget, prefix: string, extra: Partial<RedisStoreOptions> = {}): RedisStoreOptions => ({
  maxTokens: 10_000_000,
  maxEntryTokens: 100_000,
  countTokens: tokenCounter('o200k_base'),
  historySize: 1000,
  target,
  prefix,
  ...extra
})

/** Writes WRITES entries spread over TENANTS tenants, TENANTS writes in flight; writes/s. */
async function ingest (target: RedisTarget, prefix: string, extra: Partial<RedisStoreOptions> = {}): Promise<number> {
  const store = await RedisContextStore.connect(options(target, prefix, extra))
  try {
    const perTenant = Math.ceil(WRITES / TENANTS)
    const started = performance.now()
    await Promise.all(Array.from({ length: TENANTS }, async (_, t) => {
      const actor: Actor = { userId: 'bench', roles: ['writer'], tenant: `tenant-${t}` }
      for (let i = 0; i < perTenant; i++) await store.write(actor, { key: `k${i % 100}`, content: { step: i, note: 'progress update' } })
    }))
    return (perTenant * TENANTS) / ((performance.now() - started) / 1000)
  } finally {
    await store.close()
  }
}

/** Fills one tenant with ENTRIES entries, then times a fresh instance's first use of it (it loads the tenant). */
async function loadTime (target: RedisTarget, prefix: string): Promise<number> {
  const writer = await RedisContextStore.connect(options(target, prefix))
  const actor: Actor = { userId: 'bench', roles: ['writer'], tenant: 'big' }
  for (let i = 0; i < ENTRIES; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, ENTRIES - i) }, async (_, j) =>
      await writer.write(actor, { key: `k${i + j}`, content: { step: i + j, note: 'progress update' } })))
  }
  await writer.close()
  const reader = await RedisContextStore.connect(options(target, prefix))
  const started = performance.now()
  await reader.use('big')
  const ms = performance.now() - started
  if (reader.snapshot('big').entries.length !== ENTRIES) throw new Error('the loaded tenant is incomplete')
  await reader.close()
  return ms
}

const STORED_TENANTS = 10_000
const ENTRIES_PER_TENANT = 100
const IN_USE = 100

/** RSS and heap used after a full GC, in MiB. */
async function memoryNow (): Promise<{ rss: number, heap: number }> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench:scale does)')
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
  const { rss, heapUsed } = process.memoryUsage()
  return { rss: rss / 2 ** 20, heap: heapUsed / 2 ** 20 }
}

/**
 * Fills STORED_TENANTS tenants of ENTRIES_PER_TENANT entries: one written through the store (its
 * scripts make every key), then copied key by key (DUMP/RESTORE) to the others, which is minutes
 * faster than a million scripted writes and leaves each tenant exactly as written.
 */
async function fillTenants (url: string, prefix: string): Promise<void> {
  const writer = await RedisContextStore.connect(options({ url }, prefix))
  const actor: Actor = { userId: 'bench', roles: ['writer'], tenant: 't0' }
  for (let i = 0; i < ENTRIES_PER_TENANT; i++) {
    await writer.write(actor, { key: `note-${i}`, source: 'agent', content: { step: i, note: 'progress update: the planner finished a subtask and handed over to the writer', tags: ['plan', 'draft'] } })
  }
  await writer.close()
  const client = new Redis(url)
  try {
    const model = tenantKeys(prefix, 't0')
    const dumps = await Promise.all(model.all.map(async (key) => await client.dumpBuffer(key)))
    for (let t = 1; t < STORED_TENANTS; t += 500) {
      const pipeline = client.pipeline()
      for (let n = t; n < Math.min(t + 500, STORED_TENANTS); n++) {
        const keys = tenantKeys(prefix, `t${n}`).all
        keys.forEach((key, i) => { if (dumps[i] !== null) pipeline.restore(key, 0, dumps[i] as Buffer, 'REPLACE') })
        pipeline.sadd(tenantSetKey(prefix), `t${n}`)
      }
      await pipeline.exec()
    }
  } finally {
    client.disconnect()
  }
}

/** (a): one instance's memory with IN_USE tenants in use, then with every tenant in use. */
async function memoryOnDemand (url: string) {
  const prefix = 'memory'
  await fillTenants(url, prefix)
  const app = await buildApp(testConfig({ MCP_STORE: 'redis', REDIS_URL: url, MCP_REDIS_PREFIX: prefix, MCP_TOKENIZER_THREADS: '0' }), { logger: false })
  try {
    const empty = await memoryNow()
    const useAll = async (from: number, to: number) => {
      for (let t = from; t < to; t += 50) {
        await Promise.all(Array.from({ length: Math.min(50, to - t) }, async (_, i) => await app.store.use(`t${t + i}`)))
      }
    }
    await useAll(0, IN_USE)
    if (app.store.snapshot('t0').entries.length !== ENTRIES_PER_TENANT) throw new Error('a loaded tenant is incomplete')
    const onDemand = await memoryNow()
    await useAll(IN_USE, STORED_TENANTS)
    if (app.store.tenants().length !== STORED_TENANTS) throw new Error('not every tenant loaded')
    const full = await memoryNow()
    return { empty, onDemand, full }
  } finally {
    await app.close()
  }
}

try {
  if (PARTS.has('a')) {
    const redis = await privateRedis(harness)
    const { empty, onDemand, full } = await memoryOnDemand(redis.url)
    const mib = (m: { rss: number, heap: number }) => `RSS ${m.rss.toFixed(0)} MiB, heap ${m.heap.toFixed(0)} MiB`
    console.log(`(a) one instance, ${STORED_TENANTS} tenants of ${ENTRIES_PER_TENANT} entries in Redis (after GC):`)
    console.log(`    started, nothing loaded:            ${mib(empty)}`)
    console.log(`    ${IN_USE} tenants in use (on demand):    ${mib(onDemand)}`)
    console.log(`    all ${STORED_TENANTS} in use (full replication): ${mib(full)}`)
    console.log(`    full / on demand: RSS ${(full.rss / onDemand.rss).toFixed(1)}x, heap ${(full.heap / onDemand.heap).toFixed(1)}x; ` +
      `replica heap above the empty instance ${((full.heap - empty.heap) / Math.max(0.01, onDemand.heap - empty.heap)).toFixed(0)}x`)
    await redis.stop()
  }
  // The cluster (and the single Redis of (b)) are started only for the parts that need them.
  const single = PARTS.has('b') ? await privateRedis(harness) : undefined
  const cluster = PARTS.has('b') || PARTS.has('c') ? await startRedisCluster(harness) : undefined
  const clusterTarget: RedisTarget = { cluster: parseClusterNodes(cluster?.seeds ?? '') as RedisNode[] }
  if (PARTS.has('b')) {
    const singleRate = await ingest({ url: (single as { url: string }).url }, 'ingest')
    const clusterRate = await ingest(clusterTarget, 'ingest')
    const waitRate = await ingest(clusterTarget, 'ingest-wait', { waitReplicas: 1 })
    console.log(`(b) ingest, ${TENANTS} tenants written at once through one instance (${WRITES} writes):`)
    console.log(`    one Redis:                          ${singleRate.toFixed(0)} writes/s`)
    console.log(`    Redis Cluster (3 primaries):        ${clusterRate.toFixed(0)} writes/s (${(clusterRate / singleRate).toFixed(2)}x one Redis)`)
    console.log(`    Redis Cluster, WAIT_REPLICAS=1:     ${waitRate.toFixed(0)} writes/s (${(waitRate / clusterRate).toFixed(2)}x without WAIT)`)
  }
  if (PARTS.has('c')) {
    const loadMs = await loadTime(clusterTarget, 'load')
    console.log(`(c) a fresh instance loads a tenant of ${ENTRIES} entries from the cluster on its first use in ${loadMs.toFixed(0)} ms`)
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
