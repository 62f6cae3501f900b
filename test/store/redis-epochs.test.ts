// The Redis backend's history against real Redis: epochs (contract §7) when Redis loses or resets
// a tenant's state under running instances, the stream bounded in bytes (MCP_HISTORY_BYTES), and
// writes that treat an entry past its TTL as absent, as the memory backend does (issue 18 item 11).
import type { Test } from 'tap'
import { Redis } from 'ioredis'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tenantKeys } from '../../src/store/redis-keys.js'
import { RedisContextStore, type RedisStoreOptions } from '../../src/store/redis-store.js'
import type { ContextStore } from '../../src/store/context-store.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { tokenCounter } from '../../src/token-counter.js'
import { alice, bob } from '../helpers/actors.js'
import { REDIS_URL, eventually, privateRedis, redisTest, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer, wsUrl, type TestClient } from '../helpers/ws-client.js'

const storeOptions = { maxTokens: 100_000, maxEntryTokens: 100_000, countTokens: tokenCounter('o200k_base'), historySize: 100 }

async function redisStore (t: Test, options: Partial<RedisStoreOptions> & { prefix: string }) {
  const store = await RedisContextStore.connect({ ...storeOptions, url: REDIS_URL, ...options })
  t.teardown(() => store.close())
  return store
}

/** An app instance listening on a random port (the production factory), closed at teardown. */
const listeningApp = async (t: Test, env: Record<string, string>) => (await startServer(t, env)).app

const reader = signTestToken({ sub: 'dash', roles: ['reader'] })
const resyncs = (client: TestClient) => client.frames.filter((f) => f.type === 'context' && f.resync === true)

redisTest('a tenant reset in Redis under running instances: a new epoch everywhere, subscribers resynced', async (t) => {
  const prefix = uniquePrefix(t)
  const env = { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: prefix }
  const a = await listeningApp(t, env)
  const b = await listeningApp(t, env)
  // B serves the tenant (as a client of it there would make it), so it follows it.
  await b.store.use('default')
  for (let i = 0; i < 8; i++) await a.store.write(alice, { content: { i }, key: `old${i}` })
  await eventually(() => b.store.seq('default') === 8, 10_000, 'B to follow A')
  const oldEpoch = a.store.epoch('default')
  t.equal(b.store.epoch('default'), oldEpoch, 'both instances share the epoch of the history in Redis')
  const live = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta' })
  t.teardown(() => live.close())

  // The tenant's keys vanish (an operator's reset, a failover to an empty replica).
  const admin = new Redis(REDIS_URL)
  t.teardown(() => admin.disconnect())
  await admin.del(...tenantKeys(prefix, 'default').all)
  // Fewer writes than B had seen: B's stream reader, waiting past seq 8, would never see them.
  for (let i = 0; i < 3; i++) await a.store.write(alice, { content: { i }, key: `new${i}` })
  const newEpoch = a.store.epoch('default')
  t.not(newEpoch, oldEpoch, 'the history started again: a new epoch')
  t.equal(a.store.seq('default'), 3)
  await eventually(() => b.store.epoch('default') === newEpoch && b.store.seq('default') === 3, 10_000, 'B to notice the new history')
  t.strictSame(b.store.snapshot('default').entries.map((e) => e.key), ['new2', 'new1', 'new0'], 'B holds the new history only')

  await eventually(() => resyncs(live).some((f) => f.epoch === newEpoch), 10_000, "B's subscriber to be resynced")
  const resync = resyncs(live).find((f) => f.epoch === newEpoch) as Record<string, any>
  // The resync came whenever B noticed; the deltas after it bring the client to B's store.
  await eventually(() => live.frames.at(-1)?.seq === 3, 10_000, 'the subscriber to reach seq 3')
  const deltasAfter = live.frames.slice(live.frames.indexOf(resync) + 1).filter((f) => f.type === 'context_delta')
  t.ok(deltasAfter.every((f) => f.epoch === newEpoch && f.seq > resync.seq), 'after the resync, only deltas of the new history that follow it')
  const view = new Set(Object.keys(resync.data))
  for (const delta of deltasAfter) {
    for (const key of delta.removed) view.delete(key)
    for (const key of Object.keys(delta.upserted)) view.add(key)
  }
  t.strictSame([...view].sort(), ['new0', 'new1', 'new2'], "the subscriber's view is B's store")

  // A client of the old history resuming on either instance is resynced, never replayed.
  for (const app of [a, b]) {
    const back = await connectAuthenticated(wsUrl(app), reader, { mode: 'delta', since_seq: 1, epoch: oldEpoch })
    t.teardown(() => back.close())
    await back.request({ type: 'ping' })
    t.strictSame(back.frames.filter((f) => f.type === 'context_delta'), [])
    t.equal(resyncs(back).length, 1)
  }
})

redisTest('Redis restarted empty: both instances agree on a new epoch; a resume with it replays, with the old one resyncs', async (t) => {
  const redis = await privateRedis(t)
  const env = { MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: uniquePrefix(t, redis.url) }
  const a = await listeningApp(t, env)
  const b = await listeningApp(t, env)
  // B serves the tenant (as a client of it there would make it), so it follows it.
  await b.store.use('default')
  for (let i = 0; i < 5; i++) await a.store.write(alice, { content: { i }, key: `old${i}` })
  await eventually(() => b.store.seq('default') === 5, 10_000, 'B to follow')
  const oldEpoch = b.store.epoch('default')

  await redis.stop()
  redis.wipe()
  await redis.start()
  await eventually(() => a.store.epoch('default') !== oldEpoch && b.store.epoch('default') === a.store.epoch('default'),
    15_000, 'both instances to take the new history')
  for (let i = 0; i < 6; i++) await a.store.write(alice, { content: { i }, key: `new${i}` })
  await eventually(() => b.store.seq('default') === 6, 10_000, 'B to follow the new history')
  const epoch = a.store.epoch('default')

  const stale = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta', since_seq: 3, epoch: oldEpoch })
  t.teardown(() => stale.close())
  await stale.request({ type: 'ping' })
  t.strictSame(stale.frames.filter((f) => f.type === 'context_delta'), [], 'no deltas of the new history for a client of the old')
  t.match(resyncs(stale), [{ seq: 6, epoch }])

  const current = await connectAuthenticated(wsUrl(b), reader, { mode: 'delta', since_seq: 3, epoch })
  t.teardown(() => current.close())
  await current.request({ type: 'ping' })
  t.strictSame(current.frames.filter((f) => f.type === 'context_delta').map((f) => f.seq), [4, 5, 6])
  t.strictSame(resyncs(current), [])
})

/** Waits until `expiresAt` has passed, without reading the store (a read would expire the entry). */
async function pastExpiry (expiresAt: string): Promise<void> {
  await eventually(() => Date.now() > Date.parse(expiresAt) + 20, 5_000, 'the TTL to pass')
}

redisTest('a write treats an entry past its TTL as absent, before any sweep, like the memory backend', async (t) => {
  // No sweep within the test: only the write itself can notice the expiry.
  const redis = await redisStore(t, { prefix: uniquePrefix(t), expirySweepMs: 600_000 })
  const memory = new MemoryContextStore({ ...storeOptions, expirySweepMs: 600_000 })
  t.teardown(() => memory.close())
  const outcomes: Array<Record<string, unknown>> = []
  for (const store of [memory, redis] as ContextStore[]) {
    const heard: ChangeEvent[] = []
    store.onChange((change) => heard.push(change))
    const first = await store.write(alice, { content: { brief: true }, key: 'ttl', ttl_seconds: 1 })
    await pastExpiry(first.entry?.expires_at as string)
    const taken = await store.write(bob, { content: { mine: true }, key: 'ttl', expected_version: 0 })
    await eventually(() => heard.length === 3, 5_000, 'three changes')
    outcomes.push({
      taken: { key: taken.key, version: taken.version, seq: taken.seq, owner: taken.entry?.owner },
      changes: heard.map((c) => ({ seq: c.seq, reason: c.reason, removed: c.removed, upserted: c.upserted.map((u) => u.key) })),
      stored: store.get('default', 'ttl')?.entry.owner
    })
  }
  t.strictSame(outcomes[0], {
    taken: { key: 'ttl', version: 1, seq: 3, owner: 'bob' },
    changes: [
      { seq: 1, reason: 'created', removed: [], upserted: ['ttl'] },
      { seq: 2, reason: 'expired', removed: [{ key: 'ttl', reason: 'expired' }], upserted: [] },
      { seq: 3, reason: 'created', removed: [], upserted: ['ttl'] }
    ],
    stored: 'bob'
  }, 'memory: the expiry, then a create by another user')
  t.strictSame(outcomes[1], outcomes[0], 'Redis: the same')
})

redisTest('the Redis stream holds at most MCP_HISTORY_BYTES (and the newest record always)', async (t) => {
  const prefix = uniquePrefix(t)
  const historyBytes = 40_000
  const a = await redisStore(t, { prefix, historyBytes })
  const client = new Redis(REDIS_URL)
  t.teardown(() => client.disconnect())
  const keys = tenantKeys(prefix, 'default')
  const streamBytes = async () => {
    const records = await client.xrange(keys.stream, '-', '+')
    return { count: records.length, bytes: records.reduce((sum, [, fields]) => sum + fields.filter((_, i) => i % 2 === 1).reduce((s, f) => s + Buffer.byteLength(f), 64), 0) }
  }
  for (let i = 0; i < 40; i++) {
    await a.write(alice, { content: { text: 'word '.repeat(1000), i }, key: `k${i % 3}` })
    const { bytes } = await streamBytes()
    if (bytes > historyBytes) t.fail(`after write ${i}: the stream holds ${bytes} bytes`)
  }
  const { count, bytes } = await streamBytes()
  t.ok(count >= 5 && count <= 8, `${count} records of ~5 KB within 40 KB`)
  t.equal(Number(await client.hget(keys.state, 'hbytes')), bytes, 'the byte count kept in Redis matches the stream')
  t.strictSame(a.changesSince('default', 40 - count)?.length, count, "the replica's history holds the same window")

  // A record larger than the bound alone is still kept: other instances read every change from it.
  await a.write(alice, { content: { text: 'word '.repeat(12_000) }, key: 'huge' })
  t.equal((await streamBytes()).count, 1, 'only the newest record is left')
  const late = await redisStore(t, { prefix, historyBytes })
  await late.use('default')
  t.equal(late.get('default', 'huge')?.entry.version, 1, 'an instance started later loads it')
})

redisTest('the instance that notices a new history tells the others at once (no rescan needed)', async (t) => {
  const prefix = uniquePrefix(t)
  // The periodic rescan would find it too, eventually; it is kept out of this test's reach.
  const a = await redisStore(t, { prefix, tenantRescanMs: 600_000 })
  const b = await redisStore(t, { prefix, tenantRescanMs: 600_000 })
  await b.use('default')
  for (let i = 0; i < 8; i++) await a.write(alice, { content: { i }, key: `old${i}` })
  await eventually(() => b.seq('default') === 8, 10_000, 'B to follow A')
  const admin = new Redis(REDIS_URL)
  t.teardown(() => admin.disconnect())
  await admin.del(...tenantKeys(prefix, 'default').all)
  await a.write(alice, { content: { fresh: true }, key: 'new' })
  await eventually(() => b.epoch('default') === a.epoch('default'), 5_000, 'B to take the new epoch')
  t.strictSame(b.snapshot('default').entries.map((e) => e.key), ['new'])
})

redisTest('a tenant restored in Redis from an older copy becomes a new history: clients of the lost seqs resync', async (t) => {
  const prefix = uniquePrefix(t)
  const a = await redisStore(t, { prefix, tenantRescanMs: 200 })
  const b = await redisStore(t, { prefix, tenantRescanMs: 200 })
  await b.use('default')
  const keys = tenantKeys(prefix, 'default')
  const admin = new Redis(REDIS_URL)
  t.teardown(() => admin.disconnect())
  for (let i = 0; i < 3; i++) await a.write(alice, { content: { i }, key: `k${i}` })
  const backup = await Promise.all(keys.all.map(async (key) => [key, await admin.dumpBuffer(key)] as const))
  for (let i = 3; i < 8; i++) await a.write(alice, { content: { i }, key: `k${i}` })
  await eventually(() => b.seq('default') === 8, 10_000, 'B to follow A')
  const epoch = a.epoch('default')

  // The backup taken at seq 3 is restored (same epoch in it, a lower seq).
  for (const [key, dump] of backup) {
    if (dump === null) await admin.del(key)
    else await admin.restore(key, 0, dump, 'REPLACE')
  }
  await eventually(() => a.epoch('default') !== epoch && b.epoch('default') === a.epoch('default'), 10_000, 'both to take a new epoch')
  t.equal(a.seq('default'), 3, 'the restored state')
  t.strictSame(b.snapshot('default').entries.map((e) => e.key).sort(), ['k0', 'k1', 'k2'])
  t.equal(a.changesSince('default', 1), undefined, 'nothing of the old history can be replayed as the new one')
  const next = await b.write(alice, { content: { again: true }, key: 'k9' })
  t.strictSame({ seq: next.seq, epoch: next.epoch }, { seq: 4, epoch: a.epoch('default') }, 'seq 4 again, in another epoch')
})
