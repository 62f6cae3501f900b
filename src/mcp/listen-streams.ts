// subscriptions/listen streams (the 2026-07-28 protocol) as clients of the instance. The SDK serves
// them with one cap per tenant and no notion of users, so one reader could take all of a tenant's
// slots; here each stream is checked against the connection caps first (per user and per instance,
// MCP_MAX_CONNECTIONS_PER_USER and MCP_MAX_CONNECTIONS, shared with WebSocket connections and 2025
// sessions), registered while it is open (so /status lists it), and its filter is checked: every
// URI must name a resource of this server, and a stream names at most as many as a 2025 session.
import { randomUUID } from 'node:crypto'
import type { Identity } from '../auth/identity.js'
import type { SessionInfo, SessionRegistry } from '../sessions/session-registry.js'
import { MAX_SUBSCRIPTIONS_PER_SESSION } from './context-resources.js'
import { isContextUri } from './context-uris.js'

/** A subscriptions/listen request, as far as this module looks into it. */
export interface ListenRequest {
  readonly id: string | number | null
  /** `params.notifications.resourceSubscriptions`, unchecked. */
  readonly resourceSubscriptions: unknown
}

export interface ListenStreamOptions {
  registry: SessionRegistry<SessionInfo>
  /** MCP_MAX_CONNECTIONS */
  maxStreams: number
  /** MCP_MAX_CONNECTIONS_PER_USER */
  maxStreamsPerUser: number
}

/** A refused listen request: the HTTP status and the JSON-RPC error message. */
export interface ListenRefusal { status: number, code: number, message: string }

/** The listen request a parsed /mcp body holds, or undefined when it holds none. */
export function listenRequestOf (body: unknown): ListenRequest | undefined {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined
  const message = body as { method?: unknown, id?: unknown, params?: { notifications?: { resourceSubscriptions?: unknown } } }
  if (message.method !== 'subscriptions/listen') return undefined
  const id = typeof message.id === 'string' || typeof message.id === 'number' ? message.id : null
  return { id, resourceSubscriptions: message.params?.notifications?.resourceSubscriptions }
}

export class ListenStreams {
  constructor (private readonly options: ListenStreamOptions) {}

  /**
   * Admits a new stream for `identity`: a refusal, or the stream's registration, whose `close`
   * must be called once the stream has ended (or was never opened). `stop` ends the stream (a
   * revocation through the registry's endWhere).
   */
  admit (request: ListenRequest, identity: Identity, stop: () => void): ListenRefusal | { close: () => void } {
    const problem = filterProblem(request.resourceSubscriptions)
    if (problem !== undefined) return { status: 200, code: -32602, message: `Invalid params: ${problem}` }
    const { registry } = this.options
    if (!registry.hasRoomForUser(identity.tenant, identity.userId, this.options.maxStreamsPerUser)) {
      return { status: 429, code: -32000, message: 'Too many connections for this user' }
    }
    if (!registry.hasRoom(this.options.maxStreams)) return { status: 429, code: -32000, message: 'Too many connections on this server' }
    const clientId = `mcp-stream-${randomUUID()}`
    const now = new Date()
    const close = () => registry.remove(clientId)
    registry.add({
      clientId,
      kind: 'mcp_stream',
      userId: identity.userId,
      tenant: identity.tenant,
      authenticatedAt: now,
      lastActivity: now,
      identity,
      end: () => { close(); stop() }
    })
    return { close }
  }
}

/** What is wrong with a listen filter's resource URIs, or undefined. */
function filterProblem (uris: unknown): string | undefined {
  if (uris === undefined) return undefined
  // The SDK's own check refuses other shapes with its message.
  if (!Array.isArray(uris)) return undefined
  if (uris.length > MAX_SUBSCRIPTIONS_PER_SESSION) return `at most ${MAX_SUBSCRIPTIONS_PER_SESSION} resourceSubscriptions per stream`
  const index = uris.findIndex((uri) => typeof uri === 'string' && !isContextUri(uri))
  if (index < 0) return undefined
  return `resourceSubscriptions[${index}] is not a resource of this server (context://snapshot or context://entries/<key of 1-512 characters>)`
}
