// One authenticated WebSocket client as the handlers and the session registry see it: who it is,
// what it subscribed to, and when it was last heard from. Socket state lives in the connection.
import type { Identity } from '../auth/identity.js'
import type { SessionInfo } from '../sessions/session-registry.js'
import type { Actor } from '../store/types.js'
import type { Subscription } from './subscription.js'

export class ClientSession implements SessionInfo {
  readonly kind = 'websocket'
  // Times are kept as epoch milliseconds (a Date object per session, and one per message for the
  // activity time, would cost memory and garbage); the Date views are made when read.
  readonly authenticatedAtMs: number
  lastActivityMs: number

  constructor (
    readonly clientId: string,
    /** Replaced by a successful refresh_token (same user, tenant and roles; a later expiry). */
    public identity: Identity,
    public subscription: Subscription,
    now: number
  ) {
    this.authenticatedAtMs = now
    this.lastActivityMs = now
  }

  get authenticatedAt (): Date { return new Date(this.authenticatedAtMs) }

  /** The store actor of this client's writes: its identity, tagged for the audit trail. */
  get actor (): Actor {
    if (this.actorOf !== this.identity) {
      this.actorOf = this.identity
      this.cachedActor = { ...this.identity, surface: 'ws', clientId: this.clientId }
    }
    return this.cachedActor as Actor
  }

  // Made once per identity (a refresh replaces it), not once per write.
  private actorOf: Identity | undefined
  private cachedActor: Actor | undefined

  get userId (): string { return this.identity.userId }
  get tenant (): string { return this.identity.tenant }

  get lastActivity (): Date { return new Date(this.lastActivityMs) }
  set lastActivity (value: Date) { this.lastActivityMs = value.getTime() }
}
