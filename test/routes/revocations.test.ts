// Revocation through the real surfaces (contract §8): POST/GET/DELETE /revocations, the REST and
// WebSocket refusals of a revoked token (cached verifications included), the close of its open
// connections with 4001 "Token revoked", the end of its MCP sessions and streams, and persistence
// in the embedded journal across a restart.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, openClient, startServer } from '../helpers/ws-client.js'
import { LEGACY, MODERN, connect, startServer as startMcpServer } from '../mcp/mcp-harness.js'
import { restApp } from './rest-client.js'

const ADMIN = signTestToken({ sub: 'root', roles: ['admin'] })
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const nowSeconds = () => Math.floor(Date.now() / 1000)

type Injector = { inject: (options: object) => Promise<{ statusCode: number, json: () => any, body: string }> }

const revoke = (app: Injector, body: object, token = ADMIN) =>
  app.inject({ method: 'POST', url: '/revocations', headers: bearer(token), payload: body })
const readAs = (app: Injector, token: string) => app.inject({ method: 'GET', url: '/context', headers: bearer(token) })

test('POST /revocations by sub: 201 with the revocation; the cached token is refused as invalid', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  const alice = signTestToken({ sub: 'alice' })
  t.equal((await readAs(app, alice)).statusCode, 200, 'accepted')
  t.equal((await readAs(app, alice)).statusCode, 200, 'accepted again, from the verification cache')

  const created = await revoke(app, { sub: 'alice' })
  t.equal(created.statusCode, 201)
  const revocation = created.json()
  t.match(revocation, { id: /^rev_/, tenant: 'default', sub: 'alice', created_by: 'root' })
  t.ok(Date.parse(revocation.expires_at) - Date.parse(revocation.created_at) === 24 * 3600 * 1000, 'kept 24 hours by default')

  const refused = await readAs(app, alice)
  t.equal(refused.statusCode, 401, 'the cached token is refused')
  t.same(refused.json(), { statusCode: 401, error: 'Unauthorized', message: 'Invalid authentication token', code: 'forbidden', details: { reason: 'unauthorized' } },
    'exactly as an invalid token')
  t.equal((await readAs(app, signTestToken({ sub: 'bob' }))).statusCode, 200, 'other users are untouched')
  t.equal((await readAs(app, signTestToken({ sub: 'alice', tenant: 'other' }))).statusCode, 200, 'the same sub in another tenant is untouched')

  const listed = await app.inject({ method: 'GET', url: '/revocations', headers: bearer(ADMIN) })
  t.same(listed.json(), { revocations: [revocation] }, 'GET lists it')
  const lifted = await app.inject({ method: 'DELETE', url: `/revocations/${revocation.id}`, headers: bearer(ADMIN) })
  t.equal(lifted.statusCode, 204, 'DELETE lifts it')
  t.equal((await readAs(app, alice)).statusCode, 200, 'and the token is accepted again')
  t.same((await app.inject({ method: 'GET', url: '/revocations', headers: bearer(ADMIN) })).json(), { revocations: [] })
  t.equal((await app.inject({ method: 'DELETE', url: `/revocations/${revocation.id}`, headers: bearer(ADMIN) })).statusCode, 404, 'lifting twice: 404')
})

test('issued_before: tokens issued before it are refused, later ones and tokens without iat as the rule says', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  const now = nowSeconds()
  const old = signTestToken({ sub: 'alice', iat: now - 600, exp: now + 3600 }, { ttlSeconds: null })
  const recent = signTestToken({ sub: 'alice', iat: now - 60, exp: now + 3600 }, { ttlSeconds: null })
  const noIat = signTestToken({ sub: 'alice' }, { withoutIat: true })
  for (const token of [old, recent, noIat]) t.equal((await readAs(app, token)).statusCode, 200)

  const created = await revoke(app, { sub: 'alice', issued_before: new Date((now - 300) * 1000).toISOString() })
  t.equal(created.statusCode, 201)
  t.equal((await readAs(app, old)).statusCode, 401, 'issued before: refused')
  t.equal((await readAs(app, recent)).statusCode, 200, 'issued after: accepted')
  t.equal((await readAs(app, noIat)).statusCode, 401, 'no iat counts as issued before')
})

test('by jti: that one token only', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  const one = signTestToken({ sub: 'alice', jti: 'token-1' })
  const two = signTestToken({ sub: 'alice', jti: 'token-2' })
  t.equal((await revoke(app, { jti: 'token-1' })).statusCode, 201)
  t.equal((await readAs(app, one)).statusCode, 401, 'the named token is refused')
  t.equal((await readAs(app, two)).statusCode, 200, 'another token of the same user is not')
  t.equal((await readAs(app, signTestToken({ sub: 'carol', jti: 'token-1', tenant: 'elsewhere' }))).statusCode, 200, 'the same jti in another tenant is not')
})

test('bad requests change nothing; only admins of the tenant revoke, list and lift', async (t) => {
  const { app, as } = await restApp(t, { MCP_MAX_REVOCATIONS: '2' })
  const admin = as('root', ['admin'])
  const bad = [
    {},
    { sub: 'alice', jti: 'x' },
    { jti: 'x', issued_before: new Date().toISOString() },
    { sub: 'alice', issued_before: 'yesterday' },
    { sub: 'alice', expires_at: new Date(Date.now() - 1000).toISOString() },
    { sub: 'alice', expires_at: new Date(Date.now() + 400 * 86400_000).toISOString() },
    { sub: '' },
    { sub: 'alice', extra: true }
  ]
  for (const body of bad) {
    const response = await app.inject({ method: 'POST', url: '/revocations', headers: admin, payload: body })
    t.equal(response.statusCode, 400, `refused: ${JSON.stringify(body)}`)
    t.equal(response.json().code, 'validation_error')
  }
  t.same((await app.inject({ method: 'GET', url: '/revocations', headers: admin })).json(), { revocations: [] }, 'nothing was made')

  const writer = as('alice', ['writer'])
  t.equal((await app.inject({ method: 'POST', url: '/revocations', headers: writer, payload: { sub: 'bob' } })).statusCode, 403, 'a writer may not revoke')
  t.equal((await app.inject({ method: 'GET', url: '/revocations', headers: writer })).statusCode, 403, 'nor list')
  t.equal((await app.inject({ method: 'POST', url: '/revocations', payload: { sub: 'bob' } })).statusCode, 401, 'no token: 401')

  const made = (await app.inject({ method: 'POST', url: '/revocations', headers: admin, payload: { sub: 'bob' } })).json()
  const otherAdmin = as('root', ['admin'], 'other')
  t.same((await app.inject({ method: 'GET', url: '/revocations', headers: otherAdmin })).json(), { revocations: [] }, 'another tenant sees none of them')
  t.equal((await app.inject({ method: 'DELETE', url: `/revocations/${made.id as string}`, headers: otherAdmin })).statusCode, 404, 'nor lifts them')

  t.equal((await app.inject({ method: 'POST', url: '/revocations', headers: admin, payload: { sub: 'carol' } })).statusCode, 201)
  const full = await app.inject({ method: 'POST', url: '/revocations', headers: admin, payload: { sub: 'dave' } })
  t.equal(full.statusCode, 429, 'beyond MCP_MAX_REVOCATIONS: refused')
  t.equal(full.json().code, 'rate_limited')
  t.equal((await app.inject({ method: 'GET', url: '/revocations', headers: admin })).json().revocations.length, 2, 'and not kept')
})

test('WebSocket: open connections of the revoked token close 4001 "Token revoked"; reconnecting is refused', async (t) => {
  const { app, url } = await startServer(t)
  const alice = signTestToken({ sub: 'alice' })
  const bob = signTestToken({ sub: 'bob' })
  const first = await connectAuthenticated(url, alice)
  const second = await connectAuthenticated(url, alice, { mode: 'delta' })
  const other = await connectAuthenticated(url, bob)
  t.teardown(() => { first.close(); second.close(); other.close() })

  t.equal((await revoke(app, { sub: 'alice' })).statusCode, 201)
  t.same(await first.waitClosed(), { code: 4001, reason: 'Token revoked' })
  t.same(await second.waitClosed(), { code: 4001, reason: 'Token revoked' })
  t.equal((await other.request({ type: 'ping' })).type, 'pong', "another user's connection stays open")

  const again = await openClient(url, { query: { token: alice } })
  t.same(await again.waitClosed(), { code: 4001, reason: 'Invalid authentication token' }, 'a new connection with it is refused as invalid')
  const byMessage = await openClient(url)
  byMessage.send({ type: 'authenticate', token: alice })
  t.same(await byMessage.waitClosed(), { code: 4001, reason: 'Invalid authentication token' }, 'so is an authenticate message')
  const refresh = await other.request({ type: 'refresh_token', token: signTestToken({ sub: 'bob', jti: 'refresh' }) })
  t.equal(refresh.type, 'token_refreshed', 'a valid refresh still works')
  t.equal((await revoke(app, { jti: 'refresh' })).statusCode, 201)
  t.same(await other.waitClosed(), { code: 4001, reason: 'Token revoked' }, 'the refreshed token is the one revoked by jti')
})

for (const era of [LEGACY, MODERN]) {
  test(`MCP (${era.name}): a revoked token is refused (401) and its sessions and streams end`, async (t) => {
    const server = await startMcpServer(t)
    const token = signTestToken({ sub: 'alice', jti: `mcp-${era.name}` })
    const connected = await connect(t, server, token, era)
    if (era === LEGACY) await connected.streamOpened()
    const before = await connected.client.callTool({ name: 'get_context', arguments: {} })
    t.notOk(before.isError, 'a tool call works before')

    const response = await server.app.inject({ method: 'POST', url: '/revocations', headers: bearer(ADMIN), payload: { jti: `mcp-${era.name}` } })
    t.equal(response.statusCode, 201)
    if (era === LEGACY) await connected.streamEnded()
    await t.rejects(connected.client.callTool({ name: 'get_context', arguments: {} }), 'a tool call with the cached token is refused')
    const call = (bearerToken: string, sessionId?: string) => fetch(server.url, {
      method: 'POST',
      headers: {
        ...bearer(bearerToken),
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(sessionId !== undefined ? { 'mcp-session-id': sessionId, 'mcp-protocol-version': era.version } : {})
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} })
    })
    const raw = await call(token)
    t.equal(raw.status, 401, 'the endpoint answers 401')
    t.match(raw.headers.get('www-authenticate'), /^Bearer /, 'with the challenge')
    if (era === LEGACY) {
      const sessionId = connected.transport.sessionId as string
      const withFreshToken = await call(signTestToken({ sub: 'alice', jti: 'fresh' }), sessionId)
      t.equal(withFreshToken.status, 404, 'the session the revoked token opened is gone, even for a valid token of the same user')
    }
  })
}

test('persisted in MCP_DATA_DIR: a restart keeps the revocation in force', async (t) => {
  const env = { MCP_DATA_DIR: t.testdir() }
  const alice = signTestToken({ sub: 'alice' })
  const first = await buildApp(testConfig(env), { logger: false })
  const made = (await revoke(first, { sub: 'alice' })).json()
  await first.close()

  const second = await buildApp(testConfig(env), { logger: false })
  t.teardown(() => second.close())
  t.equal((await readAs(second, alice)).statusCode, 401, 'still refused after the restart')
  t.same((await second.inject({ method: 'GET', url: '/revocations', headers: bearer(ADMIN) })).json(), { revocations: [made] })
  t.equal((await second.inject({ method: 'DELETE', url: `/revocations/${made.id as string}`, headers: bearer(ADMIN) })).statusCode, 204)
  await second.close()
  const third = await buildApp(testConfig(env), { logger: false })
  t.teardown(() => third.close())
  t.equal((await readAs(third, alice)).statusCode, 200, 'and a lifted one stays lifted')
})
