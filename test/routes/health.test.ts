import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'

test('GET /health reports the contract fields without auth', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/health' })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.status, 'healthy')
  t.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T/)
  t.type(body.version, 'string')
  t.type(body.connections, 'number')
  t.type(body.memory_usage, 'object')
  t.ok(body.memory_usage.rss_mb > 0)
})

test('GET /ready is 200 while serving and 503 once shutdown begins', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const ready = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(ready.statusCode, 200)
  t.equal(ready.json().status, 'ready')

  app.lifecycle.beginShutdown()
  const draining = await app.inject({ method: 'GET', url: '/ready' })
  t.equal(draining.statusCode, 503)
  t.equal(draining.json().status, 'draining')
})
