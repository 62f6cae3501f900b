// Requests Fastify refuses before routing (a path that is not valid percent-encoding, a key over the
// parameter limit) get the contract's error body with a listed code, like every other refusal.
// Found by the fuzz run (test/fuzz).
import { test } from 'tap'
import { restApp } from './rest-client.js'

test('a path that is not valid percent-encoding is a validation_error in the usual shape', async (t) => {
  const { app, as } = await restApp(t)
  const res = await app.inject({ method: 'DELETE', url: '/context/%zz', headers: as('alice', ['writer']) })
  t.equal(res.statusCode, 400)
  t.same(res.json(), { statusCode: 400, error: 'Bad Request', message: "'/context/%zz' is not a valid url component", code: 'validation_error' })
})

test('a key longer than any entry key can be is refused in the usual shape', async (t) => {
  const { app, as } = await restApp(t)
  const res = await app.inject({ method: 'GET', url: `/context/${'a'.repeat(5000)}`, headers: as('alice', ['writer']) })
  t.equal(res.statusCode, 414)
  t.match(res.json(), { statusCode: 414, code: 'validation_error' })
})
