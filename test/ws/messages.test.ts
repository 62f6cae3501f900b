// Every client message of CONTRACT §2 with its reply, the echoed id, and each error code the
// messages can produce; roles, ownership and tenants; frame-level abuse (binary, oversize, bad JSON,
// prototype pollution) that must cost the sender only.
import { test } from 'tap'
import { WebSocket } from 'ws'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })

test('update_context acks with key, tokens, version, seq and evicted; context_update with data is the same write', async (t) => {
  const { app, url } = await startServer(t)
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const ack = await alice.request({ type: 'update_context', context: { task: 'lesson', step: 1 }, source: 'content_agent_001', priority: 5, key: 'plan' })
  t.match(ack, { type: 'update_ack', status: 'success', key: 'plan', version: 1, seq: 1 })
  t.same(ack.evicted, [], 'nothing evicted')
  t.ok(ack.tokens > 0 && Number.isInteger(ack.tokens))

  const alias = await alice.request({ type: 'context_update', data: { progress: 'content_created' }, source: 'content_agent', priority: 3 })
  t.match(alias, { type: 'update_ack', status: 'success', version: 1, seq: 2 })
  t.match(alias.key, /^content_agent_\d+\.\d{6}$/, 'a generated key is made from the source')
  t.same(app.store.get('default', alias.key)?.entry.content, { progress: 'content_created' })

  const again = await alice.request({ type: 'update_context', context: { task: 'lesson', step: 2 }, key: 'plan', expected_version: 1 })
  t.match(again, { type: 'update_ack', version: 2, seq: 3 })
  alice.close()
})

test('the id is echoed exactly, string or integer, on replies and on errors', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  client.send({ type: 'ping', id: 42 })
  t.equal((await client.next((f) => f.id === 42)).type, 'pong')
  client.send({ type: 'get_context', id: 'x'.repeat(64) })
  t.equal((await client.next((f) => f.id === 'x'.repeat(64))).type, 'context')
  client.send({ type: 'nope', id: 'u1' })
  t.match(await client.next((f) => f.id === 'u1'), { type: 'error', code: 'unknown_type' })
  client.send({ type: 'set_priority', id: 7, key: 'k' })
  t.match(await client.next((f) => f.id === 7), { type: 'error', code: 'validation_error' })
  const before = client.frames.length
  client.send({ type: 'ping', id: 'y'.repeat(65) })
  const tooLong = await client.next((f) => f.type === 'error', before)
  t.equal(tooLong.code, 'validation_error')
  t.equal(tooLong.id, undefined, 'an invalid id is not echoed')
  t.equal(tooLong.details[0].path, 'id')
  client.close()
})

test('get_context returns the store in rank order with metadata and seq', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await client.request({ type: 'update_context', context: { n: 1 }, key: 'low', priority: 1 })
  await client.request({ type: 'update_context', context: { n: 2 }, key: 'high', priority: 9 })
  await client.request({ type: 'update_context', context: { n: 3 }, key: 'mid', priority: 5 })
  const context = await client.request({ type: 'get_context' })
  t.equal(context.type, 'context')
  t.same(Object.keys(context.data), ['high', 'mid', 'low'])
  t.same(context.data.high.content, { n: 2 })
  t.match(context.data.high, { tokens: Number, source: 'alice', priority: 9, owner: 'alice', version: 1 })
  t.equal(context.metadata.entry_count, 3)
  t.equal(context.metadata.max_tokens, 128000)
  t.equal(context.metadata.total_tokens, context.data.high.tokens + context.data.mid.tokens + context.data.low.tokens)
  t.equal(context.seq, 3)
  client.close()
})

test('query_context applies every filter and the token budget, in rank order', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const write = async (key: string, source: string, priority: number, content: object) =>
    await client.request({ type: 'update_context', key, source, priority, context: content })
  await write('a', 'content_agent_1', 3, { topic: 'fractions' })
  await write('b', 'content_agent_2', 7, { topic: 'geometry' })
  await write('c', 'quiz_agent', 5, { topic: 'fractions quiz' })
  // Timestamps have millisecond resolution: keep `since` strictly between c's write and d's.
  await new Promise((resolve) => setTimeout(resolve, 5))
  const since = new Date().toISOString()
  await new Promise((resolve) => setTimeout(resolve, 5))
  await write('d', 'content_agent_1', 1, { topic: 'algebra' })

  const query = async (q: object) => await client.request({ type: 'query_context', query: q })
  const keys = (reply: Record<string, any>) => Object.keys(reply.data)

  const bySource = await query({ source: 'content_agent' })
  t.equal(bySource.type, 'query_response')
  t.same(keys(bySource), ['b', 'a', 'd'], 'source is a prefix; rank order')
  t.same(bySource.metadata, { matched: 3, returned: 3, returned_tokens: bySource.data.a.tokens + bySource.data.b.tokens + bySource.data.d.tokens, truncated: false })
  t.same(keys(await query({ sources: ['quiz_agent', 'content_agent_2'] })), ['b', 'c'])
  t.same(keys(await query({ keys: ['a', 'd', 'zzz'] })), ['a', 'd'])
  t.same(keys(await query({ min_priority: 3, max_priority: 5 })), ['c', 'a'])
  t.same(keys(await query({ since })), ['d'])
  t.same(keys(await query({ text: 'fractions' })), ['c', 'a'])
  const limited = await query({ limit: 2 })
  t.same(keys(limited), ['b', 'c'])
  t.match(limited.metadata, { matched: 4, returned: 2, truncated: true })
  const budget = await query({ max_tokens: bySource.data.b.tokens })
  t.same(keys(budget), ['b'], 'only what fits the budget, best-ranked first')
  t.equal(budget.metadata.returned_tokens, bySource.data.b.tokens)
  t.equal(budget.metadata.truncated, true)
  t.same(keys(await query({})), ['b', 'c', 'a', 'd'], 'an empty query returns everything')

  const bad = await query({ min_priority: 0, colour: 'red' })
  t.equal(bad.code, 'validation_error')
  t.same(bad.details.map((d: { path: string }) => d.path).sort(), ['query', 'query.min_priority'].sort())
  client.close()
})

test('clear_context: own entries by default, by source or keys, the whole tenant for admins only', async (t) => {
  const { app, url } = await startServer(t)
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const bob = await connectAuthenticated(url, as('bob'), { mode: 'none' })
  const root = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await alice.request({ type: 'update_context', key: 'a1', source: 'agent_x', context: { v: 1 } })
  await alice.request({ type: 'update_context', key: 'a2', source: 'agent_y', context: { v: 2 } })
  await bob.request({ type: 'update_context', key: 'b1', source: 'agent_x', context: { v: 3 } })

  const bySource = await alice.request({ type: 'clear_context', source: 'agent_x' })
  t.match(bySource, { type: 'context_cleared', count: 1 })
  t.same(bySource.removed, ['a1'], 'a writer clears only its own entries')
  const forbidden = await alice.request({ type: 'clear_context', keys: ['b1'] })
  t.equal(forbidden.code, 'forbidden', 'naming another user\'s key is refused')
  const notAll = await alice.request({ type: 'clear_context', all: true })
  t.equal(notAll.code, 'forbidden', 'all: true needs admin')
  const own = await alice.request({ type: 'clear_context' })
  t.match(own, { count: 1 })
  t.same(own.removed, ['a2'])
  t.ok(app.store.get('default', 'b1'), 'bob\'s entry is still there')
  const all = await root.request({ type: 'clear_context', all: true })
  t.match(all, { type: 'context_cleared', count: 1 })
  t.same(all.removed, ['b1'])
  const nothing = await root.request({ type: 'clear_context', all: true })
  t.match(nothing, { count: 0 })
  t.same(nothing.removed, [])
  for (const c of [alice, bob, root]) c.close()
})

test('set_priority replies priority_set; not_found for an unknown key; ownership enforced', async (t) => {
  const { url } = await startServer(t)
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const bob = await connectAuthenticated(url, as('bob'), { mode: 'none' })
  const root = await connectAuthenticated(url, as('root', ['admin']), { mode: 'none' })
  await alice.request({ type: 'update_context', key: 'k', context: { v: 1 }, priority: 2 })
  t.match(await alice.request({ type: 'set_priority', key: 'k', priority: 8 }), { type: 'priority_set', key: 'k', priority: 8, version: 2 })
  t.match(await alice.request({ type: 'set_priority', key: 'missing', priority: 8 }), { type: 'error', code: 'not_found' })
  t.match(await bob.request({ type: 'set_priority', key: 'k', priority: 1 }), { type: 'error', code: 'forbidden' })
  t.match(await root.request({ type: 'set_priority', key: 'k', priority: 1 }), { type: 'priority_set', priority: 1, version: 3 }, 'an admin may change any entry')
  for (const c of [alice, bob, root]) c.close()
})

test('roles: readers read and subscribe but never write; writers change only their own entries', async (t) => {
  const { app, url } = await startServer(t)
  const reader = await connectAuthenticated(url, as('rita', ['reader']), { mode: 'none' })
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const bob = await connectAuthenticated(url, as('bob'), { mode: 'none' })
  await alice.request({ type: 'update_context', key: 'shared', context: { v: 1 } })

  t.match(await reader.request({ type: 'update_context', context: { v: 9 } }), { code: 'forbidden' })
  t.match(await reader.request({ type: 'context_update', data: { v: 9 } }), { code: 'forbidden' })
  t.match(await reader.request({ type: 'clear_context' }), { code: 'forbidden' })
  t.match(await reader.request({ type: 'set_priority', key: 'shared', priority: 3 }), { code: 'forbidden' })
  t.equal((await reader.request({ type: 'get_context' })).type, 'context')
  t.equal((await reader.request({ type: 'query_context', query: {} })).type, 'query_response')
  t.equal((await reader.request({ type: 'subscribe', mode: 'delta' })).type, 'subscribed')

  t.match(await bob.request({ type: 'update_context', key: 'shared', context: { v: 2 } }), { code: 'forbidden' }, 'bob cannot overwrite alice\'s entry')
  t.same(app.store.get('default', 'shared')?.entry.content, { v: 1 })
  t.equal(app.store.seq('default'), 1, 'no refused operation changed anything')
  for (const c of [reader, alice, bob]) c.close()
})

test('version_conflict and entry_too_large change nothing', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_TOKENS: '50' })
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await alice.request({ type: 'update_context', key: 'k', context: { v: 1 } })
  const conflict = await alice.request({ type: 'update_context', key: 'k', context: { v: 2 }, expected_version: 3 })
  t.match(conflict, { type: 'error', code: 'version_conflict' })
  const createOnly = await alice.request({ type: 'update_context', key: 'k', context: { v: 2 }, expected_version: 0 })
  t.match(createOnly, { type: 'error', code: 'version_conflict' }, 'expected_version 0 means create only')
  const large = await alice.request({ type: 'update_context', key: 'big', context: { text: 'word '.repeat(200) } })
  t.match(large, { type: 'error', code: 'entry_too_large' })
  t.same(app.store.get('default', 'k')?.entry.content, { v: 1 })
  t.equal(app.store.get('default', 'big'), undefined)
  t.equal(app.store.seq('default'), 1)
  alice.close()
})

test('a write that does not fit evicts what ranks last, and may evict itself; the ack says so', async (t) => {
  // Each entry below is 34 tokens ({"text":"word word ..."}); the budget holds two of them.
  const { url } = await startServer(t, { MCP_MAX_TOKENS: '80' })
  const alice = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const text = 'word '.repeat(30)
  const first = await alice.request({ type: 'update_context', key: 'old', priority: 5, context: { text } })
  t.equal(first.tokens, 34)
  t.same((await alice.request({ type: 'update_context', key: 'new', priority: 5, context: { text } })).evicted, [])
  const third = await alice.request({ type: 'update_context', key: 'top', priority: 9, context: { text } })
  t.same(third.evicted, ['old'], 'the oldest write of the lowest priority goes first')
  t.equal(third.stored, true)
  const low = await alice.request({ type: 'update_context', key: 'low', priority: 1, context: { text } })
  t.same(low.evicted, ['low'], 'a low-priority write into a full store evicts itself')
  t.equal(low.stored, false)
  const context = await alice.request({ type: 'get_context' })
  t.same(Object.keys(context.data), ['top', 'new'])
  alice.close()
})

test('subscribe replies subscribed with mode and seq; ping replies pong with a timestamp', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await client.request({ type: 'update_context', context: { v: 1 } })
  t.match(await client.request({ type: 'subscribe', mode: 'delta', filter: { source: 'a', min_priority: 2 } }), { type: 'subscribed', mode: 'delta', seq: 1 })
  t.match(await client.request({ type: 'subscribe' }), { type: 'subscribed', mode: 'snapshot', seq: 1 }, 'snapshot is the default mode')
  t.match(await client.request({ type: 'subscribe', mode: 'all' }), { type: 'error', code: 'validation_error' })
  t.match(await client.request({ type: 'subscribe', mode: 'delta', filter: { owner: 'x' } }), { type: 'error', code: 'validation_error' })
  const pong = await client.request({ type: 'ping' })
  t.equal(pong.type, 'pong')
  t.ok(Math.abs(Date.parse(pong.timestamp) - Date.now()) < 60_000)
  client.close()
})

test('get_status is for admins and returns the body of GET /status for the caller\'s tenant', async (t) => {
  const { url } = await startServer(t)
  const root = await connectAuthenticated(url, as('root', ['admin'], 'acme'), { mode: 'none' })
  const other = await connectAuthenticated(url, as('olga', ['writer'], 'other'), { mode: 'none' })
  const alice = await connectAuthenticated(url, as('alice', ['writer'], 'acme'), { mode: 'none' })
  await alice.request({ type: 'update_context', context: { v: 1 } })
  t.match(await alice.request({ type: 'get_status' }), { type: 'error', code: 'forbidden' })
  const status = await root.request({ type: 'get_status' })
  t.equal(status.type, 'status')
  t.equal(status.connected_clients, 2, 'only this tenant\'s clients')
  t.equal(status.context_entries, 1)
  t.equal(status.max_tokens, 128000)
  t.ok(status.total_tokens > 0)
  t.same(status.authenticated_clients.map((c: { user_id: string }) => c.user_id).sort(), ['alice', 'root'])
  t.match(status.authenticated_clients[0], { client_id: String, user_id: String, authenticated_at: String, last_activity: String })
  t.type(status.server_info.version, 'string')
  for (const c of [root, other, alice]) c.close()
})

test('tenants never see each other: reads, writes, clears and broadcasts', async (t) => {
  const { app, url } = await startServer(t)
  const acme = await connectAuthenticated(url, as('root', ['admin'], 'acme'), { mode: 'delta' })
  const globex = await connectAuthenticated(url, as('root', ['admin'], 'globex'), { mode: 'delta' })
  await acme.request({ type: 'update_context', key: 'secret', context: { plan: 'acme' } })
  await globex.request({ type: 'update_context', key: 'secret', context: { plan: 'globex' } })
  t.same((await globex.request({ type: 'get_context' })).data.secret.content, { plan: 'globex' })
  t.same(Object.keys((await globex.request({ type: 'query_context', query: { text: 'acme' } })).data), [])
  await globex.request({ type: 'clear_context', all: true })
  t.same(app.store.get('acme', 'secret')?.entry.content, { plan: 'acme' }, 'a clear in one tenant leaves the other')
  const globexDeltas = globex.frames.filter((f) => f.type === 'context_delta')
  t.ok(globexDeltas.every((d) => d.upserted.secret === undefined || d.upserted.secret.content.plan === 'globex'))
  t.notOk(acme.frames.some((f) => JSON.stringify(f).includes('"globex"')), 'no globex data reached acme')
  for (const c of [acme, globex]) c.close()
})

test('invalid_json and validation_error (with one detail per problem) keep the connection open', async (t) => {
  const { app, url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  let from = client.frames.length
  client.send('{"type": "ping",')
  t.match(await client.next((f) => f.type === 'error', from), { code: 'invalid_json' })
  for (const notObject of ['[1,2]', '"ping"', '42', 'null']) {
    from = client.frames.length
    client.send(notObject)
    t.match(await client.next((f) => f.type === 'error', from), { code: 'validation_error' }, notObject)
  }
  from = client.frames.length
  client.send({ id: 1 })
  const noType = await client.next((f) => f.type === 'error', from)
  t.match(noType, { code: 'validation_error', id: 1 })
  t.same(noType.details, [{ path: 'type', message: 'expected a string' }], 'one detail, naming the path')
  const many = await client.request({ type: 'update_context', context: 'text', priority: 11, key: '' })
  t.equal(many.code, 'validation_error')
  t.same(many.details.map((d: { path: string }) => d.path).sort(), ['context', 'key', 'priority'])
  const missing = await client.request({ type: 'update_context' })
  t.same(missing.details.map((d: { path: string }) => d.path), ['context'])
  t.equal((await client.request({ type: 'ping' })).type, 'pong', 'still open')
  t.equal(app.store.seq('default'), 0, 'nothing changed')
  client.close()
})

test('content nested deeper than MCP_MAX_DEPTH is a validation_error', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_DEPTH: '4' })
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const ok = await client.request({ type: 'update_context', context: { a: { b: { c: 1 } } } })
  t.equal(ok.type, 'update_ack')
  const deep = await client.request({ type: 'update_context', context: { a: { b: { c: { d: { e: 1 } } } } } })
  t.equal(deep.code, 'validation_error')
  t.match(deep.details[0].path, /^content\.a\.b\.c/)
  // Far deeper than any stack would allow if anything recursed over it.
  const hostile = '{"type":"update_context","id":"deep","context":' + '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000) + '}'
  client.send(hostile)
  t.match(await client.next((f) => f.id === 'deep'), { type: 'error', code: 'validation_error' })
  t.equal(app.store.seq('default'), 1)
  client.close()
})

test('prototype pollution attempts leave Object.prototype clean and the store unharmed', async (t) => {
  const { app, url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const inContent = await client.request({ type: 'update_context', context: JSON.parse('{"__proto__": {"polluted": "yes"}}') })
  t.equal(inContent.type, 'error', '__proto__ in content is refused')
  const frames = [
    '{"type":"update_context","id":"p1","context":{"__proto__":{"polluted":"yes"}}}',
    '{"type":"update_context","id":"p2","context":{"a":{"constructor":{"prototype":{"polluted":"yes"}}}}}',
    '{"type":"ping","id":"p3","__proto__":{"polluted":"yes"}}',
    '{"type":"update_context","id":"p4","context":{"\\u005f_proto__":{"polluted":"yes"}}}',
    '{"type":"query_context","id":"p5","query":{"__proto__":{"polluted":"yes"}}}'
  ]
  for (const [i, frame] of frames.entries()) {
    client.send(frame)
    const reply = await client.next((f) => f.id === `p${i + 1}`)
    t.match(reply, { type: 'error', code: 'validation_error' }, `refused with its id echoed: ${frame}`)
  }
  // A key named __proto__ is just a key: stored, read back and broadcast as data.
  const keyed = await client.request({ type: 'update_context', key: '__proto__', context: { polluted: 'no' } })
  t.equal(keyed.type, 'update_ack')
  const context = await client.request({ type: 'get_context' })
  t.ok(Object.hasOwn(context.data, '__proto__'), 'the entry is an own property of the parsed reply')
  t.same(app.store.get('default', '__proto__')?.entry.content, { polluted: 'no' })
  const query = await client.request({ type: 'query_context', query: { keys: ['__proto__', 'constructor'] } })
  t.equal(query.metadata.returned, 1)
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is clean')
  t.equal(Object.hasOwn(Object.prototype, 'polluted'), false)
  client.close()
})

test('a binary frame closes 1003; other clients and the process are unaffected', async (t) => {
  const { url } = await startServer(t)
  const bad = await connectAuthenticated(url, as('mallory'), { mode: 'none' })
  const good = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  bad.socket.send(Buffer.from('{"type":"ping"}'), { binary: true })
  t.equal((await bad.waitClosed()).code, 1003)
  t.equal((await good.request({ type: 'ping' })).type, 'pong')
  good.close()
})

test('a frame over MCP_MAX_MESSAGE_BYTES closes 1009 and is never handled', async (t) => {
  const { app, url } = await startServer(t, { MCP_MAX_MESSAGE_BYTES: '4096' })
  const bad = await connectAuthenticated(url, as('mallory'), { mode: 'none' })
  const good = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  bad.send({ type: 'update_context', context: { blob: 'x'.repeat(5000) } })
  t.equal((await bad.waitClosed()).code, 1009)
  t.equal(app.store.seq('default'), 0)
  const fits = await good.request({ type: 'update_context', context: { blob: 'word '.repeat(500) } })
  t.equal(fits.type, 'update_ack', 'a frame under the limit is fine')
  good.close()
})

test('an authenticate message after authentication is refused without closing', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  t.match(await client.request({ type: 'authenticate', token: signTestToken() }), { type: 'error', code: 'validation_error' })
  t.equal(client.socket.readyState, WebSocket.OPEN)
  client.close()
})
