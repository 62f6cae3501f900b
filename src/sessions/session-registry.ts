// Who is connected: every authenticated client of every surface that holds a live connection
// (WebSocket today). Feeds /status, get_status, /health and the connection caps.

export interface SessionInfo {
  readonly clientId: string
  readonly userId: string
  readonly tenant: string
  readonly authenticatedAt: Date
  lastActivity: Date
}

export class SessionRegistry<S extends SessionInfo = SessionInfo> {
  private readonly sessions = new Map<string, S>()
  private readonly perUser = new Map<string, number>()

  get size (): number { return this.sessions.size }

  add (session: S): void {
    this.sessions.set(session.clientId, session)
    const userKey = `${session.tenant}\u0000${session.userId}`
    this.perUser.set(userKey, (this.perUser.get(userKey) ?? 0) + 1)
  }

  remove (clientId: string): void {
    const session = this.sessions.get(clientId)
    if (session === undefined) return
    this.sessions.delete(clientId)
    const userKey = `${session.tenant}\u0000${session.userId}`
    const left = (this.perUser.get(userKey) ?? 1) - 1
    if (left === 0) this.perUser.delete(userKey)
    else this.perUser.set(userKey, left)
  }

  get (clientId: string): S | undefined {
    return this.sessions.get(clientId)
  }

  countForUser (tenant: string, userId: string): number {
    return this.perUser.get(`${tenant}\u0000${userId}`) ?? 0
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
}
