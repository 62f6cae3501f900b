// Test harness for /mcp: a real listening app per test and official MCP SDK clients connected to it
// over HTTP with a bearer token, in either protocol era. Everything opened is closed at teardown.
// Waits for notifications have a safety timeout so a broken server fails the test instead of
// hanging it; they assert nothing about speed.
import { request as httpRequest } from 'node:http'
import type { Test } from 'tap'
import { Client, StreamableHTTPClientTransport, type ClientOptions } from '@modelcontextprotocol/client'
import { buildApp, type App } from '../../src/app.js'
import { signToken } from '../../src/auth/token-signer.js'
import type { Config } from '../../src/config.js'
import type { Role } from '../../src/store/types.js'
import { testConfig } from '../helpers/config.js'

/** How a test client negotiates: the version it should end up with, and the client options that ask for it. */
export interface Era {
  readonly name: string
  readonly version: string
  readonly options: ClientOptions
}

/** The client's default: the 2025 initialize handshake at 2025-11-25, the version most hosts speak. */
export const LEGACY: Era = { name: '2025-11-25', version: '2025-11-25', options: {} }
/** The current protocol, pinned so a failed negotiation fails the test instead of falling back. */
export const MODERN: Era = { name: '2026-07-28', version: '2026-07-28', options: { versionNegotiation: { mode: { pin: '2026-07-28' } } } }

/** The protocol eras the endpoint serves. */
export const ERAS: readonly Era[] = [LEGACY, MODERN]

const SAFETY_TIMEOUT_MS = 10_000

export interface McpServerUnderTest {
  app: App
  config: Config
  /** http://127.0.0.1:<port> */
  base: string
  /** http://127.0.0.1:<port>/mcp */
  url: URL
  /** A token for a user (default: a writer of tenant "default", valid ten minutes). */
  token: (sub: string, roles?: Role[], tenant?: string, ttlSeconds?: number) => string
}

/** Builds the app with the test config (plus `env`), listens on a random local port. */
export async function startServer (t: Test, env: Record<string, string> = {}): Promise<McpServerUnderTest> {
  const config = testConfig(env)
  const app = await buildApp(config, { logger: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no TCP address')
  const base = `http://127.0.0.1:${address.port}`
  return {
    app,
    config,
    base,
    url: new URL('/mcp', base),
    token: (sub, roles = ['writer'], tenant = 'default', ttlSeconds = 600) => signToken(config.jwt, { sub, roles, tenant, ttlSeconds })
  }
}

export interface ConnectedClient {
  client: Client
  transport: StreamableHTTPClientTransport
  /**
   * Resolves once the server has answered a GET with a stream: a 2025 session's notification
   * stream is open (the client opens it on its own after initializing). Watched on the client's
   * real fetch, so a test knows when a notification can no longer be missed.
   */
  streamOpened: () => Promise<void>
  /** Resolves when the server ends the first long-lived stream (a 2025 GET stream or a listen stream). */
  streamEnded: () => Promise<void>
}

/** An official MCP client connected to the server with `Authorization: Bearer <token>`. */
export async function connect (t: Test, server: McpServerUnderTest, token: string, era: Era = LEGACY): Promise<ConnectedClient> {
  let opened = () => {}
  const streamOpened = new Promise<void>((resolve) => { opened = resolve })
  let ended = () => {}
  const streamEnded = new Promise<void>((resolve) => { ended = resolve })
  // Passes the client's requests through unchanged; only watches the long-lived streams.
  const watchingFetch = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const response = await fetch(input, init)
    const method = init?.method ?? 'GET'
    const longLived = (method === 'GET' && response.status === 200) ||
      (typeof init?.body === 'string' && init.body.includes('"subscriptions/listen"'))
    if (!longLived || response.body === null) return response
    if (method === 'GET') opened()
    const watched = response.body.pipeThrough(new TransformStream({ flush: () => ended() }))
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers })
  }
  const client = new Client({ name: 'context-server-tests', version: '1.0.0' }, { ...era.options })
  const transport = new StreamableHTTPClientTransport(server.url, {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
    fetch: watchingFetch
  })
  await client.connect(transport)
  t.teardown(() => client.close())
  return {
    client,
    transport,
    streamOpened: () => withinSafetyTimeout(streamOpened, 'the notification stream to open'),
    streamEnded: () => withinSafetyTimeout(streamEnded, 'the server to end the stream')
  }
}

/** The structured content of a tool result, failing the test if there is none. */
export function structured (t: Test, result: { structuredContent?: unknown }): Record<string, any> {
  const value = result.structuredContent
  if (value === null || typeof value !== 'object') {
    t.fail('tool result has no structured content')
    return {}
  }
  return value as Record<string, any>
}

function withinSafetyTimeout<T> (promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), SAFETY_TIMEOUT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Records every notification of a method a client receives, in order, from now on. */
export class NotificationLog<T = { method: string, params?: Record<string, unknown> }> {
  readonly received: T[] = []
  private waiters: Array<{ predicate: (value: T) => boolean, resolve: (value: T) => void, reject: (error: Error) => void, timer: NodeJS.Timeout }> = []

  push (value: T): void {
    this.received.push(value)
    this.waiters = this.waiters.filter((waiter) => {
      if (!waiter.predicate(value)) return true
      clearTimeout(waiter.timer)
      waiter.resolve(value)
      return false
    })
  }

  /** The first notification (already received or still to come) that passes `predicate`. */
  next (what: string, predicate: (value: T) => boolean): Promise<T> {
    const found = this.received.find(predicate)
    if (found !== undefined) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), SAFETY_TIMEOUT_MS)
      this.waiters.push({ predicate, resolve, reject, timer })
    })
  }
}

export interface RawResponse { status: number, headers: Record<string, string | string[] | undefined>, body: string }

/** One HTTP request over a real socket (node:http, which lets a test send any Host header). */
export function raw (url: URL, options: { method?: string, headers?: Record<string, string>, body?: unknown } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    const req = httpRequest(url, {
      method: options.method ?? 'POST',
      headers: {
        accept: 'application/json, text/event-stream',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers
      }
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** A 2025-11-25 initialize request, as a host's first message. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }
}
