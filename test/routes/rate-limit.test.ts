// HTTP rate limits: per user when the token verifies, else per address; 429 with Retry-After in the
// contract's error shape; /health and /ready never limited.
import { test } from 'tap'
import { errorSchema } from '../../src/rest/response-schemas.js'
import { restApp } from './rest-client.js'

const LIMIT = 3

test('the request over the limit gets 429 rate_limited with Retry-After, and is not served', async (t) => {
  const { app, as } = await restApp(t, { MCP_HTTP_RATE_LIMIT: String(LIMIT) })
  for (let i = 1; i <= LIMIT; i++) {
    const res = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { i } } })
    t.equal(res.statusCode, 201, `request ${i} is within the limit`)
    t.equal(res.headers['x-ratelimit-remaining'], String(LIMIT - i))
  }
  const over = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { i: 'over' } } })
  t.equal(over.statusCode, 429)
  const retryAfter = Number(over.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${over.headers['retry-after']}`)
  const body = errorSchema.parse(over.json())
  t.equal(body.code, 'rate_limited')
  t.equal(body.error, 'Too Many Requests')
  t.match(body.message, /at most 3 requests per minute/)
  t.match(body.details, { retry_after_ms: Number })
  t.equal(app.store.metadata('default').entry_count, LIMIT, 'the refused write did not happen')
})

test('each user has a bucket of its own, across addresses; the tenant is part of the user', async (t) => {
  const { app, as } = await restApp(t, { MCP_HTTP_RATE_LIMIT: String(LIMIT) })
  for (let i = 0; i < LIMIT; i++) {
    await app.inject({ method: 'GET', url: '/context', headers: as('alice'), remoteAddress: `10.0.0.${i + 1}` })
  }
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: as('alice'), remoteAddress: '10.0.0.9' })).statusCode, 429,
    'alice is limited whatever her address')
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: as('bob'), remoteAddress: '10.0.0.1' })).statusCode, 200,
    'bob, from an address alice used, is not')
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: as('alice', ['writer'], 'acme') })).statusCode, 200,
    'alice of another tenant is another user')
})

test('without a valid token, requests count against the address', async (t) => {
  const { app } = await restApp(t, { MCP_HTTP_RATE_LIMIT: String(LIMIT) })
  const from = (remoteAddress: string, authorization?: string) => app.inject({
    method: 'GET', url: '/context', remoteAddress, headers: authorization !== undefined ? { authorization } : {}
  })
  await from('192.0.2.1')
  await from('192.0.2.1', 'Bearer forged-1')
  await from('192.0.2.1', 'Bearer forged-2')
  const limited = await from('192.0.2.1', 'Bearer forged-3')
  t.equal(limited.statusCode, 429, 'fresh bad tokens do not buy fresh buckets')
  t.equal((await from('192.0.2.2')).statusCode, 401, 'another address is not limited (and still needs a token)')
})

test('/health and /ready are never limited; unknown routes are', async (t) => {
  const { app } = await restApp(t, { MCP_HTTP_RATE_LIMIT: String(LIMIT) })
  for (let i = 0; i < LIMIT * 3; i++) {
    t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200)
    t.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
  }
  const codes = []
  for (let i = 0; i <= LIMIT; i++) codes.push((await app.inject({ method: 'GET', url: `/probe-${i}` })).statusCode)
  t.same(codes, [404, 404, 404, 429])
})

test('X-Forwarded-For decides the address only with MCP_TRUST_PROXY=true', async (t) => {
  const spoofing = async (trustProxy: string) => {
    const { app } = await restApp(t, { MCP_HTTP_RATE_LIMIT: String(LIMIT), MCP_TRUST_PROXY: trustProxy })
    const codes: number[] = []
    for (let i = 0; i <= LIMIT; i++) {
      const res = await app.inject({ method: 'GET', url: '/context', remoteAddress: '198.51.100.7', headers: { 'x-forwarded-for': `203.0.113.${i}` } })
      codes.push(res.statusCode)
    }
    return codes.at(-1)
  }
  t.equal(await spoofing('false'), 429, 'a direct client cannot pick a new address per request')
  t.equal(await spoofing('true'), 401, 'behind a trusted proxy each forwarded address has its own bucket')
})
