// relevant_to over MCP with the official client: the query_context tool's ranking and
// metadata.scores, and the with_context prompt (listed, its arguments, the ready prompt with the
// best context first within max_tokens, bad arguments refused).
import { test } from 'tap'
import { actor } from '../helpers/actors.js'
import { EXPECTED_ORDER, seedRelevance, TASK } from '../helpers/relevance-seed.js'
import { ERAS, connect, startServer, structured } from './mcp-harness.js'

for (const era of ERAS) {
  test(`${era.name}: query_context with relevant_to ranks by relevance and gives metadata.scores`, async (t) => {
    const server = await startServer(t)
    await seedRelevance(server.app.store, actor('alice'))
    const { client } = await connect(t, server, server.token('bob', ['reader']), era)
    const result = structured(t, await client.callTool({ name: 'query_context', arguments: { relevant_to: TASK } }))
    t.strictSame(Object.keys(result.data), EXPECTED_ORDER)
    t.strictSame(Object.keys(result.metadata.scores), EXPECTED_ORDER)
    t.equal(result.metadata.scores.notice, 0)

    const best = server.app.store.get('default', 'quiz-plan')?.entry.tokens ?? 0
    const budgeted = structured(t, await client.callTool({ name: 'query_context', arguments: { relevant_to: TASK, max_tokens: best } }))
    t.strictSame(Object.keys(budgeted.data), ['quiz-plan'])
    t.strictSame(Object.keys(budgeted.metadata.scores), ['quiz-plan'])
    t.strictSame(budgeted.manifest.omitted.map((item: { key: string }) => item.key), EXPECTED_ORDER.slice(1),
      'the manifest lists what was left out in relevance order')

    const plain = structured(t, await client.callTool({ name: 'query_context', arguments: {} }))
    t.equal(plain.metadata, undefined, 'no scores without relevant_to')
  })

  test(`${era.name}: the with_context prompt returns the best context for the task as a ready prompt`, async (t) => {
    const server = await startServer(t)
    await seedRelevance(server.app.store, actor('alice'))
    const { client } = await connect(t, server, server.token('bob', ['reader']), era)
    const { prompts } = await client.listPrompts()
    const prompt = prompts.find((p) => p.name === 'with_context')
    t.ok(prompt, 'with_context is listed')
    t.strictSame(prompt?.arguments?.map((a) => [a.name, a.required ?? false]), [['task', true], ['max_tokens', false]])

    const full = await client.getPrompt({ name: 'with_context', arguments: { task: TASK } })
    t.equal(full.messages.length, 1)
    t.equal(full.messages[0].role, 'user')
    const text = (full.messages[0].content as { type: string, text: string }).text
    t.ok(text.startsWith(`Task: ${TASK}\n`), 'the task first')
    const positions = EXPECTED_ORDER.map((key) => text.indexOf(`## ${JSON.stringify(key)} `))
    t.ok(positions.every((p) => p > 0), 'every entry has its heading')
    t.strictSame([...positions].sort((a, b) => a - b), positions, 'entries in relevance order')
    t.ok(text.includes(JSON.stringify(server.app.store.get('default', 'quiz-plan')?.entry.content)), 'the content itself')

    const best = server.app.store.get('default', 'quiz-plan')?.entry.tokens ?? 0
    const small = await client.getPrompt({ name: 'with_context', arguments: { task: TASK, max_tokens: String(best) } })
    const smallText = (small.messages[0].content as { text: string }).text
    t.ok(smallText.includes('## "quiz-plan" '))
    t.notOk(smallText.includes('## "quiz-finding" '), 'beyond the budget: left out')
    t.match(smallText, /Left out for the budget: 3 entries .*"quiz-finding", "video-plan", "notice"/)

    await t.rejects(client.getPrompt({ name: 'with_context', arguments: { task: TASK, max_tokens: 'lots' } }), 'max_tokens must be digits')
    await t.rejects(client.getPrompt({ name: 'with_context', arguments: {} }), 'task is required')
  })
}
