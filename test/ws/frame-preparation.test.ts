// prepareFrame (src/ws/frame-preparation.ts) is what a worker thread runs on a large frame; its
// result is structured-cloned back to the event loop. A write's content must come back as its JSON
// and count only: a clone of the parsed tree costs the event loop milliseconds for a large entry.
import { test } from 'tap'
import { prepareFrame } from '../../src/ws/frame-preparation.js'
import { tokenCounter } from '../../src/token-counter.js'

const count = tokenCounter('o200k_base')
const frame = (message: unknown) => ({ bytes: Buffer.from(JSON.stringify(message)), maxDepth: 32, encoding: 'o200k_base' as const })

test('a write comes back with its content as JSON and its count, the parsed tree left behind', async (t) => {
  const content = { note: 'The quiz for lesson 3. '.repeat(50), rows: [{ id: 1, ok: false, none: null }] }
  for (const [message, field] of [
    [{ type: 'update_context', id: 'w1', key: 'k', priority: 3, context: content }, 'context'],
    [{ type: 'context_update', id: 'w2', key: 'k', data: content }, 'data']
  ] as const) {
    const prepared = prepareFrame(frame(message), count)
    if (!prepared.parsed.ok) throw new Error('refused')
    t.same(prepared.content, { contentJson: JSON.stringify(content), tokens: count(JSON.stringify(content)) }, `${message.type}: the JSON and its exact count`)
    t.same((prepared.parsed.message as unknown as Record<string, unknown>)[field], {}, `${message.type}: no content tree to clone`)
    t.match(prepared.parsed.message, { ...message, [field]: {} }, `${message.type}: every other field as sent`)
  }
})

test('other messages come back whole; a refused write says why', async (t) => {
  const query = prepareFrame(frame({ type: 'query_context', id: 'q', query: { text: 'lesson '.repeat(100) } }), count)
  t.match(query, { parsed: { ok: true, message: { type: 'query_context', query: { text: 'lesson '.repeat(100) } } } })
  t.equal(query.content, undefined)
  let deep: unknown = 1
  for (let i = 0; i < 40; i++) deep = { d: deep }
  const tooDeep = prepareFrame(frame({ type: 'update_context', id: 'd', context: deep }), count)
  t.match(tooDeep.content, { tooDeep: /^d\.d/ })
  const invalid = prepareFrame({ ...frame({}), bytes: Buffer.from('{"type":"update_context",') }, count)
  t.match(invalid.parsed, { ok: false, code: 'invalid_json' })
})
