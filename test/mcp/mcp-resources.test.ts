// The store as MCP resources through the official client: the entry template and its listing with
// priority and last-modified annotations, reading entries (any key, percent-encoded) and the
// snapshot, in both protocol eras.
import { test } from 'tap'
import { ERAS, connect, startServer } from './mcp-harness.js'
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
