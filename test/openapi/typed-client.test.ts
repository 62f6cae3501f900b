// Proof that openapi.yaml is usable by people who generate clients from it: openapi-typescript
// makes types of it (equal to the committed test/openapi/openapi-types.ts), tsc accepts a client
// written against them (and refuses the mistakes listed in typed-client.ts), and that client,
// through openapi-fetch, creates, reads, lists page by page, patches and deletes on a real server.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { OPENAPI_TYPES_PATH, generateOpenApiTypes } from '../../scripts/generate-openapi.js'
import { signTestToken } from '../helpers/tokens.js'
import { startServer } from '../helpers/ws-client.js'
import { contextClient, walkThroughTheApi } from './typed-client.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const TSC = createRequire(import.meta.url).resolve('typescript/bin/tsc')

test('openapi-typescript generates from openapi.yaml exactly the committed types', async (t) => {
  t.equal(await generateOpenApiTypes(), readFileSync(OPENAPI_TYPES_PATH, 'utf8'),
    'test/openapi/openapi-types.ts has drifted from openapi.yaml: run `npm run openapi`')
})

test('tsc type-checks the client against the generated types, refusing the listed mistakes', async (t) => {
  const run = spawnSync(process.execPath, [TSC, '-p', 'test/openapi/tsconfig.json'], { cwd: ROOT, encoding: 'utf8', timeout: 90_000 })
  t.equal(run.error, undefined, 'tsc ran within 90 s')
  t.equal(run.status, 0, `tsc output:\n${run.stdout}${run.stderr}`)
})

test('the typed client walks through the API of a real listening server', async (t) => {
  const { app } = await startServer(t)
  const port = (app.server.address() as { port: number }).port
  const client = contextClient(`http://127.0.0.1:${port}`, signTestToken({ sub: 'alice' }))
  const transcript = await walkThroughTheApi(client, ['a', 'b', 'c', 'd', 'e'])
  t.same(transcript.created, { status: 201, key: 'a', version: 1, evicted: [] })
  t.equal(transcript.read.status, 200)
  t.match(transcript.read.entry, { key: 'a', content: { step: 0, note: 'entry a' }, source: 'typed_client', priority: 5, owner: 'alice', version: 1 })
  t.same(transcript.pages, [['e', 'd'], ['c', 'b'], ['a']], 'pages of 2 in rank order (most recent first), then the rest')
  t.same(transcript.patched, { status: 200, priority: 9, version: 2 })
  t.equal(transcript.deleted, 204)
  t.equal(transcript.afterDelete.status, 404)
  t.match(transcript.afterDelete.error, { statusCode: 404, code: 'not_found' })
  t.equal(transcript.badCursor.status, 400)
  t.match(transcript.badCursor.error, { code: 'validation_error', details: [{ path: 'querystring.cursor' }] })
})
