// The /mcp endpoint without its HTTP framework: routes each authenticated request to the protocol
// era it speaks, and fans store changes out to the hosts of the change's tenant.
//
// - 2026-07-28 (the current protocol): stateless, served by the SDK's createMcpHandler, one per
//   tenant, because its subscriptions/listen streams all hear one event bus and a tenant's changes
//   must reach only that tenant's hosts.
// - 2025-11-25 and earlier: sessions with a GET stream for notifications (legacy-sessions.ts).
import { createMcpHandler, isLegacyRequest, type McpHttpHandler } from '@modelcontextprotocol/server'
import type { Identity } from '../auth/identity.js'
import { canRead } from '../store/permissions.js'
import type { ChangeEvent } from '../store/types.js'
import { authInfoFor } from './auth-info.js'
import { notificationsFor } from './change-notifications.js'
import { createContextMcpServer, type ContextServerDeps } from './context-mcp-server.js'
import { LegacySessions, type LegacySessionOptions } from './legacy-sessions.js'
import { ListenStreams, listenRequestOf } from './listen-streams.js'
import { withFlowControl } from './stream-flow.js'
import { OpenStreams, endAtExpiry, isEventStream, onAbort, type HttpExchange } from './stream-lifetime.js'

export interface McpEndpointOptions extends ContextServerDeps, Omit<LegacySessionOptions, 'createServer' | 'onError' | 'useTenant'> {
  /** Problems the SDK reports (refused requests, broken streams); none of them is fatal. */
  onProtocolError?: (error: Error) => void
}

/** One HTTP request to /mcp, already authenticated, with its body parsed by the framework. */
export interface McpHttpRequest extends HttpExchange {
  method: string
  url: string
  headers: Headers
  body: unknown
}

export class McpEndpoint {
  private readonly modern = new Map<string, McpHttpHandler>()
  private readonly legacy: LegacySessions
  private readonly listenStreams: ListenStreams
  private readonly streams = new OpenStreams()
  private closed = false

  constructor (private readonly options: McpEndpointOptions) {
    this.legacy = new LegacySessions({
      ...options,
      streams: this.streams,
      createServer: (subscriptions) => createContextMcpServer(options, { subscriptions }),
      useTenant: async (tenant) => await options.store.use(tenant),
      onError: options.onProtocolError
    })
    this.listenStreams = new ListenStreams({
      registry: options.registry,
      maxStreams: options.maxSessions,
      maxStreamsPerUser: options.maxSessionsPerUser
    })
  }

  /** Serves one request as the given identity. */
  async handle (input: McpHttpRequest, identity: Identity, token: string): Promise<Response> {
    if (this.closed) return Response.json({ jsonrpc: '2.0', error: { code: -32000, message: 'Server is shutting down' }, id: null }, { status: 503 })
    // Every MCP operation reads (listing, notifications), so a token without a known role gets
    // nothing here, as on the other surfaces; the store checks the write roles itself.
    if (!canRead(identity)) {
      return Response.json({ statusCode: 403, error: 'Forbidden', message: 'This operation needs the reader, writer or admin role', code: 'forbidden' }, { status: 403 })
    }
    const expiry = new AbortController()
    const request = new Request(input.url, {
      method: input.method,
      headers: input.headers,
      signal: AbortSignal.any([input.closed, expiry.signal])
    })
    const authInfo = authInfoFor(identity, token)
    if (await isLegacyRequest(request, input.body)) {
      return await this.legacy.handle(request, input, identity, authInfo, input.body)
    }
    // A listen stream is a client of the instance: admitted under the connection caps and
    // registered before the SDK opens it, so concurrent listens cannot overshoot a cap.
    const listen = listenRequestOf(input.body)
    const admitted = listen === undefined ? undefined : this.listenStreams.admit(listen, identity, () => expiry.abort())
    if (admitted !== undefined && 'status' in admitted) {
      return Response.json({ jsonrpc: '2.0', error: { code: admitted.code, message: admitted.message }, id: listen?.id ?? null }, { status: admitted.status })
    }
    let response: Response
    try {
      response = await this.handlerFor(identity.tenant).fetch(request, { authInfo, parsedBody: input.body })
    } catch (error) {
      admitted?.close()
      throw error
    }
    if (!isEventStream(response)) {
      admitted?.close()
      return response
    }
    if (admitted !== undefined) onAbort(input.closed, admitted.close)
    // A listen stream (or a call upgraded to SSE) ends when its token does or is revoked, or when
    // its host stops reading.
    endAtExpiry(input.closed, identity.expiresAt, () => expiry.abort())
    this.streams.track(input.closed, identity, () => expiry.abort())
    return withFlowControl(response, { maxBufferedBytes: this.options.maxBufferedBytes, onOverflow: input.abort })
  }

  /** Ends the tenant's streams and sessions of tokens that `revokes` matches (contract §8). */
  endRevoked (tenant: string, revokes: (identity: Identity) => boolean): void {
    this.streams.endWhere(tenant, revokes)
    this.legacy.endWhere(tenant, revokes)
  }

  /** Notifies the hosts of the change's tenant, on both protocol eras. */
  publish (change: ChangeEvent): void {
    const handler = this.modern.get(change.tenant)
    // Most changes have no MCP host to tell: their URIs are not even built (a write's cost, issue 16).
    if (handler === undefined && !this.legacy.serves(change.tenant)) return
    const { updatedUris, listChanged } = notificationsFor(change)
    this.legacy.notify(change.tenant, updatedUris, listChanged)
    if (handler === undefined) return
    for (const uri of updatedUris) handler.notify.resourceUpdated(uri)
    if (listChanged) handler.notify.resourcesChanged()
  }

  /**
   * Lets go of a tenant the store dropped (no request, stream or session of it is open here): its
   * current-protocol handler would otherwise be kept for every tenant ever served.
   */
  forget (tenant: string): void {
    const handler = this.modern.get(tenant)
    if (handler === undefined) return
    this.modern.delete(tenant)
    handler.close().catch((error: unknown) => this.options.onProtocolError?.(error instanceof Error ? error : new Error(String(error))))
  }

  /** Ends every session and stream (server shutdown). */
  async close (): Promise<void> {
    this.closed = true
    await Promise.all([this.legacy.close(), ...[...this.modern.values()].map((handler) => handler.close())])
  }

  private handlerFor (tenant: string): McpHttpHandler {
    let handler = this.modern.get(tenant)
    if (handler === undefined) {
      handler = createMcpHandler(() => createContextMcpServer(this.options), {
        // 2025 traffic never reaches this handler: handle() routes it to the sessions.
        legacy: 'reject',
        // The connection caps bound listen streams (ListenStreams); the SDK's per-tenant cap must
        // not refuse a stream those caps admitted.
        maxSubscriptions: this.options.maxSessions,
        ...(this.options.onProtocolError !== undefined ? { onerror: this.options.onProtocolError } : {})
      })
      this.modern.set(tenant, handler)
    }
    return handler
  }
}
