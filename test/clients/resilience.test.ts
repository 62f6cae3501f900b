// The official TypeScript client across server restarts, against the real server as a child
// process (test/helpers/spawn-server.ts): the mirror ends equal to GET /context after 300 writes
// through two restarts of the embedded store and one onto a memory-only server (a new history:
// resync); a write made while the server is down is applied once when it is back; requests time
// out against a server that stopped answering, and the heartbeat notices and reconnects.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { ContextError, type ChangeEvent, type Entry, type ResyncEvent } from '../../clients/typescript/src/index.js'
import { nextEvent, sortedEntries, testClient, until } from '../helpers/context-client.js'
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js'
import { signTestToken } from '../helpers/tokens.js'

const ADMIN = signTestToken({ sub: 'ops', roles: ['admin'] })

async function restContext (server: ServerProcess): Promise<{ data: Record<string, Entry>, seq: number, epoch?: string }> {
  const response = await fetch(`${server.base}/context`, { headers: { authorization: `Bearer ${ADMIN}` } })
  if (response.status !== 200) throw new Error(`GET /context: ${response.status} ${await response.text()}`)
  return await response.json() as { data: Record<string, Entry>, seq: number, epoch?: string }
}

async function restEntry (server: ServerProcess, key: string): Promise<Entry & { key: string }> {
  const response = await fetch(`${server.base}/context/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${ADMIN}` } })
  if (response.status !== 200) throw new Error(`GET /context/${key}: ${response.status}`)
  return await response.json() as Entry & { key: string }
}

async function dataDir (t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'client-restarts-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('the mirror equals GET /context after 300 writes through three restarts (two embedded, one memory-only)', async (t) => {
  const dir = await dataDir(t)
  // A small budget, so writes evict too.
  const env = { MCP_DATA_DIR: dir, MCP_MAX_TOKENS: '3000' }
  let server = await spawnServer(t, env)
  const port = new URL(server.base).port

  const reader = testClient(t, { url: server.ws, token: async () => signTestToken({ sub: 'dashboard', roles: ['reader'] }), mode: 'delta' })
  const writer = testClient(t, { url: server.ws, token: async () => signTestToken({ sub: 'agent' }), mode: 'none' })

  // Everything the 'change' events say, applied to a map of our own: it must end equal too.
  const shadow = new Map<string, Entry>()
  const resyncs: ResyncEvent[] = []
  const problems: string[] = []
  let lastSeq = 0
  reader.on('resync', (event) => { resyncs.push(event); lastSeq = event.seq })
  reader.on('change', (change: ChangeEvent) => {
    const replacement = change.reason === 'initial' || change.reason === 'resync'
    // A delta is the next change of the same history: never skipped, never repeated.
    if (!replacement && change.seq !== lastSeq + 1) problems.push(`delta seq ${change.seq} after ${lastSeq}`)
    lastSeq = change.seq
    for (const key of change.removed) shadow.delete(key)
    for (const [key, entry] of change.upserted) shadow.set(key, entry)
  })
  let connects = 0
  const connections: string[] = []
  reader.on('connected', (event) => { connects++; connections.push(`connected at seq ${reader.seq}${event.resumed ? ' (resumed)' : ''}`) })
  reader.on('disconnected', (event) => connections.push(`closed ${event.code}`))
  await Promise.all([reader.ready, writer.ready])

  const restart = async (signal: NodeJS.Signals, memoryOnly: boolean): Promise<void> => {
    await server.stop(signal)
    // Writes go on while the server is down: they wait in the writer's outbox.
    await until(() => writer.state !== 'connected', 'the writer to notice the server is gone')
    server = await spawnServer(t, { ...env, MCP_PORT: port, ...(memoryOnly ? { MCP_DATA_DIR: '' } : {}) })
  }

  const inFlight = new Set<Promise<unknown>>()
  const refused: string[] = []
  const restarts = new Map<number, [NodeJS.Signals, boolean]>([[100, ['SIGTERM', false]], [200, ['SIGKILL', false]], [250, ['SIGTERM', true]]])
  for (let i = 0; i < 300; i++) {
    // The reader is back from the previous restart (it catches up while the writes go on).
    if (restarts.has(i)) await until(() => reader.state === 'connected', 'the reader to reconnect before the next restart')
    const key = `k${i % 37}`
    const operation = i % 10 === 7
      ? writer.setPriority(key, 1 + (i % 10))
      : i % 25 === 24
        ? writer.clear({ keys: [`k${(i + 5) % 37}`, `k${(i + 9) % 37}`] })
        : writer.update({ key, context: { i, text: 'lorem ipsum '.repeat(i % 20) }, priority: 1 + (i % 10), source: `agent_${i % 3}` })
    const settled = operation.catch((error: unknown) => {
      // A priority change of a key that was evicted or cleared meanwhile is a fair refusal.
      if (error instanceof ContextError && error.code === 'not_found') refused.push(key)
      else throw error
    }).finally(() => inFlight.delete(settled))
    inFlight.add(settled)
    // The server goes away with this write and up to three more on the wire, unanswered.
    const planned = restarts.get(i)
    if (planned !== undefined) await restart(...planned)
    if (inFlight.size >= 4) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)

  const rest = await restContext(server)
  await until(() => reader.state === 'connected' && reader.seq === rest.seq, `the reader to reach seq ${rest.seq} (at ${reader.seq}, ${reader.state})`)
  t.same(sortedEntries(reader.entries), sortedEntries(rest.data), 'the mirror equals GET /context')
  t.same(sortedEntries(shadow), sortedEntries(rest.data), 'the change events add up to the same store')
  t.type(rest.epoch, 'string', 'the server names its history')
  t.equal(reader.epoch, rest.epoch, 'the mirror is in the server\'s epoch')
  t.same(problems, [], 'no delta skipped or repeated a seq')
  t.ok(connects >= 4, `the reader reconnected after each restart (${connects} connects)`)
  t.ok(resyncs.some((event) => event.cause === 'history'), 'the memory-only server\'s new history was met with a resync')
  t.ok(rest.data !== undefined && Object.keys(rest.data).length > 0, 'the final store is not empty')
  t.comment(connections.join(', '))
  t.comment(`${refused.length} priority changes refused as not_found; resyncs: ${resyncs.map((event) => event.cause).join(', ')}`)
})

test('a new history that has already gone past the mirror\'s seq is told apart by its epoch', async (t) => {
  let server = await spawnServer(t)
  const port = new URL(server.base).port
  // The reader comes back only once the new server has made more changes than the reader had
  // seen (its token provider holds the reconnect until then): only the epoch says that this seq
  // belongs to another history.
  let release: () => void = () => {}
  let gate = Promise.resolve()
  const reader = testClient(t, {
    url: server.ws,
    token: async () => { await gate; return signTestToken({ sub: 'dashboard', roles: ['reader'] }) }
  })
  const writer = testClient(t, { url: server.ws, token: async () => signTestToken({ sub: 'agent' }), mode: 'none' })
  await Promise.all([reader.ready, writer.ready])
  for (let i = 0; i < 5; i++) await writer.update({ key: `old${i}`, context: { i } })
  await until(() => reader.seq === 5, 'the reader to see the first five writes')
  const epochBefore = reader.epoch
  gate = new Promise((resolve) => { release = resolve })
  await server.stop('SIGTERM')
  server = await spawnServer(t, { MCP_PORT: port })
  for (let i = 0; i < 8; i++) await writer.update({ key: `new${i}`, context: { i } })
  const rest = await restContext(server)
  t.ok(rest.seq > 5 && reader.state !== 'connected', `the new history (seq ${rest.seq}) went past the mirror (seq 5) before the reader came back`)
  const resynced = nextEvent(reader, 'resync')
  release()
  await until(() => reader.state === 'connected' && reader.seq === rest.seq, 'the reader to come back and catch up')
  t.equal((await resynced).cause, 'history', 'the mirror was replaced, not resumed')
  t.not(reader.epoch, epochBefore, 'a new epoch')
  t.same(sortedEntries(reader.entries), sortedEntries(rest.data), 'the mirror equals the new server\'s store, none of the old entries')
})

test('a write made while the server is down resolves once it is back, and is stored once', async (t) => {
  const dir = await dataDir(t)
  let server = await spawnServer(t, { MCP_DATA_DIR: dir })
  const port = new URL(server.base).port
  const client = testClient(t, { url: server.ws, token: async () => signTestToken(), mode: 'delta' })
  await client.ready
  await server.stop('SIGTERM')
  await until(() => client.state === 'disconnected' || client.state === 'connecting', 'the client to notice')
  let settled = false
  const write = client.update({ key: 'offline', context: { written: 'while down' }, priority: 4 })
  write.finally(() => { settled = true }).catch(() => {})
  t.equal(client.queued, 1, 'the write waits in the outbox')
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.equal(settled, false, 'it does not fail while the server is away')
  server = await spawnServer(t, { MCP_DATA_DIR: dir, MCP_PORT: port })
  const ack = await write
  t.equal(ack.version, 1, 'applied once')
  t.equal(ack.key, 'offline')
  t.equal((await restEntry(server, 'offline')).version, 1, 'stored once')
  await until(() => client.entries.get('offline')?.version === 1, 'the mirror to show the write')
})

test('requests time out against a server that stopped answering; the heartbeat reconnects', async (t) => {
  const server = await spawnServer(t)
  // SIGSTOP freezes the process with its sockets open: nothing closes, nothing answers.
  t.teardown(() => { server.child.kill('SIGCONT') })
  // One request on the wire at a time: the read waits until the write has timed out.
  const client = testClient(t, { url: server.ws, token: signTestToken(), mode: 'delta', requestTimeoutMs: 400, pingIntervalMs: 0, connectTimeoutMs: 1000, maxInFlight: 1 })
  await client.ready
  server.child.kill('SIGSTOP')
  const outcome = async (promise: Promise<unknown>) => await Promise.race([
    promise.then(() => 'resolved', (reason: unknown) => reason),
    new Promise((resolve) => setTimeout(() => resolve('still pending after 5 s'), 5000))
  ])
  const [error, readError] = await Promise.all([
    outcome(client.update({ context: { a: 1 }, key: 'frozen', idempotency_key: 'retry-me' })),
    outcome(client.get())
  ])
  t.ok(error instanceof ContextError, 'rejects with a ContextError')
  t.equal((error as ContextError).code, 'timeout')
  t.same((error as ContextError).details, { type: 'update_context', idempotency_key: 'retry-me' }, 'says which key to retry with')
  t.equal((readError as ContextError).code, 'timeout', 'the read, sent once the write gave up its place, times out too')
  t.equal(client.state, 'connected', 'without a heartbeat, the socket still looks open')
  server.child.kill('SIGCONT')
  t.type((await client.ping()).timestamp, 'string', 'the same connection answers again')

  const watched = testClient(t, { url: server.ws, token: signTestToken(), mode: 'delta', requestTimeoutMs: 400, pingIntervalMs: 200, connectTimeoutMs: 1000 })
  await watched.ready
  const lost = nextEvent(watched, 'disconnected')
  server.child.kill('SIGSTOP')
  const disconnected = await lost
  t.equal(disconnected.code, 4000, 'the client dropped the silent connection itself')
  t.equal(disconnected.willReconnect, true)
  const back = nextEvent(watched, 'connected')
  server.child.kill('SIGCONT')
  await back
  t.equal(watched.state, 'connected', 'connected again once the server answers')
})
