// Flow control of MCP notification streams: a host that stops reading its stream (a 2025 GET stream
// or a 2026-07-28 subscriptions/listen stream) has the stream ended once what it holds unsent
// passes MCP_STREAM_MAX_BUFFERED_BYTES, so it cannot grow the server's memory; a host that reads
// gets a burst bigger than the cap in full. The official client always reads, so the stalled host
// is a raw socket that stops reading once its stream is open.
import { createConnection, type Socket } from 'node:net'
import { test, type Test } from 'tap'
import { SNAPSHOT_URI, entryUri } from '../../src/mcp/context-uris.js'
import type { Actor } from '../../src/store/types.js'
import { INITIALIZE, MODERN, NotificationLog, connect, raw, startServer, type McpServerUnderTest } from './mcp-harness.js'

const CAP = 65_536
const WRITER: Actor = { userId: 'bob', roles: ['writer'], tenant: 'default' }
// Long keys make long notifications, so the cap (and the kernel's socket buffers) fill sooner.
const LONG_KEY = 'k'.repeat(500)

/** Sends a raw HTTP request on its own socket and resolves once the response head has arrived; then stops reading. */
async function stalledStream (t: Test, server: McpServerUnderTest, head: string, body = ''): Promise<Socket> {
  const socket = createConnection({ host: '127.0.0.1', port: Number(server.url.port) })
  t.teardown(() => { socket.destroy() })
  socket.on('error', () => {})
  let received = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no stream within 10 s: ${received.slice(0, 300)}`)), 10_000)
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString()
      // The first SSE event or comment after the head: the stream is open.
      if (/\r\n\r\n[\s\S]*\n\n/.test(received)) {
        clearTimeout(timer)
        if (!received.startsWith('HTTP/1.1 200')) reject(new Error(`not a stream: ${received.slice(0, 300)}`))
        socket.pause()
        socket.removeAllListeners('data')
        resolve()
      }
    })
    socket.write(head + (body === '' ? '' : body))
  })
  return socket
}

function requestHead (server: McpServerUnderTest, method: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} /mcp HTTP/1.1`, `host: 127.0.0.1:${server.url.port}`, 'accept: application/json, text/event-stream']
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  if (body !== '') lines.push('content-type: application/json', `content-length: ${Buffer.byteLength(body)}`)
  return `${lines.join('\r\n')}\r\n\r\n`
}

/** Writes until `ended()` holds (checked every 50 writes) or `max` writes; returns how many it took. */
async function writeUntil (server: McpServerUnderTest, ended: () => boolean, max: number): Promise<number> {
  for (let written = 0; written < max; written++) {
    if (written % 50 === 0) {
      if (ended()) return written
      // Lets the server's sockets and timers run between batches.
      await new Promise((resolve) => setImmediate(resolve))
    }
    await server.app.store.write(WRITER, { key: LONG_KEY, content: { n: written } })
  }
  return max
}

test('2025-11-25: a GET stream whose host stops reading is ended at the cap', async (t) => {
  const server = await startServer(t, { MCP_STREAM_MAX_BUFFERED_BYTES: String(CAP) })
  const auth = { authorization: `Bearer ${server.token('alice')}` }
  const opened = await raw(server.url, { body: INITIALIZE, headers: auth })
  const session = { ...auth, 'mcp-session-id': String(opened.headers['mcp-session-id']), 'mcp-protocol-version': '2025-11-25' }
  await raw(server.url, { body: { jsonrpc: '2.0', method: 'notifications/initialized' }, headers: session })
  for (const [id, uri] of [[2, SNAPSHOT_URI], [3, entryUri(LONG_KEY)]] as const) {
    const subscribed = await raw(server.url, { body: { jsonrpc: '2.0', id, method: 'resources/subscribe', params: { uri } }, headers: session })
    t.equal(subscribed.status, 200)
  }
  await stalledStream(t, server, requestHead(server, 'GET', session))
  const info = server.app.sessions.get(`mcp-${session['mcp-session-id']}`)
  t.equal(info?.reclaimable?.(), false, 'the open stream keeps the session busy')

  // ~800 bytes of notifications per write: 20,000 writes would be 16 MB held for one host.
  const written = await writeUntil(server, () => info?.reclaimable?.() === true, 20_000)
  t.ok(written < 20_000, `the stream was ended after ${written} writes`)
  t.ok(server.app.sessions.get(info?.clientId ?? '') !== undefined, 'the session itself stays (its host may open a new stream)')
})

test('2026-07-28: a listen stream whose host stops reading is ended at the cap', async (t) => {
  const server = await startServer(t, { MCP_STREAM_MAX_BUFFERED_BYTES: String(CAP) })
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 'listen:0',
    method: 'subscriptions/listen',
    params: {
      _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} },
      notifications: { resourceSubscriptions: [SNAPSHOT_URI, entryUri(LONG_KEY)] }
    }
  })
  const headers = { authorization: `Bearer ${server.token('alice')}`, 'mcp-method': 'subscriptions/listen', 'mcp-protocol-version': '2026-07-28' }
  await stalledStream(t, server, requestHead(server, 'POST', headers, body), body)
  t.equal(server.app.sessions.countOf('mcp_stream'), 1, 'the stream is a registered client')

  const written = await writeUntil(server, () => server.app.sessions.countOf('mcp_stream') === 0, 20_000)
  t.ok(written < 20_000, `the stream was ended after ${written} writes`)
})

test('2026-07-28: a host that reads gets a burst bigger than the cap in full, and its stream goes on', async (t) => {
  const server = await startServer(t, { MCP_STREAM_MAX_BUFFERED_BYTES: String(CAP) })
  const keys = Array.from({ length: 1500 }, (_, i) => `burst-${i}-${'x'.repeat(60)}`)
  for (const key of keys) await server.app.store.write(WRITER, { key, content: { v: 1 } })
  const alice = await connect(t, server, server.token('alice', ['reader']), MODERN)
  const log = new NotificationLog<{ method: string, params?: { uri?: string } }>()
  alice.client.setNotificationHandler('notifications/resources/updated', (note) => log.push(note))
  await alice.client.listen({ resourceSubscriptions: [...keys.map(entryUri), entryUri('after')] })

  // One clear: 1500 notifications of ~250 bytes (over 5x the cap) in one tick.
  await server.app.store.clear({ userId: 'root', roles: ['admin'], tenant: 'default' }, { all: true })
  await server.app.store.write(WRITER, { key: 'after', content: { v: 2 } })
  await log.next('the notification after the burst', (note) => note.params?.uri === entryUri('after'))
  const burst = log.received.filter((note) => note.params?.uri !== entryUri('after'))
  t.equal(burst.length, keys.length, 'every notification of the burst arrived')
  t.equal(server.app.sessions.countOf('mcp_stream'), 1, 'and the stream is still open')
})
