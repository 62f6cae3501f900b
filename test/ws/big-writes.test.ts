// One client writing very large entries does not take the server from the others (contract §9):
// with MCP_TOKENIZER_THREADS >= 1 its contents are counted on a worker thread, so a ping sent
// while that count runs is answered first, and the writes it sends after, and its tenant's
// writes, are still applied in order. Asserted as orderings, never as durations.
import { test } from 'tap'
import { tokenCounter } from '../../src/token-counter.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

const as = (sub: string, tenant: string) => signTestToken({ sub, roles: ['writer'], tenant })

// Counting this takes a worker thread a good fraction of a second: far longer than the two
// round trips the test makes meanwhile.
const BIG = { note: 'lorem ipsum dolor sit amet '.repeat(120_000), run: 'a'.repeat(2_000_000) }

const SERVER = {
  MCP_TOKENIZER_THREADS: '1',
  MCP_MAX_MESSAGE_BYTES: String(16 * 1024 * 1024),
  MCP_MAX_TOKENS: '10000000',
  MCP_WS_BYTE_RATE: '1000000000',
  MCP_WS_RATE_LIMIT: '100000'
}

test('a ping sent while a large write is being counted is answered before that write\'s ack', async (t) => {
  const { url } = await startServer(t, SERVER)
  const writer = await connectAuthenticated(url, as('alice', 'big'), { mode: 'none' })
  const other = await connectAuthenticated(url, as('bob', 'small'), { mode: 'none' })
  writer.send({ type: 'update_context', id: 'big', key: 'big', context: BIG })
  // The writer's own ping, sent after the write, is handled after the write's handler has run:
  // its pong says the server has the write and has started on it.
  await writer.request({ type: 'ping' })
  const pong = await other.request({ type: 'ping' })
  t.equal(pong.type, 'pong')
  t.same(writer.frames.filter((frame) => frame.id === 'big'), [], 'the other client\'s ping was answered while the write was still being counted')
  const ack = await writer.next((frame) => frame.id === 'big')
  t.match(ack, { type: 'update_ack', status: 'success', tokens: tokenCounter('o200k_base')(JSON.stringify(BIG)) })
  writer.close()
  other.close()
})

test('writes sent after a large one, by the same connection or its tenant, are applied after it, in order', async (t) => {
  const { app, url } = await startServer(t, SERVER)
  const writer = await connectAuthenticated(url, as('alice', 'big'), { mode: 'none' })
  const sameTenant = await connectAuthenticated(url, as('carol', 'big'), { mode: 'none' })
  writer.send({ type: 'update_context', id: 'big', key: 'big', context: BIG })
  writer.send({ type: 'update_context', id: 'small', key: 'small', context: { n: 1 } })
  writer.send({ type: 'set_priority', id: 'raise', key: 'big', priority: 9 })
  await writer.request({ type: 'ping' }) // the server has started on all three
  const carol = await sameTenant.request({ type: 'update_context', key: 'carol', context: { n: 2 } })
  const replies = await Promise.all(['big', 'small', 'raise'].map(async (id) => await writer.next((frame) => frame.id === id)))
  t.same(replies.map((r) => [r.type, r.seq]), [['update_ack', 1], ['update_ack', 2], ['priority_set', 3]],
    'the small write and the priority change waited for the large write')
  t.match(carol, { type: 'update_ack', seq: 4 }, 'so did another connection of the same tenant')
  t.same(app.store.snapshot('big').entries.map((e) => e.key), ['big', 'carol', 'small'])
  writer.close()
  sameTenant.close()
})

test('counts made on a worker thread equal those made inline', async (t) => {
  const threaded = await startServer(t, { ...SERVER, MCP_TOKENIZER_INLINE_BELOW: '1024' })
  const inline = await startServer(t, { ...SERVER, MCP_TOKENIZER_THREADS: '0' })
  const contents = [
    { note: 'The quick brown fox jumps over the lazy dog. '.repeat(400) },
    { runs: ['='.repeat(5000), ' '.repeat(5000), '\n'.repeat(3000)], unicode: 'ünïcödé 中文 🎉 '.repeat(400) },
    { items: Array.from({ length: 300 }, (_, i) => ({ id: i, text: `<|endoftext|> step ${i}` })) }
  ]
  const counts = []
  for (const server of [threaded, inline]) {
    const client = await connectAuthenticated(server.url, as('alice', 'default'), { mode: 'none' })
    const acks = []
    for (const [i, context] of contents.entries()) acks.push(await client.request({ type: 'update_context', key: `k${i}`, context }))
    counts.push(acks.map((ack) => ack.tokens))
    client.close()
  }
  t.same(counts[0], counts[1])
  t.ok(counts[0].every((count) => Number.isInteger(count) && count > 0), 'every write was counted')
  t.same(counts[0], contents.map((content) => tokenCounter('o200k_base')(JSON.stringify(content))))
})
