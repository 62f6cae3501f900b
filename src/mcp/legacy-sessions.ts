// Sessions of the 2025 protocol (2025-11-25 and earlier), which most MCP hosts still speak: the
// host initializes, gets an Mcp-Session-Id, opens a GET stream and receives notifications on it.
// The SDK's own 2025 fallback is stateless (no GET, so no notifications); this keeps one transport
// and one server instance per session instead. Each session is bound to the user and tenant that
// opened it, appears in the shared session registry (status, connection caps), and is closed when
// the host deletes it, when it idles past MCP_SESSION_IDLE_TIMEOUT (the official client's close()
// sends no DELETE, so abandoned sessions are the common case), when an idle session of a user at
// the connection cap gives way to a new client, or when the server closes.
import { randomUUID } from 'node:crypto'
import { McpServer, WebStandardStreamableHTTPServerTransport, isInitializeRequest, type AuthInfo } from '@modelcontextprotocol/server'
import type { Identity } from '../auth/identity.js'
import type { SessionInfo, SessionRegistry } from '../sessions/session-registry.js'
import type { TenantLease } from '../store/replica-leases.js'
import { OPENING_COMMENT, endAtExpiry, isEventStream, onAbort, type HttpExchange, type OpenStreams } from './stream-lifetime.js'
import { withFlowControl } from './stream-flow.js'

export interface LegacySessionOptions {
  /** A new server instance for a session, recording the session's resource subscriptions. */
  createServer: (subscriptions: Set<string>) => McpServer
  /** Holds the tenant loaded on this instance while a session of it is open (ContextStore.use). */
  useTenant: (tenant: string) => Promise<TenantLease>
  /** The instance's registry of connected clients; sessions are added as `mcp-<session id>`. */
  registry: SessionRegistry<SessionInfo>
  /** Refuse a new session when the registry holds this many clients (MCP_MAX_CONNECTIONS). */
  maxSessions: number
  /** ... or the user this many (MCP_MAX_CONNECTIONS_PER_USER). */
  maxSessionsPerUser: number
  /** Close a session without an open stream after this long without a request (MCP_SESSION_IDLE_TIMEOUT). */
  idleTimeoutMs: number
  /** Bytes a session's stream may hold unsent before it is ended (MCP_STREAM_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number
  /** Failures nobody awaits (a notification to a session that just went away). */
  onError?: (error: Error) => void
  /** Where GET streams are tracked by token, so a revocation can end them. */
  streams?: OpenStreams
}

/** The session as the registry lists it, with the identity of its latest request. */
interface LegacySessionInfo extends SessionInfo {
  identity: Identity
}

interface LegacySession {
  readonly id: string
  readonly info: LegacySessionInfo
  readonly server: McpServer
  readonly transport: WebStandardStreamableHTTPServerTransport
  readonly subscriptions: Set<string>
  /** HTTP exchanges of the session still open: requests being answered and its GET stream. */
  openExchanges: number
  /** The token that opened the session: a revocation of it ends the session. */
  readonly opener: Identity
  /** Its tenant, held loaded until the session ends (notifications between requests need it current). */
  readonly lease: TenantLease
  closed: boolean
}

const SWEEP_INTERVAL_MS = 60_000

export class LegacySessions {
  private readonly sessions = new Map<string, LegacySession>()
  private readonly byTenant = new Map<string, Set<LegacySession>>()
  private readonly sweeper: NodeJS.Timeout

  constructor (private readonly options: LegacySessionOptions) {
    this.sweeper = setInterval(() => this.closeIdle(), Math.min(options.idleTimeoutMs, SWEEP_INTERVAL_MS))
    this.sweeper.unref()
  }

  /** Serves one 2025-protocol HTTP request, arrived on `exchange`. */
  async handle (request: Request, exchange: HttpExchange, identity: Identity, authInfo: AuthInfo, body: unknown): Promise<Response> {
    const id = request.headers.get('mcp-session-id')
    if (id === null) {
      if (request.method === 'POST' && isInitializeRequest(body)) return await this.open(request, identity, authInfo, body)
      return rpcError(400, 'Bad Request: no Mcp-Session-Id; initialize a session first')
    }
    const session = this.sessions.get(id)
    if (session === undefined) return rpcError(404, 'Session not found; initialize a new session')
    if (session.info.userId !== identity.userId || session.info.tenant !== identity.tenant) {
      return rpcError(403, 'This MCP session belongs to another user or tenant')
    }
    session.info.lastActivity = new Date()
    session.info.identity = identity
    // Busy until the response has ended: a session in use is neither idle nor reclaimable.
    session.openExchanges++
    onAbort(exchange.closed, () => {
      session.openExchanges--
      session.info.lastActivity = new Date()
    })
    const response = await session.transport.handleRequest(request, { parsedBody: body, authInfo })
    if (!isEventStream(response)) return response
    const stream = request.method === 'GET' && response.status === 200
    if (stream) {
      // The GET stream ends when the token that opened it does, or when that token is revoked.
      endAtExpiry(exchange.closed, identity.expiresAt, () => session.transport.closeStandaloneSSEStream())
      this.options.streams?.track(exchange.closed, identity, () => session.transport.closeStandaloneSSEStream())
    }
    return withFlowControl(response, {
      maxBufferedBytes: this.options.maxBufferedBytes,
      ...(stream ? { prefix: OPENING_COMMENT } : {}),
      onOverflow: exchange.abort
    })
  }

  /** Whether a session of the tenant is open. */
  serves (tenant: string): boolean {
    return this.byTenant.has(tenant)
  }

  /** Sends change notifications to the sessions of one tenant. */
  notify (tenant: string, updatedUris: readonly string[], listChanged: boolean): void {
    const sessions = this.byTenant.get(tenant)
    if (sessions === undefined) return
    const updated = new Set(updatedUris)
    for (const session of sessions) {
      // Walk the smaller side: a mass clear names many keys, a host subscribes to few.
      const uris = session.subscriptions.size < updated.size
        ? [...session.subscriptions].filter((uri) => updated.has(uri))
        : updatedUris.filter((uri) => session.subscriptions.has(uri))
      for (const uri of uris) session.server.server.sendResourceUpdated({ uri }).catch((error) => this.report(error))
      // The low-level call: McpServer's own drops the promise, and a failed send must not go unhandled.
      if (listChanged) session.server.server.sendResourceListChanged().catch((error) => this.report(error))
    }
  }

  /** Ends the tenant's sessions opened with a token that `matches` (a revocation). */
  endWhere (tenant: string, matches: (identity: Identity) => boolean): void {
    for (const session of this.byTenant.get(tenant) ?? []) {
      if (matches(session.opener)) this.drop(session).catch((error) => this.report(error))
    }
  }

  /** Closes every session (server shutdown). */
  async close (): Promise<void> {
    clearInterval(this.sweeper)
    await Promise.all([...this.sessions.values()].map((session) => this.drop(session)))
  }

  private async open (request: Request, identity: Identity, authInfo: AuthInfo, body: unknown): Promise<Response> {
    const { registry } = this.options
    // At a cap, the least recently active idle session gives way (the user's own, for the user's cap).
    if (!registry.hasRoomForUser(identity.tenant, identity.userId, this.options.maxSessionsPerUser)) {
      return rpcError(429, 'Too many connections for this user')
    }
    if (!registry.hasRoom(this.options.maxSessions)) return rpcError(429, 'Too many connections on this server')
    const lease = await this.options.useTenant(identity.tenant)
    try {
      return await this.start(request, identity, authInfo, body, lease)
    } catch (error) {
      lease.release()
      throw error
    }
  }

  private async start (request: Request, identity: Identity, authInfo: AuthInfo, body: unknown, lease: TenantLease): Promise<Response> {
    const { registry } = this.options
    const subscriptions = new Set<string>()
    const server = this.options.createServer(subscriptions)
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      // The host ended the session with DELETE.
      onsessionclosed: (sessionId) => {
        const session = this.sessions.get(sessionId)
        if (session !== undefined) this.drop(session).catch((error) => this.report(error))
      }
    })
    await server.connect(transport)
    const response = await transport.handleRequest(request, { parsedBody: body, authInfo })
    const id = transport.sessionId
    if (id === undefined) {
      // The initialize was refused: no session came of it.
      lease.release()
      await server.close()
      return response
    }
    const now = new Date()
    const info: LegacySessionInfo = {
      clientId: `mcp-${id}`,
      kind: 'mcp_session',
      userId: identity.userId,
      tenant: identity.tenant,
      authenticatedAt: now,
      lastActivity: now,
      identity,
      end: () => { this.drop(session).catch((error) => this.report(error)) },
      reclaimable: () => session.openExchanges === 0
    }
    const session: LegacySession = { id, info, server, transport, subscriptions, openExchanges: 0, opener: identity, lease, closed: false }
    this.sessions.set(id, session)
    let tenantSessions = this.byTenant.get(identity.tenant)
    if (tenantSessions === undefined) this.byTenant.set(identity.tenant, tenantSessions = new Set())
    tenantSessions.add(session)
    registry.add(session.info)
    return response
  }

  private closeIdle (): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs
    for (const session of this.sessions.values()) {
      if (session.openExchanges === 0 && session.info.lastActivity.getTime() < cutoff) {
        this.drop(session).catch((error) => this.report(error))
      }
    }
  }

  private async drop (session: LegacySession): Promise<void> {
    if (session.closed) return
    session.closed = true
    this.sessions.delete(session.id)
    const tenantSessions = this.byTenant.get(session.info.tenant)
    tenantSessions?.delete(session)
    if (tenantSessions?.size === 0) this.byTenant.delete(session.info.tenant)
    this.options.registry.remove(session.info.clientId)
    session.lease.release()
    // Closing the server closes its transport, which ends the session's open streams.
    await session.server.close()
  }

  private report (error: unknown): void {
    this.options.onError?.(error instanceof Error ? error : new Error(String(error)))
  }
}

/** A JSON-RPC error answer for requests refused before they reach a session. */
function rpcError (status: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }, { status })
}
