// Keys and sources must be well-formed Unicode: a lone surrogate cannot be percent-encoded into the
// Location header or an MCP resource URI, so such a write used to be applied and then answered 500.
// Now it is a validation_error and nothing is stored. Found by the fuzz run (test/fuzz).
import { test } from 'tap'
import { restApp } from './rest-client.js'

for (const [field, body] of [
  ['key', '{"key":"plan\\ud800","context":{"a":1}}'],
  ['source', '{"source":"agent\\udfff","context":{"a":1}}']
] as const) {
  test(`POST /context with a lone surrogate in ${field} is refused and changes nothing`, async (t) => {
    const { app, as } = await restApp(t)
    const headers = { ...as('alice', ['writer']), 'content-type': 'application/json' }
    const res = await app.inject({ method: 'POST', url: '/context', headers, payload: body })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { code: 'validation_error', details: [{ path: `body.${field}`, message: 'must be well-formed Unicode (no lone surrogate)' }] })
    t.same(app.store.snapshot('default').entries, [], 'nothing stored')
  })
}

test('content may hold lone surrogates: it is stored as JSON, never in a URL', async (t) => {
  const { app, as } = await restApp(t)
  const headers = { ...as('alice', ['writer']), 'content-type': 'application/json' }
  const res = await app.inject({ method: 'POST', url: '/context', headers, payload: '{"key":"k","context":{"\\ud800":"\\udfff"}}' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, '/context/k')
})
