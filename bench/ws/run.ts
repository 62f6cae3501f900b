// npm run bench:ws [-- --store memory,persistent,redis] [-- --quick]
//
// The WebSocket surface under load, beside a minimal reference server (plain `ws`, one
// pre-serialized frame per update, no auth or store: the ceiling for Node), each measured in the
// same run, on 127.0.0.1, with the load generator in its own process:
//   (a) fan-out: 1 writer, 200 delta subscribers: deliveries/s, delivery latency p50/p99
//   (b) ingest: 8 writers: acknowledged writes/s, ack latency p50/p99
//   (c) idle memory per authenticated connection at 2,000 connections
// Targets (ratios to the reference): fan-out >= 0.8x, ingest >= 0.6x, memory <= 1.5x.
//
// --store picks the server's backends, one column each (MCP_STORE / MCP_DATA_DIR are passed to the
// server process); extra backends are also shown as ratios to memory-only.
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import type { Scenario, Target } from './load-generator.js'
import type { MemoryReading } from './server-ipc.js'

const { values: options } = parseArgs({
  options: {
    store: { type: 'string', default: 'memory' },
    quick: { type: 'boolean', default: false },
    // Writes a V8 CPU profile of every server process (node --cpu-prof) into this directory.
    profile: { type: 'string' },
    // Runs only these scenarios (fanout, ingest, memory), e.g. when profiling one of them.
    only: { type: 'string', default: 'fanout,ingest,memory' },
    // Throughput scenarios run this many times per server, interleaved; the best round counts
    // (other work on a shared machine only ever makes a round slower).
    rounds: { type: 'string', default: '2' }
  }
})

const here = new URL('.', import.meta.url).pathname
const SECRET = randomBytes(48).toString('base64url')
const WARMUP_MS = options.quick ? 500 : 1500
const DURATION_MS = options.quick ? 1500 : 3000
const ROUNDS = options.quick ? 1 : Math.max(1, Number(options.rounds))
const SUBSCRIBERS = 200
const WRITERS = 8
const CONNECTIONS = 2000
// The whole run stops here whatever happens: bench traffic is bounded in time as well as count.
const WATCHDOG_MS = 170_000

/** How each backend is configured: the environment given to the server process. */
const BACKENDS: Record<string, () => Record<string, string>> = {
  memory: () => ({ MCP_STORE: 'memory', MCP_DATA_DIR: '' }),
  persistent: () => ({ MCP_STORE: 'memory', MCP_DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-ws-')) }),
  redis: () => ({
    MCP_STORE: 'redis',
    MCP_DATA_DIR: '',
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    MCP_REDIS_PREFIX: `bench-ws-${process.pid}-${randomBytes(4).toString('hex')}`
  })
}

// The server as deployed, except that per-connection and per-user limits are lifted so the run
// measures the server rather than its limiters.
const SERVER_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  MCP_JWT_SECRET_KEY: SECRET,
  MCP_WS_RATE_LIMIT: '1000000',
  MCP_WS_BYTE_RATE: '1000000000',
  MCP_HTTP_RATE_LIMIT: '1000000',
  MCP_MAX_CONNECTIONS: '100000',
  MCP_MAX_CONNECTIONS_PER_USER: '100000'
}

interface ServerSpec { name: string, script: string, env: Record<string, string>, authenticated: boolean }

const backends = options.store.split(',').map((name) => name.trim()).filter((name) => name !== '')
for (const name of backends) {
  if (BACKENDS[name] === undefined) throw new Error(`unknown --store ${name}; one of ${Object.keys(BACKENDS).join(', ')}`)
}
const servers: ServerSpec[] = [
  { name: 'reference', script: 'reference-server.ts', env: {}, authenticated: false },
  ...backends.map((name) => ({ name: `server (${name})`, script: 'app-server.ts', env: { ...SERVER_ENV, ...BACKENDS[name]() }, authenticated: true }))
]

const children = new Set<ChildProcess>()
function spawnChild (script: string, env: Record<string, string>, profile = false): ChildProcess {
  const child = fork(join(here, script), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(profile && options.profile !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`] : [])],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

async function nextMessage<T> (child: ChildProcess, kind: string): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    const onMessage = (message: { kind: string, message?: string }) => {
      if (message.kind === 'error') reject(new Error(message.message))
      if (message.kind !== kind) return
      child.off('message', onMessage)
      resolve(message as T)
    }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before sending ${kind}`)))
  })
}

async function startServer (spec: ServerSpec): Promise<{ child: ChildProcess, target: Target }> {
  const child = spawnChild(spec.script, spec.env, true)
  const ready = await nextMessage<{ port: number, path: string }>(child, 'ready')
  return { child, target: { port: ready.port, path: ready.path, secret: spec.authenticated ? SECRET : undefined } }
}

async function stopServer (child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.send({ kind: 'exit' })
  await exited
}

async function memoryOf (child: ChildProcess): Promise<MemoryReading> {
  child.send({ kind: 'memory' })
  return (await nextMessage<{ reading: MemoryReading }>(child, 'memory')).reading
}

async function runLoad<T> (scenario: Scenario, onOpened?: (load: ChildProcess) => Promise<void>): Promise<T> {
  const load = spawnChild('load-generator.ts', {})
  load.send(scenario)
  if (onOpened !== undefined) {
    await nextMessage(load, 'opened')
    await onOpened(load)
    load.send({ kind: 'close' })
  }
  return (await nextMessage<{ result: T }>(load, 'result')).result
}

interface Latency { count: number, p50: number, p99: number }
interface Results {
  fanout?: { deliveriesPerSecond: number, updatesPerSecond: number, latency: Latency }
  ingest?: { writesPerSecond: number, latency: Latency }
  memory?: { heapPerConnection: number }
}

async function measure (spec: ServerSpec, scenario: 'fanout' | 'ingest' | 'memory', results: Results): Promise<void> {
  const { child, target } = await startServer(spec)
  try {
    if (scenario === 'fanout') {
      const round: Results['fanout'] = await runLoad({ kind: 'fanout', target, subscribers: SUBSCRIBERS, window: 16, warmupMs: WARMUP_MS, durationMs: DURATION_MS })
      if (results.fanout === undefined || (round?.deliveriesPerSecond ?? 0) > results.fanout.deliveriesPerSecond) results.fanout = round
    } else if (scenario === 'ingest') {
      const round: Results['ingest'] = await runLoad({ kind: 'ingest', target, writers: WRITERS, window: 16, warmupMs: WARMUP_MS, durationMs: DURATION_MS })
      if (results.ingest === undefined || (round?.writesPerSecond ?? 0) > results.ingest.writesPerSecond) results.ingest = round
    } else {
      // A first, smaller wave opened and closed before the baseline: code compiled and caches
      // filled on first use are one-time costs, not per-connection ones.
      await runLoad({ kind: 'connections', target, count: CONNECTIONS / 10 }, async () => {})
      const before = await memoryOf(child)
      let after = before
      await runLoad({ kind: 'connections', target, count: CONNECTIONS }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 500))
        after = await memoryOf(child)
      })
      results.memory = { heapPerConnection: (after.heapUsed + after.external - before.heapUsed - before.external) / CONNECTIONS }
    }
  } finally {
    await stopServer(child)
  }
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value) ? 'n/a' : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

function printTable (results: Map<string, Results>): void {
  const reference = results.get('reference') as Results
  const memoryOnly = results.get('server (memory)')
  const rows: Array<{ label: string, get: (r: Results) => number | undefined, digits: number, target?: { ratio: number, higherIsBetter: boolean } }> = [
    { label: 'fan-out deliveries/s', get: (r) => r.fanout?.deliveriesPerSecond, digits: 0, target: { ratio: 0.8, higherIsBetter: true } },
    { label: 'fan-out latency p50 (ms)', get: (r) => r.fanout?.latency.p50, digits: 2 },
    { label: 'fan-out latency p99 (ms)', get: (r) => r.fanout?.latency.p99, digits: 2 },
    { label: 'ingest acked writes/s', get: (r) => r.ingest?.writesPerSecond, digits: 0, target: { ratio: 0.6, higherIsBetter: true } },
    { label: 'ingest ack p50 (ms)', get: (r) => r.ingest?.latency.p50, digits: 2 },
    { label: 'ingest ack p99 (ms)', get: (r) => r.ingest?.latency.p99, digits: 2 },
    // Judged on the garbage-collected JS heap plus external memory, which is deterministic. An RSS
    // difference mostly says how much heap V8 had reserved before the connections came (it even
    // goes negative), so it is not shown.
    { label: 'memory/conn, heap+ext (KB)', get: (r) => r.memory === undefined ? undefined : r.memory.heapPerConnection / 1024, digits: 2, target: { ratio: 1.5, higherIsBetter: false } }
  ]
  const names = [...results.keys()]
  const header = ['', ...names.map((n) => n), ...names.slice(1).map((n) => `${n} / ref`), ...(memoryOnly !== undefined ? names.slice(2).map((n) => `${n} / memory`) : []), 'target']
  const lines = rows.map((row) => {
    const values = names.map((n) => row.get(results.get(n) as Results))
    const ref = row.get(reference)
    const ratios = values.slice(1).map((v) => (v === undefined || ref === undefined ? undefined : v / ref))
    const memoryRatios = memoryOnly === undefined ? [] : values.slice(2).map((v) => { const m = row.get(memoryOnly); return v === undefined || m === undefined ? undefined : v / m })
    let verdict = ''
    if (row.target !== undefined && ratios[0] !== undefined) {
      const met = row.target.higherIsBetter ? ratios[0] >= row.target.ratio : ratios[0] <= row.target.ratio
      verdict = `${row.target.higherIsBetter ? '>=' : '<='} ${row.target.ratio}x ${met ? 'met' : 'MISSED'}`
    }
    return [row.label, ...values.map((v) => fmt(v, row.digits)), ...ratios.map((r) => (r === undefined ? 'n/a' : `${fmt(r, 2)}x`)), ...memoryRatios.map((r) => (r === undefined ? 'n/a' : `${fmt(r, 2)}x`)), verdict]
  })
  const widths = header.map((_, i) => Math.max(header[i].length, ...lines.map((l) => l[i].length)))
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ')
  console.log('\n' + render(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const line of lines) console.log(render(line))
  console.log(`\nfan-out: 1 writer, ${SUBSCRIBERS} delta subscribers, 16 updates in flight until delivered to all; ` +
    `ingest: ${WRITERS} writers, 16 writes in flight each; ${DURATION_MS / 1000}s measured after ${WARMUP_MS / 1000}s warm-up, best of ${ROUNDS}; ` +
    `memory: ${CONNECTIONS} idle authenticated connections (20 users), after a warm-up wave, GC'd before each reading.`)
}

const watchdog = setTimeout(() => {
  console.error(`bench:ws: stopped by the ${WATCHDOG_MS / 1000}s watchdog`)
  for (const child of children) child.kill('SIGKILL')
  process.exit(1)
}, WATCHDOG_MS)
watchdog.unref()

const results = new Map<string, Results>(servers.map((s) => [s.name, {}]))
const started = Date.now()
try {
  // Scenario by scenario, each server in turn, so slow drift on a shared machine hits all alike.
  const scenarios = (['fanout', 'ingest', 'memory'] as const).filter((s) => options.only.split(',').includes(s))
  for (let round = 1; round <= ROUNDS; round++) {
    for (const scenario of scenarios) {
      if (scenario === 'memory' && round > 1) continue
      for (const spec of servers) {
        process.stderr.write(`bench:ws: ${scenario} on ${spec.name} (round ${round})...\n`)
        await measure(spec, scenario, results.get(spec.name) as Results)
      }
    }
  }
  printTable(results)
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)}s in all)`)
} finally {
  for (const spec of servers) {
    if (spec.env.MCP_DATA_DIR !== undefined && spec.env.MCP_DATA_DIR !== '') rmSync(spec.env.MCP_DATA_DIR, { recursive: true, force: true })
  }
  for (const child of children) child.kill('SIGKILL')
  for (const spec of servers) {
    if (spec.env.MCP_STORE === 'redis') await deleteRedisPrefix(spec.env.REDIS_URL, spec.env.MCP_REDIS_PREFIX)
  }
}

/** Removes what a Redis-backed run left under its prefix (store keys and rate-limit counters). */
async function deleteRedisPrefix (url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null })
  redis.on('error', () => {})
  try {
    for (const pattern of [`{${prefix}:*`, `${prefix}:*`]) {
      let cursor = '0'
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        if (keys.length > 0) await redis.del(...keys)
        cursor = next
      } while (cursor !== '0')
    }
  } catch (error) {
    console.error(`bench:ws: could not delete Redis keys under ${prefix}: ${(error as Error).message}`)
  } finally {
    redis.disconnect()
  }
}
