// A small real-ws test client: connects to a listening app, records every frame from the first
// one on (so nothing that arrives before a test starts waiting is missed), and waits for frames
// matching a predicate or for the close. Waits have a safety timeout so a broken server fails the
// test instead of hanging it; they assert nothing about speed.
import { createConnection, type Socket } from 'node:net'
import type { Test } from 'tap'
import { WebSocket, type ClientOptions } from 'ws'
import { buildApp } from '../../src/app.js'
import { testConfig } from './config.js'

export type Frame = Record<string, any>
export type Predicate = (frame: Frame) => boolean

// How long a wait may take before it fails with its own message (never a timing assertion). 30 s:
// on a loaded 2-core machine a tokenizer thread's first start alone was measured at 2.7 s (load
// 11), and several test files start theirs at once.
const SAFETY_TIMEOUT_MS = 30_000

export interface ConnectOptions {
  /** Query parameters (token, mode, since_seq...). */
  query?: Record<string, string | number>
  headers?: Record<string, string>
  path?: string
  wsOptions?: ClientOptions
}

export class TestClient {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  private waiters: Array<{ predicate: Predicate, from: number, resolve: (frame: Frame) => void }> = []
  private nextId = 0

  constructor (readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame
      this.frames.push(frame)
      const index = this.frames.length - 1
      this.waiters = this.waiters.filter((waiter) => {
        if (index < waiter.from || !waiter.predicate(frame)) return true
        waiter.resolve(frame)
        return false
      })
    })
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))
    })
    socket.on('error', () => {}) // surfaced through `closed`
  }

  /** The first frame (from index `from`) matching the predicate, already received or still to come. */
  async next (predicate: Predicate, from = 0): Promise<Frame> {
    for (let i = from; i < this.frames.length; i++) if (predicate(this.frames[i])) return this.frames[i]
    return await new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${SAFETY_TIMEOUT_MS} ms; ${this.frames.length} frames, the last: ${JSON.stringify(this.frames.slice(-3)).slice(0, 500)}`)), SAFETY_TIMEOUT_MS)
      this.waiters.push({ predicate, from, resolve: (frame) => { clearTimeout(timer); resolve(frame) } })
    })
  }

  /** The first frame of a type. */
  async nextOfType (type: string, from = 0): Promise<Frame> {
    return await this.next((frame) => frame.type === type, from)
  }

  /** Waits until `count` frames match, and returns them; fails after one overall deadline. */
  async collect (predicate: Predicate, count: number): Promise<Frame[]> {
    const matching = () => this.frames.filter(predicate)
    const deadline = Date.now() + SAFETY_TIMEOUT_MS
    while (matching().length < count) {
      const seen = this.frames.length
      const left = deadline - Date.now()
      const more = await Promise.race([
        this.next(predicate, seen).then(() => true, () => false),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), Math.max(left, 0)).unref())
      ])
      if (!more) throw new Error(`only ${matching().length} of ${count} matching frames within ${SAFETY_TIMEOUT_MS} ms; ${this.frames.length} frames in all`)
    }
    return matching().slice(0, count)
  }

  send (message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Sends a message with a fresh id and resolves with the reply carrying that id. */
  async request (message: Record<string, unknown>): Promise<Frame> {
    const id = `r${++this.nextId}`
    const from = this.frames.length
    this.send({ ...message, id })
    return await this.next((frame) => frame.id === id, from)
  }

  async waitClosed (): Promise<{ code: number, reason: string }> {
    return await Promise.race([
      this.closed,
      new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('connection not closed in time')), SAFETY_TIMEOUT_MS).unref())
    ])
  }

  close (): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close()
  }
}

/** The ws:// base URL of a listening app. */
export function wsUrl (app: { server: { address: () => unknown } }, path = '/ws'): string {
  const address = app.server.address() as { port: number }
  return `ws://127.0.0.1:${address.port}${path}`
}

/** Opens a connection; resolves once the socket is open (frames are recorded from the start). */
export async function openClient (base: string, options: ConnectOptions = {}): Promise<TestClient> {
  const url = new URL(base)
  if (options.path !== undefined) url.pathname = options.path
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, String(value))
  const socket = new WebSocket(url, { headers: options.headers, ...options.wsOptions })
  const client = new TestClient(socket)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`WebSocket upgrade to ${url.pathname} not completed within ${SAFETY_TIMEOUT_MS} ms`)), SAFETY_TIMEOUT_MS)
    timer.unref()
    const settle = (outcome: () => void) => { clearTimeout(timer); outcome() }
    socket.once('open', () => settle(resolve))
    socket.once('unexpected-response', (_request, response) => settle(() => reject(new Error(`HTTP ${response.statusCode}`))))
    socket.once('error', (error) => settle(() => reject(error)))
  })
  return client
}

/** Opens a connection with a token in the query and waits for auth_success. */
export async function connectAuthenticated (base: string, token: string, query: Record<string, string | number> = {}): Promise<TestClient> {
  const client = await openClient(base, { query: { token, ...query } })
  await client.nextOfType('auth_success')
  return client
}

/**
 * Builds the production app with test overrides, listens on a random local port, and registers
 * its teardown at once. Returns the app and the ws:// URL of /ws.
 */
export async function startServer (t: Test, overrides: Record<string, string> = {}) {
  const app = await buildApp(testConfig(overrides))
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, url: wsUrl(app) }
}

/**
 * Like connectAuthenticated, and also hands back the client's TCP socket, so a test can stop
 * reading (`tcp.pause()`) the way a stalled consumer does, and start again (`tcp.resume()`).
 */
export async function connectPausable (base: string, token: string, query: Record<string, string | number> = {}): Promise<{ client: TestClient, tcp: Socket }> {
  let tcp: Socket | undefined
  const client = await openClient(base, {
    query: { token, ...query },
    wsOptions: {
      createConnection: (options) => {
        tcp = createConnection(options as Parameters<typeof createConnection>[0])
        return tcp
      }
    }
  })
  await client.nextOfType('auth_success')
  return { client, tcp: tcp as Socket }
}
