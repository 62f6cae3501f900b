// Idempotency keys through the real surfaces (contract §8): the WebSocket `idempotency_key`, the
// REST `Idempotency-Key` header and the MCP tool argument. A retry gets the first reply again
// (same key, version, seq) marked `replayed: true`, no broadcast reaches subscribers, and a
// different request under the same key is refused (`idempotency_key_reused`, REST 422) with
// nothing changed. One key covers one request whatever the surface it is retried on.
import { test } from 'tap'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'
import { connect, structured, startServer as startMcpServer } from '../mcp/mcp-harness.js'
import { restApp } from './rest-client.js'

const withoutId = ({ id: _id, ...frame }: Record<string, unknown>) => frame

test('WebSocket: a retried write gets its first ack again, replayed, with no broadcast', async (t) => {
  const { app, url } = await startServer(t)
  const token = signTestToken({ sub: 'alice' })
  const writer = await connectAuthenticated(url, token, { mode: 'none' })
  const watcher = await connectAuthenticated(url, token, { mode: 'delta' })
  t.teardown(() => { writer.close(); watcher.close() })

  const write = { type: 'update_context', key: 'k', context: { step: 1 }, priority: 4, idempotency_key: 'write-1' }
  const first = await writer.request(write)
  t.equal(first.type, 'update_ack')
  t.notOk('replayed' in first, 'the first ack is not a replay')
  const again = await writer.request(write)
  t.same(withoutId(again), { ...withoutId(first), replayed: true }, 'same key, tokens, version, seq and evicted, marked replayed')
  const sameAsAgent = await writer.request({ type: 'context_update', key: 'k', data: { step: 1 }, priority: 4, idempotency_key: 'write-1' })
  t.equal(sameAsAgent.replayed, true, 'context_update with the same write under the same key is the same request')

  const reused = await writer.request({ ...write, context: { step: 2 } })
  t.same(withoutId(reused), {
    type: 'error',
    code: 'validation_error',
    message: 'This idempotency key was already used for a different request; use a new key for a new request',
    details: { reason: 'idempotency_key_reused' }
  }, 'a different write under the key is refused')
  const rest = await app.inject({ method: 'GET', url: '/context/k', headers: { authorization: `Bearer ${token}` } })
  t.match(rest.json(), { content: { step: 1 }, version: 1 }, 'and the store holds the first write only')

  const priority = await writer.request({ type: 'set_priority', key: 'k', priority: 9, idempotency_key: 'p-1' })
  t.same(withoutId(await writer.request({ type: 'set_priority', key: 'k', priority: 9, idempotency_key: 'p-1' })), { ...withoutId(priority), replayed: true })
  const cleared = await writer.request({ type: 'clear_context', keys: ['k'], idempotency_key: 'c-1' })
  t.same(withoutId(await writer.request({ type: 'clear_context', keys: ['k'], idempotency_key: 'c-1' })), { ...withoutId(cleared), replayed: true })

  const marker = await writer.request({ type: 'update_context', key: 'marker', context: { last: true } })
  await watcher.next((frame) => frame.type === 'context_delta' && frame.seq === marker.seq)
  t.same(watcher.frames.filter((f) => f.type === 'context_delta').map((f) => f.seq), [first.seq, priority.seq, cleared.seq, marker.seq],
    'subscribers saw each change once: no broadcast for a replay')

  for (const bad of ['', 'x'.repeat(129), 42]) {
    const refused = await writer.request({ type: 'update_context', key: 'bad', context: {}, idempotency_key: bad })
    t.equal(refused.code, 'validation_error', `idempotency_key ${JSON.stringify(bad).slice(0, 20)} is refused`)
    t.equal(refused.details[0].path, 'idempotency_key')
  }
})

test('REST: Idempotency-Key on POST, PUT, PATCH and DELETE; a reused key is 422 and changes nothing', async (t) => {
  const { app, as } = await restApp(t)
  const alice = as('alice')
  const withKey = (key: string) => ({ ...alice, 'idempotency-key': key })

  const post = (key: string, context: object) => app.inject({ method: 'POST', url: '/context', headers: withKey(key), payload: { key: 'k', context } })
  const first = await post('post-1', { v: 1 })
  t.equal(first.statusCode, 201)
  t.equal(first.headers['idempotent-replayed'], undefined)
  const again = await post('post-1', { v: 1 })
  t.equal(again.statusCode, 201, 'the same status')
  t.equal(again.headers['idempotent-replayed'], 'true', 'marked in a header')
  t.same(again.json(), { ...first.json(), replayed: true }, 'the first body, marked replayed')
  const reused = await post('post-1', { v: 2 })
  t.equal(reused.statusCode, 422)
  t.same(reused.json(), {
    statusCode: 422,
    error: 'Unprocessable Entity',
    message: 'This idempotency key was already used for a different request; use a new key for a new request',
    code: 'validation_error',
    details: { reason: 'idempotency_key_reused' }
  })
  const stored = await app.inject({ method: 'GET', url: '/context/k', headers: alice })
  t.match(stored.json(), { content: { v: 1 }, version: 1 }, 'the refused request changed nothing')

  const put = () => app.inject({ method: 'PUT', url: '/context/p', headers: withKey('put-1'), payload: { context: { p: 1 } } })
  const created = await put()
  t.equal(created.statusCode, 201)
  const createdAgain = await put()
  t.equal(createdAgain.statusCode, 201, 'a replayed create is still a 201')
  t.same(createdAgain.json(), { ...created.json(), replayed: true })

  const patch = () => app.inject({ method: 'PATCH', url: '/context/p', headers: withKey('patch-1'), payload: { priority: 6 } })
  const patched = await patch()
  t.same((await patch()).json(), { ...patched.json(), replayed: true })
  t.equal((await app.inject({ method: 'GET', url: '/context/p', headers: alice })).json().version, 2, 'one priority change')

  const remove = () => app.inject({ method: 'DELETE', url: '/context/p', headers: withKey('delete-1') })
  t.equal((await remove()).statusCode, 204)
  const removedAgain = await remove()
  t.equal(removedAgain.statusCode, 204, 'a retried delete is a 204 again, not a 404')
  t.equal(removedAgain.headers['idempotent-replayed'], 'true')
  t.equal((await app.inject({ method: 'DELETE', url: '/context/p', headers: alice })).statusCode, 404, 'without the key it is a new request')

  const clear = () => app.inject({ method: 'DELETE', url: '/context?keys=k', headers: withKey('clear-1') })
  const cleared = await clear()
  t.same(cleared.json().removed, ['k'])
  t.same((await clear()).json(), { ...cleared.json(), replayed: true })

  const bob = await app.inject({ method: 'POST', url: '/context', headers: { ...as('bob'), 'idempotency-key': 'post-1' }, payload: { key: 'bk', context: { b: 1 } } })
  t.equal(bob.statusCode, 201)
  t.notOk('replayed' in bob.json(), 'keys are per user')

  const tooLong = await app.inject({ method: 'POST', url: '/context', headers: withKey('x'.repeat(129)), payload: { context: { v: 1 } } })
  t.equal(tooLong.statusCode, 400, 'a key over 128 characters is refused')
  t.equal(tooLong.json().details[0].path, 'headers.idempotency-key')
})

test('a write retried on another surface with the same key is the same request', async (t) => {
  const { app, url } = await startServer(t)
  const token = signTestToken({ sub: 'alice' })
  const writer = await connectAuthenticated(url, token, { mode: 'none' })
  t.teardown(() => writer.close())
  const ack = await writer.request({ type: 'update_context', key: 'k', context: { v: 1 }, idempotency_key: 'any-surface' })
  const retried = await app.inject({
    method: 'POST', url: '/context', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'any-surface' }, payload: { key: 'k', context: { v: 1 } }
  })
  t.match(retried.json(), { key: 'k', version: ack.version, seq: ack.seq, replayed: true }, 'REST replays the WebSocket write')
})

test('MCP: the idempotency_key tool argument', async (t) => {
  const server = await startMcpServer(t)
  const { client } = await connect(t, server, server.token('alice'))
  const call = (args: Record<string, unknown>) => client.callTool({ name: 'update_context', arguments: args })
  const first = structured(t, await call({ key: 'm', context: { v: 1 }, idempotency_key: 'mcp-1' }))
  t.notOk('replayed' in first)
  const again = structured(t, await call({ key: 'm', context: { v: 1 }, idempotency_key: 'mcp-1' }))
  t.same(again, { ...first, replayed: true }, 'the first result again, replayed')
  const reused = await call({ key: 'm', context: { v: 2 }, idempotency_key: 'mcp-1' })
  t.equal(reused.isError, true)
  t.same(structured(t, reused), {
    code: 'validation_error',
    message: 'This idempotency key was already used for a different request; use a new key for a new request',
    details: { reason: 'idempotency_key_reused' }
  })
  t.equal(server.app.store.get('default', 'm')?.entry.version, 1, 'applied once')
  const priority = structured(t, await client.callTool({ name: 'set_priority', arguments: { key: 'm', priority: 5, idempotency_key: 'mcp-p' } }))
  t.same(structured(t, await client.callTool({ name: 'set_priority', arguments: { key: 'm', priority: 5, idempotency_key: 'mcp-p' } })), { ...priority, replayed: true })
  const cleared = structured(t, await client.callTool({ name: 'clear_context', arguments: { keys: ['m'], idempotency_key: 'mcp-c' } }))
  t.same(structured(t, await client.callTool({ name: 'clear_context', arguments: { keys: ['m'], idempotency_key: 'mcp-c' } })), { ...cleared, replayed: true })
})
