// GET /metrics: valid Prometheus text with every named series, values that follow what the server
// did, and the optional MCP_METRICS_TOKEN guard.
import { test } from 'tap'
import { parsePrometheusText } from './prometheus-text.js'
import { restApp } from './rest-client.js'

const NAMED_FAMILIES = {
  mcp_ws_connections: 'gauge',
  mcp_ws_messages_total: 'counter',
  mcp_errors_total: 'counter',
  mcp_auth_attempts_total: 'counter',
  mcp_context_entries: 'gauge',
  mcp_context_tokens: 'gauge',
  mcp_context_removals_total: 'counter',
  mcp_context_changes_total: 'counter',
  mcp_broadcast_duration_seconds: 'histogram',
  mcp_message_duration_seconds: 'histogram',
  mcp_http_requests_total: 'counter',
  mcp_http_request_duration_seconds: 'histogram',
  // The default process metrics.
  process_cpu_user_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge'
}

test('GET /metrics is open by default and lists every named family in Prometheus text', async (t) => {
  const { app } = await restApp(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  const exposition = parsePrometheusText(res.body)
  for (const [family, type] of Object.entries(NAMED_FAMILIES)) {
    t.equal(exposition.types.get(family), type, `${family} is a ${type}`)
    t.ok((exposition.help.get(family) ?? '').length > 0, `${family} has help text`)
  }
})

test('the named series move with what the server does', async (t) => {
  const { app, as } = await restApp(t, { MCP_MAX_TOKENS: '40' })
  const scrape = async () => parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body)
  const before = await scrape()
  t.equal(before.value('mcp_context_changes_total', { reason: 'created' }), undefined, 'no writes yet')

  const write = (key: string, priority: number, headers = as('alice', ['writer'], 'acme')) =>
    app.inject({ method: 'PUT', url: `/context/${key}`, headers, payload: { context: { words: 'one two three four five six seven eight nine ten' }, priority } })
  await write('a', 5)
  await write('b', 5)
  await write('c', 9) // over the 40-token budget: evicts one
  await app.inject({ method: 'DELETE', url: '/context/c', headers: as('alice', ['writer'], 'acme') })
  await app.inject({ method: 'GET', url: '/context/missing', headers: as('alice', ['writer'], 'acme') })
  await app.inject({ method: 'GET', url: '/context', headers: { authorization: 'Bearer nonsense' } })
  await app.inject({ method: 'GET', url: '/context' })
  await app.inject({ method: 'GET', url: '/no-such-route' })

  const after = await scrape()
  t.equal(after.value('mcp_context_changes_total', { reason: 'created' }), 3)
  t.equal(after.value('mcp_context_changes_total', { reason: 'deleted' }), 1)
  t.equal(after.value('mcp_context_removals_total', { reason: 'evicted' }), 1)
  t.equal(after.value('mcp_context_removals_total', { reason: 'deleted' }), 1)
  const metadata = app.store.metadata('acme')
  t.equal(after.value('mcp_context_entries', { tenant: 'acme' }), metadata.entry_count)
  t.equal(after.value('mcp_context_tokens', { tenant: 'acme' }), metadata.total_tokens)
  t.ok(metadata.total_tokens > 0)
  t.equal(after.value('mcp_errors_total', { code: 'not_found', surface: 'rest' }), 2, 'the missing entry and the unknown route')
  t.equal(after.value('mcp_errors_total', { code: 'unauthorized', surface: 'rest' }), 2)
  t.equal(after.value('mcp_auth_attempts_total', { result: 'success', surface: 'rest' }), 5)
  t.equal(after.value('mcp_auth_attempts_total', { result: 'invalid', surface: 'rest' }), 1)
  t.equal(after.value('mcp_auth_attempts_total', { result: 'missing', surface: 'rest' }), 1)
  t.equal(after.value('mcp_http_requests_total', { method: 'PUT', route: '/context/:key', status: '201' }), 3)
  t.equal(after.value('mcp_http_requests_total', { method: 'GET', route: '/context', status: '401' }), 2)
  t.equal(after.value('mcp_http_request_duration_seconds_count', { method: 'PUT', route: '/context/:key' }), 3)
  t.equal(after.value('mcp_http_requests_total', { method: 'GET', route: '(unmatched)', status: '404' }), 1,
    'unknown paths share one series')
  t.ok((after.value('process_cpu_user_seconds_total') ?? 0) > 0)
})

test('MCP_METRICS_TOKEN guards /metrics: 401 without it or with another, 200 with it', async (t) => {
  const { app, as } = await restApp(t, { MCP_METRICS_TOKEN: 'scrape-secret-123' })
  const none = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(none.statusCode, 401)
  t.match(none.json(), { code: 'forbidden', details: { reason: 'unauthorized' } })
  const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-secret-124' } })
  t.equal(wrong.statusCode, 401)
  const jwt = await app.inject({ method: 'GET', url: '/metrics', headers: as('root', ['admin']) })
  t.equal(jwt.statusCode, 401, 'a user token is not the metrics token')
  const right = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer scrape-secret-123' } })
  t.equal(right.statusCode, 200)
  t.ok(parsePrometheusText(right.body).types.has('mcp_errors_total'))
})

test('the tokenizer, idempotency and revocation series follow what happened', async (t) => {
  // Contents of 200 characters or more go to the one worker thread; shorter ones are counted inline.
  const { app, as } = await restApp(t, { MCP_TOKENIZER_THREADS: '1', MCP_TOKENIZER_INLINE_BELOW: '200' })
  const scrape = async () => parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body)
  const alice = as('alice', ['writer'], 'acme')
  const put = (key: string, note: string, idempotencyKey?: string) => app.inject({
    method: 'PUT',
    url: `/context/${key}`,
    payload: { context: { note } },
    headers: { ...alice, ...(idempotencyKey !== undefined ? { 'idempotency-key': idempotencyKey } : {}) }
  })
  t.equal((await put('small', 'short')).statusCode, 201)
  t.equal((await put('large', 'many words '.repeat(40))).statusCode, 201)
  t.equal((await put('once', 'first', 'key-1')).statusCode, 201)
  t.equal((await put('once', 'first', 'key-1')).headers['idempotent-replayed'], 'true')
  t.equal((await put('once', 'first', 'key-1')).headers['idempotent-replayed'], 'true')
  t.equal((await put('once', 'another body', 'key-1')).statusCode, 422, 'the key reused for another request')

  const mallory = as('mallory', ['writer'], 'acme')
  const revoke = await app.inject({ method: 'POST', url: '/revocations', headers: as('root', ['admin'], 'acme'), payload: { sub: 'mallory', issued_before: new Date(Date.now() + 5000).toISOString() } })
  t.equal(revoke.statusCode, 201, revoke.body)
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: mallory })).statusCode, 401)
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: mallory })).statusCode, 401)

  const after = await scrape()
  t.equal(after.value('mcp_tokenizer_duration_seconds_count', { where: 'worker' }), 1, 'the large content went to the worker')
  t.ok((after.value('mcp_tokenizer_duration_seconds_count', { where: 'inline' }) ?? 0) >= 3, 'the small ones were counted inline')
  t.equal(after.value('mcp_tokenizer_workers'), 1, 'the worker started for the large content is running')
  t.equal(after.value('mcp_tokenizer_queue_depth'), 0)
  t.equal(after.value('mcp_idempotency_replays_total', { surface: 'rest' }), 2)
  t.equal(after.value('mcp_idempotency_conflicts_total', { surface: 'rest' }), 1)
  t.equal(after.value('mcp_revocations_total', { kind: 'sub' }), 1)
  t.equal(after.value('mcp_revocations_active'), 1)
  t.equal(after.value('mcp_revoked_token_refusals_total', { surface: 'rest' }), 2)
})
