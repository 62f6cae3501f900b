// Who may use /mcp and what they see: bearer-token refusals with the RFC 9728 challenge, the
// protected-resource metadata document, roles, tenant isolation, sessions bound to the identity
// that opened them, and Host/Origin checks against DNS rebinding. Raw requests go over real HTTP
// (node:http, which lets a test send any Host header); MCP traffic through the official client.
import { test } from 'tap'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { signToken } from '../../src/auth/token-signer.js'
import { SNAPSHOT_URI, entryUri } from '../../src/mcp/context-uris.js'
import { ERAS, INITIALIZE, LEGACY, connect, raw, startServer, structured } from './mcp-harness.js'

test('no token or a bad token: 401 with a Bearer challenge naming the metadata document', async (t) => {
  const server = await startServer(t)
  const metadataUrl = `${server.base}/.well-known/oauth-protected-resource`

  const missing = await raw(server.url, { body: INITIALIZE })
  t.equal(missing.status, 401)
  t.equal(missing.headers['www-authenticate'], `Bearer resource_metadata="${metadataUrl}"`)
  t.match(JSON.parse(missing.body), { statusCode: 401, code: 'forbidden', details: { reason: 'unauthorized' }, message: 'Authentication token required' })

  const otherSecret = signToken({ ...server.config.jwt, secret: 'another-secret-that-is-long-enough-0123456789' }, { sub: 'alice', roles: ['writer'], ttlSeconds: 600 })
  for (const token of [otherSecret, 'not.a.jwt']) {
    const bad = await raw(server.url, { body: INITIALIZE, headers: { authorization: `Bearer ${token}` } })
    t.equal(bad.status, 401)
    t.match(bad.headers['www-authenticate'], new RegExp(`^Bearer resource_metadata="${metadataUrl}", error="invalid_token"`))
    t.notMatch(bad.body, token, 'the token is never echoed')
  }

  const get = await raw(server.url, { method: 'GET' })
  t.equal(get.status, 401, 'the notification stream needs a token too')

  const noRole = signToken(server.config.jwt, { sub: 'guest', roles: ['guest' as never], ttlSeconds: 600 })
  const roleless = await raw(server.url, { body: INITIALIZE, headers: { authorization: `Bearer ${noRole}` } })
  t.equal(roleless.status, 403, 'a valid token without a known role reads nothing')
  t.match(JSON.parse(roleless.body), { code: 'forbidden' })

  const client = new Client({ name: 'no-token', version: '1' })
  await t.rejects(client.connect(new StreamableHTTPClientTransport(server.url)), 'the official client cannot connect without a token')
  t.equal(server.app.sessions.size, 0, 'no session was opened')

  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /mcp_auth_attempts_total\{result="missing",surface="mcp"\} [1-9]/, 'refusals are counted')
  t.match(metrics, /mcp_auth_attempts_total\{result="invalid",surface="mcp"\} 2/)
})

test('the protected-resource metadata document (RFC 9728) describes /mcp', async (t) => {
  const server = await startServer(t)
  for (const path of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    const res = await raw(new URL(path, server.base), { method: 'GET' })
    t.equal(res.status, 200, path)
    t.match(res.headers['content-type'], /^application\/json/)
    t.same(JSON.parse(res.body), {
      resource: `${server.base}/mcp`,
      bearer_methods_supported: ['header'],
      resource_name: 'Context server (MCP)'
    })
  }
})

test('MCP_PUBLIC_URL and MCP_JWT_ISSUER shape the metadata and the challenge', async (t) => {
  const server = await startServer(t, { MCP_PUBLIC_URL: 'https://ctx.example.com/', MCP_JWT_ISSUER: 'https://id.example.com' })
  const doc = JSON.parse((await raw(new URL('/.well-known/oauth-protected-resource', server.base), { method: 'GET' })).body)
  t.equal(doc.resource, 'https://ctx.example.com/mcp')
  t.same(doc.authorization_servers, ['https://id.example.com'])
  const refused = await raw(server.url, { body: INITIALIZE })
  t.equal(refused.headers['www-authenticate'], 'Bearer resource_metadata="https://ctx.example.com/.well-known/oauth-protected-resource"')
  const { client } = await connect(t, server, server.token('alice'))
  t.equal(client.getNegotiatedProtocolVersion(), '2025-11-25', 'tokens carrying the configured issuer are accepted')
})

for (const era of ERAS) {
  test(`${era.name}: roles are enforced as on the WebSocket`, async (t) => {
    const server = await startServer(t)
    const alice = (await connect(t, server, server.token('alice'), era)).client
    const bob = (await connect(t, server, server.token('bob'), era)).client
    const rita = (await connect(t, server, server.token('rita', ['reader']), era)).client
    const root = (await connect(t, server, server.token('root', ['admin']), era)).client

    await alice.callTool({ name: 'update_context', arguments: { context: { mine: true }, key: 'alice-notes' } })

    const readerWrite = await rita.callTool({ name: 'update_context', arguments: { context: { x: 1 } } })
    t.equal(readerWrite.isError, true)
    t.equal(structured(t, readerWrite).code, 'forbidden', 'a reader cannot write')
    t.equal(structured(t, await rita.callTool({ name: 'clear_context', arguments: {} })).code, 'forbidden', 'nor clear')
    t.same(Object.keys(structured(t, await rita.callTool({ name: 'get_context', arguments: {} })).data), ['alice-notes'], 'but reads')
    t.ok((await rita.readResource({ uri: entryUri('alice-notes') })).contents.length, 'and reads resources')

    const stranger = await bob.callTool({ name: 'set_priority', arguments: { key: 'alice-notes', priority: 9 } })
    t.equal(structured(t, stranger).code, 'forbidden', "a writer cannot change another user's entry")
    t.equal(structured(t, await bob.callTool({ name: 'update_context', arguments: { context: { taken: true }, key: 'alice-notes' } })).code, 'forbidden')
    t.equal(structured(t, await bob.callTool({ name: 'clear_context', arguments: { all: true } })).code, 'forbidden', 'clearing the tenant needs admin')
    t.same(server.app.store.get('default', 'alice-notes')?.entry.content, { mine: true })

    const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body
    t.match(metrics, /mcp_errors_total\{code="forbidden",surface="mcp"\} 5/, 'tool errors are counted by code')

    t.notOk((await root.callTool({ name: 'set_priority', arguments: { key: 'alice-notes', priority: 9 } })).isError, 'an admin may')
    t.match(structured(t, await root.callTool({ name: 'clear_context', arguments: { all: true } })), { count: 1 })
  })

  test(`${era.name}: a tenant sees and changes only its own store`, async (t) => {
    const server = await startServer(t)
    const acme = (await connect(t, server, server.token('alice', ['admin'], 'acme'), era)).client
    const globex = (await connect(t, server, server.token('alice', ['admin'], 'globex'), era)).client

    await acme.callTool({ name: 'update_context', arguments: { context: { secret: 'acme' }, key: 'plan' } })
    const seen = structured(t, await globex.callTool({ name: 'get_context', arguments: {} }))
    t.same(seen.data, {}, "another tenant's entries are invisible")
    t.equal(seen.metadata.entry_count, 0)
    t.same((await globex.listResources()).resources.map((resource) => resource.uri), [SNAPSHOT_URI])
    await t.rejects(globex.readResource({ uri: entryUri('plan') }))

    await globex.callTool({ name: 'update_context', arguments: { context: { secret: 'globex' }, key: 'plan' } })
    await globex.callTool({ name: 'clear_context', arguments: { all: true } })
    t.same(server.app.store.get('acme', 'plan')?.entry.content, { secret: 'acme' }, 'the same key in another tenant is another entry')
  })
}

test('a 2025 session is bound to the identity that opened it', async (t) => {
  const server = await startServer(t)
  const { transport } = await connect(t, server, server.token('alice'), LEGACY)
  const sessionId = transport.sessionId
  if (sessionId === undefined) throw new Error('no session id')
  t.equal(server.app.sessions.get(`mcp-${sessionId}`)?.userId, 'alice', 'the session is a connected client of the instance')

  const listTools = (token: string) => raw(server.url, {
    body: { jsonrpc: '2.0', id: 7, method: 'tools/list' },
    headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal((await listTools(server.token('bob'))).status, 403, "another user's token is refused on it")
  t.equal((await listTools(server.token('alice', ['writer'], 'acme'))).status, 403, "so is the same user's token for another tenant")
  const own = await listTools(server.token('alice'))
  t.equal(own.status, 200, 'a fresh token of the same identity is accepted')
  t.match(own.body, 'update_context')

  const unknown = await raw(server.url, {
    body: { jsonrpc: '2.0', id: 8, method: 'tools/list' },
    headers: { authorization: `Bearer ${server.token('alice')}`, 'mcp-session-id': 'no-such-session', 'mcp-protocol-version': '2025-11-25' }
  })
  t.equal(unknown.status, 404, 'an unknown session is not found, so the host re-initializes')

  await transport.terminateSession()
  t.equal(server.app.sessions.get(`mcp-${sessionId}`), undefined, 'DELETE ends the session')
})

test('Host and Origin are checked against DNS rebinding', async (t) => {
  const server = await startServer(t)
  const token = server.token('alice')
  const call = (headers: Record<string, string>) => raw(server.url, { body: INITIALIZE, headers: { authorization: `Bearer ${token}`, ...headers } })

  t.equal((await call({ host: 'attacker.example' })).status, 403, 'a foreign Host is refused')
  t.equal((await call({ origin: 'http://attacker.example' })).status, 403, 'a foreign browser Origin is refused')
  t.equal((await call({ origin: 'null' })).status, 403, 'an opaque origin is refused')
  t.equal((await call({ host: `localhost:${server.url.port}`, origin: 'http://localhost:5173' })).status, 200, 'local names and origins pass')
  t.equal(server.app.sessions.size, 1, 'only the allowed initialize opened a session')

  const strict = await startServer(t, { MCP_ALLOWED_ORIGINS: 'https://app.example.com' })
  const strictCall = (origin: string) => raw(strict.url, { body: INITIALIZE, headers: { authorization: `Bearer ${strict.token('alice')}`, origin } })
  t.equal((await strictCall('https://app.example.com')).status, 200, 'MCP_ALLOWED_ORIGINS admits its origins')
  t.equal((await strictCall('http://localhost:5173')).status, 403, 'and only those')

  // Bound to every interface, the server cannot know its names unless MCP_PUBLIC_URL says them.
  const open = await startServer(t, { MCP_HOST: '0.0.0.0' })
  const openCall = (host: string) => raw(open.url, { body: INITIALIZE, headers: { authorization: `Bearer ${open.token('alice')}`, host } })
  t.equal((await openCall('ctx.internal')).status, 200, 'any Host on 0.0.0.0 without MCP_PUBLIC_URL')
  const pinned = await startServer(t, { MCP_HOST: '0.0.0.0', MCP_PUBLIC_URL: 'https://ctx.example.com' })
  const pinnedCall = (host: string) => raw(pinned.url, { body: INITIALIZE, headers: { authorization: `Bearer ${pinned.token('alice')}`, host } })
  t.equal((await pinnedCall('ctx.example.com')).status, 200, "MCP_PUBLIC_URL's host passes")
  t.equal((await pinnedCall('attacker.example')).status, 403, 'others do not')
})

test('no token with a malformed body is still 401 with the challenge (auth comes before parsing)', async (t) => {
  const server = await startServer(t)
  const { request } = await import('node:http')
  const response = await new Promise<{ status: number, challenge?: string, body: string }>((resolve, reject) => {
    const req = request(server.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'], body }))
    })
    req.on('error', reject)
    req.end('{"jsonrpc":"2.0", broken')
  })
  t.equal(response.status, 401)
  t.match(response.challenge, /^Bearer resource_metadata="/)
  t.match(JSON.parse(response.body), { code: 'forbidden', details: { reason: 'unauthorized' } })
})
