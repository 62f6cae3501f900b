// `promtool check metrics` (the Prometheus project's own linter) finds nothing in the /metrics
// output of a listening server that has served WebSocket, REST and MCP-free traffic, and the
// per-tenant series stay capped at MCP_METRICS_MAX_TENANTS plus one `_other` series.
import { spawnSync } from 'node:child_process'
import { test } from 'tap'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, openClient, startServer } from '../helpers/ws-client.js'
import { parsePrometheusText } from './prometheus-text.js'

function promtool (args: string[], input: string) {
  return spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30_000 })
}

async function scrape (port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) })
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`)
  return await res.text()
}

test('promtool check metrics passes on real /metrics output with no finding', async (t) => {
  const { app, url } = await startServer(t, { MCP_METRICS_MAX_TENANTS: '2' })
  const port = (app.server.address() as { port: number }).port
  for (const tenant of ['acme', 'globex', 'initech']) {
    const client = await connectAuthenticated(url, signTestToken({ sub: 'alice', tenant }))
    t.teardown(() => client.close())
    t.equal((await client.request({ type: 'update_context', context: { note: `hello ${tenant}` } })).type, 'update_ack')
  }
  const refused = await openClient(url, { query: { token: 'not-a-jwt' } })
  t.equal((await refused.waitClosed()).code, 4001)
  await fetch(`http://127.0.0.1:${port}/context`, { signal: AbortSignal.timeout(10_000) }) // a 401

  const text = await scrape(port)
  const check = promtool(['check', 'metrics'], text)
  t.equal(check.error, undefined, 'promtool ran (installed by .ci/run; Debian package prometheus)')
  t.equal(`${check.stdout}${check.stderr}`, '', 'promtool reports no finding')
  t.equal(check.status, 0)

  const exposition = parsePrometheusText(text)
  t.equal(exposition.value('mcp_ws_closes_total', { code: '4001' }), 1, 'the refused connection is counted by close code')
  t.equal(exposition.samples.filter((s) => s.name === 'mcp_context_tokens').length, 3, 'two tenants by name and _other')
})

test('the tokens and entries series name the largest tenants and sum the rest under _other', async (t) => {
  const { app } = await startServer(t, { MCP_METRICS_MAX_TENANTS: '2' })
  const port = (app.server.address() as { port: number }).port
  const sizes: Record<string, number> = { small: 1, large: 40, medium: 10, tiny: 1, huge: 80 }
  for (const [tenant, words] of Object.entries(sizes)) {
    const headers = { authorization: `Bearer ${signTestToken({ sub: 'alice', tenant })}`, 'content-type': 'application/json' }
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/context`, {
        method: 'POST', headers, body: JSON.stringify({ context: { text: 'word '.repeat(words) } }), signal: AbortSignal.timeout(10_000)
      })
      t.equal(res.status, 201)
    }
  }
  const exposition = parsePrometheusText(await scrape(port))
  const series = (name: string) => Object.fromEntries(exposition.samples.filter((s) => s.name === name).map((s) => [s.labels.tenant, s.value]))
  const tokens = (tenant: string) => app.store.metadata(tenant).total_tokens
  t.same(series('mcp_context_tokens'), {
    huge: tokens('huge'), large: tokens('large'), _other: tokens('medium') + tokens('small') + tokens('tiny')
  })
  t.same(series('mcp_context_entries'), { huge: 2, large: 2, _other: 6 })
  t.equal(exposition.value('mcp_context_tenants'), 5, 'the tenant count is not capped')
  t.equal(exposition.value('mcp_context_max_tokens'), app.config.maxTokens)
  t.equal(exposition.value('mcp_ready'), 1)
  t.equal(exposition.value('mcp_store_ready', { backend: 'memory' }), 1)
  t.ok((exposition.value('mcp_store_round_trip_seconds', { backend: 'memory' }) ?? -1) >= 0)
})

test('mcp_ready drops to 0 while the instance drains', async (t) => {
  const { app } = await startServer(t)
  app.lifecycle.beginShutdown()
  const exposition = parsePrometheusText(await app.metrics.registry.metrics())
  t.equal(exposition.value('mcp_ready'), 0)
  t.equal(exposition.value('mcp_store_ready', { backend: 'memory' }), 1, 'the store itself still answers')
})
