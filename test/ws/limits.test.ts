// Connection upkeep and limits: per-connection rate limit, heartbeat, idle timeout, token expiry
// and refresh, connection caps, and shutdown closing clients with 1001 after in-flight messages.
import { test } from 'tap'
import { WebSocket } from 'ws'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, openClient, startServer } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

test('over the message rate: rate_limited with retry_after_ms; a client that keeps on is closed 4029', async (t) => {
  const { url } = await startServer(t, { MCP_WS_RATE_LIMIT: '5', MCP_WS_RATE_BURST: '5' })
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 40; i++) client.send({ type: 'ping', id: i })
  const limited = await client.next((f) => f.type === 'error' && f.code === 'rate_limited')
  t.type(limited.id, 'number', 'the refused message\'s id is echoed')
  t.ok(limited.retry_after_ms > 0 && limited.retry_after_ms <= 1000 / 5, `retry_after_ms = ${limited.retry_after_ms}`)
  t.same(await client.waitClosed(), { code: 4029, reason: 'Rate limit exceeded' })
  const pongs = client.frames.filter((f) => f.type === 'pong').length
  t.ok(pongs >= 5 && pongs < 40, `the burst was served (${pongs} pongs), not the rest`)
})

test('a client that backs off for retry_after_ms is served again', async (t) => {
  const { url } = await startServer(t, { MCP_WS_RATE_LIMIT: '5', MCP_WS_RATE_BURST: '3' })
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 5; i++) client.send({ type: 'ping', id: i })
  const limited = await client.next((f) => f.code === 'rate_limited')
  await client.next((f) => f.id === 4)
  await sleep(limited.retry_after_ms + 50)
  t.equal((await client.request({ type: 'ping' })).type, 'pong')
  t.equal(client.socket.readyState, WebSocket.OPEN)
  client.close()
})

test('a persistent flooder is closed 4029 although each refill lets one of its messages through', async (t) => {
  // 500 messages a second against 20 per second (burst 40): a token refills every 50 ms, so about
  // 25 messages are refused between two that pass.
  const { url } = await startServer(t, { MCP_WS_RATE_LIMIT: '20' })
  const flooder = await connectAuthenticated(url, as('mallory'), { mode: 'none' })
  let sent = 0
  const flood = setInterval(() => {
    if (flooder.socket.readyState !== WebSocket.OPEN) return
    for (let i = 0; i < 5; i++) flooder.send({ type: 'ping', id: sent++ })
  }, 10)
  t.teardown(() => clearInterval(flood))
  // The flood stops after 5 s, so a server that never closes it fails here, not by the tap timeout.
  const stop = setTimeout(() => clearInterval(flood), 5000)
  t.teardown(() => clearTimeout(stop))
  t.same(await flooder.waitClosed(), { code: 4029, reason: 'Rate limit exceeded' })
  clearInterval(flood)
  const pongs = flooder.frames.filter((f) => f.type === 'pong').length
  t.ok(pongs > 40, `messages passed after the burst too (${pongs} pongs of ${sent} sent) and it was still closed`)
})

test('a client that slows down after rate_limited is not closed', async (t) => {
  const { url } = await startServer(t, { MCP_WS_RATE_LIMIT: '20' })
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 60; i++) client.send({ type: 'ping', id: i })
  await client.next((f) => f.code === 'rate_limited')
  await client.next((f) => f.id === 59)
  t.equal(client.frames.filter((f) => f.code === 'rate_limited').length, 20, 'the burst of 40 served, the rest refused')
  // Then half the rate for three seconds: every message is served and the connection stays.
  for (let i = 0; i < 30; i++) {
    await sleep(100)
    t.equal((await client.request({ type: 'ping' })).type, 'pong')
  }
  t.equal(client.socket.readyState, WebSocket.OPEN)
  client.close()
})

test('MCP_WS_BYTE_RATE: writes beyond the content byte rate get rate_limited; a writer that keeps on is closed 4029', async (t) => {
  // 100 KB/s, burst 200 KB; each write is about 60 KB. Counted inline: this is about the byte
  // rate, and a worker thread starting on a loaded machine can take seconds (test/tokenizer has the pool).
  const { app, url } = await startServer(t, { MCP_WS_BYTE_RATE: '100000', MCP_TOKENIZER_THREADS: '0' })
  const text = 'lorem ipsum dolor sit amet '.repeat(2200)
  const patient = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  for (let i = 0; i < 4; i++) patient.send({ type: 'update_context', id: i, key: `p${i}`, context: { text } })
  // By id: replies may arrive out of order (a refusal is immediate, a large write's ack comes
  // once a worker thread has counted it).
  const replies = (await patient.collect((f) => f.id !== undefined, 4)).sort((a, b) => a.id - b.id)
  t.same(replies.map((f) => f.type), ['update_ack', 'update_ack', 'update_ack', 'error'], 'the burst of 200 KB passes, the fourth write does not')
  t.equal(replies[3].code, 'rate_limited')
  t.ok(replies[3].retry_after_ms > 0 && replies[3].retry_after_ms <= 600, `retry_after_ms = ${replies[3].retry_after_ms}`)
  t.equal(app.store.get('default', 'p3'), undefined, 'the refused write changed nothing')
  t.equal((await patient.request({ type: 'ping' })).type, 'pong', 'other messages are not held to the byte rate')
  await sleep(replies[3].retry_after_ms + 50)
  t.equal((await patient.request({ type: 'update_context', key: 'p3', context: { text } })).type, 'update_ack', 'served again after retry_after_ms')

  const flooder = await connectAuthenticated(url, as('mallory'), { mode: 'none' })
  const flood = setInterval(() => {
    if (flooder.socket.readyState === WebSocket.OPEN) flooder.send({ type: 'update_context', key: 'm', context: { text } })
  }, 20) // 3 MB/s, 30 times the rate, at 50 messages a second (under the message rate)
  t.teardown(() => clearInterval(flood))
  const stop = setTimeout(() => clearInterval(flood), 5000)
  t.teardown(() => clearTimeout(stop))
  t.same(await flooder.waitClosed(), { code: 4029, reason: 'Rate limit exceeded' })
  t.ok(flooder.frames.some((f) => f.code === 'rate_limited'), 'told rate_limited first')
  t.equal(patient.socket.readyState, WebSocket.OPEN, 'the other writer is untouched')
  clearInterval(flood)
  patient.close()
})

test('a peer that stops answering pings is terminated; one that answers stays', async (t) => {
  const { app, url } = await startServer(t, { MCP_HEARTBEAT_INTERVAL: '1' })
  const alive = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const dead = await openClient(url, { query: { token: as('bob'), mode: 'none' }, wsOptions: { autoPong: false } })
  await dead.nextOfType('auth_success')
  const closed = await dead.waitClosed()
  t.equal(closed.code, 1006, 'terminated without a close frame')
  t.equal(alive.socket.readyState, WebSocket.OPEN)
  t.equal((await alive.request({ type: 'ping' })).type, 'pong')
  t.equal(app.sessions.size, 1, 'the dead session is gone from the registry')
  alive.close()
})

test('a client idle longer than MCP_CONNECTION_TIMEOUT is closed 4002 "Connection timeout"', async (t) => {
  const { url } = await startServer(t, { MCP_CONNECTION_TIMEOUT: '1' })
  const idle = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const busy = await connectAuthenticated(url, as('bob'), { mode: 'none' })
  const keepBusy = setInterval(() => busy.send({ type: 'ping' }), 250)
  t.teardown(() => clearInterval(keepBusy))
  t.same(await idle.waitClosed(), { code: 4002, reason: 'Connection timeout' })
  await sleep(1200)
  t.equal(busy.socket.readyState, WebSocket.OPEN, 'a client that keeps sending is not idle')
  clearInterval(keepBusy)
  busy.close()
})

test('a token that expires mid-session closes 4001 "Token expired"', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, signTestToken({ sub: 'alice' }, { ttlSeconds: 2 }))
  t.same(await client.waitClosed(), { code: 4001, reason: 'Token expired' })
})

test('token expiry is checked at each message: nothing is served after exp', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, signTestToken({ sub: 'alice' }, { ttlSeconds: 2 }), { mode: 'none' })
  const expiresAt = Date.parse((client.frames.find((f) => f.type === 'auth_success') as { expires_at: string }).expires_at)
  // Just past exp: the once-a-second sweep has most likely not run yet.
  await sleep(Math.max(0, expiresAt - Date.now()) + 10)
  client.send({ type: 'ping', id: 'late' })
  t.same(await client.waitClosed(), { code: 4001, reason: 'Token expired' })
  t.notOk(client.frames.some((f) => f.type === 'pong'), 'the message after exp was not served')
})

test('refresh_token extends the session for the same sub, tenant and roles', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, signTestToken({ sub: 'alice', roles: ['writer'] }, { ttlSeconds: 2 }))
  const refreshed = await client.request({ type: 'refresh_token', token: signTestToken({ sub: 'alice', roles: ['writer'] }, { ttlSeconds: 3600 }) })
  t.equal(refreshed.type, 'token_refreshed')
  t.equal(refreshed.success, true)
  t.match(refreshed.timestamp, /^\d{4}-/)
  t.ok(Date.parse(refreshed.expires_at) > Date.now() + 3000_000)
  await sleep(3000) // past the first token's expiry
  t.equal((await client.request({ type: 'ping' })).type, 'pong', 'still open after the old token expired')
  client.close()
})

test('refresh_token with an invalid or different token: an error, then close 4001', async (t) => {
  const { url } = await startServer(t)
  const cases: Record<string, string> = {
    'another user': signTestToken({ sub: 'mallory', roles: ['writer'] }),
    'other roles': signTestToken({ sub: 'alice', roles: ['admin'] }),
    'another tenant': signTestToken({ sub: 'alice', roles: ['writer'], tenant: 'acme' }),
    'bad signature': signTestToken({ sub: 'alice' }, { secret: 'wrong-secret-wrong-secret-wrong-secret!!' }),
    expired: signTestToken({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 10 }, { ttlSeconds: null })
  }
  for (const [name, token] of Object.entries(cases)) {
    const client = await connectAuthenticated(url, signTestToken({ sub: 'alice', roles: ['writer'] }), { mode: 'none' })
    const error = await client.request({ type: 'refresh_token', token })
    t.match(error, { type: 'error', code: 'forbidden' }, name)
    t.notOk(error.message.includes(token), `${name}: the token is not echoed`)
    t.same(await client.waitClosed(), { code: 4001, reason: 'Invalid authentication token' }, name)
  }
  const client = await connectAuthenticated(url, signTestToken({ sub: 'alice' }), { mode: 'none' })
  t.match(await client.request({ type: 'refresh_token' }), { type: 'error', code: 'validation_error' }, 'a missing token is only a validation error')
  t.equal(client.socket.readyState, WebSocket.OPEN)
  client.close()
})

test('MCP_MAX_CONNECTIONS refuses further upgrades with 503; MCP_MAX_CONNECTIONS_PER_USER closes 1013', async (t) => {
  const { url } = await startServer(t, { MCP_MAX_CONNECTIONS: '3', MCP_MAX_CONNECTIONS_PER_USER: '2' })
  const a1 = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const a2 = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const a3 = await openClient(url, { query: { token: as('alice'), mode: 'none' } })
  t.same(await a3.waitClosed(), { code: 1013, reason: 'Too many connections for this user' })
  t.equal(a3.frames.length, 0, 'refused before auth_success')
  const b1 = await connectAuthenticated(url, as('bob'), { mode: 'none' })
  await t.rejects(openClient(url, { query: { token: as('carol') } }), /HTTP 503/, 'the fourth connection is refused')
  a1.close()
  await a1.waitClosed()
  const c1 = await connectAuthenticated(url, as('carol'), { mode: 'none' })
  t.equal((await c1.request({ type: 'ping' })).type, 'pong', 'room again once one left')
  for (const c of [a2, b1, c1]) c.close()
})

test('shutdown: in-flight writes are acknowledged, then every client is closed 1001', async (t) => {
  // A persisted store makes each write wait for its commit, so writes are really in flight.
  const { app, url } = await startServer(t, { MCP_DATA_DIR: t.testdir(), MCP_WS_RATE_LIMIT: '100000' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const watcher = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta' })
  const pending = await openClient(url) // not yet authenticated
  for (let i = 0; i < 200; i++) writer.send({ type: 'update_context', id: i, key: `k${i}`, context: { i } })
  await writer.next((f) => f.type === 'update_ack')
  const closing = app.close()
  const closes = await Promise.all([writer, watcher, pending].map(async (c) => await c.waitClosed()))
  await closing
  for (const closed of closes) t.same(closed, { code: 1001, reason: 'Server shutting down' })
  const acked = writer.frames.filter((f) => f.type === 'update_ack').map((f) => f.key as string)
  const refused = writer.frames.filter((f) => f.type === 'error')
  t.comment(`${acked.length} acknowledged, ${refused.length} refused during shutdown`)
  t.ok(acked.length > 0)
  t.ok(refused.every((f) => f.code === 'internal' && /shutting down/.test(f.message as string) && (f.details as { reason?: string })?.reason === 'unavailable'),
    'writes after shutdown began are refused (retryable: details.reason unavailable), not lost silently')
  t.equal(app.store.seq('default'), acked.length, 'every applied write was acknowledged before the close')
  for (const key of acked) t.ok(app.store.get('default', key), `${key} is stored`)
})
