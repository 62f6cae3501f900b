// 2025-protocol sessions as connected clients of the instance: they count toward the connection
// caps, show in /status, end on DELETE, and are closed when idle past MCP_CONNECTION_TIMEOUT.
import { test } from 'tap'
import { INITIALIZE, raw, startServer, type McpServerUnderTest } from './mcp-harness.js'

async function initialize (server: McpServerUnderTest, token: string) {
  return await raw(server.url, { body: INITIALIZE, headers: { authorization: `Bearer ${token}` } })
}

test('sessions count toward the connection caps and show in /status', async (t) => {
  const server = await startServer(t, { MCP_MAX_CONNECTIONS_PER_USER: '1', MCP_MAX_CONNECTIONS: '2' })
  const first = await initialize(server, server.token('alice'))
  t.equal(first.status, 200)
  const sessionId = first.headers['mcp-session-id']
  t.type(sessionId, 'string')

  const second = await initialize(server, server.token('alice'))
  t.equal(second.status, 429, 'one connection per user here')
  t.match(second.body, 'Too many connections for this user')
  t.equal((await initialize(server, server.token('bob'))).status, 200)
  const third = await initialize(server, server.token('carol'))
  t.equal(third.status, 429, 'and two on the instance')
  t.match(third.body, 'Too many connections on this server')

  const status = await server.app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${server.token('root', ['admin'])}` } })
  const clients = status.json().authenticated_clients as Array<{ client_id: string, user_id: string }>
  t.same(clients.map((client) => client.user_id).sort(), ['alice', 'bob'])
  t.ok(clients.some((client) => client.client_id === `mcp-${String(sessionId)}`))

  const ended = await raw(server.url, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${server.token('alice')}`, 'mcp-session-id': String(sessionId), 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal(ended.status, 200)
  t.equal((await initialize(server, server.token('alice'))).status, 200, 'a deleted session frees its place')
})

test('a session idle past MCP_CONNECTION_TIMEOUT is closed', async (t) => {
  const server = await startServer(t, { MCP_CONNECTION_TIMEOUT: '1' })
  const opened = await initialize(server, server.token('alice'))
  const sessionId = String(opened.headers['mcp-session-id'])
  t.equal(server.app.sessions.size, 1)

  // No GET stream is open, so nothing keeps the session: wait for the sweeper (a safety bound only).
  const deadline = Date.now() + 10_000
  while (server.app.sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(server.app.sessions.size, 0, 'the idle session is gone')
  const late = await raw(server.url, {
    body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    headers: { authorization: `Bearer ${server.token('alice')}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal(late.status, 404, 'its id is no longer known')
})
