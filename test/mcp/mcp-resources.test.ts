// The store as MCP resources through the official client: the entry template and its listing with
// priority and last-modified annotations, reading entries (any key, percent-encoded) and the
// snapshot, in both protocol eras; subscriptions only to URIs that can name a resource.
import { test } from 'tap'
import { ERAS, LEGACY, MODERN, connect, startServer } from './mcp-harness.js'
import { ENTRY_URI_TEMPLATE, SNAPSHOT_URI, entryUri } from '../../src/mcp/context-uris.js'
import { actor } from '../helpers/actors.js'

for (const era of ERAS) {
  test(`${era.name}: resources list the tenant's entries with annotations, and read back as JSON`, async (t) => {
    const server = await startServer(t)
    const { store } = server.app
    const alice = actor('alice')
    // A key with a space, a slash, a query and a fragment character: all travel percent-encoded.
    const oddKey = 'notes/a b?c#d'
    await store.write(alice, { key: oddKey, content: { a: 1 }, priority: 10 })
    await store.write(alice, { key: 'low', content: { b: 2 }, priority: 1 })
    const { client } = await connect(t, server, server.token('alice'), era)

    const { resourceTemplates } = await client.listResourceTemplates()
    t.same(resourceTemplates.map((template) => template.uriTemplate), [ENTRY_URI_TEMPLATE])

    const { resources } = await client.listResources()
    t.same(resources.map((resource) => resource.uri), [SNAPSHOT_URI, entryUri(oddKey), entryUri('low')])
    const top = resources.find((resource) => resource.uri === entryUri(oddKey))
    t.equal(top?.name, oddKey)
    t.equal(top?.mimeType, 'application/json')
    t.same(top?.annotations, { priority: 1, lastModified: store.get('default', oddKey)?.entry.timestamp }, 'priority 10 maps to 1')
    t.equal(resources.find((resource) => resource.uri === entryUri('low'))?.annotations?.priority, 0, 'priority 1 maps to 0')

    const read = await client.readResource({ uri: entryUri(oddKey) })
    t.equal(read.contents.length, 1)
    const content = read.contents[0]
    t.equal(content.uri, entryUri(oddKey))
    t.same(JSON.parse('text' in content ? content.text : ''), store.get('default', oddKey)?.entry, 'the entry exactly as every surface shows it')

    const snapshotRead = await client.readResource({ uri: SNAPSHOT_URI })
    const snapshot = JSON.parse('text' in snapshotRead.contents[0] ? snapshotRead.contents[0].text : '')
    t.same(Object.keys(snapshot.data), [oddKey, 'low'], 'rank order')
    t.same(snapshot.metadata, store.metadata('default'))
    t.equal(snapshot.seq, store.seq('default'))

    await t.rejects(client.readResource({ uri: entryUri('absent') }), 'an absent entry is an error')
  })
}

// Keys have 1-512 characters; percent-encoding makes one at most 9 characters of URI.
const LONGEST_KEY = '\u4e2d'.repeat(512)

test('2025-11-25: resources/subscribe refuses URIs that cannot name an entry, however long', async (t) => {
  const server = await startServer(t)
  const { client } = await connect(t, server, server.token('alice'), LEGACY)
  await client.subscribeResource({ uri: entryUri(LONGEST_KEY) })
  t.pass('the longest key, in its longest encoding, is accepted')
  for (const uri of [entryUri('k'.repeat(513)), entryUri('\u4e2d'.repeat(513)), `context://entries/${'a'.repeat(900_000)}`, 'context://other']) {
    const refusal = await client.subscribeResource({ uri }).then(() => undefined, (error: Error) => error)
    t.ok(refusal !== undefined, `refused: ${uri.slice(0, 30)}... (${uri.length} characters)`)
    t.match(refusal?.message, /Not a resource of this server \(an entry key has 1-512 characters\)/)
    t.ok((refusal?.message.length ?? Infinity) < 400, 'the refusal does not echo the whole URI')
  }
})

test('2026-07-28: subscriptions/listen refuses URIs that cannot name an entry', async (t) => {
  const server = await startServer(t)
  const { client } = await connect(t, server, server.token('alice'), MODERN)
  const accepted = await client.listen({ resourceSubscriptions: [SNAPSHOT_URI, entryUri(LONGEST_KEY)] })
  t.same(accepted.honoredFilter, { resourceSubscriptions: [SNAPSHOT_URI, entryUri(LONGEST_KEY)] })
  await accepted.close()
  await t.rejects(client.listen({ resourceSubscriptions: [SNAPSHOT_URI, `context://entries/${'a'.repeat(200_000)}`] }),
    /resourceSubscriptions\[1\] is not a resource of this server/)
  t.equal(server.app.sessions.countOf('mcp_stream'), 0, 'no stream was opened')
})
