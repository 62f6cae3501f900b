// The REST error mapping (src/rest/http-error.ts) on its own and through a route: a store that
// cannot take a change (`unavailable`) is 503 with its own message, telling the client to retry;
// any other 5xx is a masked 500; client errors keep their status and code.
import { test } from 'tap'
import { ContextError } from '../../src/errors.js'
import { errorBody, toHttpFailure } from '../../src/rest/http-error.js'
import { restApp } from '../routes/rest-client.js'

test('unavailable is 503 with its message (retry later), and is logged as ours', async (t) => {
  const failure = toHttpFailure(new ContextError('unavailable', 'The shared store (Redis) is unavailable; retry later'))
  t.strictSame(failure, {
    body: {
      statusCode: 503,
      error: 'Service Unavailable',
      message: 'The shared store (Redis) is unavailable; retry later',
      // The contract's list has no `unavailable`: it travels as internal with the precise reason.
      code: 'internal',
      details: { reason: 'unavailable' }
    },
    internal: true
  })
  // The websocket route's refusal before the upgrade (too many connections) is built the same way.
  t.strictSame(errorBody(503, 'unavailable', 'Too many connections').details, { reason: 'unavailable' })
})

test('any other 5xx is a masked 500; 4xx pass through', async (t) => {
  t.strictSame(toHttpFailure(new ContextError('internal', 'secret detail')),
    { body: { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error', code: 'internal' }, internal: true })
  t.strictSame(toHttpFailure(new Error('boom')).body.message, 'Internal Server Error')
  t.strictSame(toHttpFailure({ statusCode: 503, message: 'plugin detail' }).body, toHttpFailure(new Error('x')).body, "a framework's 5xx is masked too")
  t.strictSame(toHttpFailure(new ContextError('not_found', 'No entry "x"')),
    { body: { statusCode: 404, error: 'Not Found', message: 'No entry "x"', code: 'not_found' }, internal: false })
})

test('a write the store cannot take is answered 503 by the route', async (t) => {
  const dir = t.testdir()
  const { app, as } = await restApp(t, { MCP_DATA_DIR: dir })
  const ok = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { n: 1 }, key: 'kept' } })
  t.equal(ok.statusCode, 201)
  // The journal is closed under the running app: every further commit is refused `unavailable`.
  await app.store.close()
  const refused = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { n: 2 }, key: 'lost' } })
  t.equal(refused.statusCode, 503, refused.body)
  t.match(refused.json(), { statusCode: 503, error: 'Service Unavailable', code: 'internal', details: { reason: 'unavailable' } })
  t.equal(refused.json().message, 'The store is shutting down')
})
