// A REST write is a store change like any other: it reaches WebSocket subscribers of its tenant,
// in every mode, and no one else. Real ws clients against a listening server.
import { test } from 'tap'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'
import { signTestToken } from '../helpers/tokens.js'

const bearer = (claims: Parameters<typeof signTestToken>[0]) => ({ authorization: `Bearer ${signTestToken(claims)}` })

test('REST writes, re-prioritisations and deletes reach delta and snapshot subscribers', async (t) => {
  const { app, url } = await startServer(t)
  const delta = await connectAuthenticated(url, signTestToken({ sub: 'dash', roles: ['reader'], tenant: 'acme' }), { mode: 'delta' })
  const snapshot = await connectAuthenticated(url, signTestToken({ sub: 'dash2', roles: ['reader'], tenant: 'acme' }))
  t.teardown(() => { delta.close(); snapshot.close() })
  const writer = bearer({ sub: 'alice', roles: ['writer'], tenant: 'acme' })

  const created = await app.inject({ method: 'POST', url: '/context', headers: writer, payload: { key: 'from-rest', context: { note: 'hello' }, priority: 6 } })
  t.equal(created.statusCode, 201)
  const { seq } = created.json()

  const upsert = await delta.next((f) => f.type === 'context_delta' && f.seq === seq)
  t.same(Object.keys(upsert.upserted), ['from-rest'])
  t.match(upsert.upserted['from-rest'], { content: { note: 'hello' }, priority: 6, owner: 'alice', version: 1 })
  t.same(upsert.removed, [])
  const whole = await snapshot.next((f) => f.type === 'context_update' && f.seq === seq)
  t.same(whole.data['from-rest'].content, { note: 'hello' })

  const patched = await app.inject({ method: 'PATCH', url: '/context/from-rest', headers: writer, payload: { priority: 2 } })
  const priorityDelta = await delta.next((f) => f.type === 'context_delta' && f.seq === patched.json().seq)
  t.equal(priorityDelta.upserted['from-rest'].priority, 2)
  t.equal(priorityDelta.upserted['from-rest'].version, 2)

  const deleted = await app.inject({ method: 'DELETE', url: '/context/from-rest', headers: writer })
  t.equal(deleted.statusCode, 204)
  const removal = await delta.next((f) => f.type === 'context_delta' && f.seq === seq + 2)
  t.same(removal.removed, ['from-rest'])
  t.same(removal.upserted, {})
})

test('a REST write never reaches subscribers of another tenant', async (t) => {
  const { app, url } = await startServer(t)
  const acme = await connectAuthenticated(url, signTestToken({ sub: 'a', roles: ['reader'], tenant: 'acme' }), { mode: 'delta' })
  const globex = await connectAuthenticated(url, signTestToken({ sub: 'g', roles: ['reader'], tenant: 'globex' }), { mode: 'delta' })
  t.teardown(() => { acme.close(); globex.close() })

  await app.inject({ method: 'PUT', url: '/context/secret', headers: bearer({ sub: 'alice', tenant: 'acme' }), payload: { context: { plan: 'merger' } } })
  await acme.next((f) => f.type === 'context_delta' && 'secret' in f.upserted)
  // A later write in globex is delivered to its subscriber after anything sent before it, so once
  // it has arrived, the acme write would have too if it were going to.
  await app.inject({ method: 'PUT', url: '/context/marker', headers: bearer({ sub: 'gina', tenant: 'globex' }), payload: { context: { v: 1 } } })
  await globex.next((f) => f.type === 'context_delta' && 'marker' in f.upserted)
  t.notOk(globex.frames.some((f) => JSON.stringify(f).includes('merger')), 'globex never saw the acme entry')
})
