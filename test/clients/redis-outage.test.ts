// The official TypeScript client while the server's Redis is down: the server answers writes
// with `internal` and `details.reason: "unavailable"`; the client sends them again after a short
// backoff instead of failing them, so a write made during the outage is applied once Redis is back.
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { testClient, until } from '../helpers/context-client.js'
import { privateRedis, redisTest, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { wsUrl } from '../helpers/ws-client.js'

redisTest('a write refused as unavailable is sent again and applied once Redis is back', async (t) => {
  const redis = await privateRedis(t)
  const app = await buildApp(testConfig({ MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: uniquePrefix(t, redis.url) }), { logger: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = testClient(t, { url: wsUrl(app), token: signTestToken(), mode: 'none', maxRetries: 100 })
  await client.ready
  t.equal((await client.update({ key: 'before', context: { n: 1 } })).version, 1)

  // Error replies on the WebSocket, as the metrics count them (unavailable travels as `internal`).
  const unavailable = async () => {
    const metrics = await app.inject({ method: 'GET', url: '/metrics' })
    const line = metrics.body.split('\n').find((text) => text.startsWith('mcp_errors_total{') && text.includes('code="internal"') && text.includes('surface="ws"'))
    return line === undefined ? 0 : Number(line.split(' ').at(-1))
  }
  await redis.stop()
  let settled = false
  const write = client.update({ key: 'during', context: { n: 2 } })
  write.finally(() => { settled = true }).catch(() => {})
  await until(async () => (await unavailable()) >= 2, 'the server to refuse the write as unavailable, twice (so it was sent again)')
  t.equal(settled, false, 'the write waits instead of failing')
  await redis.start()
  const ack = await write
  t.equal(ack.version, 1, 'applied once')
  const stored = await app.inject({ method: 'GET', url: '/context/during', headers: { authorization: `Bearer ${signTestToken({ roles: ['admin'] })}` } })
  t.equal(stored.json().version, 1, 'stored once')
})
