// Change notifications to MCP hosts, fed by the store's change events: a write made through
// another surface (a WebSocket agent, REST) reaches a host's subscription as resources/updated (and
// list_changed when a key appears), in both protocol eras, from another instance too when they
// share Redis, and never crosses tenants. Closing the server ends every MCP session.
import { test } from 'tap'
import { SNAPSHOT_URI, entryUri } from '../../src/mcp/context-uris.js'
import { LEGACY, MODERN, NotificationLog, connect, startServer, type ConnectedClient, type McpServerUnderTest } from './mcp-harness.js'
import { connectAuthenticated, wsUrl } from '../helpers/ws-client.js'
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'

interface Note { method: string, params?: { uri?: string } | Record<string, unknown> }

function record (connected: ConnectedClient): NotificationLog<Note> {
  const log = new NotificationLog<Note>()
  connected.client.setNotificationHandler('notifications/resources/updated', (note) => log.push(note))
  connected.client.setNotificationHandler('notifications/resources/list_changed', (note) => log.push(note))
  return log
}

/** Writes through the REST surface, as an ops tool or another agent would. */
async function restWrite (server: McpServerUnderTest, token: string, key: string, content: Record<string, unknown>) {
  const res = await server.app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${token}` }, payload: { key, context: content } })
  if (res.statusCode !== 201) throw new Error(`REST write failed: ${res.statusCode} ${res.body}`)
}

const updated = (uri: string) => (note: Note) => note.method === 'notifications/resources/updated' && note.params?.uri === uri

test('2025-11-25: a subscribed session hears a WebSocket agent\'s writes on its GET stream', async (t) => {
  const server = await startServer(t)
  const alice = await connect(t, server, server.token('alice'), LEGACY)
  const log = record(alice)
  await alice.client.subscribeResource({ uri: entryUri('plan') })
  await alice.client.subscribeResource({ uri: SNAPSHOT_URI })
  await alice.streamOpened()

  const agent = await connectAuthenticated(wsUrl(server.app), server.token('bob'))
  t.teardown(() => agent.close())
  const ack = await agent.request({ type: 'update_context', key: 'plan', context: { step: 1 } })
  t.equal(ack.type, 'update_ack')
  await log.next('the entry update', updated(entryUri('plan')))
  await log.next('the snapshot update', updated(SNAPSHOT_URI))
  await log.next('the list change for a new key', (note) => note.method === 'notifications/resources/list_changed')

  const changed = (await alice.client.readResource({ uri: entryUri('plan') })).contents[0]
  t.same(JSON.parse('text' in changed ? changed.text : '').content, { step: 1 }, 'the host reads the new state')

  await alice.client.unsubscribeResource({ uri: entryUri('plan') })
  await agent.request({ type: 'update_context', key: 'plan', context: { step: 2 } })
  const snapshotUpdates = () => log.received.filter(updated(SNAPSHOT_URI)).length
  await log.next('the second snapshot update', () => snapshotUpdates() === 2)
  t.equal(log.received.filter(updated(entryUri('plan'))).length, 1, 'no update for an unsubscribed entry')
})

test('2026-07-28: a subscriptions/listen stream hears REST writes', async (t) => {
  const server = await startServer(t)
  const alice = await connect(t, server, server.token('alice'), MODERN)
  const log = record(alice)
  const subscription = await alice.client.listen({ resourceSubscriptions: [entryUri('plan'), SNAPSHOT_URI], resourcesListChanged: true })
  t.same(subscription.honoredFilter, { resourcesListChanged: true, resourceSubscriptions: [entryUri('plan'), SNAPSHOT_URI] })

  await restWrite(server, server.token('bob'), 'plan', { step: 1 })
  await log.next('the entry update', updated(entryUri('plan')))
  await log.next('the snapshot update', updated(SNAPSHOT_URI))
  await log.next('the list change for a new key', (note) => note.method === 'notifications/resources/list_changed')
  await subscription.close()
})

for (const era of [LEGACY, MODERN]) {
  test(`${era.name}: notifications reach only the change's tenant`, async (t) => {
    const server = await startServer(t)
    const acme = await connect(t, server, server.token('alice', ['writer'], 'acme'), era)
    const log = record(acme)
    const watched = [entryUri('shared-name'), entryUri('marker')]
    if (era === LEGACY) {
      for (const uri of watched) await acme.client.subscribeResource({ uri })
      await acme.streamOpened()
    } else {
      await acme.client.listen({ resourceSubscriptions: watched, resourcesListChanged: true })
    }

    // Another tenant writes the very key acme watches, then acme writes a marker. Notifications
    // of one stream arrive in order, so anything leaked from globex would come before the marker.
    await restWrite(server, server.token('bob', ['writer'], 'globex'), 'shared-name', { tenant: 'globex' })
    await restWrite(server, server.token('bob', ['writer'], 'acme'), 'marker', { tenant: 'acme' })
    await log.next('the marker update', updated(entryUri('marker')))
    const beforeMarker = log.received.slice(0, log.received.findIndex(updated(entryUri('marker'))))
    t.same(beforeMarker, [], 'nothing from the other tenant')
  })
}

redisTest('with the Redis backend, a write on one instance notifies hosts on another', async (t) => {
  const shared = { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: uniquePrefix(t) }
  const first = await startServer(t, shared)
  const second = await startServer(t, shared)
  const legacy = await connect(t, first, first.token('alice'), LEGACY)
  const legacyLog = record(legacy)
  await legacy.client.subscribeResource({ uri: entryUri('plan') })
  await legacy.streamOpened()
  const modern = await connect(t, first, first.token('alice'), MODERN)
  const modernLog = record(modern)
  await modern.client.listen({ resourceSubscriptions: [entryUri('plan')] })

  await restWrite(second, second.token('bob'), 'plan', { from: 'the other instance' })
  await legacyLog.next('the 2025 session\'s update', updated(entryUri('plan')))
  await modernLog.next('the listen stream\'s update', updated(entryUri('plan')))
  const read = (await legacy.client.readResource({ uri: entryUri('plan') })).contents[0]
  t.same(JSON.parse('text' in read ? read.text : '').content, { from: 'the other instance' })
})

for (const era of [LEGACY, MODERN]) {
  test(`${era.name}: a notification stream ends when the token that opened it expires`, async (t) => {
    const server = await startServer(t)
    // Long enough to connect and subscribe on a busy machine; the test then waits for the expiry.
    const connected = await connect(t, server, server.token('alice', ['writer'], 'default', 3), era)
    connected.client.onerror = () => {} // the client's reconnect with the expired token is refused, as it should be
    if (era === MODERN) await connected.client.listen({ resourcesListChanged: true })
    else await connected.streamOpened()
    await connected.streamEnded()
    t.pass('the server ended the stream')
  })
}

test('closing the server ends every MCP session and stream', async (t) => {
  const server = await startServer(t)
  const legacy = await connect(t, server, server.token('alice'), LEGACY)
  await legacy.streamOpened()
  const modern = await connect(t, server, server.token('alice'), MODERN)
  await modern.client.listen({ resourcesListChanged: true })
  t.same([server.app.sessions.countOf('mcp_session'), server.app.sessions.countOf('mcp_stream')], [1, 1],
    'the 2025 session and the listen stream are registered')

  await server.app.close()
  t.equal(server.app.sessions.size, 0, 'and gone after close')
})
