// npm run soak   (SOAK_SECONDS=600 by default)
//
// Everything at once against one server process (spawned, embedded store in a temporary
// directory) for a bounded time: WebSocket writers (some entries with a TTL, the store kept full
// and evicting), subscribers in every mode with filters, delta clients that disconnect and resume
// with since_seq, REST callers, MCP callers of both protocol eras (short sessions, half of them
// abandoned without DELETE as the official client does) and long-lived MCP notification streams.
// Every 10 s the server's RSS, heap, handles and event-loop delay are sampled from its /metrics.
//
// Pass: after the warm-up (the first quarter), RSS and heap are flat (the last third of the samples
// within 5% of the first third: RSS by its highest sample, heap by its lowest, i.e. after GC),
// once every client has left the server's handles are back to their count before the load, and
// no resumed delta stream had a gap. Prints a table; exits 1 on failure.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client'
import { WebSocket } from 'ws'
import { spawnServer } from '../../test/helpers/spawn-server.js'
import { signTestToken } from '../../test/helpers/tokens.js'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600)
if (!Number.isInteger(SECONDS) || SECONDS < 30) throw new Error('SOAK_SECONDS must be an integer of at least 30')
const SAMPLE_MS = 10_000
const WARMUP_MS = SECONDS * 1000 / 4
const FLAT_TOLERANCE = 0.05
const TENANT = 'soak'

const cleanups: Array<() => void> = []
const token = (sub: string, roles = ['writer']) => signTestToken({ sub, roles, tenant: TENANT }, { ttlSeconds: SECONDS + 3600 })
const counts = new Map<string, number>()
const count = (what: string, n = 1) => counts.set(what, (counts.get(what) ?? 0) + n)
// Printed even when nothing happened: zero is the figure that matters.
for (const zero of ['resumer gaps or duplicates', 'resumer resyncs', 'ws socket errors', 'mcp client errors']) counts.set(zero, 0)
const state = { running: true }
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]

// ---- The server --------------------------------------------------------------------------

const dataDir = mkdtempSync(join(tmpdir(), 'context-soak-'))
cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
const server = await spawnServer({ teardown: (cleanup) => cleanups.push(cleanup) }, {
  MCP_DATA_DIR: dataDir,
  // A small budget and history keep the store full, evicting and at its history bound within the
  // warm-up, so what follows is the steady state.
  MCP_MAX_TOKENS: '10000',
  MCP_HISTORY_SIZE: '2000',
  MCP_SESSION_IDLE_TIMEOUT: '20',
  MCP_WS_RATE_LIMIT: '1000'
})

interface Sample { at: number, rssMb: number, heapMb: number, handles: number, eldP99Ms: number, eldMaxMs: number }

async function sample (): Promise<Sample> {
  const text = await (await fetch(`${server.base}/metrics`)).text()
  const metric = (name: string) => {
    const match = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)
    if (match === null) throw new Error(`no ${name} in /metrics`)
    return Number(match[1])
  }
  return {
    at: Date.now(),
    rssMb: metric('process_resident_memory_bytes') / 2 ** 20,
    heapMb: metric('nodejs_heap_size_used_bytes') / 2 ** 20,
    handles: metric('nodejs_active_handles_total'),
    eldP99Ms: metric('nodejs_eventloop_lag_p99_seconds') * 1000,
    eldMaxMs: metric('nodejs_eventloop_lag_max_seconds') * 1000
  }
}

// ---- WebSocket actors --------------------------------------------------------------------

/** A WebSocket client that counts frames instead of keeping them (a soak sees millions). */
class SoakSocket {
  private readonly pending = new Map<string, (frame: any) => void>()
  private nextId = 0
  onFrame: (frame: any) => void = () => {}

  private constructor (readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString())
      count(`ws frames: ${frame.type as string}`)
      const reply = typeof frame.id === 'string' ? this.pending.get(frame.id) : undefined
      if (reply !== undefined) {
        this.pending.delete(frame.id)
        reply(frame)
      }
      this.onFrame(frame)
    })
    socket.on('error', () => count('ws socket errors'))
  }

  /** Opens and authenticates; `onFrame` sees every frame from the first (a resume's replay follows auth_success at once). */
  static async open (query: Record<string, string | number>, onFrame: (frame: any) => void = () => {}): Promise<SoakSocket> {
    const url = new URL(server.ws)
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, String(value))
    const client = new SoakSocket(new WebSocket(url))
    await new Promise<void>((resolve, reject) => {
      client.onFrame = (frame) => {
        onFrame(frame)
        if (frame.type === 'auth_success') resolve()
      }
      client.socket.once('close', (code) => reject(new Error(`closed ${code} before auth_success`)))
    })
    client.onFrame = onFrame
    return client
  }

  async request (message: Record<string, unknown>): Promise<any> {
    const id = `s${++this.nextId}`
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${String(message.type)} within 30 s`)), 30_000)
      this.pending.set(id, (frame) => { clearTimeout(timer); resolve(frame) })
    })
    this.socket.send(JSON.stringify({ ...message, id }))
    return await reply
  }

  async close (): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return
    const closed = new Promise((resolve) => this.socket.once('close', resolve))
    this.socket.close()
    await Promise.race([closed, sleep(5000)])
  }
}

const sockets = new Set<SoakSocket>()
async function openSocket (query: Record<string, string | number>, onFrame?: (frame: any) => void): Promise<SoakSocket> {
  const socket = await SoakSocket.open(query, onFrame)
  sockets.add(socket)
  socket.socket.once('close', () => sockets.delete(socket))
  return socket
}

async function writer (index: number): Promise<void> {
  const client = await openSocket({ token: token(`writer-${index}`), mode: 'none' })
  let n = 0
  while (state.running) {
    const size = 50 + Math.floor(Math.random() * 2000)
    const reply = await client.request({
      type: 'update_context',
      key: `w${index}-${n++ % 200}`,
      source: `writer-${index}`,
      priority: 1 + Math.floor(Math.random() * 10),
      context: { n, text: 'soak '.repeat(size / 5) },
      // One write in five expires within seconds: the expiry sweep runs throughout.
      ...(n % 5 === 0 ? { ttl_seconds: 2 + Math.floor(Math.random() * 8) } : {})
    })
    count(reply.type === 'update_ack' ? 'writes acked (ws)' : `ws write errors: ${String(reply.code)}`)
    await sleep(100)
  }
}

async function subscriber (mode: 'snapshot' | 'delta' | 'none', filter?: Record<string, unknown>): Promise<void> {
  const client = await openSocket({ token: token(`reader-${mode}`, ['reader']), mode })
  if (filter !== undefined) await client.request({ type: 'subscribe', mode, filter })
  while (state.running) await sleep(500)
}

/** A delta client that leaves and comes back with since_seq (and its epoch): counts gaps and resyncs. */
async function resumer (index: number): Promise<void> {
  let lastSeq: number | undefined
  let epoch: string | undefined
  while (state.running) {
    const query: Record<string, string | number> = { token: token(`resumer-${index}`, ['reader']), mode: 'delta' }
    if (lastSeq !== undefined) query.since_seq = lastSeq
    if (epoch !== undefined) query.epoch = epoch
    const client = await openSocket(query, (frame) => {
      if (typeof frame.epoch === 'string') epoch = frame.epoch
      if (frame.type === 'context') {
        if (frame.resync === true) count('resumer resyncs')
        // The connect snapshot starts a fresh client; a resumed one goes on from its own seq.
        if (typeof frame.seq === 'number' && (frame.resync === true || lastSeq === undefined)) lastSeq = frame.seq
      } else if (frame.type === 'context_delta') {
        if (lastSeq !== undefined && frame.seq !== lastSeq + 1) count('resumer gaps or duplicates')
        lastSeq = frame.seq
      }
    })
    await sleep(3000 + Math.random() * 4000)
    await client.close()
    count('resumer reconnects')
    await sleep(200)
  }
}

// ---- REST and MCP actors -----------------------------------------------------------------

async function restCaller (index: number): Promise<void> {
  const headers = { authorization: `Bearer ${token(`rest-${index}`)}`, 'content-type': 'application/json' }
  const admin = { authorization: `Bearer ${token('rest-admin', ['admin'])}` }
  let n = 0
  while (state.running) {
    const key = `r${index}-${n++ % 50}`
    const call = pick([
      () => fetch(`${server.base}/context?min_priority=5&limit=20`, { headers }),
      () => fetch(`${server.base}/context?source=writer-1&text=soak`, { headers }),
      () => fetch(`${server.base}/context`, { method: 'POST', headers, body: JSON.stringify({ key, context: { n, note: 'rest '.repeat(40) }, priority: 3 }) }),
      () => fetch(`${server.base}/context/${key}`, { method: 'PATCH', headers, body: JSON.stringify({ priority: 1 + (n % 10) }) }),
      () => fetch(`${server.base}/context/${key}`, { method: 'DELETE', headers: { authorization: headers.authorization } }),
      () => fetch(`${server.base}/status`, { headers: admin })
    ])
    const response = await call()
    await response.arrayBuffer()
    count(`rest ${response.status}`)
    await sleep(100)
  }
}

async function mcpClient (user: string, modern: boolean): Promise<{ client: Client, transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'soak', version: '1' }, modern ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {})
  client.onerror = () => count('mcp client errors')
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', server.base), {
    requestInit: { headers: { Authorization: `Bearer ${token(user)}` } }
  })
  await client.connect(transport)
  return { client, transport }
}

/** Short MCP jobs: connect, call tools, leave; half of the 2025 sessions are abandoned without DELETE. */
async function mcpCaller (index: number): Promise<void> {
  let n = 0
  while (state.running) {
    const modern = n % 2 === 1
    const { client, transport } = await mcpClient(`mcp-${index}`, modern)
    await client.callTool({ name: 'get_context', arguments: { max_tokens: 2000 } })
    await client.callTool({ name: 'update_context', arguments: { key: `m${index}-${n % 20}`, context: { n }, priority: 2 } })
    await client.callTool({ name: 'query_context', arguments: { source: 'writer-2', max_tokens: 1000 } })
    count(`mcp jobs (${modern ? '2026-07-28' : '2025-11-25'})`)
    if (!modern && n % 4 === 0) await transport.terminateSession()
    await client.close()
    n++
    await sleep(1000)
  }
}

/** Long-lived notification streams, one per era, counting what they hear. */
async function mcpListeners (): Promise<() => Promise<void>> {
  const legacy = await mcpClient('mcp-listener-2025', false)
  legacy.client.setNotificationHandler('notifications/resources/updated', () => { count('mcp notifications (2025)') })
  await legacy.client.subscribeResource({ uri: 'context://snapshot' })
  const modern = await mcpClient('mcp-listener-2026', true)
  modern.client.setNotificationHandler('notifications/resources/updated', () => { count('mcp notifications (2026)') })
  const listening = await modern.client.listen({ resourceSubscriptions: ['context://snapshot'], resourcesListChanged: true })
  return async () => {
    await listening.close()
    await modern.client.close()
    await legacy.transport.terminateSession()
    await legacy.client.close()
  }
}

// ---- The run -----------------------------------------------------------------------------

function row (cells: Array<string | number>): string {
  return `| ${cells.join(' | ')} |`
}

const baseline = await sample()
const startedAt = Date.now()
const samples: Sample[] = []
const failures: string[] = []

/** Runs an actor until the end; a failure is recorded (the run then fails), never thrown away. */
function actor (name: string, run: () => Promise<void>): Promise<void> {
  return run().catch((error: unknown) => { failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`) })
}

process.stdout.write(`soak: ${SECONDS} s against one server process (${server.base}), sampling every ${SAMPLE_MS / 1000} s, warm-up ${WARMUP_MS / 1000} s\n\n`)
process.stdout.write(`${row(['t (s)', 'RSS MB', 'heap MB', 'handles', 'ELD p99 ms', 'ELD max ms', 'writes acked', 'frames received'])}\n`)
process.stdout.write(`${row(['---', '---', '---', '---', '---', '---', '---', '---'])}\n`)
const printSample = (s: Sample) => {
  const frames = [...counts].filter(([name]) => name.startsWith('ws frames')).reduce((sum, [, n]) => sum + n, 0)
  process.stdout.write(`${row([Math.round((s.at - startedAt) / 1000), s.rssMb.toFixed(1), s.heapMb.toFixed(1), s.handles, s.eldP99Ms.toFixed(1), s.eldMaxMs.toFixed(1), counts.get('writes acked (ws)') ?? 0, frames])}\n`)
}
printSample(baseline)

const stopListeners = await mcpListeners()
const actors = [
  ...[0, 1, 2, 3].map((i) => actor(`writer ${i}`, () => writer(i))),
  actor('snapshot subscriber', () => subscriber('snapshot')),
  actor('snapshot subscriber (source filter)', () => subscriber('snapshot', { source: 'writer-1' })),
  actor('delta subscriber', () => subscriber('delta')),
  actor('delta subscriber (priority filter)', () => subscriber('delta', { min_priority: 5 })),
  actor('delta subscriber (source filter)', () => subscriber('delta', { source: 'writer-2', min_priority: 3 })),
  actor('none subscriber', () => subscriber('none')),
  ...[0, 1].map((i) => actor(`resumer ${i}`, () => resumer(i))),
  ...[0, 1].map((i) => actor(`REST caller ${i}`, () => restCaller(i))),
  ...[0, 1].map((i) => actor(`MCP caller ${i}`, () => mcpCaller(i)))
]

const endAt = startedAt + SECONDS * 1000
while (Date.now() < endAt && failures.length === 0) {
  await sleep(Math.min(SAMPLE_MS, endAt - Date.now()))
  const s = await sample()
  samples.push(s)
  printSample(s)
}
state.running = false
await Promise.all(actors)
await stopListeners()
await Promise.all([...sockets].map((socket) => socket.close()))

// Every client has gone: the server's handles must come back to where they were before the load
// (the client side keeps idle keep-alive connections up to the server's Keep-Alive hint of 72 s,
// and abandoned MCP sessions close after MCP_SESSION_IDLE_TIMEOUT, hence the wait).
let after = await sample()
const settleBy = Date.now() + Number(process.env.SOAK_SETTLE_SECONDS ?? 90) * 1000
while (after.handles > baseline.handles && Date.now() < settleBy) {
  await sleep(1000)
  after = await sample()
  if (process.env.SOAK_DEBUG !== undefined) process.stdout.write(`settling: ${after.handles} handles\n`)
}

const steady = samples.filter((s) => s.at - startedAt >= WARMUP_MS)
const third = Math.max(1, Math.floor(steady.length / 3))
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const lowest = (values: number[]) => Math.min(...values)
const highest = (values: number[]) => Math.max(...values)
// Both follow the garbage collector's sawtooth, so single samples land anywhere on it: the heap is
// judged by its lowest sample (the level a collection brings it back to), RSS by its highest (the
// memory the process needed at its peak). A leak raises both from one third to the next.
const growth = (key: 'rssMb' | 'heapMb', level: (values: number[]) => number) => {
  const first = level(steady.slice(0, third).map((s) => s[key]))
  const last = level(steady.slice(-third).map((s) => s[key]))
  return { first, last, growth: (last - first) / first }
}
const rss = growth('rssMb', highest)
const heap = growth('heapMb', lowest)

process.stdout.write('\n')
process.stdout.write(`${row(['check (after the warm-up)', 'first third', 'last third', 'change', 'verdict'])}\n${row(['---', '---', '---', '---', '---'])}\n`)
for (const [name, figures] of [['RSS MB (highest)', rss], ['heap MB (lowest, after GC)', heap]] as const) {
  const ok = figures.growth < FLAT_TOLERANCE
  if (!ok) failures.push(`${name} grew ${(figures.growth * 100).toFixed(1)}% after the warm-up`)
  process.stdout.write(`${row([name, figures.first.toFixed(1), figures.last.toFixed(1), `${(figures.growth * 100).toFixed(1)}%`, ok ? 'flat (< 5%)' : 'GROWS'])}\n`)
}
const handlesOk = after.handles <= baseline.handles
if (!handlesOk) failures.push(`handles ${after.handles} at the end, ${baseline.handles} before the load`)
process.stdout.write(`${row(['handles', `${baseline.handles} before the load`, `${after.handles} after it`, '', handlesOk ? 'back to baseline' : 'LEAK'])}\n`)
const eld = steady.map((s) => s.eldP99Ms)
process.stdout.write(`${row(['event-loop delay p99 ms', `median ${median(eld).toFixed(1)}`, `worst ${Math.max(...eld).toFixed(1)}`, '', 'reported'])}\n`)

process.stdout.write('\nWorkload:\n')
for (const [name, n] of [...counts].sort(([a], [b]) => a.localeCompare(b))) process.stdout.write(`  ${name}: ${n}\n`)
if ((counts.get('resumer gaps or duplicates') ?? 0) > 0) failures.push('a resumed delta stream had a gap or a duplicate')

await server.stop('SIGTERM')
for (const cleanup of cleanups.reverse()) cleanup()
if (failures.length > 0) {
  process.stdout.write(`\nFAIL\n${failures.map((failure) => `  ${failure}`).join('\n')}\n`)
  process.exit(1)
}
process.stdout.write('\nPASS\n')
