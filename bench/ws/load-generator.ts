// The load generator for bench:ws, forked by the orchestrator so it runs in its own process (its
// own core) beside the server under test. One scenario per process; results go back over IPC.
//
//   fanout       1 writer, N delta subscribers; the writer keeps `window` updates in flight until
//                every subscriber has received them (closed loop, so no buffer grows without end);
//                deliveries/s and delivery latency (write sent -> delta received).
//   ingest       W writers, each with `window` writes in flight; acknowledged writes/s and ack latency.
//                `unique` keys make every write a new entry (the evicting store); otherwise each
//                writer rewrites 200 keys of its own.
//   content      the same with realistic contents (bench/ws/contents.ts) of about `bytes` each.
//   connections  opens N authenticated idle connections, reports, holds them until told to close.
import { performance } from 'node:perf_hooks'
import { createSigner } from 'fast-jwt'
import { WebSocket } from 'ws'
import { realisticContents } from './contents.js'
import { LatencyHistogram } from './latency.js'

export interface Target {
  port: number
  path: string
  /** Sign a JWT per user with this secret; absent for the reference server, which has no auth. */
  secret?: string
}

export type Scenario =
  | { kind: 'fanout', target: Target, subscribers: number, window: number, warmupMs: number, durationMs: number }
  | { kind: 'ingest', target: Target, writers: number, window: number, warmupMs: number, durationMs: number, unique?: boolean, prefill?: number }
  | { kind: 'content', target: Target, writers: number, window: number, warmupMs: number, durationMs: number, bytes: number }
  | { kind: 'connections', target: Target, count: number }

const token = (target: Target, sub: string) =>
  createSigner({ key: target.secret as string, expiresIn: 3600_000 })({ sub, roles: ['writer'] })

async function open (target: Target, sub: string, mode?: string): Promise<WebSocket> {
  const url = new URL(`ws://127.0.0.1:${target.port}${target.path}`)
  if (target.secret !== undefined) url.searchParams.set('token', token(target, sub))
  if (mode !== undefined) url.searchParams.set('mode', mode)
  // The load generator trusts the server's text: skipping UTF-8 validation keeps it from being
  // the bottleneck it is meant to measure.
  const socket = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true })
  await new Promise<void>((resolve, reject) => {
    const onMessage = (data: Buffer) => {
      if (!data.includes('"auth_success"')) return
      socket.off('message', onMessage)
      resolve()
    }
    socket.on('message', onMessage)
    socket.once('error', reject)
    socket.once('close', (code) => reject(new Error(`closed ${code} before auth_success`)))
  })
  socket.removeAllListeners('error')
  socket.removeAllListeners('close')
  socket.on('error', () => {})
  return socket
}

// Idle connections belong to a pool of users (a fleet of agents and dashboards shares a few
// identities), so per-user state such as the HTTP rate-limit bucket of each upgrade is not
// counted as if it were per connection.
const USERS_FOR_IDLE = 20

async function openMany (target: Target, count: number, prefix: string, mode?: string, users = Infinity): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  for (let i = 0; i < count; i += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, async (_, j) => await open(target, `${prefix}${(i + j) % users}`, mode)))
    sockets.push(...batch)
  }
  return sockets
}

/** The number after `"<name>":` in a frame, read without parsing the whole frame. */
function numberAfter (data: Buffer, marker: Buffer): number {
  const at = data.indexOf(marker)
  if (at === -1) return NaN
  let end = at + marker.length
  while (end < data.length && ((data[end] >= 48 && data[end] <= 57) || data[end] === 46 || data[end] === 45 || data[end] === 101)) end++
  return Number(data.toString('latin1', at + marker.length, end))
}

const N_MARKER = Buffer.from('"n":')
const T_MARKER = Buffer.from('"t":')
const ID_MARKER = Buffer.from('"id":')
const DELTA_MARKER = Buffer.from('"context_delta"')
const ACK_MARKER = Buffer.from('"update_ack"')

function updateMessage (n: number, key: string, id: number): string {
  return `{"type":"update_context","id":${id},"key":"${key}","source":"bench_agent",` +
    `"context":{"t":${performance.now()},"n":${n},"agent":"ContentAgent","task":"Generate math lesson","progress":"content_created"}}`
}

async function fanout (scenario: Extract<Scenario, { kind: 'fanout' }>) {
  const { target, subscribers: count, window } = scenario
  const subscribers = await openMany(target, count, 'sub', 'delta')
  const writer = await open(target, 'writer', 'none')
  const remaining = new Int32Array(1 << 16)
  const latency = new LatencyHistogram()
  let measuring = false
  let deliveries = 0
  let sent = 0
  let inFlight = 0
  let stopped = false
  const send = () => {
    if (stopped) return
    while (inFlight < window) {
      const n = sent++
      remaining[n & 0xffff] = count
      inFlight++
      writer.send(updateMessage(n, `k${n % 100}`, n))
    }
  }
  for (const socket of subscribers) {
    socket.on('message', (data: Buffer) => {
      if (data.indexOf(DELTA_MARKER) === -1) return
      const n = numberAfter(data, N_MARKER)
      if (Number.isNaN(n)) return
      if (measuring) {
        deliveries++
        latency.record(performance.now() - numberAfter(data, T_MARKER))
      }
      if (--remaining[n & 0xffff] === 0) {
        inFlight--
        send()
      }
    })
  }
  writer.on('message', () => {})
  send()
  const seconds = await measuredWindow(scenario, (on) => { measuring = on })
  stopped = true
  for (const socket of [writer, ...subscribers]) socket.terminate()
  return { deliveriesPerSecond: deliveries / seconds, updatesPerSecond: deliveries / count / seconds, seconds, loadBusy, latency: latency.toJSON() }
}

/**
 * Warms up, then counts for `durationMs`: `toggle` switches counting on and off. Seconds counted.
 * The orchestrator is told when the window opens and closes (it reads the server's CPU time then).
 */
async function measuredWindow (scenario: { warmupMs: number, durationMs: number }, toggle: (on: boolean) => void, ready?: Promise<void>): Promise<number> {
  await ready
  await sleep(scenario.warmupMs)
  process.send?.({ kind: 'window', open: true })
  toggle(true)
  const started = performance.now()
  const cpuAtStart = process.cpuUsage()
  await sleep(scenario.durationMs)
  toggle(false)
  const cpu = process.cpuUsage(cpuAtStart)
  process.send?.({ kind: 'window', open: false })
  const seconds = (performance.now() - started) / 1000
  // How busy this process was: near 100% says the load generator, not the server, set the pace.
  loadBusy = (cpu.user + cpu.system) / 1e6 / seconds
  return seconds
}

let loadBusy = NaN

/** The write messages of the content scenario, but for their id: pre-serialized around it. */
function contentMessages (bytes: number): (n: number, key: string, id: number) => string {
  const contents = realisticContents(bytes).map((content) => JSON.stringify(content))
  return (n, key, id) => `{"type":"update_context","id":${id},"key":"${key}","source":"bench_agent","context":${contents[n % contents.length]}}`
}

async function ingest (scenario: Extract<Scenario, { kind: 'ingest' | 'content' }>) {
  const { target, writers: count, window } = scenario
  const message = scenario.kind === 'content' ? contentMessages(scenario.bytes) : updateMessage
  const keyOf = scenario.kind === 'ingest' && scenario.unique === true
    ? (w: number, id: number) => `w${w}-${id}`
    : (w: number, id: number) => `w${w}-${id % 200}`
  const writers = await openMany(target, count, 'writer', 'none')
  const latency = new LatencyHistogram()
  let measuring = false
  let acked = 0
  let stopped = false
  // With `prefill`, the warm-up starts once that many writes were acknowledged (a store full of
  // unique keys before the measurement, however fast this machine is today).
  let allAcked = 0
  const prefill = scenario.kind === 'ingest' ? scenario.prefill ?? 0 : 0
  let filled!: () => void
  const ready = new Promise<void>((resolve) => { filled = resolve })
  if (prefill === 0) filled()
  writers.forEach((socket, w) => {
    const sentAt = new Float64Array(1 << 16)
    let next = 0
    const send = () => {
      const id = next++
      sentAt[id & 0xffff] = performance.now()
      socket.send(message(id + w, keyOf(w, id), id))
    }
    socket.on('message', (data: Buffer) => {
      if (data.indexOf(ACK_MARKER) === -1) return
      if (++allAcked === prefill) filled()
      if (measuring) {
        acked++
        latency.record(performance.now() - sentAt[numberAfter(data, ID_MARKER) & 0xffff])
      }
      if (!stopped) send()
    })
    for (let i = 0; i < window; i++) send()
  })
  const seconds = await measuredWindow(scenario, (on) => { measuring = on }, ready)
  stopped = true
  for (const socket of writers) socket.terminate()
  return { writesPerSecond: acked / seconds, acked, seconds, loadBusy, latency: latency.toJSON() }
}

async function connections (scenario: Extract<Scenario, { kind: 'connections' }>) {
  const sockets = await openMany(scenario.target, scenario.count, 'idle', undefined, USERS_FOR_IDLE)
  process.send?.({ kind: 'opened', count: sockets.length })
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  for (const socket of sockets) socket.terminate()
  return { count: sockets.length }
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

process.once('message', (scenario: Scenario) => {
  const run = scenario.kind === 'fanout' ? fanout(scenario) : scenario.kind === 'connections' ? connections(scenario) : ingest(scenario)
  run.then((result) => process.send?.({ kind: 'result', result }, () => process.exit(0)))
    .catch((error: unknown) => {
      process.send?.({ kind: 'error', message: String((error as Error)?.stack ?? error) }, () => process.exit(1))
    })
})
