// Everything the WebSocket surface shares across connections: the open connections, the
// broadcaster (one store listener per app), the handler dependencies, the upkeep timers
// (heartbeat, token expiry, idle timeout: one timer each for all connections, not one per
// connection) and the shutdown sequence.
import type { WebSocket } from 'ws'
import type { Identity } from '../auth/identity.js'
import type { Config } from '../config.js'
import type { RefusedAuthentication } from '../security/audit-log.js'
import type { TokenIdentity } from '../security/revocation-list.js'
import type { SessionInfo, SessionRegistry } from '../sessions/session-registry.js'
import type { ContextStore } from '../store/context-store.js'
import { Broadcaster, type BroadcastMetrics } from './broadcaster.js'
import { CLOSE, Connection, type ConnectRequest } from './connection.js'
import type { HandlerDeps } from './handlers.js'
import type { LargeFramePreparer } from './large-frame.js'

/** The metrics the surface records (prom-client's Counter/Gauge/Histogram fit these shapes). */
export interface WsMetrics extends BroadcastMetrics {
  readonly connections: { inc: (labels: { state: string }) => void, dec: (labels: { state: string }) => void }
  readonly messages: { labels: (type: string) => { inc: () => void } }
  readonly errors: { inc: (labels: { code: string, surface: string }) => void }
  readonly authAttempts: { inc: (labels: { result: string, surface: string }) => void }
  readonly messageSeconds: { labels: (type: string) => { observe: (seconds: number) => void } }
  readonly wsCloses: { inc: (labels: { code: string }) => void }
}

export interface WsLog {
  debug: (details: object, message: string) => void
  warn: (details: object, message: string) => void
  error: (details: object, message: string) => void
}

export interface WsHubOptions {
  readonly config: Config
  readonly store: ContextStore
  readonly sessions: SessionRegistry<SessionInfo>
  readonly verifyToken: (token: string) => Identity
  readonly metrics: WsMetrics
  readonly log: WsLog
  /** Records refused authentications in the audit log (contract §8). */
  readonly audit?: { refused: (refusal: RefusedAuthentication) => void }
  /** Prepares large frames on worker threads (src/ws/large-frame.ts); without it every frame is handled inline. */
  readonly largeFrames?: LargeFramePreparer
}

// Token expiry and idle time are checked this often; both are configured in whole seconds.
const DEADLINE_SWEEP_MS = 1000

export class WsHub {
  readonly config: Config
  readonly store: ContextStore
  readonly sessions: SessionRegistry<SessionInfo>
  readonly metrics: WsMetrics
  readonly log: WsLog
  readonly audit: { refused: (refusal: RefusedAuthentication) => void }
  readonly deps: HandlerDeps
  readonly broadcaster: Broadcaster
  readonly largeFrames: LargeFramePreparer | undefined
  /** True once shutdown began: no new connections, new messages are refused. */
  draining = false
  private readonly connections = new Set<Connection>()
  private readonly heartbeatTimer: NodeJS.Timeout
  private readonly deadlineTimer: NodeJS.Timeout
  // Per-type metric children, bound once: label lookups per message are measurable at ingest rates.
  private readonly perType = new Map<string, { count: { inc: () => void }, time: { observe: (seconds: number) => void } }>()
  private inFlight = 0
  private onSettled: (() => void) | undefined
  private onEmpty: (() => void) | undefined

  constructor (options: WsHubOptions) {
    this.config = options.config
    this.store = options.store
    this.sessions = options.sessions
    this.metrics = options.metrics
    this.log = options.log
    this.audit = options.audit ?? { refused: () => {} }
    this.largeFrames = options.largeFrames
    this.deps = {
      store: options.store,
      config: options.config,
      sessions: options.sessions,
      verifyToken: options.verifyToken,
      now: Date.now
    }
    this.broadcaster = new Broadcaster({
      store: options.store,
      maxBufferedBytes: options.config.maxBufferedBytes,
      metrics: options.metrics,
      onError: (error) => this.log.error({ err: error }, 'broadcast failed')
    })
    this.heartbeatTimer = setInterval(() => { for (const c of this.connections) c.heartbeat() }, options.config.heartbeatIntervalMs)
    this.heartbeatTimer.unref()
    this.deadlineTimer = setInterval(() => {
      const now = Date.now()
      for (const c of this.connections) c.checkDeadlines(now)
    }, DEADLINE_SWEEP_MS)
    this.deadlineTimer.unref()
  }

  get connectionCount (): number { return this.connections.size }

  /**
   * Whether one more connection fits under MCP_MAX_CONNECTIONS (checked before the upgrade). The
   * cap counts every client of the instance: WebSocket connections (authenticated or not) and the
   * MCP sessions and streams in the registry, an idle one of which gives way at the cap.
   */
  hasCapacity (): boolean {
    return !this.draining && this.sessions.hasRoom(this.config.maxConnections, this.pendingConnections())
  }

  /** Takes over a freshly upgraded socket. */
  accept (socket: WebSocket, request: ConnectRequest): void {
    const connection = new Connection(socket, request.netSocket, this)
    this.connections.add(connection)
    this.metrics.connections.inc({ state: 'pending' })
    connection.start(request)
    // Upgrades that passed the capacity check together may overshoot it; the excess goes at once.
    if (this.draining) connection.close(CLOSE.goingAway, 'Server shutting down')
    else if (this.sessions.size + this.pendingConnections() > this.config.maxConnections) connection.close(CLOSE.tryAgainLater, 'Too many connections')
  }

  /** WebSocket connections not (yet) in the session registry: those still authenticating. */
  private pendingConnections (): number {
    return Math.max(this.connections.size - this.sessions.countOf('websocket'), 0)
  }

  /** Records one handled message of a (validated, so bounded) type and how long it took. */
  countMessage (type: string, seconds: number): void {
    let bound = this.perType.get(type)
    if (bound === undefined) {
      bound = { count: this.metrics.messages.labels(type), time: this.metrics.messageSeconds.labels(type) }
      this.perType.set(type, bound)
    }
    bound.count.inc()
    bound.time.observe(seconds)
  }

  /**
   * Closes the tenant's connections whose token is now revoked: 4001 `Token revoked` (contract §8).
   * O(connections), on a revocation only.
   */
  closeRevoked (tenant: string, revokes: (token: TokenIdentity) => boolean): void {
    for (const connection of this.connections) {
      const identity = connection.session?.identity
      if (identity !== undefined && identity.tenant === tenant && revokes(identity)) connection.close(CLOSE.unauthorized, 'Token revoked')
    }
  }

  /** Called by a connection once its socket has closed. */
  forget (connection: Connection): void {
    this.connections.delete(connection)
    if (this.connections.size === 0) this.onEmpty?.()
  }

  /** A message whose handling awaits (a store write) has started: shutdown waits for it. */
  messageStarted (): void {
    this.inFlight++
  }

  messageFinished (): void {
    if (--this.inFlight === 0) this.onSettled?.()
  }

  /**
   * Shutdown: refuse new connections and messages, let the messages being handled finish and
   * reply, then close every client with 1001; a client that does not complete the close handshake
   * within a short wait is cut.
   */
  async shutdown (): Promise<void> {
    this.draining = true
    this.stopTimers()
    const bound = Math.min(this.config.shutdownGraceMs / 2, 5000)
    if (this.inFlight > 0) await this.until((resolve) => { this.onSettled = resolve }, bound)
    for (const connection of this.connections) connection.close(CLOSE.goingAway, 'Server shutting down')
    if (this.connections.size > 0) await this.until((resolve) => { this.onEmpty = resolve }, Math.min(bound, 2000))
    for (const connection of this.connections) connection.terminate()
  }

  /** Releases the timers and the store listener (the app is closing). */
  stop (): void {
    this.stopTimers()
    this.broadcaster.close()
  }

  private stopTimers (): void {
    clearInterval(this.heartbeatTimer)
    clearInterval(this.deadlineTimer)
  }

  private async until (arm: (resolve: () => void) => void, timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs)
      arm(() => { clearTimeout(timer); resolve() })
    })
  }
}
