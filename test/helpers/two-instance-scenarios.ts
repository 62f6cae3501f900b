// Two server processes sharing one Redis store (MCP_STORE=redis), driven through their real
// WebSocket and REST surfaces: a write on A reaches delta subscribers on B once each, in seq
// order; concurrent writers on A and B keep eviction exact; a client resumes on B from A's seq; and
// the HTTP rate limit is counted once across both. Run over one Redis (test/cluster/two-instances)
// and over a Redis Cluster (test/cluster/redis-cluster-instances).
import type { Test } from 'tap'
import { ReferenceStore } from './reference-store.js'
import { spawnServer, type ServerProcess } from './spawn-server.js'
import { signTestToken } from './tokens.js'
import { connectAuthenticated, type Frame, type TestClient } from './ws-client.js'

const MAX_TOKENS = 400

async function client (t: Test, server: ServerProcess, token: string, query: Record<string, string | number> = {}): Promise<TestClient> {
  const connection = await connectAuthenticated(server.ws, token, query)
  t.teardown(() => connection.close())
  return connection
}

/** GET /context on one instance, once it reflects at least `seq`. */
async function contextAt (server: ServerProcess, token: string, seq: number): Promise<{ data: Record<string, { version: number }>, seq: number }> {
  for (;;) {
    const response = await fetch(`${server.base}/context`, { headers: { authorization: `Bearer ${token}` } })
    const body = await response.json() as { data: Record<string, { version: number }>, seq: number }
    if (body.seq >= seq) return body
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const deltas = (frames: Frame[]) => frames.filter((f) => f.type === 'context_delta')

/**
 * Starts two server processes on the Redis that `redis` selects (REDIS_URL or
 * MCP_REDIS_CLUSTER_NODES, with MCP_STORE=redis and a prefix) and runs the scenarios against them.
 */
export async function twoInstanceScenarios (t: Test, redis: Record<string, string>): Promise<void> {
  const env = { ...redis, MCP_MAX_TOKENS: String(MAX_TOKENS), MCP_HTTP_RATE_LIMIT: '1000000' }
  const [a, b] = await Promise.all([spawnServer(t, env), spawnServer(t, env)])
  t.match(a.output().stdout, /store: redis/, 'A runs on Redis')

  t.test('a write on A reaches delta subscribers on B once each, in seq order', async (t) => {
    const token = signTestToken({ sub: 'alice', roles: ['writer'], tenant: 'fanout' })
    const subscribers = [await client(t, b, token, { mode: 'delta' }), await client(t, b, token, { mode: 'delta' })]
    const writer = await client(t, a, token, { mode: 'none' })
    const acks: Frame[] = []
    for (let i = 0; i < 30; i++) acks.push(await writer.request({ type: 'update_context', key: `k${i % 10}`, context: { i } }))
    // A REST write on A is a change like any other.
    const rest = await fetch(`${a.base}/context`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: 'via-rest', context: { rest: true } })
    })
    t.equal(rest.status, 201)
    const restSeq = (await rest.json() as { seq: number }).seq
    const expectedSeqs = [...acks.map((ack) => ack.seq as number), restSeq]
    t.same(expectedSeqs, Array.from({ length: 31 }, (_, i) => i + 1), 'A acknowledged seqs 1..31')

    for (const subscriber of subscribers) {
      const received = await subscriber.collect((f) => f.type === 'context_delta', 31)
      t.same(received.map((d) => d.seq), expectedSeqs, 'every change once, in seq order')
      t.same(received.map((d) => Object.keys(d.upserted)), [...acks.map((_, i) => [`k${i % 10}`]), ['via-rest']], 'each carries its entry')
      t.same(received[29].upserted.k9.content, { i: 29 })
    }
    // A marker after everything: nothing else (no duplicate) arrived before it.
    const marker = await writer.request({ type: 'update_context', key: 'marker', context: { last: true } })
    for (const subscriber of subscribers) {
      await subscriber.next((f) => f.type === 'context_delta' && f.seq === marker.seq)
      t.same(deltas(subscriber.frames).map((d) => d.seq), [...expectedSeqs, marker.seq], 'no duplicates')
    }
  })

  t.test('concurrent writers on A and B keep eviction exact', async (t) => {
    const token = signTestToken({ sub: 'root', roles: ['admin'], tenant: 'race' })
    const writers = [await client(t, a, token, { mode: 'none' }), await client(t, b, token, { mode: 'none' }),
      await client(t, a, token, { mode: 'none' }), await client(t, b, token, { mode: 'none' })]
    const acks: Array<{ seq: number, key: string, tokens: number, priority: number }> = []
    await Promise.all(writers.map(async (writer, w) => {
      for (let i = 0; i < 40; i++) {
        const priority = 1 + ((i * 3 + w) % 5)
        const key = `w${w}-${i % 15}`
        const ack = await writer.request({ type: 'update_context', key, priority, context: { text: 'lorem ipsum '.repeat(1 + ((i * 7 + w) % 11)) } })
        if (ack.type !== 'update_ack') t.fail(`write refused: ${JSON.stringify(ack)}`)
        acks.push({ seq: ack.seq, key, tokens: ack.tokens, priority })
      }
    }))
    acks.sort((x, y) => x.seq - y.seq)
    t.same(acks.map((ack) => ack.seq), Array.from({ length: 160 }, (_, i) => i + 1), 'one seq per write across both instances')
    const reference = new ReferenceStore(MAX_TOKENS)
    for (const ack of acks) reference.write(ack.key, ack.tokens, ack.priority)
    const expected = reference.ranked().map((e) => e.key)
    for (const [name, server] of [['A', a], ['B', b]] as const) {
      const body = await contextAt(server, token, 160)
      t.same(Object.keys(body.data), expected, `${name} keeps exactly the reference's entries, in rank order`)
    }
    t.ok(reference.total() <= MAX_TOKENS)
  })

  t.test('a client resumes on B with since_seq from A', async (t) => {
    const token = signTestToken({ sub: 'alice', roles: ['writer'], tenant: 'resume' })
    const writer = await client(t, a, token, { mode: 'none' })
    const onA = await client(t, a, token, { mode: 'delta' })
    for (let i = 1; i <= 5; i++) await writer.request({ type: 'update_context', key: `k${i}`, context: { i } })
    const seen = await onA.collect((f) => f.type === 'context_delta', 5)
    const lastSeen = seen[4].seq as number
    onA.close()
    for (let i = 6; i <= 12; i++) await writer.request({ type: 'update_context', key: `k${i}`, context: { i } })
    await contextAt(b, token, 12)

    const onB = await client(t, b, token, { mode: 'delta', since_seq: lastSeen })
    const replayed = await onB.collect((f) => f.type === 'context_delta', 7)
    t.same(replayed.map((d) => d.seq), [6, 7, 8, 9, 10, 11, 12], 'exactly the missed deltas')
    t.same(replayed.map((d) => Object.keys(d.upserted)[0]), ['k6', 'k7', 'k8', 'k9', 'k10', 'k11', 'k12'])
    t.notOk(onB.frames.some((f) => f.resync === true), 'no resync was needed')
    const live = await writer.request({ type: 'update_context', key: 'k13', context: { i: 13 } })
    const next = await onB.next((f) => f.type === 'context_delta' && f.seq === live.seq)
    t.same(Object.keys(next.upserted), ['k13'], 'then live, with no gap')
    t.same(deltas(onB.frames).map((d) => d.seq), [6, 7, 8, 9, 10, 11, 12, 13], 'and no duplicate')
  })
}

/** Two instances on that Redis count one HTTP rate limit together (@fastify/rate-limit's Redis store). */
export async function sharedRateLimit (t: Test, redis: Record<string, string>): Promise<void> {
  const env = { ...redis, MCP_HTTP_RATE_LIMIT: '6' }
  const [a, b] = await Promise.all([spawnServer(t, env), spawnServer(t, env)])
  const headers = { authorization: `Bearer ${signTestToken({ sub: 'limited', tenant: 'rl' })}` }
  const statuses: number[] = []
  for (let i = 0; i < 8; i++) statuses.push((await fetch(`${(i % 2 === 0 ? a : b).base}/context`, { headers })).status)
  t.same(statuses, [200, 200, 200, 200, 200, 200, 429, 429], 'six in total across both instances, then 429')
}
