// GET /context?relevant_to= through app.inject: relevance order, metadata.scores best first and
// held to the documented schema, max_tokens filled in that order, bad input refused with 400.
import { test } from 'tap'
import { MAX_RELEVANT_TO_CHARS } from '../../src/relevance/relevance-index.js'
import { contextListSchema } from '../../src/rest/response-schemas.js'
import { actor } from '../helpers/actors.js'
import { EXPECTED_ORDER, seedRelevance, TASK } from '../helpers/relevance-seed.js'
import { restApp } from './rest-client.js'

test('GET /context?relevant_to ranks by relevance and gives metadata.scores best first', async (t) => {
  const { app, as } = await restApp(t)
  await seedRelevance(app.store, actor('alice'))
  const res = await app.inject({ method: 'GET', url: '/context', query: { relevant_to: TASK }, headers: as('bob', ['reader']) })
  t.equal(res.statusCode, 200)
  const body = contextListSchema.parse(res.json())
  t.strictSame(Object.keys(body.data), EXPECTED_ORDER)
  t.strictSame(Object.keys(body.metadata.scores ?? {}), EXPECTED_ORDER)
  t.equal(body.metadata.scores?.notice, 0)
  t.match(body.metadata, { matched: 4, returned: 4, truncated: false, entry_count: 4 })

  const budget = (app.store.get('default', 'quiz-plan')?.entry.tokens ?? 0) + (app.store.get('default', 'quiz-finding')?.entry.tokens ?? 0)
  const budgeted = contextListSchema.parse((await app.inject({
    method: 'GET', url: `/context?relevant_to=${encodeURIComponent(TASK)}&max_tokens=${budget}`, headers: as('bob', ['reader'])
  })).json())
  t.strictSame(Object.keys(budgeted.data), ['quiz-plan', 'quiz-finding'])
  t.strictSame(Object.keys(budgeted.metadata.scores ?? {}), ['quiz-plan', 'quiz-finding'])
  t.match(budgeted.metadata, { returned: 2, returned_tokens: budget, truncated: true })

  const plain = contextListSchema.parse((await app.inject({ method: 'GET', url: '/context', headers: as('bob', ['reader']) })).json())
  t.equal(plain.metadata.scores, undefined, 'no scores without relevant_to')
  t.strictSame(Object.keys(plain.data), ['notice', 'quiz-plan', 'quiz-finding', 'video-plan'])
})

test('GET /context refuses an empty or too long relevant_to with 400 naming it, and nothing changes', async (t) => {
  const { app, as } = await restApp(t)
  await seedRelevance(app.store, actor('alice'))
  const seq = app.store.seq('default')
  for (const relevant of ['', 'x'.repeat(MAX_RELEVANT_TO_CHARS + 1)]) {
    const res = await app.inject({ method: 'GET', url: '/context', query: { relevant_to: relevant }, headers: as('bob', ['reader']) })
    t.equal(res.statusCode, 400)
    t.equal(res.json().code, 'validation_error')
    t.match(JSON.stringify(res.json()), /relevant_to/)
  }
  t.equal(app.store.seq('default'), seq)
})
