// query_context with relevant_to over a real WebSocket: entries in relevance order, metadata.scores
// best first, max_tokens filled in that order, a too-long task refused, and no scores without it.
import { test } from 'tap'
import { MAX_RELEVANT_TO_CHARS } from '../../src/relevance/relevance-index.js'
import { actor } from '../helpers/actors.js'
import { EXPECTED_ORDER, seedRelevance, TASK } from '../helpers/relevance-seed.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

test('query_context relevant_to: relevance order, scores best first, budget filled in that order', async (t) => {
  const { app, url } = await startServer(t)
  await seedRelevance(app.store, actor('alice'))
  const client = await connectAuthenticated(url, signTestToken({ sub: 'bob', roles: ['reader'], tenant: 'default' }), { mode: 'none' })
  t.teardown(() => client.close())
  t.ok(client.frames.find((frame) => frame.type === 'auth_success')?.server_info.features.includes('relevant_to'), 'advertised in server_info.features')

  const ranked = await client.request({ type: 'query_context', query: { relevant_to: TASK } })
  t.equal(ranked.type, 'query_response')
  t.strictSame(Object.keys(ranked.data), EXPECTED_ORDER)
  t.strictSame(Object.keys(ranked.metadata.scores), EXPECTED_ORDER, 'metadata.scores in the same order, best first')
  const scores = Object.values(ranked.metadata.scores) as number[]
  t.ok(scores[0] > scores[1] && scores[1] > scores[2] && scores[2] > 0 && scores[3] === 0)
  t.match(ranked.metadata, { matched: 4, returned: 4, truncated: false })

  const best = app.store.get('default', EXPECTED_ORDER[0])?.entry.tokens ?? 0
  const budgeted = await client.request({ type: 'query_context', query: { relevant_to: TASK, max_tokens: best } })
  t.strictSame(Object.keys(budgeted.data), [EXPECTED_ORDER[0]], 'the budget holds the best match only')
  t.strictSame(Object.keys(budgeted.metadata.scores), [EXPECTED_ORDER[0]])
  // Recency moves with the clock between the two queries: equal up to the sixth decimal.
  t.ok(Math.abs(budgeted.metadata.scores[EXPECTED_ORDER[0]] - ranked.metadata.scores[EXPECTED_ORDER[0]]) < 1e-5)
  t.match(budgeted.metadata, { matched: 4, returned: 1, returned_tokens: best, truncated: true })

  const plain = await client.request({ type: 'query_context', query: {} })
  t.strictSame(Object.keys(plain.data), ['notice', 'quiz-plan', 'quiz-finding', 'video-plan'], 'without relevant_to: rank order')
  t.equal(plain.metadata.scores, undefined)
})

test('query_context refuses a relevant_to that is empty or too long, and a wrong type', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, signTestToken({ sub: 'bob', roles: ['reader'], tenant: 'default' }), { mode: 'none' })
  t.teardown(() => client.close())
  for (const relevant of ['', 'x'.repeat(MAX_RELEVANT_TO_CHARS + 1), 42]) {
    const reply = await client.request({ type: 'query_context', query: { relevant_to: relevant } })
    t.equal(reply.type, 'error')
    t.equal(reply.code, 'validation_error')
    t.equal(reply.details[0].path, 'query.relevant_to')
  }
  const longest = await client.request({ type: 'query_context', query: { relevant_to: 'quiz '.repeat(MAX_RELEVANT_TO_CHARS / 5) } })
  t.equal(longest.type, 'query_response', 'the longest task accepted')
})
