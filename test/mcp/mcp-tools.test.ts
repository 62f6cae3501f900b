// The five MCP tools through the official client over real HTTP, in both protocol eras the
// endpoint serves: negotiation, listing with input and output schemas, every tool's result, and the
// contract's error codes as tool errors.
import { test } from 'tap'
import { ERAS, connect, startServer, structured } from './mcp-harness.js'

const TOOL_NAMES = ['clear_context', 'get_context', 'query_context', 'set_priority', 'update_context']

for (const era of ERAS) {
  test(`${era.name}: the client negotiates this protocol version and lists the five tools`, async (t) => {
    const server = await startServer(t)
    const { client } = await connect(t, server, server.token('alice'), era)
    t.equal(client.getNegotiatedProtocolVersion(), era.version)
    t.equal(client.getServerVersion()?.name, 'context-server')

    const { tools } = await client.listTools()
    t.same(tools.map((tool) => tool.name).sort(), TOOL_NAMES)
    for (const tool of tools) {
      t.equal(tool.inputSchema.type, 'object', `${tool.name} has an object input schema`)
      t.equal(tool.outputSchema?.type, 'object', `${tool.name} has an object output schema`)
    }
    const update = tools.find((tool) => tool.name === 'update_context')
    t.same(update?.inputSchema.required, ['context'])
    t.ok(update?.inputSchema.properties?.expected_version, 'update_context takes expected_version, as the WebSocket message does')
    const query = tools.find((tool) => tool.name === 'query_context')
    for (const filter of ['source', 'sources', 'keys', 'min_priority', 'max_priority', 'since', 'text', 'max_tokens', 'limit', 'unbounded']) {
      t.ok(query?.inputSchema.properties?.[filter], `query_context takes ${filter}`)
    }
    t.equal(tools.find((tool) => tool.name === 'get_context')?.annotations?.readOnlyHint, true)
  })

  test(`${era.name}: every tool acts on the store as the caller`, async (t) => {
    const server = await startServer(t)
    const { client } = await connect(t, server, server.token('alice'), era)

    const written = await client.callTool({ name: 'update_context', arguments: { context: { topic: 'mcp' }, key: 'notes', source: 'agent_1', priority: 4 } })
    t.notOk(written.isError)
    const ack = structured(t, written)
    const stored = server.app.store.get('default', 'notes')
    t.match(ack, { status: 'success', key: 'notes', version: 1, stored: true, evicted: [], evicted_count: 0 })
    t.equal(ack.tokens, stored?.entry.tokens, 'tokens as the store counted them')
    t.equal(stored?.entry.owner, 'alice', 'the writer is the token subject')
    t.same(JSON.parse((written.content as Array<{ text: string }>)[0].text), ack, 'the text rendering is the structured result')

    await client.callTool({ name: 'update_context', arguments: { context: { other: true }, key: 'misc', source: 'agent_2' } })

    const all = structured(t, await client.callTool({ name: 'get_context', arguments: {} }))
    t.same(Object.keys(all.data), ['notes', 'misc'], 'best-ranked first')
    t.same(all.data.notes.content, { topic: 'mcp' })
    t.match(all.metadata, { entry_count: 2, max_tokens: server.config.maxTokens })
    t.equal(all.seq, server.app.store.seq('default'))
    t.match(all.manifest, { matched: 2, returned: 2, truncated: false, omitted_count: 0 })

    const queried = structured(t, await client.callTool({ name: 'query_context', arguments: { source: 'agent_1' } }))
    t.same(Object.keys(queried.data), ['notes'])
    t.match(queried.manifest, { matched: 1, returned: 1 })

    const priority = structured(t, await client.callTool({ name: 'set_priority', arguments: { key: 'misc', priority: 9 } }))
    t.same(priority, { key: 'misc', priority: 9, version: 2, seq: server.app.store.seq('default') })
    t.equal(server.app.store.get('default', 'misc')?.entry.priority, 9)

    const cleared = structured(t, await client.callTool({ name: 'clear_context', arguments: { keys: ['misc'] } }))
    t.match(cleared, { removed: ['misc'], count: 1 })
    t.equal(server.app.store.get('default', 'misc'), undefined)
    t.ok(server.app.store.get('default', 'notes'), 'only the named key is removed')
  })

  test(`${era.name}: failures are tool errors with the contract's codes, and change nothing`, async (t) => {
    const server = await startServer(t, { MCP_MAX_TOKENS: '50' })
    const { client } = await connect(t, server, server.token('alice'), era)
    const errorOf = async (name: string, args: Record<string, unknown>) => {
      const result = await client.callTool({ name, arguments: args })
      t.equal(result.isError, true, `${name} ${JSON.stringify(args).slice(0, 80)} is a tool error`)
      return structured(t, result)
    }

    const invalid = await errorOf('update_context', { context: 'not an object', priority: 11 })
    t.equal(invalid.code, 'validation_error')
    t.same(invalid.details.map((d: { path: string }) => d.path).sort(), ['context', 'priority'], 'one detail per problem, with its path')
    t.equal((await errorOf('query_context', { no_such_filter: 1 })).code, 'validation_error', 'unknown query fields are refused')

    t.equal((await errorOf('set_priority', { key: 'missing', priority: 2 })).code, 'not_found')

    await client.callTool({ name: 'update_context', arguments: { context: { v: 1 }, key: 'k' } })
    const conflict = await errorOf('update_context', { context: { v: 2 }, key: 'k', expected_version: 5 })
    t.equal(conflict.code, 'version_conflict')
    t.same(server.app.store.get('default', 'k')?.entry.content, { v: 1 }, 'a refused write changes nothing')

    const large = await errorOf('update_context', { context: { text: 'word '.repeat(200) } })
    t.equal(large.code, 'entry_too_large')
    t.equal(server.app.store.metadata('default').entry_count, 1)
  })

  test(`${era.name}: reads are budgeted, and the manifest says what was left out`, async (t) => {
    const server = await startServer(t)
    const { client } = await connect(t, server, server.token('alice'), era)
    // Three entries of about 3,000 tokens each: the default budget (8,000) holds two of them.
    const big = (n: number) => ({ text: 'alpha '.repeat(2900), n })
    await client.callTool({ name: 'update_context', arguments: { context: big(1), key: 'high', source: 'planner', priority: 9 } })
    await client.callTool({ name: 'update_context', arguments: { context: big(2), key: 'mid', source: 'agent_2', priority: 5 } })
    await client.callTool({ name: 'update_context', arguments: { context: big(3), key: 'low', source: 'agent_3', priority: 1 } })
    await client.callTool({ name: 'update_context', arguments: { context: { small: true }, key: 'tiny', source: 'agent_4', priority: 1 } })
    const tokensOf = (key: string) => server.app.store.get('default', key)?.entry.tokens

    const read = structured(t, await client.callTool({ name: 'get_context', arguments: {} }))
    t.same(Object.keys(read.data), ['high', 'mid', 'tiny'], 'the best-ranked entries that fit 8,000 tokens; a smaller, lower one still fits')
    t.same(read.manifest, {
      matched: 4,
      returned: 3,
      returned_tokens: (tokensOf('high') ?? 0) + (tokensOf('mid') ?? 0) + (tokensOf('tiny') ?? 0),
      truncated: true,
      budget_tokens: 8000,
      result_cap_tokens: 20000,
      omitted_count: 1,
      omitted_tokens: tokensOf('low'),
      omitted: [{ key: 'low', tokens: tokensOf('low'), priority: 1, source: 'agent_3' }]
    })

    const queried = structured(t, await client.callTool({ name: 'query_context', arguments: { max_priority: 5, max_tokens: 100 } }))
    t.same(Object.keys(queried.data), ['tiny'])
    t.match(queried.manifest, { matched: 3, returned: 1, budget_tokens: 100, omitted_count: 2 })
    t.same(queried.manifest.omitted.map((item: { key: string }) => item.key), ['mid', 'low'], 'left out, in rank order')

    const everything = structured(t, await client.callTool({ name: 'get_context', arguments: { unbounded: true } }))
    t.equal(everything.manifest.returned, 4, 'unbounded: true opts out of the budget')
    t.equal(everything.manifest.result_cap_tokens, null)
  })
}

test('a client negotiating automatically gets the current protocol; one asking for 2025-11-25 gets that', async (t) => {
  const server = await startServer(t)
  const auto = await connect(t, server, server.token('alice'), { name: 'auto', version: '2026-07-28', options: { versionNegotiation: { mode: 'auto' } } })
  t.equal(auto.client.getNegotiatedProtocolVersion(), '2026-07-28', 'server/discover finds the current revision')
  t.equal(auto.transport.sessionId, undefined, 'the current protocol is stateless')
  const legacy = await connect(t, server, server.token('alice'))
  t.equal(legacy.client.getNegotiatedProtocolVersion(), '2025-11-25', 'initialize with 2025-11-25 is answered in kind')
  t.type(legacy.transport.sessionId, 'string', 'with a session for its notifications')
})
