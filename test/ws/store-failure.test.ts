// A backend failure reaches the client as an `internal` error (never a false ack), the
// connection and the other clients carry on, and writes succeed again once the backend is back.
import { signTestToken } from '../helpers/tokens.js'
import { eventually, privateRedis, redisTest } from '../helpers/redis.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

redisTest('a write while the shared store is down is answered internal, and the connection stays usable', async (t) => {
  const redis = await privateRedis(t)
  const { url } = await startServer(t, { MCP_STORE: 'redis', REDIS_URL: redis.url, MCP_REDIS_PREFIX: 'ws-failure' })
  const writer = await connectAuthenticated(url, signTestToken({ sub: 'alice' }), { mode: 'none' })
  t.equal((await writer.request({ type: 'update_context', key: 'before', context: { n: 1 } })).type, 'update_ack')

  await redis.stop()
  const failed = await writer.request({ type: 'update_context', key: 'during', context: { n: 2 } })
  t.match(failed, { type: 'error', code: 'internal' })
  t.match(failed.message, /unavailable|not acknowledged|Redis/i, 'the message says what happened')
  t.equal((await writer.request({ type: 'ping' })).type, 'pong', 'the connection is still open')

  await redis.start()
  let reply: Record<string, any> = {}
  await eventually(async () => {
    reply = await writer.request({ type: 'update_context', key: 'after', context: { n: 3 } })
    return reply.type === 'update_ack'
  }, 15_000, 'a write to succeed after Redis is back')
  const keys = Object.keys((await writer.request({ type: 'get_context' })).data).sort()
  t.same(keys, ['after', 'before'], 'the refused write left nothing behind')
  writer.close()
})
