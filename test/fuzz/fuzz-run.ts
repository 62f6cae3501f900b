// The fuzz run: frames from ./arbitraries.ts sent one at a time over real WebSockets to a real
// listening server (built by buildApp, so the production configuration), then REST requests
// through app.inject. After every step it checks what must always hold:
//   - the frame got a direct reply (a known reply type, or an error whose code is one of the
//     contract's), or the connection was closed with a code the contract lists for that input;
//   - no unhandled rejection or uncaught exception happened in the process;
//   - Object.prototype is untouched;
//   - the budget invariant: total tokens <= max_tokens, and the metadata agrees with the entries
//     of GET /context (their tokens add up to total_tokens, their count is entry_count).
// Used by `npm run fuzz` (100,000 frames) and by test/fuzz/fuzz.test.ts (a few thousand).
import fc from 'fast-check'
import { WebSocket } from 'ws'
import { buildApp } from '../../src/app.js'
import { signToken } from '../../src/auth/token-signer.js'
import { ERROR_CODES } from '../../src/errors.js'
import { testConfig } from '../helpers/config.js'
import { frameCase, restCase, type FrameCase, type RestCase } from './arbitraries.js'

const TENANT = 'fuzz'
const REPLY_TYPES = new Set(['update_ack', 'context', 'query_response', 'context_cleared', 'priority_set', 'subscribed', 'token_refreshed', 'pong', 'status', 'error'])
// Frames that are not a direct reply: broadcasts of a subscription the fuzz itself opened.
const BROADCAST_TYPES = new Set(['context_update', 'context_delta'])
// Close codes the contract gives for a frame: too big, binary, invalid UTF-8 (RFC 6455), a bad
// token on refresh_token, a flooder, a slow consumer.
const LISTED_CLOSE_CODES = new Set([1009, 1003, 1007, 4001, 4029, 4008])
const REPLY_TIMEOUT_MS = 10_000
const CODES: ReadonlySet<string> = new Set(ERROR_CODES)

export interface FuzzOptions {
  frames: number
  restRequests: number
  seed?: number
  /** Progress lines (the CLI prints them; the test does not). */
  progress?: (line: string) => void
}

export interface FuzzReport {
  seed: number
  framesSent: number
  restSent: number
  /** Counts by category: `kind ...`, `reply ...`, `error ...`, `close ...`, `rest ...`. */
  counts: Map<string, number>
}

/** Runs the fuzz; throws (with fast-check's counterexample and seed) at the first broken invariant. */
export async function runFuzz (options: FuzzOptions): Promise<FuzzReport> {
  const seed = options.seed ?? Date.now() % 2 ** 31
  const config = testConfig({ MCP_MAX_TOKENS: '400', MCP_WS_RATE_LIMIT: '1000000000', MCP_WS_BYTE_RATE: '1000000000', MCP_HTTP_RATE_LIMIT: '1000000000', MCP_HISTORY_SIZE: '200' })
  const app = await buildApp(config, { logger: false })
  const counts = new Map<string, number>()
  const count = (what: string) => counts.set(what, (counts.get(what) ?? 0) + 1)
  const faults: string[] = []
  const onRejection = (reason: unknown) => { faults.push(`unhandled rejection: ${String(reason)}`) }
  const onException = (error: Error) => { faults.push(`uncaught exception: ${error.stack ?? error.message}`) }
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort().join(',')
  const connections: Array<FuzzConnection | undefined> = [undefined, undefined]
  try {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const port = (app.server.address() as { port: number }).port
    const tokens = [
      signToken(config.jwt, { sub: 'fuzzer', roles: ['admin'], tenant: TENANT, ttlSeconds: 24 * 3600 }),
      signToken(config.jwt, { sub: 'reader', roles: ['reader'], tenant: TENANT, ttlSeconds: 24 * 3600 })
    ]
    const connection = async (which: number): Promise<FuzzConnection> => {
      const open = connections[which]
      if (open !== undefined && !open.closed) return open
      const fresh = await FuzzConnection.open(`ws://127.0.0.1:${port}/ws?token=${tokens[which]}&mode=none`)
      connections[which] = fresh
      return fresh
    }
    const adminHeaders = { authorization: `Bearer ${tokens[0]}` }

    const checkInvariants = async (step: string): Promise<void> => {
      if (faults.length > 0) throw new Error(`${step}: ${faults.join('; ')}`)
      const prototypeNow = Object.getOwnPropertyNames(Object.prototype).sort().join(',')
      if (prototypeNow !== prototypeBefore || ({} as Record<string, unknown>).polluted !== undefined) {
        throw new Error(`${step}: Object.prototype changed: ${prototypeNow}`)
      }
      const res = await app.inject({ method: 'GET', url: '/context', headers: adminHeaders })
      const body = res.json() as { data: Record<string, { tokens: number }>, metadata: { total_tokens: number, max_tokens: number, entry_count: number } }
      const entries = Object.values(body.data)
      const sum = entries.reduce((total, entry) => total + entry.tokens, 0)
      const { metadata } = body
      if (res.statusCode !== 200 || metadata.total_tokens > metadata.max_tokens || sum !== metadata.total_tokens || entries.length !== metadata.entry_count) {
        throw new Error(`${step}: budget invariant broken: ${res.statusCode} ${JSON.stringify(metadata)}, entries ${entries.length} adding up to ${sum}`)
      }
    }

    let framesSent = 0
    await withCause(fc.assert(fc.asyncProperty(frameCase, fc.nat(9), async (frame, pick) => {
      const socket = await connection(pick < 8 ? 0 : 1)
      const outcome = await socket.exchange(frame)
      framesSent++
      count(`kind ${frame.kind}`)
      count(outcome)
      if (framesSent % 10_000 === 0) options.progress?.(`${framesSent} frames`)
      await checkInvariants(`frame ${framesSent} (${frame.kind})`)
    }), { numRuns: options.frames, seed, endOnFailure: true }))

    let restSent = 0
    await withCause(fc.assert(fc.asyncProperty(restCase, async (request) => {
      const outcome = await restExchange(app, adminHeaders, request)
      restSent++
      count(`kind ${request.kind}`)
      count(outcome)
      await checkInvariants(`REST request ${restSent} (${request.method} ${request.url.slice(0, 80)})`)
    }), { numRuns: options.restRequests, seed, endOnFailure: true }))

    // The server still serves: a plain write and read after everything.
    const ping = await (await connection(0)).exchange({ kind: 'final', text: '{"type":"ping","id":"last"}' })
    if (ping !== 'reply pong') throw new Error(`the server no longer answers a ping: ${ping}`)
    return { seed, framesSent, restSent, counts }
  } finally {
    for (const open of connections) open?.close()
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
    await app.close()
  }
}

/** One fuzz WebSocket: sends a frame, resolves with its outcome ("reply <type>", "error <code>" or "close <code>"). */
class FuzzConnection {
  closed = false
  private waiting: ((outcome: string) => void) | undefined
  private closeCode: number | undefined

  private constructor (private readonly socket: WebSocket) {
    socket.on('message', (data, isBinary) => {
      if (isBinary) return this.settle('binary frame from the server')
      let frame: { type?: unknown, code?: unknown, resync?: unknown, evicted?: unknown }
      try {
        frame = JSON.parse(data.toString())
      } catch {
        return this.settle('non-JSON frame from the server')
      }
      const type = String(frame.type)
      if (BROADCAST_TYPES.has(type) || (type === 'context' && frame.resync === true)) return
      if (!REPLY_TYPES.has(type)) return this.settle(`unknown reply type ${type}`)
      if (type === 'error') return this.settle(CODES.has(String(frame.code)) ? `error ${String(frame.code)}` : `error with unlisted code ${String(frame.code)}`)
      // Writes that evicted show that the budget invariant was checked while eviction ran.
      const evicting = type === 'update_ack' && Array.isArray(frame.evicted) && frame.evicted.length > 0
      this.settle(`reply ${type}${evicting ? ' (evicting)' : ''}`)
    })
    socket.on('close', (code) => {
      this.closed = true
      this.closeCode = code
      this.settle(`close ${code}`)
    })
    socket.on('error', () => {})
  }

  static async open (url: string): Promise<FuzzConnection> {
    const socket = new WebSocket(url)
    const connection = new FuzzConnection(socket)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no auth_success within 10 s')), REPLY_TIMEOUT_MS)
      const onFrame = (data: Buffer) => {
        if (!data.toString().includes('"auth_success"')) return
        clearTimeout(timer)
        socket.off('message', onFrame)
        resolve()
      }
      socket.on('message', onFrame)
      socket.once('close', (code) => { clearTimeout(timer); reject(new Error(`closed ${code} before auth_success`)) })
    })
    // The connect-time frames (context, auth_success) were no reply to anything.
    connection.waiting = undefined
    return connection
  }

  async exchange (frame: FrameCase): Promise<string> {
    const outcome = new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('no reply'), REPLY_TIMEOUT_MS)
      this.waiting = (value) => { clearTimeout(timer); resolve(value) }
    })
    if (frame.binary !== undefined) this.socket.send(frame.binary, { binary: true })
    else this.socket.send(frame.text as string)
    const result = await outcome
    if (result.startsWith('close ')) {
      if (!LISTED_CLOSE_CODES.has(this.closeCode ?? 0)) throw new Error(`closed with unlisted code ${String(this.closeCode)} after ${describe(frame)}`)
      return result
    }
    if (!result.startsWith('reply ') && !/^error [a-z_]+$/.test(result)) throw new Error(`${result} after ${describe(frame)}`)
    return result
  }

  close (): void {
    if (!this.closed) this.socket.terminate()
  }

  private settle (outcome: string): void {
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.(outcome)
  }
}

async function restExchange (app: Awaited<ReturnType<typeof buildApp>>, headers: Record<string, string>, request: RestCase): Promise<string> {
  const res = await app.inject({
    method: request.method,
    url: request.url,
    headers: { ...headers, ...(request.contentType !== undefined ? { 'content-type': request.contentType } : {}) },
    ...(request.body !== undefined ? { payload: request.body } : {})
  })
  const what = `${request.method} ${request.url.slice(0, 120)} ${request.body?.slice(0, 120) ?? ''}`
  if (res.statusCode >= 500) throw new Error(`HTTP ${res.statusCode} ${res.body.slice(0, 300)} for ${what}`)
  if (res.statusCode === 204) return 'rest 204'
  let body: { code?: unknown }
  try {
    body = res.json()
  } catch {
    throw new Error(`HTTP ${res.statusCode} with a body that is not JSON for ${what}`)
  }
  if (res.statusCode >= 400 && !CODES.has(String(body.code))) throw new Error(`HTTP ${res.statusCode} without a listed code: ${res.body.slice(0, 300)} for ${what}`)
  return res.statusCode >= 400 ? `rest ${res.statusCode} ${String(body.code)}` : `rest ${res.statusCode}`
}

/** fast-check's report with the failure itself, which it keeps as the cause, spelled out. */
async function withCause (run: Promise<void>): Promise<void> {
  try {
    await run
  } catch (error) {
    if (!(error instanceof Error)) throw error
    const cause = error.cause instanceof Error ? `\nCause: ${error.cause.message}` : ''
    throw new Error(`${error.message}${cause}`)
  }
}

function describe (frame: FrameCase): string {
  if (frame.binary !== undefined) return `a binary frame of ${frame.binary.length} bytes`
  const text = frame.text as string
  return `${frame.kind} frame (${text.length} characters): ${text.slice(0, 300)}`
}
