// Two server processes sharing one Redis: a revocation made on A closes the revoked token's
// WebSocket connections on both instances (4001 "Token revoked") and is refused on B's REST and MCP
// surfaces even though B had verified (and cached) that token; and a write retried on B with the
// idempotency key of a write made on A gets A's first reply back.
import type { Test } from 'tap'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, type TestClient } from '../helpers/ws-client.js'

async function client (t: Test, server: ServerProcess, token: string, query: Record<string, string> = {}): Promise<TestClient> {
  const connection = await connectAuthenticated(server.ws, token, query)
  t.teardown(() => connection.close())
  return connection
}

async function mcpClient (t: Test, server: ServerProcess, token: string): Promise<Client> {
  const mcp = new Client({ name: 'security-tests', version: '1.0.0' })
  await mcp.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.base), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }))
  t.teardown(() => mcp.close())
  return mcp
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' })

redisTest('revocation and idempotency across two instances sharing one Redis', async (t) => {
  const env = { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) }
  const [a, b] = await Promise.all([spawnServer(t, env), spawnServer(t, env)])
  const admin = signTestToken({ sub: 'root', roles: ['admin'], tenant: 'shared' })

  t.test('a revocation on A closes the connections on A and B, and B refuses the cached token on REST and MCP', async (t) => {
    const alice = signTestToken({ sub: 'alice', tenant: 'shared' })
    const onA = await client(t, a, alice)
    const onB = await client(t, b, alice, { mode: 'delta' })
    const bystander = await client(t, b, signTestToken({ sub: 'bob', tenant: 'shared' }))
    const mcp = await mcpClient(t, b, alice)
    t.notOk((await mcp.callTool({ name: 'get_context', arguments: {} })).isError, 'MCP on B works before')
    for (let i = 0; i < 2; i++) t.equal((await fetch(`${b.base}/context`, { headers: bearer(alice) })).status, 200, 'B verified (and cached) the token')

    const created = await fetch(`${a.base}/revocations`, { method: 'POST', headers: bearer(admin), body: JSON.stringify({ sub: 'alice' }) })
    t.equal(created.status, 201)
    const revocation = await created.json() as { id: string }
    t.same(await onA.waitClosed(), { code: 4001, reason: 'Token revoked' }, 'closed on A')
    t.same(await onB.waitClosed(), { code: 4001, reason: 'Token revoked' }, 'closed on B')
    t.equal((await fetch(`${b.base}/context`, { headers: bearer(alice) })).status, 401, 'B refuses the cached token on REST')
    await t.rejects(mcp.callTool({ name: 'get_context', arguments: {} }), 'and on MCP')
    t.equal((await bystander.request({ type: 'ping' })).type, 'pong', "another user's connection on B stays open")

    const listed = await (await fetch(`${b.base}/revocations`, { headers: bearer(admin) })).json() as { revocations: Array<{ id: string }> }
    t.same(listed.revocations.map((r) => r.id), [revocation.id], 'B lists the revocation made on A')
    t.equal((await fetch(`${b.base}/revocations/${revocation.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin}` } })).status, 204, 'B lifts it')
    const deadline = Date.now() + 10_000
    let status = 0
    while (Date.now() < deadline && (status = (await fetch(`${a.base}/context`, { headers: bearer(alice) })).status) !== 200) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    t.equal(status, 200, 'and A accepts the token again')
  })

  t.test('a write retried on B with the key of a write made on A gets the first reply', async (t) => {
    const writer = signTestToken({ sub: 'carol', tenant: 'shared' })
    const onA = await client(t, a, writer, { mode: 'none' })
    const watcher = await client(t, b, writer, { mode: 'delta' })
    const first = await onA.request({ type: 'update_context', key: 'pay', context: { amount: 10 }, idempotency_key: 'pay-1' })
    t.equal(first.type, 'update_ack')
    const retry = await fetch(`${b.base}/context`, {
      method: 'POST', headers: { ...bearer(writer), 'idempotency-key': 'pay-1' }, body: JSON.stringify({ key: 'pay', context: { amount: 10 } })
    })
    const body = await retry.json() as Record<string, unknown>
    t.same(body, { key: 'pay', tokens: first.tokens, version: first.version, seq: first.seq, epoch: first.epoch, evicted: [], stored: true, replayed: true },
      "B answers with A's first reply")
    const onB = await client(t, b, writer, { mode: 'none' })
    const wsRetry = await onB.request({ type: 'update_context', key: 'pay', context: { amount: 10 }, idempotency_key: 'pay-1' })
    t.match(wsRetry, { type: 'update_ack', seq: first.seq, version: 1, replayed: true }, 'so does its WebSocket')
    const reused = await onB.request({ type: 'update_context', key: 'pay', context: { amount: 99 }, idempotency_key: 'pay-1' })
    t.same(reused.details, { reason: 'idempotency_key_reused' }, 'a different request under the key is refused on B too')
    const marker = await onA.request({ type: 'update_context', key: 'marker', context: {} })
    await watcher.next((f) => f.type === 'context_delta' && f.seq === marker.seq)
    t.same(watcher.frames.filter((f) => f.type === 'context_delta').map((f) => f.seq), [first.seq, marker.seq], 'one change, one broadcast')
  })
})
