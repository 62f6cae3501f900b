// The load generator for bench:ws, forked by the orchestrator so it runs in its own process (its
// own core) beside the server under test. One scenario per process; results go back over IPC.
//
//   fanout       1 writer, N delta subscribers; the writer keeps `window` updates in flight until
//                every subscriber has received them (closed loop, so no buffer grows without end);
//                deliveries/s and delivery latency (write sent -> delta received).
//   ingest       W writers, each with `window` writes in flight; acknowledged writes/s and ack latency.
//   connections  opens N authenticated idle connections, reports, holds them until told to close.
import { performance } from 'node:perf_hooks'
import { createSigner } from 'fast-jwt'
import { WebSocket } from 'ws'
import { LatencyHistogram } from './latency.js'

export interface Target {
  port: number
  path: string
  /** Sign a JWT per user with this secret; absent for the reference server, which has no auth. */
  secret?: string
}

export type Scenario =
  | { kind: 'fanout', target: Target, subscribers: number, window: number, warmupMs: number, durationMs: number }
  | { kind: 'ingest', target: Target, writers: number, window: number, warmupMs: number, durationMs: number }
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
  return { deliveriesPerSecond: deliveries / seconds, updatesPerSecond: deliveries / count / seconds, latency: latency.toJSON() }
}

/** Warms up, then counts for `durationMs`: `toggle` switches counting on and off. Seconds counted. */
async function measuredWindow (scenario: { warmupMs: number, durationMs: number }, toggle: (on: boolean) => void): Promise<number> {
  await sleep(scenario.warmupMs)
  toggle(true)
  const started = performance.now()
  await sleep(scenario.durationMs)
  toggle(false)
  return (performance.now() - started) / 1000
}

async function ingest (scenario: Extract<Scenario, { kind: 'ingest' }>) {
  const { target, writers: count, window } = scenario
  const writers = await openMany(target, count, 'writer', 'none')
  const latency = new LatencyHistogram()
  let measuring = false
  let acked = 0
  let stopped = false
  writers.forEach((socket, w) => {
    const sentAt = new Float64Array(1 << 16)
    let next = 0
    const send = () => {
      const id = next++
      sentAt[id & 0xffff] = performance.now()
      socket.send(updateMessage(id, `w${w}-${id % 200}`, id))
    }
    socket.on('message', (data: Buffer) => {
      if (data.indexOf(ACK_MARKER) === -1) return
      if (measuring) {
        acked++
        latency.record(performance.now() - sentAt[numberAfter(data, ID_MARKER) & 0xffff])
      }
      if (!stopped) send()
    })
    for (let i = 0; i < window; i++) send()
  })
  const seconds = await measuredWindow(scenario, (on) => { measuring = on })
  stopped = true
  for (const socket of writers) socket.terminate()
  return { writesPerSecond: acked / seconds, latency: latency.toJSON() }
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
  const run = scenario.kind === 'fanout' ? fanout(scenario) : scenario.kind === 'ingest' ? ingest(scenario) : connections(scenario)
  run.then((result) => process.send?.({ kind: 'result', result }, () => process.exit(0)))
    .catch((error: unknown) => {
      process.send?.({ kind: 'error', message: String((error as Error)?.stack ?? error) }, () => process.exit(1))
    })
})
