// Large frames are parsed, validated, serialized and counted on a worker thread
// (src/ws/large-frame.ts): every contract check still holds on that path (zod validation,
// prototype-safe parsing, the depth limit, invalid JSON), counts equal the inline counter, a large
// frame that is not a write is still served, and a write keeps its place in its tenant's order.
import { test, type Test } from 'tap'
import { FROM_JSON, contentOfEntry } from '../../src/store/content-from-json.js'
import { tokenCounter } from '../../src/token-counter.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

const as = (sub: string, tenant: string) => signTestToken({ sub, roles: ['writer'], tenant })
const count = tokenCounter('o200k_base')

// Frames of 4 KB or more take the thread path once a thread has loaded the frame code.
const SERVER = { MCP_TOKENIZER_THREADS: '1', MCP_TOKENIZER_INLINE_BELOW: '4096', MCP_MAX_TOKENS: '1000000', MCP_WS_RATE_LIMIT: '100000' }
const LARGE = 'The quick brown fox jumps over the lazy dog. '.repeat(200) // 9 KB

async function serverWithWarmThreads (t: Test) {
  const server = await startServer(t, SERVER)
  const client = await connectAuthenticated(server.url, as('warm', 'warm'), { mode: 'none' })
  // The first large write is counted on a thread the ordinary way; then the thread loads the frame code.
  await client.request({ type: 'update_context', key: 'warm', context: { note: LARGE } })
  const deadline = Date.now() + 60_000
  while (!server.app.tokenizer.framesReady) {
    if (Date.now() > deadline) throw new Error('the counting thread never loaded the frame code')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  client.close()
  return server
}

test('large frames on the thread path: checks, counts, other messages and order', async (t) => {
  const { app, url } = await serverWithWarmThreads(t)
  const writer = await connectAuthenticated(url, as('alice', 'big'), { mode: 'none' })

  const content = { note: LARGE, unicode: 'ünïcödé 中文 🎉 '.repeat(50) }
  const ack = await writer.request({ type: 'update_context', key: 'a', context: content })
  t.match(ack, { type: 'update_ack', status: 'success', key: 'a', tokens: count(JSON.stringify(content)), seq: 1 })
  t.same(app.store.get('big', 'a')?.entry.content, content, 'the content stored is the one sent')
  // The same for `data` (context_update), with arrays, null, false and a number in exponent form.
  const data = { rows: [{ id: 1, text: LARGE }, { id: 2, ok: false, none: null }], n: -1.5e-7, __proto__x: 'plain' }
  const dataAck = await writer.request({ type: 'context_update', key: 'b', data })
  t.match(dataAck, { type: 'update_ack', status: 'success', key: 'b', tokens: count(JSON.stringify(data)) })
  t.same(app.store.get('big', 'b')?.entry.content, data, 'context_update: the content stored is the one sent')

  const proto = await writer.request({ type: 'update_context', key: 'p', context: JSON.parse(`{"note":${JSON.stringify(LARGE)},"__proto__":{"polluted":true}}`) })
  t.match(proto, { type: 'error', code: 'validation_error' }, '__proto__ refused')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')

  let deep: unknown = { end: true }
  for (let i = 0; i < 40; i++) deep = { d: deep }
  const tooDeep = await writer.request({ type: 'update_context', key: 'd', context: { note: LARGE, deep } })
  t.match(tooDeep, { type: 'error', code: 'validation_error', details: [{ path: /^content\.deep\.d\.d/ }] }, 'the depth limit holds')
  // Thousands of levels: the parsed content must not cross back from the thread (a structured
  // clone that deep fails), so the refusal still comes, with the frame's id.
  const abyss = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000)
  writer.socket.send(`{"type":"update_context","id":"abyss","key":"abyss","context":${abyss}}`)
  t.match(await writer.next((f) => f.id === 'abyss'), { type: 'error', code: 'validation_error', details: [{ path: /^content\.a\.a/ }] },
    'a frame nested thousands deep is refused with its id')

  const invalid = await writer.request({ type: 'update_context', key: 'v', priority: 11, context: { note: LARGE } })
  t.match(invalid, { type: 'error', code: 'validation_error' }, 'zod validation holds')

  writer.send(`{"type":"update_context","id":"broken","context":{"note":${JSON.stringify(LARGE)}`)
  t.match(await writer.next((frame) => frame.type === 'error' && frame.code === 'invalid_json'), { code: 'invalid_json' }, 'invalid JSON refused')

  writer.send(`{"type":"ping","id":"padded"}${' '.repeat(8000)}`)
  t.match(await writer.next((frame) => frame.id === 'padded'), { type: 'pong' }, 'a large frame that is not a write is served')

  // Order: a large write, then a small one from another connection of the tenant, sent before
  // the large one is answered: the small one is applied after it.
  const other = await connectAuthenticated(url, as('carol', 'big'), { mode: 'none' })
  writer.send({ type: 'update_context', id: 'large', key: 'large', context: { note: LARGE.repeat(20) } })
  await writer.request({ type: 'ping' }) // the server has the large frame
  const small = await other.request({ type: 'update_context', key: 'small', context: { n: 1 } })
  const large = await writer.next((frame) => frame.id === 'large')
  t.match(large, { type: 'update_ack', seq: 3 })
  t.match(small, { type: 'update_ack', seq: 4 }, 'the small write waited for the large one')
  t.same(app.store.snapshot('big').entries.map((e) => e.key).sort(), ['a', 'b', 'large', 'small'], 'nothing refused was stored')
  writer.close()
  other.close()
})

test('a large write comes back from its thread as JSON alone, and every reader of it gets the content sent', async (t) => {
  const { app, url } = await serverWithWarmThreads(t)
  const writer = await connectAuthenticated(url, as('alice', 'json'), { mode: 'none' })
  const content = { note: LARGE, topic: 'quiz for lesson three', rows: [{ id: 1, ok: true }] }
  const ack = await writer.request({ type: 'update_context', key: 'q', priority: 4, idempotency_key: 'write-q', context: content })
  t.match(ack, { type: 'update_ack', status: 'success', key: 'q', tokens: count(JSON.stringify(content)), seq: 1 })
  const stored = app.store.get('json', 'q')
  // Internals reached on purpose: what crossed back from the thread is the JSON, not the tree.
  t.equal(stored === undefined ? undefined : contentOfEntry(stored.entry), FROM_JSON, 'stored as its JSON, unparsed')
  t.same(stored?.entry.content, content, 'read as the value sent')

  // Exactly-once on this path too: the same request again is replayed, another under the key refused.
  const again = await writer.request({ type: 'update_context', key: 'q', priority: 4, idempotency_key: 'write-q', context: content })
  t.match(again, { type: 'update_ack', status: 'success', seq: 1, replayed: true }, 'the retry is replayed')
  const reused = await writer.request({ type: 'update_context', key: 'q', priority: 4, idempotency_key: 'write-q', context: { ...content, topic: 'another' } })
  t.match(reused, { type: 'error', code: 'validation_error', details: { reason: 'idempotency_key_reused' } }, 'another content under the key is refused')

  // A priority change keeps the content; the relevance index reads it; REST serves it.
  t.match(await writer.request({ type: 'set_priority', key: 'q', priority: 9 }), { type: 'priority_set', key: 'q', priority: 9, version: 2 })
  await writer.request({ type: 'update_context', key: 'other', context: { note: 'unrelated shopping list' } })
  const ranked = await writer.request({ type: 'query_context', query: { relevant_to: 'quiz lesson three' } })
  t.same(Object.keys(ranked.data), ['q', 'other'], 'relevant_to ranks it first by its words')
  t.ok(ranked.metadata.scores.q > ranked.metadata.scores.other, 'with the higher score')
  t.same(ranked.data.q.content, content)
  const token = signTestToken({ sub: 'alice', roles: ['reader'], tenant: 'json' })
  const served = await app.inject({ method: 'GET', url: '/context/q', headers: { authorization: `Bearer ${token}` } })
  t.equal(served.statusCode, 200)
  t.same(served.json().content, content, 'GET /context/:key serves it')
  t.equal(served.json().priority, 9)
  writer.close()
})

test('a large write whose thread fails is prepared on the event loop: acked with its id and stored', async (t) => {
  const { app, url } = await serverWithWarmThreads(t)
  const writer = await connectAuthenticated(url, as('alice', 'fault'), { mode: 'none' })
  // Internals reached on purpose: the fault is a real thread terminated while it holds the frame.
  const pool = app.tokenizer as unknown as { inFlight: number, pool: { threads: Array<{ terminate: () => Promise<number> }> }, threadFailures: number }
  const content = { note: LARGE.repeat(100) } // ~900 KB: tens of milliseconds on the thread
  writer.send({ type: 'update_context', id: 'doomed', key: 'doomed', context: content })
  const deadline = Date.now() + 30_000
  while (pool.inFlight === 0) {
    if (Date.now() > deadline) throw new Error('the frame never reached a thread')
    await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await Promise.all(pool.pool.threads.map(async (thread) => await thread.terminate()))
  const ack = await writer.next((frame) => frame.id === 'doomed')
  t.match(ack, { type: 'update_ack', status: 'success', key: 'doomed', tokens: count(JSON.stringify(content)) }, 'acked with its id and the exact count')
  t.same(app.store.get('fault', 'doomed')?.entry.content, content, 'stored')
  t.equal(pool.threadFailures, 1, 'the thread failure was seen and the frame redone here')
  // The pool replaces the thread; later large writes take it.
  const next = await writer.request({ type: 'update_context', key: 'after', context: { note: LARGE } })
  t.match(next, { type: 'update_ack', status: 'success' })
  writer.close()
})
