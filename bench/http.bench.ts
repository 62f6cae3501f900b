// npm run bench:http — the REST API under autocannon on 127.0.0.1: GET /context with 1,000 entries
// and POST /context, requests/s and p99 latency, each next to a bare Fastify route serving the same
// payload, measured in the same run and printed as ratios.
//
// The servers run in a child process (this file, started with --serve) so the load generator and
// the servers do not share one event loop. Everything is bounded: BENCH_SECONDS (default 10) per case.
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { signToken } from '../src/auth/token-signer.js'
import type { Actor } from '../src/store/types.js'

const ENTRIES = 1_000
const SECONDS = Math.min(Math.max(Number(process.env.BENCH_SECONDS ?? 10), 1), 30)
const WARMUP_SECONDS = 2
const CONNECTIONS = 10
const TENANT = 'bench'
// POSTs go to a tenant of their own, so the 1,000 entries GET /context reads stay exactly those.
const WRITE_TENANT = 'bench-writes'

/** A write body of about a hundred tokens, like an agent's progress note. */
function writeBody (i: number) {
  return {
    context: { agent: `content_agent_${i % 17}`, step: i, note: 'Drafted the outline, checked the sources, and queued the summary for review.', tags: ['draft', 'review'] },
    source: `content_agent_${i % 17}`,
    priority: 1 + (i % 10)
  }
}

interface Ports { server: number, bare: number, readToken: string, writeToken: string }

// ---------------------------------------------------------------------------------------------
// The child: the context server (production configuration, memory store) and the bare reference.
async function serve (): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    MCP_DATA_DIR: '',
    MCP_JWT_SECRET_KEY: 'bench-secret-bench-secret-bench-secret-0123',
    // The limiter still runs on every request (its cost is part of the figure); it just never refuses.
    MCP_HTTP_RATE_LIMIT: String(1e9)
  })
  const app = await buildApp(config, { logger: false })
  const writer: Actor = { userId: 'bench', roles: ['admin'], tenant: TENANT }
  for (let i = 0; i < ENTRIES; i++) {
    const { context, ...options } = writeBody(i)
    await app.store.write(writer, { ...options, content: context, key: `entry_${String(i).padStart(4, '0')}` })
  }
  const token = signToken(config.jwt, { sub: 'bench', roles: ['admin'], tenant: TENANT, ttlSeconds: 3600 })
  const writeToken = signToken(config.jwt, { sub: 'bench', roles: ['writer'], tenant: WRITE_TENANT, ttlSeconds: 3600 })

  // The same GET body the server gives, as the object a plain Fastify route would return.
  const sample = await app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })
  if (sample.statusCode !== 200 || Object.keys(sample.json().data).length !== ENTRIES) throw new Error(`GET /context gave ${sample.statusCode}`)
  const listPayload = sample.json()
  const ack = (await app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${writeToken}` }, payload: writeBody(ENTRIES) })).json()

  const bare = Fastify({ logger: false })
  bare.get('/context', async () => listPayload)
  let seq = 0
  bare.post('/context', async (_request, reply) => reply.code(201).send({ ...ack, seq: ++seq }))
  const check = await bare.inject({ method: 'GET', url: '/context' })
  if (check.body !== sample.body) throw new Error('the bare route does not serve the same payload')

  await app.listen({ port: 0, host: '127.0.0.1' })
  await bare.listen({ port: 0, host: '127.0.0.1' })
  const portOf = (server: typeof bare.server) => (server.address() as { port: number }).port
  process.send?.({ server: portOf(app.server), bare: portOf(bare.server), readToken: token, writeToken } satisfies Ports)
  process.on('SIGTERM', () => { Promise.all([app.close(), bare.close()]).finally(() => process.exit(0)) })
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the child, drives it with autocannon, prints the table.
interface Figures { rps: number, p99: number, bad: number }

async function load (url: string, options: { method?: 'GET' | 'POST', headers?: Record<string, string>, bodies?: boolean, seconds: number }): Promise<Figures> {
  let i = ENTRIES + 1
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: options.seconds,
    method: options.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...options.headers },
    // Each POST writes a new entry (no key), so the store fills its budget and then evicts, as in use.
    ...(options.bodies === true ? { requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(writeBody(i++)) }) }] } : {})
  })
  return { rps: result.requests.average, p99: result.latency.p99, bad: result.non2xx + result.errors + result.timeouts }
}

async function startChild (): Promise<{ child: ChildProcess, ports: Ports }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_PROFILE_DIR !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ports = await new Promise<Ports>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ports))
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)))
  })
  return { child, ports }
}

async function main (): Promise<void> {
  const { child, ports } = await startChild()
  try {
    const auth = { authorization: `Bearer ${ports.readToken}` }
    const writeAuth = { authorization: `Bearer ${ports.writeToken}` }
    const server = `http://127.0.0.1:${ports.server}/context`
    const bare = `http://127.0.0.1:${ports.bare}/context`
    const cases = [
      { name: `GET /context (${ENTRIES.toLocaleString('en-US')} entries)`, reference: () => load(bare, { seconds: SECONDS }), measured: () => load(server, { headers: auth, seconds: SECONDS }) },
      { name: 'POST /context', reference: () => load(bare, { method: 'POST', bodies: true, seconds: SECONDS }), measured: () => load(server, { method: 'POST', headers: writeAuth, bodies: true, seconds: SECONDS }) }
    ]
    // Warm both servers' JIT on both routes before anything is measured.
    await load(bare, { seconds: WARMUP_SECONDS })
    await load(server, { headers: auth, seconds: WARMUP_SECONDS })
    await load(bare, { method: 'POST', bodies: true, seconds: WARMUP_SECONDS })
    await load(server, { method: 'POST', headers: writeAuth, bodies: true, seconds: WARMUP_SECONDS })

    const rows: Array<{ name: string, reference: Figures, measured: Figures }> = []
    for (const c of cases) {
      const reference = await c.reference()
      const measured = await c.measured()
      if (measured.bad > 0 || reference.bad > 0) throw new Error(`${c.name}: ${measured.bad + reference.bad} failed requests; the figures would be meaningless`)
      rows.push({ name: c.name, reference, measured })
    }

    const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    console.log(`\nREST API under autocannon: ${CONNECTIONS} connections, ${SECONDS} s per case, 127.0.0.1, server in its own process\n`)
    console.log('| case | server | requests/s | p99 ms | requests/s vs bare | p99 vs bare |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: |')
    for (const r of rows) {
      console.log(`| ${r.name} | bare Fastify, same payload | ${fmt(r.reference.rps)} | ${fmt(r.reference.p99, 1)} | 1.00x | 1.00x |`)
      console.log(`| ${r.name} | context server | ${fmt(r.measured.rps)} | ${fmt(r.measured.p99, 1)} | ${fmt(r.measured.rps / r.reference.rps, 2)}x | ${fmt(r.measured.p99 / Math.max(r.reference.p99, 0.001), 2)}x |`)
    }
    console.log('\nThe context server adds per request: the rate limiter and JWT')
    console.log('authentication (one verification per token, then cached), zod validation; per POST also token counting, the store write and eviction.')
  } finally {
    child.kill('SIGTERM')
  }
}

if (process.argv.includes('--serve')) await serve()
else await main()
