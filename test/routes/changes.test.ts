// GET /changes (contract §8), the audit trail: every change names its actor, from each surface
// (WebSocket with its client_id, REST, MCP with its session), and `system` for evictions and
// expiries; pages oldest first with since_seq and limit; admins only. On both backends.
import { test, type Test } from 'tap'
import { eventually, redisAnswers, REDIS_URL, uniquePrefix } from '../helpers/redis.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated } from '../helpers/ws-client.js'
import { connect, startServer } from '../mcp/mcp-harness.js'

const ADMIN = signTestToken({ sub: 'root', roles: ['admin'] })
const ALICE = signTestToken({ sub: 'alice' })
const redisAvailable = await redisAnswers()

interface Change { seq: number, at: string, reason: string, actor: Record<string, unknown>, upserted: string[], removed: string[] }

const backends: Array<{ name: string, env: (t: Test) => Record<string, string> }> = [
  { name: 'memory', env: () => ({}) },
  ...(redisAvailable ? [{ name: 'redis', env: (t: Test) => ({ MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) }) }] : [])
]

for (const backend of backends) {
  test(`${backend.name}: GET /changes names the actor of each change, system for evictions and expiries`, async (t) => {
    // A budget that two of the ~40-token entries below fill, so the third evicts.
    const server = await startServer(t, { ...backend.env(t), MCP_MAX_TOKENS: '100' })
    const { app } = server
    const changes = async (query = ''): Promise<{ changes: Change[], seq: number, epoch: unknown, has_more: boolean }> => {
      const response = await app.inject({ method: 'GET', url: `/changes${query}`, headers: { authorization: `Bearer ${ADMIN}` } })
      t.equal(response.statusCode, 200)
      return response.json()
    }
    const text = (n: number) => ({ text: 'word '.repeat(n) })

    const ws = await connectAuthenticated(server.base.replace('http', 'ws') + '/ws', ALICE, { mode: 'none' })
    t.teardown(() => ws.close())
    const clientId = (ws.frames.find((f) => f.type === 'auth_success') as { client_id: string }).client_id
    const wsAck = await ws.request({ type: 'update_context', key: 'from-ws', context: text(30), priority: 1 })
    const rest = await app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${ALICE}` }, payload: { key: 'from-rest', context: text(30), priority: 5 } })
    t.equal(rest.statusCode, 201)
    const mcp = await connect(t, server, server.token('alice'))
    const mcpWrite = await mcp.client.callTool({ name: 'update_context', arguments: { key: 'from-mcp', context: text(30), priority: 5 } })
    t.notOk(mcpWrite.isError, 'the MCP write evicts the lowest-ranked entry')
    const expiring = await app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${ALICE}` }, payload: { key: 'brief', context: { b: 1 }, priority: 10, ttl_seconds: 1 } })
    t.equal(expiring.statusCode, 201)
    await eventually(async () => (await changes()).changes.some((c) => c.reason === 'expired'), 10_000, 'the expiry in GET /changes')

    const body = await changes()
    t.same(body.changes.map((c) => [c.seq, c.reason, c.actor, c.upserted, c.removed]), [
      [wsAck.seq, 'created', { sub: 'alice', surface: 'ws', client_id: clientId }, ['from-ws'], []],
      [wsAck.seq + 1, 'created', { sub: 'alice', surface: 'rest' }, ['from-rest'], []],
      [wsAck.seq + 2, 'created', { sub: 'alice', surface: 'mcp', client_id: `mcp-${mcp.transport.sessionId as string}` }, ['from-mcp'], []],
      [wsAck.seq + 2, 'evicted', { sub: 'system', surface: 'system' }, [], ['from-ws']],
      [wsAck.seq + 3, 'created', { sub: 'alice', surface: 'rest' }, ['brief'], []],
      [wsAck.seq + 4, 'expired', { sub: 'system', surface: 'system' }, [], ['brief']]
    ], 'every change, oldest first, with its actor; the eviction inside the MCP write is the system\'s')
    t.equal(body.seq, wsAck.seq + 4)
    t.equal(body.has_more, false)
    t.ok(body.changes.every((c) => !Number.isNaN(Date.parse(c.at))), 'each has its time')

    const page = await changes(`?since_seq=${wsAck.seq}&limit=2`)
    t.same(page.changes.map((c) => [c.seq, c.reason]), [[wsAck.seq + 1, 'created'], [wsAck.seq + 2, 'created'], [wsAck.seq + 2, 'evicted']],
      'since_seq and limit page through changes (an evicting write is one change)')
    t.equal(page.has_more, true)
    t.same((await changes(`?since_seq=${body.seq}`)).changes, [], 'nothing after the current seq')

    for (const query of ['?limit=0', '?limit=1001', '?since_seq=-1', '?since_seq=abc', '?other=1']) {
      const refused = await app.inject({ method: 'GET', url: `/changes${query}`, headers: { authorization: `Bearer ${ADMIN}` } })
      t.equal(refused.statusCode, 400, `${query} is refused`)
    }
    const writer = await app.inject({ method: 'GET', url: '/changes', headers: { authorization: `Bearer ${ALICE}` } })
    t.equal(writer.statusCode, 403, 'admins only')
    const otherTenant = await app.inject({ method: 'GET', url: '/changes', headers: { authorization: `Bearer ${signTestToken({ sub: 'root', roles: ['admin'], tenant: 'other' })}` } })
    t.same(otherTenant.json().changes, [], "another tenant's admin sees none of them")
  })
}

test('the history is bounded: GET /changes starts at the oldest retained change', async (t) => {
  const server = await startServer(t, { MCP_HISTORY_SIZE: '3' })
  for (let i = 1; i <= 5; i++) {
    await server.app.inject({ method: 'PUT', url: `/context/k${i}`, headers: { authorization: `Bearer ${ALICE}` }, payload: { context: { i } } })
  }
  const response = await server.app.inject({ method: 'GET', url: '/changes?since_seq=0', headers: { authorization: `Bearer ${ADMIN}` } })
  t.same(response.json().changes.map((c: Change) => c.seq), [3, 4, 5], 'the last MCP_HISTORY_SIZE changes')
})

test('the journal keeps each change\'s actor: GET /changes after a restart on the same MCP_DATA_DIR', async (t) => {
  const env = { MCP_DATA_DIR: t.testdir() }
  const first = await startServer(t, env)
  const written = await first.app.inject({ method: 'PUT', url: '/context/kept', headers: { authorization: `Bearer ${ALICE}` }, payload: { context: { v: 1 } } })
  t.equal(written.statusCode, 201)
  const before = (await first.app.inject({ method: 'GET', url: '/changes', headers: { authorization: `Bearer ${ADMIN}` } })).json()
  await first.app.close()

  const second = await startServer(t, env)
  const after = (await second.app.inject({ method: 'GET', url: '/changes', headers: { authorization: `Bearer ${ADMIN}` } })).json()
  t.same(after.changes, before.changes, 'the same trail, actors included')
  t.same(after.changes.map((c: Change) => c.actor), [{ sub: 'alice', surface: 'rest' }])
  t.equal(after.epoch, before.epoch, 'in the same epoch')
  const context = (await second.app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${ALICE}` } })).json()
  t.equal(after.epoch, context.epoch, 'the epoch GET /context reports')
})
