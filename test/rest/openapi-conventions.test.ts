// The OpenAPI conventions applied to every route: a route that names nothing gets a stable
// operationId, a tag and the common error responses; what a route names itself is kept.
import { test } from 'tap'
import { z } from 'zod'
import { derivedOperationId, derivedTag, withDeclaredTags, withOperationConventions } from '../../src/rest/openapi-conventions.js'
import { errorResponse } from '../../src/rest/response-schemas.js'

test('operationIds come from the method and path, parameters as By<Name>', async (t) => {
  t.equal(derivedOperationId('GET', '/context'), 'getContext')
  t.equal(derivedOperationId('DELETE', '/revocations/:id'), 'deleteRevocationsById')
  t.equal(derivedOperationId('GET', '/context/{key}'), 'getContextByKey')
  t.equal(derivedOperationId('POST', '/.well-known/oauth-protected-resource'), 'postWellKnownOauthProtectedResource')
  t.equal(derivedTag('/revocations/:id'), 'revocations')
})

test('a bare route gets an operationId, a tag, and 400/401/429 with the error schema', async (t) => {
  const schema = withOperationConventions({
    method: 'DELETE', url: '/revocations/:id', schema: { params: z.object({ id: z.string() }) }
  }) as Record<string, any>
  t.equal(schema.operationId, 'deleteRevocationsById')
  t.same(schema.tags, ['revocations'])
  t.same(Object.keys(schema.response).sort(), ['400', '401', '429'])
  t.same(schema.response[401], errorResponse(401))
})

test("a route's own choices are kept; open and unthrottled routes get no 401 or 429", async (t) => {
  const own = withOperationConventions({
    method: 'GET',
    url: '/health',
    config: { rateLimit: false },
    schema: { operationId: 'getHealth', tags: ['health'], security: [], response: { 200: { description: 'ok' } } }
  }) as Record<string, any>
  t.equal(own.operationId, 'getHealth')
  t.same(own.tags, ['health'])
  t.same(Object.keys(own.response), ['200'], 'no input, no token, no rate limit: nothing added')
  const metrics = withOperationConventions({
    method: 'GET', url: '/metrics', schema: { security: [{}, { metricsToken: [] }], response: { 401: 'kept' } }
  }) as Record<string, any>
  t.equal(metrics.response[401], 'kept', 'a response the route documents itself is not replaced')
  t.same(Object.keys(metrics.response).sort(), ['401', '429'])
  t.same(withOperationConventions({ method: 'GET', url: '/docs', schema: { hide: true } }), { hide: true }, 'hidden routes untouched')
})

test('tags an operation uses are declared once in the document', async (t) => {
  const document = withDeclaredTags({
    tags: [{ name: 'context', description: 'kept' }],
    paths: { '/context': { get: { tags: ['context'] } }, '/changes': { get: { tags: ['changes'] }, head: { tags: ['changes'] } } }
  })
  t.same(document.tags, [{ name: 'context', description: 'kept' }, { name: 'changes', description: 'Operations under /changes' }])
})
