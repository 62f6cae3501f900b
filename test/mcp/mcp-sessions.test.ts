// MCP sessions and listen streams as connected clients of the instance: they count toward the
// connection caps (per user and per instance, WebSocket upgrades included), show in /status with
// their kind, 2025 sessions close when idle past MCP_SESSION_IDLE_TIMEOUT, an idle session gives
// way to a new client of a user at the cap, and the registry can end them by identity.
import { test, type Test } from 'tap'
import { LEGACY, MODERN, INITIALIZE, connect, raw, startServer, type McpServerUnderTest } from './mcp-harness.js'
import { connectAuthenticated, openClient, wsUrl } from '../helpers/ws-client.js'

async function initialize (server: McpServerUnderTest, token: string) {
  return await raw(server.url, { body: INITIALIZE, headers: { authorization: `Bearer ${token}` } })
}

/** A 2025 session in use: the official client, with its GET stream open. */
async function busySession (t: Test, server: McpServerUnderTest, user: string) {
  const connected = await connect(t, server, server.token(user), LEGACY)
  await connected.streamOpened()
  return connected
}

async function statusOf (server: McpServerUnderTest) {
  const res = await server.app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${server.token('root', ['admin'])}` } })
  return res.json() as { authenticated_clients: Array<{ client_id: string, kind: string, user_id: string }> }
}

/** Polls a condition the server reaches on its own (a socket close it has to notice); a safety bound only. */
async function until (t: Test, what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  t.pass(what)
}

test('sessions in use count toward the connection caps and show in /status', async (t) => {
  const server = await startServer(t, { MCP_MAX_CONNECTIONS_PER_USER: '1', MCP_MAX_CONNECTIONS: '2' })
  const alice = await busySession(t, server, 'alice')

  const second = await initialize(server, server.token('alice'))
  t.equal(second.status, 429, 'one connection per user here, and alice\'s is in use')
  t.match(second.body, 'Too many connections for this user')
  await busySession(t, server, 'bob')
  const third = await initialize(server, server.token('carol'))
  t.equal(third.status, 429, 'and two on the instance')
  t.match(third.body, 'Too many connections on this server')

  const clients = (await statusOf(server)).authenticated_clients
  t.same(clients.map((client) => [client.user_id, client.kind]).sort(), [['alice', 'mcp_session'], ['bob', 'mcp_session']])
  t.ok(clients.some((client) => client.client_id === `mcp-${String(alice.transport.sessionId)}`))

  const ended = await raw(server.url, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${server.token('alice')}`, 'mcp-session-id': String(alice.transport.sessionId), 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal(ended.status, 200)
  t.equal((await initialize(server, server.token('alice'))).status, 200, 'a deleted session frees its place')
})

test('a session idle past MCP_SESSION_IDLE_TIMEOUT is closed, whatever MCP_CONNECTION_TIMEOUT says', async (t) => {
  const server = await startServer(t, { MCP_SESSION_IDLE_TIMEOUT: '1' })
  t.equal(server.config.connectionTimeoutMs, 86_400_000, 'the WebSocket idle timeout stays a day')
  const opened = await initialize(server, server.token('alice'))
  const sessionId = String(opened.headers['mcp-session-id'])
  t.equal(server.app.sessions.size, 1)

  // No GET stream is open, so nothing keeps the session: wait for the sweeper.
  await until(t, 'the idle session to be closed', () => server.app.sessions.size === 0)
  const late = await raw(server.url, {
    body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    headers: { authorization: `Bearer ${server.token('alice')}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal(late.status, 404, 'its id is no longer known')
})

test('sessions abandoned by the official client (close() sends no DELETE) do not lock their user out', async (t) => {
  const server = await startServer(t, { MCP_MAX_CONNECTIONS_PER_USER: '3' })
  const abandoned: string[] = []
  for (let job = 0; job < 3; job++) {
    const connected = await busySession(t, server, 'alice')
    const id = `mcp-${String(connected.transport.sessionId)}`
    await connected.client.close()
    abandoned.push(id)
    // The server learns of the closed GET stream from its socket; then the session is idle.
    await until(t, `session ${job} to be idle`, () => server.app.sessions.get(id)?.reclaimable?.() === true)
  }
  t.equal(server.app.sessions.countForUser('default', 'alice'), 3, 'three idle sessions, none deleted')

  const fourth = await connect(t, server, server.token('alice'), LEGACY)
  const tools = await fourth.client.listTools()
  t.equal(tools.tools.length, 5, 'the fourth short job is served')
  t.equal(server.app.sessions.get(abandoned[0]), undefined, 'the least recently active idle session gave way')

  const agent = await connectAuthenticated(wsUrl(server.app), server.token('alice'))
  t.teardown(() => agent.close())
  t.equal(agent.frames.some((frame) => frame.type === 'auth_success'), true, 'and so does a WebSocket client of the same user')
  t.equal(server.app.sessions.get(abandoned[1]), undefined)
  t.equal(server.app.sessions.countForUser('default', 'alice'), 3)
})

test('MCP sessions count toward MCP_MAX_CONNECTIONS for WebSocket upgrades', async (t) => {
  const server = await startServer(t, { MCP_MAX_CONNECTIONS: '2' })
  await busySession(t, server, 'alice')
  await busySession(t, server, 'bob')
  await t.rejects(openClient(wsUrl(server.app), { query: { token: server.token('carol') } }), /HTTP 503/,
    'the instance is full: two MCP sessions in use')
})

test('2026-07-28: listen streams count per user, show in /status, and leave room for the tenant\'s other users', async (t) => {
  const server = await startServer(t, { MCP_MAX_CONNECTIONS_PER_USER: '2' })
  const alice = await connect(t, server, server.token('alice', ['reader']), MODERN)
  await alice.client.listen({ resourcesListChanged: true })
  await alice.client.listen({ resourcesListChanged: true })
  await t.rejects(alice.client.listen({ resourcesListChanged: true }), /Too many connections for this user/,
    'a third stream of the same user is refused')

  const bob = await connect(t, server, server.token('bob', ['reader']), MODERN)
  const bobs = await bob.client.listen({ resourcesListChanged: true })
  t.same(bobs.honoredFilter, { resourcesListChanged: true }, 'another user of the tenant still listens')

  const streams = (await statusOf(server)).authenticated_clients
  t.same(streams.map((client) => [client.user_id, client.kind]).sort(), [['alice', 'mcp_stream'], ['alice', 'mcp_stream'], ['bob', 'mcp_stream']])
  await bobs.close()
  await until(t, 'the closed stream to leave the registry', () => server.app.sessions.countForUser('default', 'bob') === 0)
})

for (const era of [LEGACY, MODERN]) {
  test(`${era.name}: the registry ends the MCP clients whose identity matches (revocation)`, async (t) => {
    const server = await startServer(t)
    const mallory = await connect(t, server, server.token('mallory'), era)
    mallory.client.onerror = () => {} // its reconnect attempts after the end are not the test's concern
    if (era === MODERN) await mallory.client.listen({ resourcesListChanged: true })
    else await mallory.streamOpened()
    const alice = await connect(t, server, server.token('alice'), era)
    if (era === MODERN) await alice.client.listen({ resourcesListChanged: true })
    else await alice.streamOpened()

    const ended = server.app.sessions.endWhere((client) => client.identity?.userId === 'mallory', 'Token revoked')
    t.equal(ended, 1)
    await mallory.streamEnded()
    t.equal(server.app.sessions.countForUser('default', 'mallory'), 0)
    t.equal(server.app.sessions.countForUser('default', 'alice'), 1, 'other users keep theirs')
  })
}
