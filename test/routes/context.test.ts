// The context routes through app.inject: every route and status code, roles, ownership, tenants,
// token counting, eviction, and bad input that changes nothing.
import { test } from 'tap'
import { tokenCounter } from '../../src/token-counter.js'
import { signToken } from '../../src/auth/token-signer.js'
import {
  clearResultSchema, contextListSchema, errorSchema, keyedEntrySchema, priorityResultSchema, writeResultSchema
} from '../../src/rest/response-schemas.js'
import { testConfig } from '../helpers/config.js'
import { restApp } from './rest-client.js'

const countTokens = tokenCounter('o200k_base')

test('POST /context creates an entry: 201, Location, exact token count, contract entry shape', async (t) => {
  const { app, as } = await restApp(t)
  const content = { summary: 'Quarterly numbers are up', figures: [1, 2, 3] }
  const res = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: content, key: 'report', priority: 4 } })
  t.equal(res.statusCode, 201)
  t.equal(res.headers.location, '/context/report')
  const ack = writeResultSchema.parse(res.json())
  t.same(ack, { key: 'report', tokens: countTokens(JSON.stringify(content)), version: 1, seq: 1, epoch: app.store.epoch('default'), evicted: [], stored: true })

  const read = await app.inject({ method: 'GET', url: '/context/report', headers: as('bob', ['reader']) })
  t.equal(read.statusCode, 200)
  const entry = keyedEntrySchema.parse(read.json())
  t.same(Object.keys(read.json()).slice(0, 7), ['timestamp', 'content', 'tokens', 'source', 'priority', 'owner', 'version'],
    'the five fixed fields (and the rest) in the contract order')
  t.same(entry.content, content)
  t.equal(entry.tokens, ack.tokens)
  t.equal(entry.source, 'alice', 'source defaults to the writer')
  t.equal(entry.priority, 4)
  t.equal(entry.owner, 'alice')
  t.equal(entry.version, 1)
  t.equal(entry.key, 'report')
  t.ok(!Number.isNaN(Date.parse(entry.timestamp)))
})

test('POST /context without a key makes one from the source; priority defaults to 1', async (t) => {
  const { app, as } = await restApp(t)
  const res = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { a: 1 }, source: 'content_agent_001' } })
  t.equal(res.statusCode, 201)
  const { key } = res.json()
  t.match(key, /^content_agent_001_\d+\.\d{6}$/)
  t.equal(res.headers.location, `/context/${encodeURIComponent(key)}`)
  const entry = (await app.inject({ method: 'GET', url: res.headers.location as string, headers: as('alice') })).json()
  t.equal(entry.priority, 1)
  t.equal(entry.source, 'content_agent_001')
})

test('PUT /context/{key}: 201 on create, 200 on replace with version + 1', async (t) => {
  const { app, as } = await restApp(t)
  const created = await app.inject({ method: 'PUT', url: '/context/plan', headers: as('alice'), payload: { context: { step: 1 } } })
  t.equal(created.statusCode, 201)
  t.equal(created.json().version, 1)
  const replaced = await app.inject({ method: 'PUT', url: '/context/plan', headers: as('alice'), payload: { context: { step: 2 }, priority: 7 } })
  t.equal(replaced.statusCode, 200)
  t.same(writeResultSchema.parse(replaced.json()), { key: 'plan', tokens: countTokens('{"step":2}'), version: 2, seq: 2, epoch: app.store.epoch('default'), evicted: [], stored: true })
  const entry = (await app.inject({ method: 'GET', url: '/context/plan', headers: as('alice') })).json()
  t.same(entry.content, { step: 2 })
  t.equal(entry.priority, 7)
})

test('keys with slashes, spaces, unicode and the full 512 characters travel URL-encoded in the path', async (t) => {
  const { app, as } = await restApp(t)
  for (const key of ['reports/2026 Q1', 'clé-ü-日本', 'x'.repeat(512), '__proto__']) {
    const url = `/context/${encodeURIComponent(key)}`
    const put = await app.inject({ method: 'PUT', url, headers: as('alice'), payload: { context: { key } } })
    t.equal(put.statusCode, 201, `PUT ${key.slice(0, 20)}`)
    t.equal(put.json().key, key)
    const got = await app.inject({ method: 'GET', url, headers: as('alice') })
    t.equal(got.statusCode, 200)
    t.equal(got.json().key, key)
    t.same(got.json().content, { key })
  }
  const tooLong = await app.inject({ method: 'GET', url: `/context/${'x'.repeat(513)}`, headers: as('alice') })
  t.equal(tooLong.statusCode, 400)
  t.equal(tooLong.json().details[0].path, 'params.key')
})

test('writers change only their own entries; admins any entry of their tenant', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/alices', headers: as('alice'), payload: { context: { v: 1 } } })

  for (const [method, payload] of [['PUT', { context: { v: 'bob' } }], ['PATCH', { priority: 9 }], ['DELETE', undefined]] as const) {
    const res = await app.inject({ method, url: '/context/alices', headers: as('bob'), ...(payload !== undefined ? { payload } : {}) })
    t.equal(res.statusCode, 403, `${method} by another writer`)
    t.same(errorSchema.parse(res.json()), { statusCode: 403, error: 'Forbidden', message: 'Entry "alices" belongs to another user', code: 'forbidden' })
  }
  const untouched = (await app.inject({ method: 'GET', url: '/context/alices', headers: as('alice') })).json()
  t.same(untouched.content, { v: 1 })
  t.equal(untouched.version, 1)
  t.equal(untouched.priority, 1)

  const admin = as('root', ['admin'])
  t.equal((await app.inject({ method: 'PUT', url: '/context/alices', headers: admin, payload: { context: { v: 'root' } } })).statusCode, 200)
  t.equal((await app.inject({ method: 'PATCH', url: '/context/alices', headers: admin, payload: { priority: 9 } })).statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: '/context/alices', headers: admin })).statusCode, 204)
})

test('readers read but never write', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/k', headers: as('alice'), payload: { context: { v: 1 } } })
  const reader = as('rita', ['reader'])
  t.equal((await app.inject({ method: 'GET', url: '/context', headers: reader })).statusCode, 200)
  t.equal((await app.inject({ method: 'GET', url: '/context/k', headers: reader })).statusCode, 200)
  const refused = [
    await app.inject({ method: 'POST', url: '/context', headers: reader, payload: { context: { v: 2 } } }),
    await app.inject({ method: 'PUT', url: '/context/mine', headers: reader, payload: { context: { v: 2 } } }),
    await app.inject({ method: 'PATCH', url: '/context/k', headers: reader, payload: { priority: 2 } }),
    await app.inject({ method: 'DELETE', url: '/context/k', headers: reader }),
    await app.inject({ method: 'DELETE', url: '/context', headers: reader })
  ]
  t.same(refused.map((r) => r.statusCode), [403, 403, 403, 403, 403])
  t.same(refused.map((r) => r.json().code), ['forbidden', 'forbidden', 'forbidden', 'forbidden', 'forbidden'])
  t.equal(app.store.seq('default'), 1, 'nothing changed')
})

test('a token whose roles are all unknown reads nothing', async (t) => {
  const config = testConfig()
  const { app } = await restApp(t)
  const token = signToken(config.jwt, { sub: 'guest', roles: ['guest' as never], ttlSeconds: 60 })
  const res = await app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'forbidden')
})

test('tenants never see or touch each other', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/shared-name', headers: as('alice', ['writer'], 'acme'), payload: { context: { who: 'acme' } } })

  const globex = as('root', ['admin'], 'globex')
  const list = await app.inject({ method: 'GET', url: '/context', headers: globex })
  t.same(list.json().data, {})
  t.equal(list.json().metadata.entry_count, 0)
  t.equal((await app.inject({ method: 'GET', url: '/context/shared-name', headers: globex })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/context/shared-name', headers: globex })).statusCode, 404)
  t.equal((await app.inject({ method: 'PATCH', url: '/context/shared-name', headers: globex, payload: { priority: 5 } })).statusCode, 404)
  t.same((await app.inject({ method: 'DELETE', url: '/context?all=true', headers: globex })).json().removed, [])

  // Same key in another tenant is another entry.
  const own = await app.inject({ method: 'PUT', url: '/context/shared-name', headers: as('alice', ['writer'], 'globex'), payload: { context: { who: 'globex' } } })
  t.equal(own.statusCode, 201)
  const acme = await app.inject({ method: 'GET', url: '/context/shared-name', headers: as('bob', ['reader'], 'acme') })
  t.same(acme.json().content, { who: 'acme' })
  t.equal(acme.json().version, 1)
})

test('expected_version that does not match gives 409 version_conflict and changes nothing', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/doc', headers: as('alice'), payload: { context: { v: 1 } } })
  const stale = await app.inject({ method: 'PUT', url: '/context/doc', headers: as('alice'), payload: { context: { v: 2 }, expected_version: 3 } })
  t.equal(stale.statusCode, 409)
  const body = errorSchema.parse(stale.json())
  t.equal(body.code, 'version_conflict')
  t.equal(body.error, 'Conflict')
  const onlyIfAbsent = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { key: 'doc', context: { v: 3 }, expected_version: 0 } })
  t.equal(onlyIfAbsent.statusCode, 409)
  const entry = (await app.inject({ method: 'GET', url: '/context/doc', headers: as('alice') })).json()
  t.same(entry.content, { v: 1 })
  t.equal(app.store.seq('default'), 1)

  const current = await app.inject({ method: 'PUT', url: '/context/doc', headers: as('alice'), payload: { context: { v: 2 }, expected_version: 1 } })
  t.equal(current.statusCode, 200)
  t.equal(current.json().version, 2)
})

test('an entry over the budget gives 413 entry_too_large; an oversized body 413 too; nothing changes', async (t) => {
  const { app, as } = await restApp(t, { MCP_MAX_ENTRY_TOKENS: '20', MCP_MAX_MESSAGE_BYTES: '4096' })
  const big = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { text: 'word '.repeat(100) } } })
  t.equal(big.statusCode, 413)
  const body = errorSchema.parse(big.json())
  t.equal(body.code, 'entry_too_large')
  t.match(body.details, { max_entry_tokens: 20 })

  const huge = await app.inject({ method: 'POST', url: '/context', headers: as('alice'), payload: { context: { text: 'x'.repeat(5000) } } })
  t.equal(huge.statusCode, 413)
  t.equal(huge.json().code, 'entry_too_large')
  t.equal(app.store.seq('default'), 0)
  t.equal(app.store.metadata('default').entry_count, 0)
})

test('writes evict the lowest-ranked entries to stay within the budget, and say so', async (t) => {
  const { app, as } = await restApp(t, { MCP_MAX_TOKENS: '30' })
  const write = (key: string, priority: number) => app.inject({
    method: 'PUT', url: `/context/${key}`, headers: as('alice'), payload: { context: { filler: 'a b c d e f g h' }, priority }
  })
  const first = (await write('low', 1)).json()
  const perEntry = first.tokens
  t.ok(perEntry * 2 <= 30 && perEntry * 3 > 30, `entries of ${perEntry} tokens: two fit, three do not`)
  await write('high', 9)
  const third = await write('mid', 5)
  t.same(third.json().evicted, ['low'])
  t.equal(third.json().stored, true)

  // A low-priority write into a full store evicts itself; the reply says so.
  const self = await write('lowest', 1)
  t.equal(self.statusCode, 201)
  t.same(self.json().evicted, ['lowest'])
  t.equal(self.json().stored, false)
  t.equal((await app.inject({ method: 'GET', url: '/context/lowest', headers: as('alice') })).statusCode, 404)
  t.same(Object.keys((await app.inject({ method: 'GET', url: '/context', headers: as('alice') })).json().data), ['high', 'mid'])
})

test('PATCH /context/{key} sets the priority as a write: version + 1, most recent', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/a', headers: as('alice'), payload: { context: { v: 'a' }, priority: 3 } })
  await app.inject({ method: 'PUT', url: '/context/b', headers: as('alice'), payload: { context: { v: 'b' }, priority: 3 } })
  const res = await app.inject({ method: 'PATCH', url: '/context/a', headers: as('alice'), payload: { priority: 3 } })
  t.equal(res.statusCode, 200)
  t.same(priorityResultSchema.parse(res.json()), { key: 'a', priority: 3, version: 2, seq: 3 })
  t.same(Object.keys((await app.inject({ method: 'GET', url: '/context', headers: as('alice') })).json().data), ['a', 'b'],
    'the re-prioritised entry is now the most recent of its priority')

  const missing = await app.inject({ method: 'PATCH', url: '/context/none', headers: as('alice'), payload: { priority: 2 } })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'not_found')
})

test('DELETE /context/{key}: 204, then 404', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/gone', headers: as('alice'), payload: { context: { v: 1 } } })
  const del = await app.inject({ method: 'DELETE', url: '/context/gone', headers: as('alice') })
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  t.equal((await app.inject({ method: 'GET', url: '/context/gone', headers: as('alice') })).statusCode, 404)
  const again = await app.inject({ method: 'DELETE', url: '/context/gone', headers: as('alice') })
  t.equal(again.statusCode, 404)
  t.same(errorSchema.parse(again.json()), { statusCode: 404, error: 'Not Found', message: 'No entry with key "gone"', code: 'not_found' })
})

test('DELETE /context clears with the clear_context options', async (t) => {
  const { app, as } = await restApp(t)
  const put = (key: string, user: string, source: string) =>
    app.inject({ method: 'PUT', url: `/context/${key}`, headers: as(user), payload: { context: { key }, source } })
  await put('a1', 'alice', 'agent_a')
  await put('a2', 'alice', 'agent_b')
  await put('a3', 'alice', 'agent_a')
  await put('b1', 'bob', 'agent_a')

  const bySource = await app.inject({ method: 'DELETE', url: '/context?source=agent_a', headers: as('alice') })
  t.equal(bySource.statusCode, 200)
  const cleared = clearResultSchema.parse(bySource.json())
  t.same(cleared.removed.sort(), ['a1', 'a3'], "only the caller's entries with that source prefix")
  t.equal(cleared.count, 2)

  const othersKey = await app.inject({ method: 'DELETE', url: '/context?keys=a2,b1', headers: as('alice') })
  t.equal(othersKey.statusCode, 403, "naming another user's key is refused")
  t.equal((await app.inject({ method: 'GET', url: '/context/a2', headers: as('alice') })).statusCode, 200, 'and nothing was removed')

  const notAdmin = await app.inject({ method: 'DELETE', url: '/context?all=true', headers: as('alice') })
  t.equal(notAdmin.statusCode, 403)

  const own = await app.inject({ method: 'DELETE', url: '/context', headers: as('alice') })
  t.same(own.json().removed, ['a2'], 'no option: the caller\'s own entries')

  const all = await app.inject({ method: 'DELETE', url: '/context?all=true', headers: as('root', ['admin']) })
  t.same(all.json().removed, ['b1'])
  t.equal(app.store.metadata('default').entry_count, 0)

  const repeated = await app.inject({ method: 'DELETE', url: '/context?keys=x&keys=y', headers: as('alice') })
  t.same(repeated.json(), { removed: [], count: 0, seq: app.store.seq('default') })
})

test('GET /context returns the whole store in rank order with totals and seq', async (t) => {
  const { app, as } = await restApp(t)
  const put = (key: string, priority: number) =>
    app.inject({ method: 'PUT', url: `/context/${key}`, headers: as('alice'), payload: { context: { key }, priority } })
  await put('old-low', 1)
  await put('high', 8)
  await put('new-low', 1)
  await put('mid', 5)
  const res = await app.inject({ method: 'GET', url: '/context', headers: as('alice') })
  t.equal(res.statusCode, 200)
  const body = contextListSchema.parse(res.json())
  t.same(Object.keys(body.data), ['high', 'mid', 'new-low', 'old-low'], 'priority descending, then most recent write')
  const store = app.store.metadata('default')
  t.same(body.metadata, {
    total_tokens: store.total_tokens,
    max_tokens: 128000,
    entry_count: 4,
    matched: 4,
    returned: 4,
    returned_tokens: store.total_tokens,
    truncated: false
  })
  t.equal(body.seq, 4)
  t.equal(body.epoch, app.store.epoch('default'), 'the epoch of the history seq belongs to')
  t.match(body.epoch, /^.{1,64}$/)
})

test('GET /context keeps rank order on the wire even for integer-like keys', async (t) => {
  const { app, as } = await restApp(t)
  await app.inject({ method: 'PUT', url: '/context/zeta', headers: as('alice'), payload: { context: { v: 1 }, priority: 9 } })
  await app.inject({ method: 'PUT', url: '/context/7', headers: as('alice'), payload: { context: { v: 2 }, priority: 1 } })
  const raw = (await app.inject({ method: 'GET', url: '/context', headers: as('alice') })).body
  t.ok(raw.indexOf('"zeta":') < raw.indexOf('"7":'), 'a JavaScript object would have put "7" first')
})

test('GET /context applies every query_context filter from the query string', async (t) => {
  const { app, as } = await restApp(t)
  const put = (key: string, source: string, priority: number, content: object) =>
    app.inject({ method: 'PUT', url: `/context/${key}`, headers: as('alice'), payload: { context: content, source, priority } })
  await put('e1', 'agent_alpha', 2, { topic: 'weather', text: 'sunny' })
  await put('e2', 'agent_beta', 5, { topic: 'markets', text: 'stocks up and bonds down '.repeat(10) })
  await put('e3', 'agent_alpha_2', 8, { topic: 'weather', text: 'rain later' })
  // Timestamps have millisecond resolution: step clear of the writes on both sides.
  await new Promise((resolve) => setTimeout(resolve, 5))
  const midpoint = new Date().toISOString()
  await new Promise((resolve) => setTimeout(resolve, 5))
  await put('e4', 'tools', 3, { topic: 'sports', text: 'match tonight' })

  const keysOf = async (query: string) => {
    const res = await app.inject({ method: 'GET', url: `/context?${query}`, headers: as('alice') })
    t.equal(res.statusCode, 200, query)
    return Object.keys(contextListSchema.parse(res.json()).data)
  }
  t.same(await keysOf('source=agent_alpha'), ['e3', 'e1'], 'source is a prefix')
  t.same(await keysOf('sources=agent_alpha,tools'), ['e4', 'e1'], 'sources: comma list, exact')
  t.same(await keysOf('sources=agent_alpha&sources=agent_beta'), ['e2', 'e1'], 'sources: repeated')
  t.same(await keysOf('keys=e1&keys=e4,e2'), ['e2', 'e4', 'e1'], 'keys: repeated and comma list together')
  t.same(await keysOf('min_priority=3'), ['e3', 'e2', 'e4'])
  t.same(await keysOf('max_priority=3'), ['e4', 'e1'])
  t.same(await keysOf('min_priority=3&max_priority=5'), ['e2', 'e4'])
  t.same(await keysOf(`since=${encodeURIComponent(midpoint)}`), ['e4'])
  t.same(await keysOf('text=weather'), ['e3', 'e1'], 'substring of the content JSON')
  t.same(await keysOf('limit=2'), ['e3', 'e2'])
  t.same(await keysOf('text=weather&min_priority=5'), ['e3'], 'filters combine')

  // Greedy fill in rank order (e3, e2, e4, e1): e2 is too large for what is left after e3, so
  // the smaller, lower-ranked e4 takes its place.
  const tokensOf = (key: string) => app.store.get('default', key)?.entry.tokens as number
  t.ok(tokensOf('e2') > tokensOf('e4'), 'e2 is larger than e4')
  const budget = tokensOf('e3') + tokensOf('e4')
  const res = await app.inject({ method: 'GET', url: `/context?max_tokens=${budget}`, headers: as('alice') })
  const body = contextListSchema.parse(res.json())
  t.same(Object.keys(body.data), ['e3', 'e4'])
  t.equal(body.metadata.returned_tokens, budget)
  t.equal(body.metadata.matched, 4)
  t.equal(body.metadata.returned, Object.keys(body.data).length)
  t.equal(body.metadata.truncated, true)
  t.equal(body.metadata.entry_count, 4, 'store totals stay those of the whole tenant')
})

test('bad query parameters give 400 validation_error with one detail per problem', async (t) => {
  const { app, as } = await restApp(t)
  const res = await app.inject({ method: 'GET', url: '/context?min_priority=high&limit=0&since=yesterday&colour=red', headers: as('alice') })
  t.equal(res.statusCode, 400)
  const body = errorSchema.parse(res.json())
  t.equal(body.code, 'validation_error')
  t.equal(body.error, 'Bad Request')
  const paths = (body.details as Array<{ path: string }>).map((d) => d.path).sort()
  t.same(paths, ['querystring', 'querystring.limit', 'querystring.min_priority', 'querystring.since'])
  t.match(body.message, /^Invalid request: /)

  const bool = await app.inject({ method: 'DELETE', url: '/context?all=maybe', headers: as('root', ['admin']) })
  t.equal(bool.statusCode, 400)
  t.equal(bool.json().details[0].path, 'querystring.all')
})

test('bad bodies give 400 with what was wrong, and change nothing', async (t) => {
  const { app, as } = await restApp(t, { MCP_MAX_DEPTH: '4' })
  const cases = [
    { url: '/context', payload: { source: 'x' }, path: 'body.context' },
    { url: '/context', payload: { context: [1, 2] }, path: 'body.context' },
    { url: '/context', payload: { context: 'text' }, path: 'body.context' },
    { url: '/context', payload: { context: {}, priority: 11 }, path: 'body.priority' },
    { url: '/context', payload: { context: {}, priority: 2.5 }, path: 'body.priority' },
    { url: '/context', payload: { data: { a: 1 } }, path: 'body' },
    { url: '/context', payload: { context: {}, ttl_seconds: 0 }, path: 'body.ttl_seconds' },
    { url: '/context', payload: { context: { a: { b: { c: { d: { e: 1 } } } } } }, path: 'content.a.b.c.d' }
  ]
  for (const c of cases) {
    const res = await app.inject({ method: 'POST', url: c.url, headers: as('alice'), payload: c.payload })
    t.equal(res.statusCode, 400, JSON.stringify(c.payload))
    const body = errorSchema.parse(res.json())
    t.equal(body.code, 'validation_error')
    t.ok((body.details as Array<{ path: string }>).some((d) => d.path === c.path), `a detail at ${c.path}: ${JSON.stringify(body.details)}`)
  }
  const keyInPutBody = await app.inject({ method: 'PUT', url: '/context/k', headers: as('alice'), payload: { key: 'other', context: {} } })
  t.equal(keyInPutBody.statusCode, 400)
  const patch = await app.inject({ method: 'PATCH', url: '/context/k', headers: as('alice'), payload: { priority: 'high' } })
  t.equal(patch.statusCode, 400)
  t.equal(patch.json().details[0].path, 'body.priority')

  const notJson = await app.inject({ method: 'POST', url: '/context', headers: { ...as('alice'), 'content-type': 'application/json' }, payload: '{"context": {' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().code, 'invalid_json')
  const pollution = await app.inject({ method: 'POST', url: '/context', headers: { ...as('alice'), 'content-type': 'application/json' }, payload: '{"context": {"__proto__": {"admin": true}}}' })
  t.equal(pollution.statusCode, 400)
  t.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype untouched')
  const text = await app.inject({ method: 'POST', url: '/context', headers: { ...as('alice'), 'content-type': 'text/plain' }, payload: 'hello' })
  t.equal(text.statusCode, 400)
  t.same(text.json().details, [{ path: 'body', message: 'Invalid input: expected object, received string' }])
  const xml = await app.inject({ method: 'POST', url: '/context', headers: { ...as('alice'), 'content-type': 'application/xml' }, payload: '<context/>' })
  t.equal(xml.statusCode, 415)
  t.equal(xml.json().code, 'invalid_json')

  t.equal(app.store.seq('default'), 0, 'nothing was written')
})

test('no token, a bad token or an expired one: 401 unauthorized with a Bearer challenge', async (t) => {
  const { app, as } = await restApp(t)
  const config = testConfig()
  const expired = signToken(config.jwt, { sub: 'alice', roles: ['writer'], ttlSeconds: -10 })
  const wrongSecret = signToken({ ...config.jwt, secret: 'another-secret-another-secret-another' }, { sub: 'alice', roles: ['writer'], ttlSeconds: 60 })
  const headers = [
    {},
    { authorization: 'Bearer not-a-jwt' },
    { authorization: `Bearer ${expired}` },
    { authorization: `Bearer ${wrongSecret}` },
    { authorization: as('alice').authorization.replace('Bearer', 'Basic') }
  ]
  for (const h of headers) {
    for (const [method, url] of [['GET', '/context'], ['POST', '/context'], ['GET', '/context/k'], ['DELETE', '/context']] as const) {
      const res = await app.inject({ method, url, headers: h, ...(method === 'POST' ? { payload: { context: {} } } : {}) })
      t.equal(res.statusCode, 401, `${method} ${url} with ${JSON.stringify(h).slice(0, 30)}`)
      t.equal(res.headers['www-authenticate'], 'Bearer')
      t.match(errorSchema.parse(res.json()), { code: 'forbidden', details: { reason: 'unauthorized' } })
      t.notMatch(res.body, /eyJ/, 'the token is never echoed')
    }
  }
  t.equal(app.store.seq('default'), 0)
})

test('an unknown route is 404 in the same shape; a failure inside a route is a masked 500', async (t) => {
  const { app, as } = await restApp(t)
  app.get('/explode', async () => { throw new Error('database password is hunter2') })
  const missing = await app.inject({ method: 'GET', url: '/nowhere?token=secret' })
  t.equal(missing.statusCode, 404)
  t.same(errorSchema.parse(missing.json()), { statusCode: 404, error: 'Not Found', message: 'Route GET:/nowhere not found', code: 'not_found' })

  const boom = await app.inject({ method: 'GET', url: '/explode', headers: as('alice') })
  t.equal(boom.statusCode, 500)
  t.same(boom.json(), { statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error', code: 'internal' })
})
