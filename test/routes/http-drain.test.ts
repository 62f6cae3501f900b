// Requests that arrive once draining began (plugins/http-drain.ts): answered 503 `unavailable` with
// Retry-After before anything is done, told to close their connection; the probes keep answering.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'

test('while draining a write is refused 503 before it is applied; the probes still answer', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const headers = { authorization: `Bearer ${signTestToken({ sub: 'alice', roles: ['writer'] })}` }
  const before = await app.inject({ method: 'POST', url: '/context', headers, payload: { context: { n: 1 }, key: 'before' } })
  t.equal(before.statusCode, 201)
  t.equal(before.headers.connection, 'keep-alive', 'no close asked while serving')

  app.lifecycle.beginShutdown()
  const refused = await app.inject({ method: 'POST', url: '/context', headers, payload: { context: { n: 2 }, key: 'during' } })
  t.equal(refused.statusCode, 503)
  t.match(refused.json(), { code: 'internal', details: { reason: 'unavailable' }, message: 'Server is shutting down' })
  t.equal(refused.headers['retry-after'], '5')
  t.equal(refused.headers.connection, 'close', 'the keep-alive client is told to leave')
  t.equal(app.store.get('default', 'during'), undefined, 'nothing was written')
  t.equal(app.store.get('default', 'before')?.entry.version, 1)

  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.json().status, 'draining', '/ready answers with its own body')
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
})
