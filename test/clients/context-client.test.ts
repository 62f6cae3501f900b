// The official TypeScript client against the real server (buildApp + listen on a free port): the
// usage the issue promises, typed errors, rate-limit retries, the bounded outbox, tokens (provider
// on every connect and before expiry, a fresh one after 4001, a fixed one refused), and no timer
// left behind after close().
import { createServer, type AddressInfo } from 'node:net'
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { ContextError, type ChangeEvent, type Entry } from '../../clients/typescript/src/index.js'
import { testConfig } from '../helpers/config.js'
import { nextEvent, sortedEntries, testClient, until } from '../helpers/context-client.js'
import { signExpiredToken, signTestToken } from '../helpers/tokens.js'
import { startServer } from '../helpers/ws-client.js'

async function restRead (app: Awaited<ReturnType<typeof startServer>>['app'], query = '') {
  const response = await app.inject({ method: 'GET', url: `/context${query}`, headers: { authorization: `Bearer ${signTestToken({ roles: ['admin'] })}` } })
  return response.json() as { data: Record<string, Entry>, seq: number }
}

/** The ContextError a promise rejects with, within a deadline of its own. */
async function rejection (promise: Promise<unknown>, timeoutMs = 15_000): Promise<ContextError> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`the promise neither rejected nor resolved within ${timeoutMs} ms`)), timeoutMs)
  })
  try {
    await Promise.race([promise, deadline])
  } catch (error) {
    if (error instanceof ContextError) return error
    throw error
  } finally {
    clearTimeout(timer)
  }
  throw new Error('expected the promise to reject')
}

test('the usage of the issue works as written, with a filtered live mirror', async (t) => {
  const { app, url } = await startServer(t)
  const writer = testClient(t, { url, token: signTestToken({ sub: 'writer-agent', roles: ['admin'] }), mode: 'none' })
  await writer.ready
  await writer.update({ context: { early: true }, source: 'content_agent_001', priority: 5, key: 'before-connect' })

  let calls = 0
  const getToken = () => { calls++; return signTestToken({ roles: ['admin'] }) }
  const client = testClient(t, {
    url,
    token: async () => getToken(),
    mode: 'delta',
    filter: { source: 'content_agent', min_priority: 3 }
  })
  const changes: ChangeEvent[] = []
  client.on('change', (change) => changes.push(change))
  await client.ready
  t.equal(client.state, 'connected')
  t.equal(calls, 1, 'the provider was asked once for the first connect')
  t.same(sortedEntries(client.entries), sortedEntries((await restRead(app, '?source=content_agent&min_priority=3')).data), 'the first snapshot is applied')

  const ack = await client.update({ context: { task: 'lesson' }, source: 'content_agent_002', priority: 4, key: 'mine', expected_version: 0, ttl_seconds: 3600 })
  t.match(ack, { status: 'success', key: 'mine', version: 1, evicted: [] })
  t.type(ack.seq, 'number')
  t.type(ack.tokens, 'number')
  await writer.update({ context: { low: true }, source: 'content_agent_003', priority: 1, key: 'too-low' })
  await writer.update({ context: { other: true }, source: 'planner', priority: 9, key: 'other-source' })
  await writer.update({ context: { drop: true }, source: 'content_agent_001', priority: 6, key: 'dropping' })
  await writer.update({ context: { drop: true }, source: 'content_agent_001', priority: 2, key: 'dropping' })
  const last = await writer.update({ context: { x: 1 }, source: 'content_agent_004', priority: 3, key: 'last' })
  await until(() => client.seq >= last.seq, `the mirror to reach seq ${last.seq}`)
  const rest = await restRead(app, '?source=content_agent&min_priority=3')
  t.same(sortedEntries(client.entries), sortedEntries(rest.data), 'the mirror equals the server\'s filtered view')
  t.same([...client.entries.keys()].sort(), ['before-connect', 'last', 'mine'])
  t.ok(changes.some((change) => change.removed.includes('dropping')), 'an entry rewritten out of the filter is reported removed')
  t.equal(client.metadata.entry_count, 6, 'metadata is the tenant\'s')

  const snapshot = await client.get()
  t.equal(snapshot.entries.size, 6, 'get() reads the whole store, not the filtered mirror')
  t.equal(snapshot.seq, last.seq)
  const query = await client.query({ max_tokens: 8000 })
  t.equal(query.metadata.returned, 6)
  t.equal([...query.entries.keys()][0], 'other-source', 'the query is in rank order (priority 9 first)')
  const priority = await client.setPriority('mine', 9)
  t.match(priority, { key: 'mine', priority: 9, version: 2 })
  const status = await client.status()
  t.equal(status.context_entries, 6)
  const cleared = await client.clear({ source: 'content_agent_00' })
  t.same([...cleared.removed].sort(), ['before-connect', 'dropping', 'last', 'mine', 'too-low'])
  await until(() => client.entries.size === 0, 'the clear to reach the mirror')
  t.same((await client.ping()).timestamp.length > 0, true)

  await client.close()
  t.equal(client.state, 'closed')
  t.equal((await rejection(client.get())).code, 'closed', 'a closed client refuses requests')
})

test('snapshot mode keeps a mirror too', async (t) => {
  const { app, url } = await startServer(t)
  const writer = testClient(t, { url, token: signTestToken(), mode: 'none' })
  const client = testClient(t, { url, token: signTestToken({ sub: 'viewer', roles: ['reader'] }), mode: 'snapshot' })
  await Promise.all([writer.ready, client.ready])
  const reasons = new Set<string | undefined>()
  client.on('change', (change) => reasons.add(change.reason))
  let last = 0
  for (let i = 0; i < 12; i++) last = (await writer.update({ key: `s${i % 5}`, context: { i }, priority: 1 + (i % 10) })).seq
  await until(() => client.seq === last, `the snapshot mirror to reach seq ${last}`)
  t.same(sortedEntries(client.entries), sortedEntries((await restRead(app)).data))
  t.ok(reasons.has('snapshot'), 'changes came as whole snapshots')
})

test('errors carry the contract\'s code', async (t) => {
  const { url } = await startServer(t)
  const writer = testClient(t, { url, token: signTestToken(), mode: 'none' })
  const reader = testClient(t, { url, token: signTestToken({ sub: 'rita', roles: ['reader'] }), mode: 'none' })
  await writer.update({ context: { a: 1 }, key: 'k' })
  const conflict = await rejection(writer.update({ context: { a: 2 }, key: 'k', expected_version: 5 }))
  t.ok(conflict instanceof ContextError)
  t.equal(conflict.code, 'version_conflict')
  t.equal((await rejection(reader.update({ context: { a: 3 } }))).code, 'forbidden')
  t.equal((await rejection(writer.setPriority('absent', 3))).code, 'not_found')
  const invalid = await rejection(writer.update({ context: { a: 4 }, priority: 11 }))
  t.equal(invalid.code, 'validation_error')
  t.ok(Array.isArray(invalid.details), 'validation details are passed on')
  t.equal(writer.state, 'connected', 'error replies keep the connection')
})

test('query() and get() keep the server\'s rank order, integer-like keys included', async (t) => {
  const { url } = await startServer(t)
  const client = testClient(t, { url, token: signTestToken(), mode: 'none' })
  await client.update({ context: { n: 1 }, key: '7', priority: 5 })
  await client.update({ context: { n: 2 }, key: 'a', priority: 7 })
  await client.update({ context: { n: 3 }, key: '12', priority: 9 })
  await client.update({ context: { n: 4 }, key: '__proto__', priority: 6 })
  t.same([...(await client.query()).entries.keys()], ['12', 'a', '__proto__', '7'])
  t.same([...(await client.get()).entries.keys()], ['12', 'a', '__proto__', '7'])
})

test('the backoff starts again only after a connection was stable', async (t) => {
  const attemptsAfterDrop = async (stableAfterMs: number): Promise<number[]> => {
    const first = await buildApp(testConfig())
    await first.listen({ port: 0, host: '127.0.0.1' })
    const { port } = first.server.address() as AddressInfo
    const client = testClient(t, { url: `ws://127.0.0.1:${port}/ws`, token: signTestToken(), reconnect: { initialDelayMs: 20, maxDelayMs: 100, stableAfterMs } })
    const attempts: number[] = []
    client.on('reconnecting', (event) => attempts.push(event.attempt))
    await client.ready
    // Down for a while: several failed attempts in a row.
    await first.close()
    await until(() => attempts.length >= 3, 'three failed attempts')
    const second = await buildApp(testConfig())
    t.teardown(() => second.close())
    await second.listen({ port, host: '127.0.0.1' })
    await until(() => client.state === 'connected', 'the reconnect')
    await new Promise((resolve) => setTimeout(resolve, 300))
    const before = attempts.length
    await second.close()
    await until(() => attempts.length > before, 'the next attempt')
    await client.close()
    return attempts.slice(before)
  }
  const stable = await attemptsAfterDrop(100)
  t.equal(stable[0], 1, 'after a stable connection the count starts again at 1')
  const unstable = await attemptsAfterDrop(60_000)
  t.ok(unstable[0] > 3, `a connection that was not stable long enough keeps the count (${unstable[0]})`)
})

test('rate_limited replies are retried after retry_after_ms, without being closed 4029', async (t) => {
  const { app, url } = await startServer(t, { MCP_WS_RATE_LIMIT: '20', MCP_WS_RATE_BURST: '10' })
  const client = testClient(t, { url, token: signTestToken(), mode: 'none', maxInFlight: 5 })
  await client.ready
  let disconnects = 0
  client.on('disconnected', () => disconnects++)
  const acks = await Promise.all(Array.from({ length: 60 }, (_, i) => client.update({ context: { i }, key: `k${i}` })))
  t.same(acks.map((ack) => ack.version), Array(60).fill(1), 'every write was applied, once')
  t.equal(disconnects, 0, 'never closed')
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  const limited = /mcp_errors_total\{[^}]*code="rate_limited"[^}]*\} (\d+)/.exec(metrics.body)
  const refusals = limited === null ? 0 : Number(limited[1])
  t.ok(refusals > 0, 'the server did answer rate_limited (so the retries were exercised)')
  // Told once, the client paces itself: refusals stay within what was in flight then (and a
  // burst), not one or more per write, as a client that ignores rate_limited would collect.
  t.ok(refusals <= 10, `the client slowed down when told (${refusals} refusals for 60 writes)`)
})

test('the outbox is bounded and close() rejects what waits in it', async (t) => {
  // A port with nothing listening: the client keeps trying, writes wait.
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  const client = testClient(t, { url: `ws://127.0.0.1:${port}/ws`, token: signTestToken(), mode: 'none', maxQueued: 3, maxMessageBytes: 1000 })
  await nextEvent(client, 'reconnecting')
  const waiting = [1, 2, 3].map((i) => client.update({ context: { i } }).catch((error: unknown) => error))
  t.equal(client.queued, 3)
  const full = await rejection(client.update({ context: { i: 4 } }))
  t.equal(full.code, 'outbox_full')
  t.equal((await rejection(client.update({ context: { big: 'x'.repeat(2000) } }))).code, 'message_too_large')
  await client.close()
  const results = await Promise.all(waiting)
  t.same(results.map((error) => (error as ContextError).code), ['closed', 'closed', 'closed'])
  t.equal((await rejection(client.ready)).code, 'closed', 'ready rejects when closed before connecting')
})

test('a token provider is called on every connect and again before the token expires', async (t) => {
  const first = await buildApp(testConfig())
  await first.listen({ port: 0, host: '127.0.0.1' })
  const { port } = first.server.address() as AddressInfo
  let calls = 0
  const client = testClient(t, {
    url: `ws://127.0.0.1:${port}/ws`,
    mode: 'delta',
    // Short-lived tokens: refreshed in-band at half their remaining life.
    token: async () => { calls++; return signTestToken({}, { ttlSeconds: 6 }) }
  })
  let disconnects = 0
  client.on('disconnected', () => disconnects++)
  await client.ready
  t.equal(calls, 1)
  const refreshed = await nextEvent(client, 'token_refreshed')
  t.equal(calls, 2, 'asked again before expiry')
  t.ok(Date.parse(refreshed.expires_at) > Date.now(), 'the new expiry is in the future')
  t.equal(disconnects, 0, 'the refresh happened in-band, on the same connection')

  // The server restarts (close 1001): the reconnect asks the provider again.
  const reconnected = nextEvent(client, 'connected')
  await first.close()
  const second = await buildApp(testConfig())
  t.teardown(() => second.close())
  await second.listen({ port, host: '127.0.0.1' })
  const connected = await reconnected
  t.ok(calls >= 3, `asked again on reconnect (${calls} calls)`)
  t.equal(connected.user_id, 'alice')
  t.equal(disconnects, 1)
})

test('after a 4001 the provider is asked for a fresh token', async (t) => {
  const { url } = await startServer(t)
  let calls = 0
  const client = testClient(t, { url, mode: 'delta', token: () => (++calls === 1 ? signExpiredToken() : signTestToken()) })
  const errors: string[] = []
  client.on('error', (error) => errors.push(error.code))
  await client.ready
  t.equal(calls, 2, 'the refused token was replaced by a fresh one')
  t.same(errors, ['unauthorized'], 'the refusal was reported')
})

test('a fixed token the server refuses closes the client for good', async (t) => {
  const { url } = await startServer(t)
  const client = testClient(t, { url, token: signExpiredToken() })
  let reconnecting = 0
  client.on('reconnecting', () => reconnecting++)
  const error = await rejection(client.ready)
  t.equal(error.code, 'unauthorized')
  t.equal(client.state, 'closed')
  t.equal(reconnecting, 0, 'no reconnect with a token that cannot change')
})

test('a filter the server refuses closes the client with the server\'s error', async (t) => {
  const { url } = await startServer(t)
  const client = testClient(t, { url, token: signTestToken(), filter: { min_priority: 11 } })
  let reconnecting = 0
  client.on('reconnecting', () => reconnecting++)
  const error = await rejection(client.ready)
  t.equal(error.code, 'validation_error')
  t.equal(client.state, 'closed')
  t.equal(reconnecting, 0, 'no reconnect: the same subscription would be refused again')
})

test('close() leaves no timer of the client behind', async (t) => {
  const { url } = await startServer(t)
  const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
  const before = timers()
  const client = testClient(t, { url, token: async () => signTestToken({}, { ttlSeconds: 600 }), pingIntervalMs: 1000 })
  await client.ready
  const pending = client.update({ context: { a: 1 } })
  t.ok(timers() > before, 'the client runs timers while connected (heartbeat, refresh, request deadline)')
  await pending
  await client.close()
  t.equal(timers(), before, 'none left after close()')
})
