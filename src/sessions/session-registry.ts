// Who is connected: every authenticated client of every surface that holds something open on this
// instance (a WebSocket connection, a 2025 MCP session, a subscriptions/listen stream). Feeds
// /status, get_status, /health and the connection caps, which therefore count every surface alike.
import type { Identity } from '../auth/identity.js'

/** What a registered client is; /status lists it. */
export const CLIENT_KINDS = ['websocket', 'mcp_session', 'mcp_stream'] as const
export type ClientKind = typeof CLIENT_KINDS[number]

export interface SessionInfo {
  readonly clientId: string
  readonly kind: ClientKind
  readonly userId: string
  readonly tenant: string
  readonly authenticatedAt: Date
  lastActivity: Date
  /** The identity the client last presented (for ending the clients of a revoked token). */
  readonly identity?: Identity
  /** Ends the client; given by clients that the registry may end (endWhere, reclaiming). */
  end?: (reason: string) => void
  /**
   * Whether ending the client now takes nothing it is using: an MCP session with no open stream
   * and no request in flight, which its host re-creates on its next request. Such clients give
   * way when a cap is reached instead of locking new clients out.
   */
  reclaimable?: () => boolean
}

export class SessionRegistry<S extends SessionInfo = SessionInfo> {
  private readonly sessions = new Map<string, S>()
  private readonly perUser = new Map<string, Set<S>>()
  private readonly perKind = new Map<ClientKind, number>()

  get size (): number { return this.sessions.size }

  add (session: S): void {
    this.sessions.set(session.clientId, session)
    const userKey = keyOf(session.tenant, session.userId)
    let own = this.perUser.get(userKey)
    if (own === undefined) this.perUser.set(userKey, own = new Set())
    own.add(session)
    this.perKind.set(session.kind, (this.perKind.get(session.kind) ?? 0) + 1)
  }

  remove (clientId: string): void {
    const session = this.sessions.get(clientId)
    if (session === undefined) return
    this.sessions.delete(clientId)
    const userKey = keyOf(session.tenant, session.userId)
    const own = this.perUser.get(userKey)
    own?.delete(session)
    if (own?.size === 0) this.perUser.delete(userKey)
    this.perKind.set(session.kind, (this.perKind.get(session.kind) ?? 1) - 1)
  }

  get (clientId: string): S | undefined {
    return this.sessions.get(clientId)
  }

  countForUser (tenant: string, userId: string): number {
    return this.perUser.get(keyOf(tenant, userId))?.size ?? 0
  }

  /** Registered clients of one kind. */
  countOf (kind: ClientKind): number {
    return this.perKind.get(kind) ?? 0
  }

  /**
   * Whether the user may open one more client under `max`. At the cap, the user's least recently
   * active reclaimable client (an idle MCP session) is ended to make room; only clients in use
   * lock the user out.
   */
  hasRoomForUser (tenant: string, userId: string, max: number): boolean {
    const own = this.perUser.get(keyOf(tenant, userId))
    return (own?.size ?? 0) < max || this.reclaimOne(own ?? [])
  }

  /**
   * Whether the instance may take one more client when `held` connections count against `max`
   * (the registered clients plus `pending`, e.g. WebSocket connections not yet authenticated). At
   * the cap, the least recently active reclaimable client of any user is ended to make room.
   */
  hasRoom (max: number, pending = 0): boolean {
    return this.sessions.size + pending < max || this.reclaimOne(this.sessions.values())
  }

  /**
   * Ends every client that matches and can be ended (those registered with `end`); returns how
   * many. For revocations: `endWhere((client) => client.identity?.userId === sub, 'Token revoked')`.
   */
  endWhere (predicate: (session: S) => boolean, reason: string): number {
    let ended = 0
    for (const session of [...this.sessions.values()]) {
      if (session.end === undefined || !predicate(session)) continue
      session.end(reason)
      ended++
    }
    return ended
  }

  /** Sessions of one tenant. O(sessions): for status pages, not per-message paths. */
  ofTenant (tenant: string): S[] {
    const out: S[] = []
    for (const session of this.sessions.values()) if (session.tenant === tenant) out.push(session)
    return out
  }

  all (): IterableIterator<S> {
    return this.sessions.values()
  }

  /** Ends the least recently active reclaimable client among `candidates`; false when there is none. */
  private reclaimOne (candidates: Iterable<S>): boolean {
    let oldest: S | undefined
    for (const session of candidates) {
      if (session.end === undefined || session.reclaimable?.() !== true) continue
      if (oldest === undefined || session.lastActivity.getTime() < oldest.lastActivity.getTime()) oldest = session
    }
    if (oldest === undefined) return false
    oldest.end?.('Reclaimed: idle session at the connection cap')
    // end() unregisters synchronously; make sure of it, so the caller's place is really free.
    this.remove(oldest.clientId)
    return true
  }
}

function keyOf (tenant: string, userId: string): string {
  return `${tenant}\u0000${userId}`
}
