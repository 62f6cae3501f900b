// npm run bench:scale — the Redis backend's scale-out figures, measured in one run against private
// Redis servers on loopback ports (never the shared 6379):
//   (b) ingest: writes/s of many tenants written at once through one instance, on one Redis and on
//       a 3-primary, 3-replica Redis Cluster, and on the cluster with MCP_REDIS_WAIT_REPLICAS=1;
//   (c) load: how long a fresh instance takes to load a tenant of 10,000 entries from the cluster.
// (a), the memory of an instance serving 100 of 10,000 tenants, needs replicas on demand (issue 13
// part 2), not in this release.
//
// `-- --writes N --tenants N --entries N` change the sizes (defaults 4000, 64, 10000).
import { parseArgs } from 'node:util'
import type { Test } from 'tap'
import { RedisContextStore, type RedisStoreOptions } from '../src/store/redis-store.js'
import { parseClusterNodes, type RedisNode, type RedisTarget } from '../src/store/redis-connection.js'
import { tokenCounter } from '../src/token-counter.js'
import type { Actor } from '../src/store/types.js'
import { startRedisCluster } from '../test/helpers/redis-cluster.js'
import { privateRedis } from '../test/helpers/redis.js'

const { values } = parseArgs({
  options: { writes: { type: 'string', default: '4000' }, tenants: { type: 'string', default: '64' }, entries: { type: 'string', default: '10000' } }
})
const WRITES = Number(values.writes)
const TENANTS = Number(values.tenants)
const ENTRIES = Number(values.entries)

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

/** Fills one tenant with ENTRIES entries, then times a fresh instance's start (it loads the tenant). */
async function loadTime (target: RedisTarget, prefix: string): Promise<number> {
  const writer = await RedisContextStore.connect(options(target, prefix))
  const actor: Actor = { userId: 'bench', roles: ['writer'], tenant: 'big' }
  for (let i = 0; i < ENTRIES; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, ENTRIES - i) }, async (_, j) =>
      await writer.write(actor, { key: `k${i + j}`, content: { step: i + j, note: 'progress update' } })))
  }
  await writer.close()
  const started = performance.now()
  const reader = await RedisContextStore.connect(options(target, prefix))
  const ms = performance.now() - started
  if (reader.snapshot('big').entries.length !== ENTRIES) throw new Error('the loaded tenant is incomplete')
  await reader.close()
  return ms
}

try {
  const single = await privateRedis(harness)
  const cluster = await startRedisCluster(harness)
  const clusterTarget: RedisTarget = { cluster: parseClusterNodes(cluster.seeds) as RedisNode[] }
  const singleRate = await ingest({ url: single.url }, 'ingest')
  const clusterRate = await ingest(clusterTarget, 'ingest')
  const waitRate = await ingest(clusterTarget, 'ingest-wait', { waitReplicas: 1 })
  const loadMs = await loadTime(clusterTarget, 'load')
  console.log(`(b) ingest, ${TENANTS} tenants written at once through one instance (${WRITES} writes):`)
  console.log(`    one Redis:                          ${singleRate.toFixed(0)} writes/s`)
  console.log(`    Redis Cluster (3 primaries):        ${clusterRate.toFixed(0)} writes/s (${(clusterRate / singleRate).toFixed(2)}x one Redis)`)
  console.log(`    Redis Cluster, WAIT_REPLICAS=1:     ${waitRate.toFixed(0)} writes/s (${(waitRate / clusterRate).toFixed(2)}x without WAIT)`)
  console.log(`(c) a fresh instance loads a tenant of ${ENTRIES} entries from the cluster in ${loadMs.toFixed(0)} ms`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
