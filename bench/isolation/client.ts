// One load process of bench:isolation, forked by run.ts with its role over IPC:
//   big-writer:   writes ~900 KB prose entries back to back (two in flight) in tenant "big"
//   small-client: in tenant "small", pings every 5 ms and writes a 1 KB entry every 5 ms
// Each connects and starts its traffic, reports `warm` once the server has answered its first
// write (for the big writer: once a counting thread has started and loaded its code and table,
// which is start-up cost, not the steady state measured here), then waits for run.ts's `go`: both
// measure for `durationMs` after `warmupMs` from that moment, so their windows coincide, and
// report their figures, then exit.
import { createSigner } from 'fast-jwt'
import { WebSocket } from 'ws'
import { LatencyHistogram } from '../ws/latency.js'
import { prose } from '../prose.js'

export interface ClientJob {
  role: 'big-writer' | 'small-client'
  port: number
  secret: string
  warmupMs: number
  durationMs: number
}

export interface BigWriterResult { writes: number, bytes: number, seconds: number, failures: number }
export interface SmallClientResult { ping: { count: number, p50: number, p99: number, max: number }, ack: { count: number, p50: number, p99: number, max: number } }

const BIG_BYTES = 900 * 1024
const SMALL_BYTES = 1024
const INTERVAL_MS = 5

async function connect (job: ClientJob, sub: string, tenant: string): Promise<WebSocket> {
  const token = createSigner({ key: job.secret, expiresIn: 3600_000 })({ sub, roles: ['writer'], tenant })
  const socket = new WebSocket(`ws://127.0.0.1:${job.port}/ws?mode=none&token=${token}`)
  await new Promise<void>((resolve, reject) => {
    socket.on('message', function first (data) {
      if ((JSON.parse(data.toString()) as { type: string }).type !== 'auth_success') return
      socket.off('message', first)
      resolve()
    })
    socket.once('error', reject)
  })
  return socket
}

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

/** Tells run.ts this client's traffic is flowing, and waits for the word to start measuring. */
async function warmThenGo (): Promise<void> {
  const go = new Promise<void>((resolve) => {
    process.on('message', function onGo (message: { kind?: string }) {
      if (message.kind !== 'go') return
      process.off('message', onGo)
      resolve()
    })
  })
  process.send?.({ kind: 'warm' })
  await go
}

async function bigWriter (job: ClientJob): Promise<BigWriterResult> {
  const socket = await connect(job, 'big-writer', 'big')
  // A few distinct texts, serialized once: the client's own JSON work stays out of the figures.
  const frames = Array.from({ length: 4 }, (_, i) => JSON.stringify({ type: 'update_context', key: `big${i}`, context: { note: prose(BIG_BYTES, i + 1) } }))
  let sent = 0
  let acked = 0
  let failures = 0
  let measuring = false
  let startedAt = 0
  let counted = 0
  let countedBytes = 0
  let firstAck: () => void = () => {}
  const answered = new Promise<void>((resolve) => { firstAck = resolve })
  const send = () => {
    const frame = frames[sent++ % frames.length]
    socket.send(frame)
  }
  socket.on('message', (data) => {
    const reply = JSON.parse(data.toString()) as { type: string }
    acked++
    firstAck()
    if (reply.type !== 'update_ack') failures++
    else if (measuring) { counted++; countedBytes += frames[0].length }
    send()
  })
  send()
  send()
  await answered
  await warmThenGo()
  await sleep(job.warmupMs)
  measuring = true
  startedAt = performance.now()
  await sleep(job.durationMs)
  measuring = false
  const seconds = (performance.now() - startedAt) / 1000
  socket.terminate()
  return { writes: counted, bytes: countedBytes, seconds, failures: failures + (acked === 0 ? 1 : 0) }
}

async function smallClient (job: ClientJob): Promise<SmallClientResult> {
  const pinger = await connect(job, 'pinger', 'small')
  const writer = await connect(job, 'small-writer', 'small')
  const pings = new LatencyHistogram()
  const acks = new LatencyHistogram()
  let maxPing = 0
  let maxAck = 0
  let measuring = false
  // Only what is sent inside the window counts: a reply to a warm-up message that arrives late
  // (the server loading its tables) is not a measurement.
  const sentAt = new Map<string, number>()
  const track = (socket: WebSocket, histogram: LatencyHistogram, onMax: (ms: number) => void) => {
    socket.on('message', (data) => {
      const { id } = JSON.parse(data.toString()) as { id?: string }
      const at = id !== undefined ? sentAt.get(id) : undefined
      if (at === undefined) return
      sentAt.delete(id as string)
      const ms = performance.now() - at
      histogram.record(ms)
      onMax(ms)
    })
  }
  track(pinger, pings, (ms) => { maxPing = Math.max(maxPing, ms) })
  track(writer, acks, (ms) => { maxAck = Math.max(maxAck, ms) })
  const filler = 'x'.repeat(SMALL_BYTES - 40)
  // One write answered before the clock starts: the server has loaded its tables.
  await new Promise((resolve) => {
    writer.once('message', resolve)
    writer.send(JSON.stringify({ type: 'update_context', key: 'warm-up', context: { filler } }))
  })
  let n = 0
  const timer = setInterval(() => {
    n++
    if (measuring) sentAt.set(`p${n}`, performance.now())
    pinger.send(`{"type":"ping","id":"p${n}"}`)
    if (measuring) sentAt.set(`w${n}`, performance.now())
    writer.send(JSON.stringify({ type: 'update_context', id: `w${n}`, key: `small${n % 50}`, context: { n, filler } }))
  }, INTERVAL_MS)
  await warmThenGo()
  await sleep(job.warmupMs)
  measuring = true
  await sleep(job.durationMs)
  measuring = false
  clearInterval(timer)
  await sleep(200) // the replies still on their way
  pinger.terminate()
  writer.terminate()
  return {
    ping: { count: pings.count, p50: pings.percentile(50), p99: pings.percentile(99), max: maxPing },
    ack: { count: acks.count, p50: acks.percentile(50), p99: acks.percentile(99), max: maxAck }
  }
}

process.once('message', (job: ClientJob) => {
  const run = job.role === 'big-writer' ? bigWriter(job) : smallClient(job)
  run.then((result) => process.send?.({ kind: 'result', result }, () => process.exit(0)),
    (error: Error) => process.send?.({ kind: 'error', message: error.message }, () => process.exit(1)))
})
