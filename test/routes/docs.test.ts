// /docs (Swagger UI) and the OpenAPI document: served, complete, and identical to the committed
// openapi.yaml (regenerate with `npm run openapi` when a route schema changes).
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { openApiYaml } from '../../src/rest/openapi-document.js'
import { OPENAPI_PATH, generateOpenApiYaml } from '../../scripts/generate-openapi.js'
import { restApp } from './rest-client.js'

interface Operation {
  operationId?: string,
  tags?: string[],
  summary?: string,
  description?: string,
  security?: unknown[]
  responses?: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>
}
type Document = {
  info: { license?: unknown }
  servers?: unknown[]
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, Record<string, string>>, schemas: Record<string, unknown> }
  security: unknown[]
}

test('GET /docs serves Swagger UI as HTML, without a token', async (t) => {
  const { app } = await restApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /<div id="swagger-ui">/)
  const initializer = await app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
  t.equal(initializer.statusCode, 200)
  t.match(initializer.body, /SwaggerUIBundle/)
})

test('the committed openapi.yaml is exactly the generated document (run `npm run openapi` after changing a route)', async (t) => {
  const committed = readFileSync(OPENAPI_PATH, 'utf8')
  const generated = await generateOpenApiYaml()
  t.equal(generated, committed, 'openapi.yaml has drifted from the route schemas: run `npm run openapi` and commit the result')
})

test('Swagger UI serves that same document', async (t) => {
  const { app } = await restApp(t)
  const res = await app.inject({ method: 'GET', url: '/docs/json' })
  t.equal(res.statusCode, 200)
  t.equal(openApiYaml(res.json()), readFileSync(OPENAPI_PATH, 'utf8'))
})

test('every operation is tagged and described; bearer JWT everywhere but the open routes', async (t) => {
  const { app } = await restApp(t)
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as Document
  t.same(document.components.securitySchemes.bearerAuth, {
    type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT signed with the server secret (npm run token)'
  })
  t.same(document.security, [{ bearerAuth: [] }])
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ id: `${method.toUpperCase()} ${path}`, operation })))
  t.ok(operations.length >= 10, `${operations.length} operations`)
  for (const { id, operation } of operations) {
    t.ok((operation.tags ?? []).length > 0, `${id} is tagged`)
    t.ok((operation.summary ?? operation.description ?? '').length > 0, `${id} is described`)
  }
  const ids = operations.map((o) => o.id).sort()
  for (const id of ['GET /context', 'POST /context', 'DELETE /context', 'GET /context/{key}', 'PUT /context/{key}',
    'PATCH /context/{key}', 'DELETE /context/{key}', 'GET /status', 'GET /metrics', 'GET /health', 'GET /ready']) {
    t.ok(ids.includes(id), `${id} is documented`)
  }
  t.same(document.paths['/health'].get.security, [], '/health is open')
  t.same(document.paths['/metrics'].get.security, [{}, { metricsToken: [] }], '/metrics is open or takes the metrics token')
  t.equal(document.paths['/context'].get.security, undefined, '/context takes the document-wide bearer JWT')
  t.notOk(Object.keys(document.paths).some((path) => path.startsWith('/docs')), 'Swagger UI itself is not an operation')
  t.same(Object.keys(document.components.schemas).filter((name) => name.endsWith('Input')), [], 'only the schemas the routes use')
})

test('every operation has a unique operationId and 4xx responses with the one error schema', async (t) => {
  const { app } = await restApp(t)
  const document = (await app.inject({ method: 'GET', url: '/docs/json' })).json() as Document
  t.same(document.info.license, { name: 'MIT', identifier: 'MIT' })
  t.same(document.servers, [{ url: '/', description: 'The server that serves this document' }])
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ id: `${method.toUpperCase()} ${path}`, operation })))
  const operationIds = operations.map(({ operation }) => operation.operationId)
  t.same([...new Set(operationIds)].length, operations.length, 'operationIds are unique')
  const idOf = Object.fromEntries(operations.map(({ id, operation }) => [id, operation.operationId]))
  const expected = {
    'GET /health': 'getHealth',
    'GET /ready': 'getReadiness',
    'GET /status': 'getStatus',
    'GET /metrics': 'getMetrics',
    'GET /context': 'queryContext',
    'POST /context': 'createEntry',
    'DELETE /context': 'clearContext',
    'GET /context/{key}': 'getEntry',
    'PUT /context/{key}': 'putEntry',
    'PATCH /context/{key}': 'setEntryPriority',
    'DELETE /context/{key}': 'deleteEntry'
  }
  t.same(Object.fromEntries(Object.keys(expected).map((id) => [id, idOf[id]])), expected, 'the operationIds clients are generated with stay the same')
  for (const { id, operation } of operations) {
    t.match(operation.operationId, /^[a-z][A-Za-z0-9]+$/, `${id} has a camelCase operationId`)
    const errors = Object.entries(operation.responses ?? {}).filter(([status]) => status.startsWith('4'))
    t.ok(errors.length > 0, `${id} documents a 4xx response`)
    for (const [status, response] of errors) {
      t.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${id} ${status} uses the error schema`)
    }
  }
})

test('the probes refuse unknown parameters with 400, as they document', async (t) => {
  const { app } = await restApp(t)
  for (const url of ['/health?verbose=1', '/ready?x=1']) {
    const res = await app.inject({ method: 'GET', url })
    t.equal(res.statusCode, 400, url)
    t.equal(res.json().code, 'validation_error')
  }
})
