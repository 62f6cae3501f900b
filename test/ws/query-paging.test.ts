// query_context over a real WebSocket with `limit` and `cursor`: a walk in rank order that a write
// during the walk never makes repeat an entry; a bad cursor is a validation_error reply.
import { test } from 'tap'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

test('query_context pages with limit and metadata.next_cursor, and a rewrite mid-walk is not returned twice', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, signTestToken({ sub: 'alice' }), { mode: 'none' })
  t.teardown(() => client.close())
  for (let i = 0; i < 5; i++) {
    t.equal((await client.request({ type: 'update_context', key: `k${i}`, context: { i } })).type, 'update_ack')
  }
  const first = await client.request({ type: 'query_context', query: { limit: 2 } })
  t.equal(first.type, 'query_response')
  t.same(Object.keys(first.data), ['k4', 'k3'])
  t.same(first.metadata, { matched: 5, returned: 2, returned_tokens: first.metadata.returned_tokens, truncated: true, next_cursor: first.metadata.next_cursor })
  // k4 was returned; rewriting it makes it the most recent, yet the walk does not return it again.
  t.equal((await client.request({ type: 'update_context', key: 'k4', context: { again: true } })).type, 'update_ack')
  const second = await client.request({ type: 'query_context', query: { limit: 2, cursor: first.metadata.next_cursor } })
  t.same(Object.keys(second.data), ['k2', 'k1'])
  const third = await client.request({ type: 'query_context', query: { limit: 2, cursor: second.metadata.next_cursor } })
  t.same(Object.keys(third.data), ['k0'])
  t.equal(third.metadata.next_cursor, undefined, 'the last page has no cursor')

  const bad = await client.request({ type: 'query_context', query: { limit: 2, cursor: 'bogus' } })
  t.match(bad, { type: 'error', code: 'validation_error' })
  t.ok(JSON.stringify(bad.details).includes('cursor'), 'the details name the cursor')
})
