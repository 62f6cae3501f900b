// Connecting: each credential path, each refusal with its exact close code and reason, the order
// of the first frames, browser origins, and tokens kept out of logs.
import { Writable } from 'node:stream'
import { test } from 'tap'
import { WebSocket } from 'ws'
import { buildApp } from '../../src/app.js'
import { loggerOptions } from '../../src/logger.js'
import { testConfig } from '../helpers/config.js'
import { signExpiredToken, signRawPayload, signTestToken } from '../helpers/tokens.js'
import { openClient, startServer, wsUrl } from '../helpers/ws-client.js'

const INVALID = { code: 4001, reason: 'Invalid authentication token' }
const REQUIRED = { code: 4001, reason: 'Authentication token required' }

test('a bearer header authenticates: the store first, then auth_success with the contract fields', async (t) => {
  const { url } = await startServer(t)
  const token = signTestToken({ sub: 'alice', roles: ['admin'], tenant: 'acme' })
  const client = await openClient(url, { headers: { authorization: `Bearer ${token}` } })
  const success = await client.nextOfType('auth_success')
  t.same(client.frames.map((f) => f.type), ['context', 'auth_success'], 'context comes before auth_success')
  t.same(client.frames[0].data, {})
  t.same(client.frames[0].metadata, { total_tokens: 0, max_tokens: 128000, entry_count: 0 })
  t.equal(client.frames[0].seq, 0)
  t.type(success.client_id, 'string')
  t.equal(success.user_id, 'alice')
  t.same(success.roles, ['admin'])
  t.equal(success.tenant, 'acme')
  t.match(success.authenticated_at, /^\d{4}-\d{2}-\d{2}T/)
  t.ok(Date.parse(success.expires_at) > Date.now())
  t.equal(success.server_info.max_tokens, 128000)
  t.type(success.server_info.version, 'string')
  t.ok(Array.isArray(success.server_info.features))
  client.close()
})

test('the token query parameter authenticates, at /ws and at / (the original design\'s URL)', async (t) => {
  const { url } = await startServer(t)
  for (const path of ['/ws', '/']) {
    const client = await openClient(url, { path, query: { token: signTestToken({ role: 'reader' }) } })
    const success = await client.nextOfType('auth_success')
    t.same(success.roles, ['reader'], `${path}: a role string claim becomes the roles`)
    t.equal(success.tenant, 'default', `${path}: no tenant claim means the default tenant`)
    client.close()
  }
})

test('a first authenticate message authenticates; its id is echoed on auth_success', async (t) => {
  const { url } = await startServer(t)
  const client = await openClient(url)
  client.send({ type: 'authenticate', id: 'hello-1', token: signTestToken({ user_id: 'bob', sub: undefined }) })
  const success = await client.nextOfType('auth_success')
  t.equal(success.id, 'hello-1')
  t.equal(success.user_id, 'bob', 'user_id is accepted in place of sub')
  t.equal(client.frames[0].type, 'context')
  const pong = await client.request({ type: 'ping' })
  t.equal(pong.type, 'pong')
  client.close()
})

test('the first credential found wins: the header before the query parameter', async (t) => {
  const { url } = await startServer(t)
  const good = signTestToken()
  const bad = signTestToken({}, { secret: 'another-secret-another-secret-another-secret' })

  const headerWins = await openClient(url, { headers: { authorization: `Bearer ${good}` }, query: { token: bad } })
  await headerWins.nextOfType('auth_success')
  headerWins.close()

  const badHeader = await openClient(url, { headers: { authorization: `Bearer ${bad}` }, query: { token: good } })
  t.same(await badHeader.waitClosed(), INVALID)
})

test('refusals close 4001 "Invalid authentication token" and never echo the token', async (t) => {
  const { url } = await startServer(t)
  const cases: Record<string, string> = {
    'alg none': signTestToken({}, { algorithm: 'none' }),
    'another algorithm (HS512 to an HS256 server)': signTestToken({}, { algorithm: 'HS512' }),
    expired: signExpiredToken(),
    'no exp': signTestToken({}, { ttlSeconds: null }),
    'bad signature': signTestToken({}, { secret: 'not-the-server-secret-not-the-server-secret' }),
    'payload is a string': signRawPayload('"alice"'),
    'payload is an array': signRawPayload('[1,2,3]'),
    'payload without a subject': signRawPayload(`{"exp":${Math.floor(Date.now() / 1000) + 60}}`),
    'not a JWT at all': 'definitely-not-a-jwt'
  }
  for (const [name, token] of Object.entries(cases)) {
    const viaQuery = await openClient(url, { query: { token } })
    const closed = await viaQuery.waitClosed()
    t.same(closed, INVALID, `${name}, in the query`)
    t.notOk(closed.reason.includes(token), `${name}: the reason does not echo the token`)
    t.equal(viaQuery.frames.length, 0, `${name}: nothing was sent before the close`)

    const viaMessage = await openClient(url)
    viaMessage.send({ type: 'authenticate', token })
    t.same(await viaMessage.waitClosed(), INVALID, `${name}, in an authenticate message`)
  }
})

test('a token whose exp lies past the Date range is refused on every surface, never half-authenticated', async (t) => {
  const { app, url } = await startServer(t)
  const huge = signTestToken({ sub: 'alice', exp: 1e13 }, { ttlSeconds: null })
  const viaHeader = await openClient(url, { headers: { authorization: `Bearer ${huge}` } })
  t.same(await viaHeader.waitClosed(), INVALID, 'Authorization header')
  t.same(viaHeader.frames, [], 'nothing sent before the close')
  const viaQuery = await openClient(url, { query: { token: huge } })
  t.same(await viaQuery.waitClosed(), INVALID, 'token query parameter')
  const viaMessage = await openClient(url)
  viaMessage.send({ type: 'authenticate', id: 1, token: huge })
  t.same(await viaMessage.waitClosed(), INVALID, 'authenticate message')
  t.same(viaMessage.frames, [], 'no context, no internal error')
  t.equal(app.sessions.size, 0, 'no session was registered')

  const live = await openClient(url, { query: { token: signTestToken({ sub: 'alice' }), mode: 'none' } })
  await live.nextOfType('auth_success')
  t.match(await live.request({ type: 'refresh_token', token: huge }), { type: 'error', code: 'forbidden' }, 'refresh_token')
  t.same(await live.waitClosed(), INVALID)

  const rest = await app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${huge}` } })
  t.equal(rest.statusCode, 401, 'REST')
  const mcp = await app.inject({
    method: 'POST',
    url: '/mcp',
    headers: { authorization: `Bearer ${huge}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    payload: { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }
  })
  t.equal(mcp.statusCode, 401, 'MCP')
  t.throws(() => app.verifyToken(huge), 'the shared verifier refuses it')
  const latest = signTestToken({ sub: 'alice', exp: 8.64e12 }, { ttlSeconds: null })
  t.equal(app.verifyToken(latest).expiresAt, 8.64e15, 'the last representable exp is still accepted')
})

test('a token whose user or jti holds a lone surrogate is refused on every surface', async (t) => {
  const { app, url } = await startServer(t)
  // Stored, '\ud800' and '\udfff' would both become U+FFFD: two users meeting as one.
  for (const claims of [{ sub: 'alice\ud800' }, { sub: undefined, user_id: '\udfffbob' }, { sub: 'alice', jti: 'id-\ud83d' }]) {
    const token = signTestToken(claims)
    const name = JSON.stringify(claims)
    const viaQuery = await openClient(url, { query: { token } })
    t.same(await viaQuery.waitClosed(), INVALID, `${name}: WebSocket`)
    t.same(viaQuery.frames, [], `${name}: nothing sent before the close`)
    const rest = await app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })
    t.equal(rest.statusCode, 401, `${name}: REST`)
    t.throws(() => app.verifyToken(token), `${name}: the shared verifier refuses it`)
  }
  t.equal(app.sessions.size, 0, 'no session was registered')
  t.equal(app.verifyToken(signTestToken({ sub: 'alice\ud83d\ude00' })).userId, 'alice\ud83d\ude00', 'a surrogate pair (emoji) is a fine name')
})

test('issuer and audience are checked when configured', async (t) => {
  const { url } = await startServer(t, { MCP_JWT_ISSUER: 'https://issuer.example', MCP_JWT_AUDIENCE: 'context-server' })
  const missing = await openClient(url, { query: { token: signTestToken() } })
  t.same(await missing.waitClosed(), INVALID, 'no iss/aud')
  const wrong = await openClient(url, { query: { token: signTestToken({ iss: 'https://evil.example', aud: 'context-server' }) } })
  t.same(await wrong.waitClosed(), INVALID, 'wrong issuer')
  const right = await openClient(url, { query: { token: signTestToken({ iss: 'https://issuer.example', aud: 'context-server' }) } })
  await right.nextOfType('auth_success')
  right.close()
})

test('no credential within MCP_AUTH_TIMEOUT closes 4001 "Authentication token required"', async (t) => {
  const { url } = await startServer(t, { MCP_AUTH_TIMEOUT: '1' })
  const client = await openClient(url)
  t.same(await client.waitClosed(), REQUIRED)
})

test('any other first message closes 4001 "Authentication token required"', async (t) => {
  const { app, url } = await startServer(t)
  for (const first of [{ type: 'ping' }, { type: 'update_context', context: { a: 1 } }, 'not json', { type: 'authenticate' }]) {
    const client = await openClient(url)
    client.send(first)
    t.same(await client.waitClosed(), REQUIRED, JSON.stringify(first))
  }
  t.equal(app.store.seq('default'), 0, 'nothing was written')
})

test('MCP_ALLOWED_ORIGINS refuses other browser origins with 403 before the upgrade', async (t) => {
  const { url } = await startServer(t, { MCP_ALLOWED_ORIGINS: 'https://dashboard.example, https://ops.example' })
  const token = signTestToken()
  await t.rejects(openClient(url, { query: { token }, headers: { origin: 'https://evil.example' } }), /HTTP 403/)
  const allowed = await openClient(url, { query: { token }, headers: { origin: 'https://ops.example' } })
  await allowed.nextOfType('auth_success')
  allowed.close()
  const noOrigin = await openClient(url, { query: { token } })
  await noOrigin.nextOfType('auth_success', 0)
  noOrigin.close()
})

test('a plain HTTP GET of the WebSocket endpoint answers 426 Upgrade Required', async (t) => {
  const { app } = await startServer(t)
  const res = await app.inject({ method: 'GET', url: '/ws' })
  t.equal(res.statusCode, 426)
})

test('tokens never appear in the logs, accepted or refused', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const config = testConfig({ LOG_LEVEL: 'trace' })
  const app = await buildApp(config, { logger: { ...(loggerOptions(config) as object), stream } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const good = signTestToken()
  const bad = signTestToken({}, { algorithm: 'HS512' })
  const accepted = await openClient(wsUrl(app), { query: { token: good } })
  await accepted.nextOfType('auth_success')
  accepted.send({ type: 'refresh_token', token: bad })
  await accepted.waitClosed()
  const refused = await openClient(wsUrl(app), { headers: { authorization: `Bearer ${bad}` } })
  await refused.waitClosed()
  const log = lines.join('')
  t.ok(log.length > 0, 'something was logged')
  t.notOk(log.includes(good), 'the accepted token is not logged')
  t.notOk(log.includes(bad), 'the refused token is not logged')
})

test('connect options are validated: a bad mode is refused with validation_error, then 1008', async (t) => {
  const { url } = await startServer(t)
  const client = await openClient(url, { query: { token: signTestToken(), mode: 'everything' } })
  const error = await client.nextOfType('error')
  t.equal(error.code, 'validation_error')
  t.equal(error.details[0].path, 'mode')
  t.equal((await client.waitClosed()).code, 1008)
  t.equal(client.socket.readyState, WebSocket.CLOSED)
})
