// npm run bench:http — the REST API under autocannon on 127.0.0.1: GET /context with 1,000 entries
// and POST /context, requests/s and p99 latency, each next to a reference measured in the same run
// and printed as ratios. GET's reference is a bare Fastify route serving the same payload. POST's is
// what a user would write instead of this server (issue 16): a Fastify route that verifies the same
// JWT with @fastify/jwt, validates the same body with zod and stores it in a Map.
//
// The servers run in a child process (this file, started with --serve) so the load generator and
// the servers do not share one event loop. Everything is bounded: BENCH_SECONDS (default 10) per side
// of each case. BENCH_CASES=POST runs only the cases whose name holds that text. BENCH_PROFILE_DIR
// writes a V8 CPU profile of each measured run there, one file per case, side and slice (summarise
// them with `npx tsx bench/cpuprofile-summary.ts <dir>/post-server-*.cpuprofile`).
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { z } from 'zod'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { signToken } from '../src/auth/token-signer.js'
import { writeBodySchema } from '../src/protocol/schemas.js'
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

type ChildRequest = { op: 'cpu' } | { op: 'profile-start' } | { op: 'profile-stop', file: string }
interface ChildAnswer { cpu: NodeJS.CpuUsage }

interface Ports { server: number, bare: number, reference: number, readToken: string, writeToken: string }

/**
 * POST /context as a user would write it with Fastify alone: @fastify/jwt verifies the same token
 * (same algorithm pinned and the same verification cache as the server, so the comparison does not
 * hinge on caching), zod checks the body against the same schema, a Map holds the entry, and the
 * reply is a small ack. No rate limit, token count, budget, eviction, idempotency or change event.
 */
async function handWrittenWriteRoute (secret: string) {
  const reference = Fastify({ logger: false })
  await reference.register(fastifyJwt, { secret, verify: { algorithms: ['HS256'], cache: 10_000, requiredClaims: ['exp'] } })
  const bodySchema = writeBodySchema.strict()
  const entries = new Map<string, z.infer<typeof bodySchema>>()
  let seq = 0
  reference.post('/context', async (request, reply) => {
    try {
      await request.jwtVerify()
    } catch {
      return await reply.code(401).send({ statusCode: 401, error: 'Unauthorized', message: 'Invalid authentication token' })
    }
    const parsed = bodySchema.safeParse(request.body)
    if (!parsed.success) return await reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: parsed.error.message })
    const key = parsed.data.key ?? `${parsed.data.source ?? 'entry'}_${++seq}`
    entries.set(key, parsed.data)
    return await reply.code(201).send({ key, seq })
  })
  return reference
}

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
  const written = await app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${writeToken}` }, payload: writeBody(ENTRIES) })
  if (written.statusCode !== 201) throw new Error(`POST /context gave ${written.statusCode}`)

  const bare = Fastify({ logger: false })
  bare.get('/context', async () => listPayload)
  const check = await bare.inject({ method: 'GET', url: '/context' })
  if (check.body !== sample.body) throw new Error('the bare route does not serve the same payload')

  const reference = await handWrittenWriteRoute(config.jwt.secret as string)
  const referenceAck = await reference.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${writeToken}` }, payload: writeBody(ENTRIES) })
  if (referenceAck.statusCode !== 201) throw new Error(`the reference POST gave ${referenceAck.statusCode}`)
  const refused = await reference.inject({ method: 'POST', url: '/context', payload: writeBody(ENTRIES) })
  if (refused.statusCode !== 401) throw new Error(`the reference POST without a token gave ${refused.statusCode}`)

  await app.listen({ port: 0, host: '127.0.0.1' })
  await bare.listen({ port: 0, host: '127.0.0.1' })
  await reference.listen({ port: 0, host: '127.0.0.1' })
  const portOf = (server: typeof bare.server) => (server.address() as { port: number }).port
  process.send?.({ server: portOf(app.server), bare: portOf(bare.server), reference: portOf(reference.server), readToken: token, writeToken } satisfies Ports)
  // The parent asks for this process's CPU time around each run: CPU µs per request is the cost of a
  // request even when other processes on the machine take turns on its core. With BENCH_PROFILE_DIR
  // it also has each measured run profiled on its own, so one server's profile holds nothing else.
  const profiler = new Session()
  profiler.connect()
  process.on('message', (message: ChildRequest) => {
    const answer = async () => {
      if (message.op === 'profile-start') await profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'))
      if (message.op === 'profile-stop') writeFileSync(message.file, JSON.stringify((await profiler.post('Profiler.stop')).profile))
      process.send?.({ cpu: process.cpuUsage() } satisfies ChildAnswer)
    }
    answer().catch((error: unknown) => { console.error(error); process.exit(1) })
  })
  process.on('SIGTERM', () => { Promise.all([app.close(), bare.close(), reference.close()]).finally(() => process.exit(0)) })
}

// ---------------------------------------------------------------------------------------------
// The parent: starts the child, drives it with autocannon, prints the table.
interface Figures { rps: number, p99: number, bad: number, requests: number, cpuMicros: number }

/** The child's CPU time (user + system, µs) once it has done what it was asked. */
async function askChild (child: ChildProcess, request: ChildRequest): Promise<number> {
  const answer = new Promise<ChildAnswer>((resolve) => child.once('message', (message) => resolve(message as ChildAnswer)))
  child.send(request)
  const { user, system } = (await answer).cpu
  return user + system
}

interface LoadOptions { method?: 'GET' | 'POST', headers?: Record<string, string>, bodies?: boolean, seconds: number, profile?: string }

async function load (child: ChildProcess, url: string, options: LoadOptions): Promise<Figures> {
  let i = ENTRIES + 1
  const cpuBefore = await askChild(child, options.profile !== undefined ? { op: 'profile-start' } : { op: 'cpu' })
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: options.seconds,
    method: options.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...options.headers },
    // Each POST writes a new entry (no key), so the store fills its budget and then evicts, as in use.
    ...(options.bodies === true ? { requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(writeBody(i++)) }) }] } : {})
  })
  const cpuMicros = await askChild(child, options.profile !== undefined ? { op: 'profile-stop', file: options.profile } : { op: 'cpu' }) - cpuBefore
  return { rps: result.requests.average, p99: result.latency.p99, bad: result.non2xx + result.errors + result.timeouts, requests: result.requests.total, cpuMicros }
}

async function startChild (): Promise<{ child: ChildProcess, ports: Ports }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const ports = await new Promise<Ports>((resolve, reject) => {
    child.once('message', (message) => resolve(message as Ports))
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)))
  })
  return { child, ports }
}

/** Several runs' figures as one: requests/s and p99 averaged, requests, failures and CPU summed. */
function combined (runs: Figures[]): Figures {
  const sum = (pick: (f: Figures) => number) => runs.reduce((total, f) => total + pick(f), 0)
  return { rps: sum((f) => f.rps) / runs.length, p99: sum((f) => f.p99) / runs.length, bad: sum((f) => f.bad), requests: sum((f) => f.requests), cpuMicros: sum((f) => f.cpuMicros) }
}

// Each side of a case runs in this many slices, alternating reference, server, server, reference:
// a load that drifts during the case (other processes on the machine) weighs on both sides alike.
const SLICES = 4

async function main (): Promise<void> {
  const { child, ports } = await startChild()
  const profileDir = process.env.BENCH_PROFILE_DIR
  if (profileDir !== undefined) mkdirSync(profileDir, { recursive: true })
  /** Where a measured run's profile goes: `post-server-2.cpuprofile` (case, side, slice). */
  const profileOf = (name: string, side: string, slice: number) =>
    profileDir === undefined ? undefined : join(profileDir, `${name.split(' ')[0]?.toLowerCase()}-${side}-${slice}.cpuprofile`)
  const only = process.env.BENCH_CASES
  try {
    const auth = { authorization: `Bearer ${ports.readToken}` }
    const writeAuth = { authorization: `Bearer ${ports.writeToken}` }
    const server = `http://127.0.0.1:${ports.server}/context`
    const bare = `http://127.0.0.1:${ports.bare}/context`
    const reference = `http://127.0.0.1:${ports.reference}/context`
    const sliceSeconds = Math.max(Math.round(SECONDS / SLICES), 1)
    const allCases = [
      {
        name: `GET /context (${ENTRIES.toLocaleString('en-US')} entries)`,
        referenceName: 'bare Fastify, same payload',
        reference: (seconds: number, profile?: string) => load(child, bare, { seconds, profile }),
        measured: (seconds: number, profile?: string) => load(child, server, { headers: auth, seconds, profile })
      },
      {
        name: 'POST /context',
        referenceName: 'Fastify + @fastify/jwt + zod + Map',
        reference: (seconds: number, profile?: string) => load(child, reference, { method: 'POST', headers: writeAuth, bodies: true, seconds, profile }),
        measured: (seconds: number, profile?: string) => load(child, server, { method: 'POST', headers: writeAuth, bodies: true, seconds, profile })
      }
    ]
    // BENCH_CASES=POST (a substring of the case name) runs only the matching cases.
    const cases = allCases.filter((c) => only === undefined || c.name.includes(only))
    // Warm both servers' JIT on every route before anything is measured.
    for (const c of cases) {
      await c.reference(WARMUP_SECONDS)
      await c.measured(WARMUP_SECONDS)
    }

    const rows: Array<{ name: string, referenceName: string, reference: Figures, measured: Figures }> = []
    for (const c of cases) {
      const referenceRuns: Figures[] = []
      const measuredRuns: Figures[] = []
      for (let slice = 0; slice < SLICES; slice++) {
        const referenceFirst = slice % 2 === 0
        const runReference = async () => { referenceRuns.push(await c.reference(sliceSeconds, profileOf(c.name, 'reference', slice))) }
        if (referenceFirst) await runReference()
        measuredRuns.push(await c.measured(sliceSeconds, profileOf(c.name, 'server', slice)))
        if (!referenceFirst) await runReference()
      }
      const reference = combined(referenceRuns)
      const measured = combined(measuredRuns)
      if (measured.bad > 0 || reference.bad > 0) throw new Error(`${c.name}: ${measured.bad + reference.bad} failed requests; the figures would be meaningless`)
      rows.push({ name: c.name, referenceName: c.referenceName, reference, measured })
    }

    const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    console.log(`\nREST API under autocannon: ${CONNECTIONS} connections, ${SECONDS} s per side and case, 127.0.0.1, servers in their own process\n`)
    console.log('| case | server | requests/s | p99 ms | server CPU µs per request | requests/s vs reference | p99 vs reference | CPU per request vs reference |')
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |')
    const perRequest = (f: Figures) => f.cpuMicros / Math.max(f.requests, 1)
    for (const r of rows) {
      console.log(`| ${r.name} | ${r.referenceName} | ${fmt(r.reference.rps)} | ${fmt(r.reference.p99, 1)} | ${fmt(perRequest(r.reference))} | 1.00x | 1.00x | 1.00x |`)
      console.log(`| ${r.name} | context server | ${fmt(r.measured.rps)} | ${fmt(r.measured.p99, 1)} | ${fmt(perRequest(r.measured))} | ${fmt(r.measured.rps / r.reference.rps, 2)}x | ` +
        `${fmt(r.measured.p99 / Math.max(r.reference.p99, 0.001), 2)}x | ${fmt(perRequest(r.measured) / perRequest(r.reference), 2)}x |`)
    }
    console.log('\nThe context server adds per request: the rate limit, JWT authentication with the revocation check,')
    console.log('per POST also the idempotency check, exact token counting, the budgeted store write with eviction,')
    console.log('the change event (history, audit, metrics) and the Location header. The POST reference does none of it.')
  } finally {
    child.kill('SIGTERM')
  }
}

if (process.argv.includes('--serve')) await serve()
else await main()
