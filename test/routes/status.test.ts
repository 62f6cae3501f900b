// GET /status: admins only, the caller's tenant only, the contract's fields.
import { test } from 'tap'
import { statusSchema } from '../../src/rest/response-schemas.js'
import { restApp } from './rest-client.js'

test('GET /status gives an admin the tenant totals and its connected clients', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/a', headers: as('alice', ['writer'], 'acme'), payload: { context: { v: 'a' } } })
  await app.inject({ method: 'PUT', url: '/context/b', headers: as('alice', ['writer'], 'acme'), payload: { context: { v: 'bb' } } })
  await app.inject({ method: 'PUT', url: '/context/x', headers: as('alice', ['writer'], 'globex'), payload: { context: { v: 'x' } } })
  const connectedAt = new Date('2026-01-02T03:04:05.000Z')
  app.sessions.add({ clientId: 'c-acme', kind: 'websocket', userId: 'alice', tenant: 'acme', authenticatedAt: connectedAt, lastActivity: connectedAt })
  app.sessions.add({ clientId: 'c-globex', kind: 'mcp_session', userId: 'gina', tenant: 'globex', authenticatedAt: connectedAt, lastActivity: connectedAt })

  const res = await app.inject({ method: 'GET', url: '/status', headers: as('root', ['admin'], 'acme') })
  t.equal(res.statusCode, 200)
  const body = statusSchema.parse(res.json())
  const metadata = app.store.metadata('acme')
  t.equal(body.context_entries, 2)
  t.equal(body.total_tokens, metadata.total_tokens)
  t.equal(body.max_tokens, 128000)
  t.equal(body.connected_clients, 1)
  t.same(body.authenticated_clients, [{ client_id: 'c-acme', kind: 'websocket', user_id: 'alice', authenticated_at: connectedAt.toISOString(), last_activity: connectedAt.toISOString() }])
  t.equal(body.server_info.max_tokens, 128000)
  t.equal(body.server_info.store, 'memory')
  t.ok(body.server_info.features.includes('rest_api'))
})

test('GET /status refuses writers and readers (403) and callers without a token (401)', async (t) => {
  const { app, as } = await restApp(t)
  for (const roles of [['writer'], ['reader']] as const) {
    const res = await app.inject({ method: 'GET', url: '/status', headers: as('alice', [...roles]) })
    t.equal(res.statusCode, 403)
    t.same(res.json(), { statusCode: 403, error: 'Forbidden', message: 'This operation needs the admin role', code: 'forbidden' })
  }
  const anonymous = await app.inject({ method: 'GET', url: '/status' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.json(), { code: 'forbidden', details: { reason: 'unauthorized' } })
})
