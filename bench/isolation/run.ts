// npm run bench:isolation [-- --quick] [-- --seconds N]
//
// One client writing ~900 KB prose entries back to back (tenant "big") beside, in tenant
// "small", one client pinging every 5 ms and one writing 1 KB entries every 5 ms. Reports ping
// p50/p99/max and the small writer's ack p99, with the big writer and without it, with token
// counting on the worker pool (MCP_TOKENIZER_THREADS, default) and inline (0); and the big
// writer's throughput with the pool against inline. The server and the two load processes each
// run in their own process, on 127.0.0.1.
// Targets: with the pool, ping p99 < 10 ms; small writer ack p99 <= 2x its figure without the big
// writer; big writer throughput with the pool >= inline.
//
// BENCH_PROFILE_DIR writes V8 CPU profiles of each scenario's server there, a directory per
// scenario and a file per thread (the largest is the main thread's; summarise one with
// `npx tsx bench/cpuprofile-summary.ts <file>`).
//
// Then, in this process: the event-loop cost of counting one text inline and through the pool,
// by size, which is where MCP_TOKENIZER_INLINE_BELOW comes from.
import { fork, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { tokenCounter } from '../../src/token-counter.js'
import { TokenCountingPool } from '../../src/tokenizer/counting-pool.js'
import { prose } from '../prose.js'
import type { BigWriterResult, ClientJob, SmallClientResult } from './client.js'

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' }
  }
})

const here = new URL('.', import.meta.url).pathname
const SECRET = randomBytes(48).toString('base64url')
const DURATION_MS = options.seconds !== undefined ? Number(options.seconds) * 1000 : options.quick ? 3000 : 6000
const WARMUP_MS = options.quick ? 1000 : 1500
// Bench traffic is bounded in time: the whole run stops here whatever happens.
const WATCHDOG_MS = 8 * (DURATION_MS + WARMUP_MS) + 60_000
const POOL_THREADS = Math.max(1, availableParallelism() - 1)

const SERVER_ENV = {
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  MCP_JWT_SECRET_KEY: SECRET,
  MCP_DATA_DIR: '',
  // Room for a few 900 KB entries (~200,000 tokens each); the limiters are lifted so the run
  // measures counting, not them.
  MCP_MAX_TOKENS: '2000000',
  MCP_WS_RATE_LIMIT: '1000000',
  MCP_WS_BYTE_RATE: '1000000000',
  MCP_HTTP_RATE_LIMIT: '1000000'
}

const children = new Set<ChildProcess>()
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR
function spawnChild (script: string, env: Record<string, string>, profileName?: string, isServer = false): ChildProcess {
  // One directory per scenario: each thread (the main one, the counting threads, the loader's) writes its own file.
  const profile = PROFILE_DIR !== undefined && profileName !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${join(PROFILE_DIR, profileName)}`] : []
  const child = fork(script, [], {
    execArgv: ['--import', 'tsx', ...profile],
    env: { ...process.env, ...env },
    // A server's stdout (its audit lines, one per change) goes to /dev/null, as in bench:ws: still
    // written, without flooding the tables.
    stdio: ['ignore', isServer ? 'ignore' : 'inherit', 'inherit', 'ipc']
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}
const watchdog = setTimeout(() => {
  console.error(`bench:isolation did not finish within ${WATCHDOG_MS} ms; stopping`)
  for (const child of children) child.kill('SIGKILL')
  process.exit(1)
}, WATCHDOG_MS)
watchdog.unref()

async function nextMessage<T> (child: ChildProcess, kind: string): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    child.on('message', (message: { kind: string, message?: string }) => {
      if (message.kind === 'error') reject(new Error(message.message))
      if (message.kind === kind) resolve(message as T)
    })
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before sending ${kind}`)))
  })
}

interface Row { counting: string, big: boolean, small: SmallClientResult, writer?: BigWriterResult }

async function scenario (counting: string, threads: number, big: boolean): Promise<Row> {
  const server = spawnChild(join(here, '../ws/app-server.ts'), { ...SERVER_ENV, MCP_TOKENIZER_THREADS: String(threads) }, `server-${threads === 0 ? 'inline' : 'pool'}-${big ? 'big' : 'alone'}`, true)
  const { port } = await nextMessage<{ port: number }>(server, 'ready')
  const job = (role: ClientJob['role']): ClientJob => ({ role, port, secret: SECRET, warmupMs: WARMUP_MS, durationMs: DURATION_MS })
  const clients = [spawnChild(join(here, 'client.ts'), {}), ...(big ? [spawnChild(join(here, 'client.ts'), {})] : [])]
  const results = clients.map(async (client) => await nextMessage<{ result: unknown }>(client, 'result'))
  const warm = Promise.all(clients.map(async (client) => await nextMessage(client, 'warm')))
  clients[0].send(job('small-client'))
  clients[1]?.send(job('big-writer'))
  // Both windows start together, once each client's traffic is answered (client.ts).
  await warm
  for (const client of clients) client.send({ kind: 'go' })
  const [small, writer] = await Promise.all(results)
  const exited = new Promise((resolve) => server.once('exit', resolve))
  server.send({ kind: 'exit' })
  await exited
  return { counting, big, small: small.result as SmallClientResult, writer: writer?.result as BigWriterResult | undefined }
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

const rows: Row[] = []
for (const [counting, threads] of [[`pool (${POOL_THREADS} thread${POOL_THREADS === 1 ? '' : 's'})`, POOL_THREADS], ['inline (0 threads)', 0]] as const) {
  for (const big of [true, false]) rows.push(await scenario(counting, threads, big))
}

console.log(`\nIsolation: a 900 KB prose writer (2 in flight) beside a 5 ms pinger and a 1 KB writer every 5 ms in another tenant; ${DURATION_MS / 1000} s each\n`)
console.log('| counting | big writer | ping p50 ms | ping p99 ms | ping max ms | small ack p50 ms | small ack p99 ms | big writes/s | big MB/s |')
console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  const w = r.writer
  console.log(`| ${r.counting} | ${r.big ? 'yes' : 'no'} | ${fmt(r.small.ping.p50, 2)} | ${fmt(r.small.ping.p99, 2)} | ${fmt(r.small.ping.max, 1)} | ` +
    `${fmt(r.small.ack.p50, 2)} | ${fmt(r.small.ack.p99, 2)} | ${w !== undefined ? fmt(w.writes / w.seconds, 1) : '-'} | ${w !== undefined ? fmt(w.bytes / w.seconds / 1e6, 1) : '-'} |`)
}
const [poolBig, poolAlone, inlineBig] = rows
const pingP99 = poolBig.small.ping.p99
const ackRatio = poolBig.small.ack.p99 / poolAlone.small.ack.p99
const throughput = (r: Row) => (r.writer as BigWriterResult).writes / (r.writer as BigWriterResult).seconds
const throughputRatio = throughput(poolBig) / throughput(inlineBig)
const verdict = (ok: boolean) => ok ? 'PASS' : 'MISS'
console.log(`\nping p99 with the big writer (pool):                 ${fmt(pingP99, 2)} ms (target < 10 ms) ${verdict(pingP99 < 10)}`)
console.log(`small writer ack p99, with / without the big writer: ${fmt(ackRatio, 2)}x (target <= 2x) ${verdict(ackRatio <= 2)}`)
console.log(`big writer throughput, pool / inline:               ${fmt(throughputRatio, 2)}x (target >= 1x) ${verdict(throughputRatio >= 1)}`)
const failures = rows.reduce((sum, r) => sum + (r.writer?.failures ?? 0), 0)
if (failures > 0) console.log(`(${failures} big writes were refused or failed)`)

// Where the thread hop starts to pay: event-loop time per count (ELU active time), inline and
// through a one-thread pool, medians of interleaved rounds.
const pool = new TokenCountingPool({ encoding: 'o200k_base', threads: 1, inlineBelow: 0, maxQueue: 64 })
const inline = tokenCounter('o200k_base')
const loopMs = () => performance.eventLoopUtilization().active
await pool.count(prose(64 * 1024)) // start the thread and load its table
console.log('\nEvent-loop time per count, inline vs on a thread (µs, median of 9 rounds of 20 texts)\n')
console.log('| text | inline | thread (event loop) | thread (round trip) | inline / thread |')
console.log('| ---: | ---: | ---: | ---: | ---: |')
for (const kb of [1, 2, 4, 8, 16, 32, 64]) {
  const texts = Array.from({ length: 20 }, (_, i) => JSON.stringify({ note: prose(kb * 1024, i + 1) }))
  const inlineUs: number[] = []
  const threadUs: number[] = []
  const tripUs: number[] = []
  for (let round = 0; round < 9; round++) {
    let start = loopMs()
    for (const text of texts) inline(text)
    inlineUs.push((loopMs() - start) * 1000 / texts.length)
    start = loopMs()
    const wall = performance.now()
    for (const text of texts) await pool.count(text)
    threadUs.push((loopMs() - start) * 1000 / texts.length)
    tripUs.push((performance.now() - wall) * 1000 / texts.length)
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]
  console.log(`| ${kb} KB | ${fmt(median(inlineUs), 0)} | ${fmt(median(threadUs), 0)} | ${fmt(median(tripUs), 0)} | ${fmt(median(inlineUs) / median(threadUs), 2)}x |`)
}
await pool.close()
