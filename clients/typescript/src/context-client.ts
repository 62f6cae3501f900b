// The one class users see. It speaks the protocol (authenticate, subscribe, resume, refresh) and
// composes the parts that each do one job: the transport (socket, backoff), the request tracker
// (ids, deadlines, typed errors), the outbox (requests waiting for a connection), the mirror (the
// local copy of the store) and the token source. Its connection state is explicit:
//
//   connecting ──(auth_success, subscribed)──> connected ──(socket closes)──> disconnected
//        ^                                                                        │
//        └──────────────────────(backoff delay elapses)───────────────────────────┘
//   any state ──(close(), or a close code that does not reconnect)──> closed
import { CLOSE_CODES, closeDecision } from './close-policy.js'
import { Emitter } from './emitter.js'
import { ContextError, errorFromFrame } from './errors.js'
import { Mirror, type MirrorChange, type ResyncCause, type SnapshotFrame } from './mirror.js'
import { keysInTextOrder } from './ordered-keys.js'
import { Outbox } from './outbox.js'
import { PendingRequest, RequestTracker } from './request-tracker.js'
import { TokenSource, refreshDelay, type TokenProvider } from './token-source.js'
import { Transport, type TransportState } from './transport.js'
import type {
  ClearInput, ClearResult, ContextSnapshot, Entry, MirrorMode, PriorityResult, QueryInput, QueryResult,
  ServerFrame, SessionInfo, StatusResult, StoreMetadata, SubscriptionFilter, UpdateAck, WebSocketConstructor, WriteInput
} from './types.js'

export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'closed'

export interface ReconnectOptions {
  /** The cap of the first delay (full jitter: the delay is random below the cap). Default 500 ms. */
  readonly initialDelayMs?: number
  /** The cap never grows past this. Default 30 s. */
  readonly maxDelayMs?: number
  /** Growth of the cap per failed attempt. Default 2. */
  readonly factor?: number
  /** A connection that stays up this long resets the delays. Default 5 s. */
  readonly stableAfterMs?: number
}

export interface ContextClientOptions {
  /** `ws://host:9877/ws` (or `wss://`); in a browser also relative to the page (`/ws`). */
  readonly url: string
  /** A JWT, or a provider of one, called before every (re)connect and before the token expires. */
  readonly token: string | TokenProvider
  /** `delta` (default): a live mirror; `snapshot`: a mirror fed by whole snapshots; `none`: no mirror (write-only agents). */
  readonly mode?: MirrorMode
  /** Mirror only the entries whose source starts with `source`, at `min_priority` or more. */
  readonly filter?: SubscriptionFilter
  /** The WebSocket class: the `ws` package's in Node 20; the browser's own by default. */
  readonly WebSocket?: WebSocketConstructor
  /** A request without a reply this long after it was sent fails with `timeout`. Default 10 s. */
  readonly requestTimeoutMs?: number
  /** A connection attempt (socket, authentication, subscription) longer than this is retried. Default 15 s. */
  readonly connectTimeoutMs?: number
  /** Reconnect delays, or `false` to stay closed after the first disconnect. */
  readonly reconnect?: ReconnectOptions | false
  /** Requests that may wait for a connection at most. Default 1000. */
  readonly maxQueued?: number
  /** Requests on the wire at once at most; more wait in the queue. Default 100. */
  readonly maxInFlight?: number
  /** A request larger than this is refused locally (`message_too_large`). Default 1 MiB, the server's default. */
  readonly maxMessageBytes?: number
  /** Times a request is sent again after `rate_limited` or an unavailable backend. Default 5. */
  readonly maxRetries?: number
  /** Refresh the token this long before it expires (at most half its remaining life). Default 30 s. */
  readonly refreshAheadMs?: number
  /** Ping after this long without a frame; no reply within requestTimeoutMs drops the connection. Default 25 s; 0: never. */
  readonly pingIntervalMs?: number
  /** The least delay before reconnecting after close 4029 (sending too fast). Default 5 s. */
  readonly rateLimitedDelayMs?: number
  /** Random numbers in [0, 1) for the jitter (tests). */
  readonly random?: () => number
}

export interface ConnectedEvent extends SessionInfo {
  /** True when the mirror was brought forward from where it stopped (no resync was needed). */
  readonly resumed: boolean
}

export interface DisconnectedEvent {
  readonly code: number
  readonly reason: string
  readonly willReconnect: boolean
}

export interface ReconnectingEvent {
  /** Failed attempts since the last stable connection. */
  readonly attempt: number
  readonly delayMs: number
  /** The close code and reason of the connection (or attempt) that ended. */
  readonly code: number
  readonly reason: string
}

export interface ResyncEvent {
  readonly entries: ReadonlyMap<string, Entry>
  readonly seq: number
  readonly epoch: string | undefined
  readonly metadata: StoreMetadata
  readonly cause: ResyncCause
}

export interface ClientEvents {
  /** Every change of `entries`, in seq order; after a resync, the difference it made. */
  change: MirrorChange
  /** `entries` was replaced by a whole snapshot. */
  resync: ResyncEvent
  connected: ConnectedEvent
  disconnected: DisconnectedEvent
  reconnecting: ReconnectingEvent
  error: ContextError
  state: { readonly state: ConnectionState, readonly previous: ConnectionState }
  token_refreshed: { readonly expires_at: string }
}

export type ChangeEvent = MirrorChange

type Phase = 'down' | 'authenticating' | 'subscribing' | 'live'

// Ids of the session's own messages; user requests get `c1`, `c2`, ... from the tracker.
const AUTH_ID = 'auth'
const SUBSCRIBE_ID = 'subscribe'

const DEFAULTS = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 15_000,
  maxQueued: 1000,
  maxInFlight: 100,
  maxMessageBytes: 1024 * 1024,
  maxRetries: 5,
  refreshAheadMs: 30_000,
  pingIntervalMs: 25_000,
  rateLimitedDelayMs: 5000,
  stableAfterMs: 5000
} as const

// The slowest pace a rate-limited backlog is sent at: one request a minute.
const MAX_PACE_MS = 60_000

const encoder = new TextEncoder()
// The text of replies whose entries come in rank order, to read that order back (ordered-keys.ts).
const replyTexts = new WeakMap<ServerFrame, string>()

export class ContextClient extends Emitter<ClientEvents> {
  /** Resolves once connected the first time (in delta and snapshot mode: the first snapshot is applied). */
  readonly ready: Promise<void>

  private readonly options: Required<Omit<ContextClientOptions, 'filter' | 'WebSocket' | 'reconnect' | 'random'>> & Pick<ContextClientOptions, 'filter'>
  private readonly transport: Transport
  private readonly tracker: RequestTracker
  private readonly outbox: Outbox
  private readonly mirror: Mirror
  private readonly tokens: TokenSource
  private readonly reconnectEnabled: boolean
  private currentState: ConnectionState = 'connecting'
  private phase: Phase = 'down'
  private token = ''
  private connectSnapshot: SnapshotFrame | undefined
  private resumed = false
  private sessionInfo: SessionInfo | undefined
  private lastFrameAt = 0
  private order = 0
  private refreshTimer: ReturnType<typeof setTimeout> | undefined
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  private pinging = false
  // The least time between two sends while a rate-limited backlog drains (0: no pacing).
  private paceMs = 0
  // Bumped at every disconnect: a token refresh started on an older connection is dropped.
  private connection = 0
  private closing: Promise<void> | undefined
  private settleReady: { resolve: () => void, reject: (error: ContextError) => void } | undefined

  constructor (options: ContextClientOptions) {
    super()
    if (typeof options?.url !== 'string') throw new TypeError('ContextClient: `url` (ws://host:port/ws) is required')
    if (typeof options.token !== 'string' && typeof options.token !== 'function') {
      throw new TypeError('ContextClient: `token` must be a string or a function returning one')
    }
    const mode = options.mode ?? 'delta'
    if (mode !== 'delta' && mode !== 'snapshot' && mode !== 'none') throw new TypeError('ContextClient: `mode` must be delta, snapshot or none')
    const WebSocketClass = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (WebSocketClass === undefined) {
      throw new TypeError('ContextClient: no WebSocket in this environment; pass one (Node 20: `import { WebSocket } from \'ws\'`)')
    }
    this.options = {
      url: options.url,
      token: options.token,
      mode,
      filter: options.filter,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
      maxQueued: options.maxQueued ?? DEFAULTS.maxQueued,
      maxInFlight: Math.max(1, options.maxInFlight ?? DEFAULTS.maxInFlight),
      maxMessageBytes: options.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      maxRetries: options.maxRetries ?? DEFAULTS.maxRetries,
      refreshAheadMs: options.refreshAheadMs ?? DEFAULTS.refreshAheadMs,
      pingIntervalMs: options.pingIntervalMs ?? DEFAULTS.pingIntervalMs,
      rateLimitedDelayMs: options.rateLimitedDelayMs ?? DEFAULTS.rateLimitedDelayMs
    }
    this.tokens = new TokenSource(options.token)
    this.mirror = new Mirror(options.filter)
    this.outbox = new Outbox(this.options.maxQueued)
    this.tracker = new RequestTracker({
      timeoutMs: this.options.requestTimeoutMs,
      send: (text) => this.transport.send(text),
      retryable: (request, error) => this.retryLater(request, error),
      timedOut: (request) => this.onTimedOut(request)
    })
    const reconnect = options.reconnect ?? {}
    this.reconnectEnabled = reconnect !== false
    this.transport = new Transport({
      ...(reconnect === false ? {} : reconnect),
      url: connectUrl(options.url),
      WebSocket: WebSocketClass,
      reconnect: reconnect !== false,
      connectTimeoutMs: this.options.connectTimeoutMs,
      stableAfterMs: (reconnect === false ? undefined : reconnect.stableAfterMs) ?? DEFAULTS.stableAfterMs,
      random: options.random
    }, {
      prepare: async () => { this.token = await this.tokens.fetch() },
      open: () => this.onOpen(),
      message: (text) => this.onText(text),
      closed: (code, reason) => this.onClosed(code, reason),
      retrying: (attempt, delayMs, code, reason) => this.emit('reconnecting', { attempt, delayMs, code, reason }),
      state: (state) => this.onTransportState(state),
      failed: (error) => this.emit('error', error instanceof ContextError ? error : new ContextError('disconnected', String(error), undefined, { cause: error }))
    })
    this.ready = new Promise<void>((resolve, reject) => { this.settleReady = { resolve, reject } })
    // Never an unhandled rejection for users who do not await `ready`; awaiting it still throws.
    this.ready.catch(() => {})
    this.transport.start()
  }

  // ---- What the mirror holds -----------------------------------------------------------------

  /** The store as the server had it at `seq` (through the filter). Empty in mode `none`. */
  get entries (): ReadonlyMap<string, Entry> { return this.mirror.entries }
  /** The seq of the last change the mirror reflects. */
  get seq (): number { return this.mirror.seq }
  /** The history `seq` belongs to (CONTRACT §7); undefined with a server that sends none. */
  get epoch (): string | undefined { return this.mirror.epoch }
  /** The tenant's totals at `seq`. */
  get metadata (): StoreMetadata { return this.mirror.metadata }
  get state (): ConnectionState { return this.currentState }
  /** Who the server says we are, once authenticated. */
  get session (): SessionInfo | undefined { return this.sessionInfo }
  /** Requests waiting for a connection (or for a rate limit to pass), not yet on the wire. */
  get queued (): number { return this.outbox.size }

  // ---- Requests ------------------------------------------------------------------------------

  /** Creates or replaces an entry; exactly once, however often the connection drops meanwhile. */
  async update (input: WriteInput): Promise<UpdateAck> {
    const { idempotency_key: key, ...write } = input
    return replyOf(await this.request({ type: 'update_context', ...write, idempotency_key: key ?? idempotencyKey() }, 'update_ack'))
  }

  /** The whole store, fresh from the server (not the mirror). */
  async get (): Promise<ContextSnapshot> {
    const frame = await this.request({ type: 'get_context' }, 'context')
    return {
      entries: entryMap(frame),
      metadata: frame.metadata as StoreMetadata,
      seq: frame.seq as number,
      ...(typeof frame.epoch === 'string' ? { epoch: frame.epoch } : {})
    }
  }

  /** The matching entries, best first, within `max_tokens` when given. */
  async query (query: QueryInput = {}): Promise<QueryResult> {
    const frame = await this.request({ type: 'query_context', query }, 'query_response')
    return { entries: entryMap(frame), metadata: frame.metadata as QueryResult['metadata'] }
  }

  /** Removes entries: by `source` prefix, by `keys`, `all` (admin), or by default the caller's own. */
  async clear (options: ClearInput = {}): Promise<ClearResult> {
    const { idempotency_key: key, ...clear } = options
    return replyOf(await this.request({ type: 'clear_context', ...clear, idempotency_key: key ?? idempotencyKey() }, 'context_cleared'))
  }

  async setPriority (key: string, priority: number, options: { idempotency_key?: string } = {}): Promise<PriorityResult> {
    return replyOf(await this.request({
      type: 'set_priority', key, priority, idempotency_key: options.idempotency_key ?? idempotencyKey()
    }, 'priority_set'))
  }

  /** The server's status for this tenant (admin). */
  async status (): Promise<StatusResult> {
    return replyOf(await this.request({ type: 'get_status' }, 'status'))
  }

  async ping (): Promise<{ timestamp: string }> {
    return replyOf(await this.request({ type: 'ping' }, 'pong'))
  }

  /**
   * Closes the connection and stops reconnecting. Requests not yet answered are rejected with
   * `closed`; no timer of the client is left running. Calling it again returns the same promise.
   */
  async close (): Promise<void> {
    if (this.closing !== undefined) return await this.closing
    this.closing = (async () => {
      // 'closed' before anything is rejected: whoever sees a rejection sees the final state.
      this.setState('closed')
      this.terminate(new ContextError('closed', 'The client was closed'))
      await this.transport.stop(CLOSE_CODES.normal, 'client closed')
    })()
    return await this.closing
  }

  // ---- Sending -------------------------------------------------------------------------------

  private async request (message: Record<string, unknown> & { type: string }, replyType: string): Promise<ServerFrame> {
    if (this.closing !== undefined || this.currentState === 'closed') throw new ContextError('closed', 'The client is closed')
    const text = JSON.stringify(message)
    // UTF-8 is at most 3 bytes per UTF-16 unit: only long messages need counting.
    const bytes = text.length * 3 > this.options.maxMessageBytes ? encoder.encode(text).length + 32 : 0
    if (bytes > this.options.maxMessageBytes) {
      throw new ContextError('message_too_large', `The ${message.type} message is ${bytes} bytes; the limit is ${this.options.maxMessageBytes} (maxMessageBytes)`)
    }
    const frame = await new Promise<ServerFrame>((resolve, reject) => {
      const request = new PendingRequest(message, true, ++this.order, text, resolve, reject)
      try {
        this.outbox.add(request)
      } catch (error) {
        reject(error)
        return
      }
      this.flush()
    })
    if (frame.type !== replyType) throw new ContextError('protocol', `Expected ${replyType} in reply to ${message.type}, got ${frame.type}`)
    return frame
  }

  /** Sends what waits in the outbox, while connected and within maxInFlight. */
  /**
   * Sends what waits in the outbox, while connected and within maxInFlight. After a
   * `rate_limited`, and until the backlog is gone, one request per `paceMs`: a client that has
   * been told to slow down and keeps sending faster is closed 4029.
   */
  private flush (): void {
    while (this.phase === 'live' && this.tracker.size < this.options.maxInFlight) {
      if (this.outbox.size === 0 && this.tracker.size === 0) this.paceMs = 0
      const request = this.outbox.take()
      if (request === undefined) return
      request.pace = this.paceMs
      if (!this.tracker.write(request)) {
        this.outbox.restore([request])
        return
      }
      if (this.paceMs > 0) {
        this.outbox.pause(this.paceMs, () => this.flush())
        return
      }
    }
  }

  /** A message of the session itself (refresh, heartbeat): straight to the wire, never queued. */
  private async sessionRequest (message: Record<string, unknown> & { type: string }): Promise<ServerFrame> {
    return await new Promise<ServerFrame>((resolve, reject) => {
      const request = new PendingRequest(message, false, ++this.order, JSON.stringify(message), resolve, reject)
      if (!this.tracker.write(request)) reject(new ContextError('disconnected', 'Not connected'))
    })
  }

  /** `rate_limited` or a backend that is unavailable: send again later, holding everything else back too. */
  private retryLater (request: PendingRequest, error: ContextError): boolean {
    const unavailable = error.code === 'internal' && (error.details as { reason?: unknown } | undefined)?.reason === 'unavailable'
    if ((error.code !== 'rate_limited' && !unavailable) || !request.retryable || request.retries >= this.options.maxRetries) return false
    request.retries++
    const delay = error.code === 'rate_limited'
      ? (error.retryAfterMs ?? 1000)
      : Math.floor(Math.random() * Math.min(5000, 250 * 2 ** request.retries))
    this.outbox.restore([request])
    // Holding every request (not just this one), then pacing them, is what keeps a client from
    // being closed 4029. The pace starts at the wait the server asked for; a request refused
    // although it was sent at the current pace doubles it (the server refills slower than that).
    // It only grows while the backlog drains: each refusal counts against the client.
    if (error.code === 'rate_limited') {
      const refusedAtPace = this.paceMs > 0 && request.pace === this.paceMs
      this.paceMs = Math.min(MAX_PACE_MS, refusedAtPace ? Math.max(this.paceMs * 2, delay) : Math.max(this.paceMs, delay))
    }
    this.outbox.pause(delay, () => this.flush())
    return true
  }

  private onTimedOut (request: PendingRequest): void {
    // A heartbeat without an answer: the connection is dead even if the socket does not know it.
    if (request.message.type === 'ping' && !request.retryable) this.transport.drop('no reply to ping')
    else this.flush() // its place on the wire is free for the next request
  }

  // ---- The connection's life -----------------------------------------------------------------

  private onOpen (): void {
    this.phase = 'authenticating'
    this.connectSnapshot = undefined
    // The token travels in the first message, not in the URL, so it never lands in access logs.
    this.transport.send(JSON.stringify({ type: 'authenticate', id: AUTH_ID, token: this.token }))
  }

  private onText (text: string): void {
    this.lastFrameAt = Date.now()
    let frame: ServerFrame
    try {
      frame = JSON.parse(text) as ServerFrame
    } catch {
      this.emit('error', new ContextError('protocol', 'The server sent a frame that is not JSON'))
      return
    }
    if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') return
    if (this.phase === 'authenticating') this.onHandshakeFrame(frame)
    else if (frame.id !== undefined) {
      if (frame.type === 'query_response' || frame.type === 'context') replyTexts.set(frame, text)
      this.onReply(frame)
    } else this.onBroadcast(frame)
  }

  private onHandshakeFrame (frame: ServerFrame): void {
    if (frame.type === 'context') this.connectSnapshot = snapshotOf(frame)
    else if (frame.type === 'auth_success') this.onAuthenticated(frame)
    else if (frame.type === 'error') this.emit('error', errorFromFrame(frame))
  }

  private onAuthenticated (frame: ServerFrame): void {
    const { type: _type, id: _id, ...session } = frame
    this.sessionInfo = session as unknown as SessionInfo
    this.scheduleRefresh(this.sessionInfo.expires_at)
    if (this.options.mode === 'none') {
      this.goLive(false)
      return
    }
    const snapshot = this.connectSnapshot
    this.connectSnapshot = undefined
    // Resume when the server's store continues the mirror's history: the subscription below
    // replays every change after the mirror's seq (or the server sends a resync). Otherwise the
    // store sent on connect is the truth, and the mirror starts again from it.
    this.resumed = snapshot !== undefined && this.mirror.continues(snapshot.seq, snapshot.epoch)
    if (snapshot !== undefined && !this.resumed) this.resync(snapshot, this.mirror.loaded ? 'history' : 'initial')
    this.phase = 'subscribing'
    const epoch = this.mirror.epoch
    this.transport.send(JSON.stringify({
      type: 'subscribe',
      id: SUBSCRIBE_ID,
      mode: this.options.mode,
      ...(this.options.filter !== undefined ? { filter: this.options.filter } : {}),
      since_seq: this.mirror.seq,
      ...(epoch !== undefined ? { epoch } : {})
    }))
  }

  private onReply (frame: ServerFrame): void {
    if (frame.id === SUBSCRIBE_ID) {
      if (frame.type === 'subscribed') {
        this.goLive(this.resumed)
      } else if (frame.type === 'error') {
        const error = errorFromFrame(frame)
        this.emit('error', error)
        // Busy (rate_limited, internal): try again on a new connection. A subscription the
        // server refuses (a bad filter, forbidden) would be refused again: stop here.
        if (error.code === 'rate_limited' || error.code === 'internal') this.transport.drop('subscription not accepted now')
        else this.closeWith(error).catch(() => {}) // never rejects
      }
      return
    }
    this.tracker.settle(frame)
    this.flush()
  }

  private onBroadcast (frame: ServerFrame): void {
    switch (frame.type) {
      case 'context_delta': {
        const change = this.mirror.applyDelta(frame as never)
        if (change === 'other_history') {
          this.emit('error', new ContextError('protocol', 'A delta of another epoch arrived; reconnecting to resynchronize'))
          this.transport.drop('delta of another epoch')
        } else if (change !== undefined) {
          this.emit('change', change)
        }
        return
      }
      case 'context':
        // `resync: true`: history did not reach back, another epoch, or we fell behind.
        this.resync(snapshotOf(frame), 'server')
        return
      case 'context_update': {
        const change = this.mirror.applySnapshot(snapshotOf(frame))
        if (change !== undefined && (change.upserted.size > 0 || change.removed.length > 0)) this.emit('change', change)
        return
      }
      case 'error':
        this.emit('error', errorFromFrame(frame))
    }
  }

  private resync (snapshot: SnapshotFrame, cause: ResyncCause): void {
    const change = this.mirror.replace(snapshot, cause === 'initial' ? 'initial' : 'resync')
    const { entries, seq, epoch, metadata } = this.mirror
    this.emit('resync', { entries, seq, epoch, metadata, cause })
    if (change.upserted.size > 0 || change.removed.length > 0) this.emit('change', change)
  }

  private goLive (resumed: boolean): void {
    this.phase = 'live'
    this.transport.established()
    this.setState('connected')
    this.startHeartbeat()
    this.emit('connected', { ...(this.sessionInfo as SessionInfo), resumed })
    this.settleReady?.resolve()
    this.settleReady = undefined
    this.flush()
  }

  private onClosed (code: number, reason: string) {
    const wasLive = this.phase === 'live'
    this.phase = 'down'
    this.connection++
    this.connectSnapshot = undefined
    this.stopTimers()
    // Requests cut off on the wire wait for the next connection; each write carries its
    // idempotency key, so one the server did apply (its ack lost) is not applied again.
    const cutOff = this.tracker.detach()
    const disconnected = new ContextError('disconnected', `The connection closed (${code}) before the reply`)
    for (const request of cutOff) if (!request.retryable) request.reject(disconnected)
    this.outbox.restore(cutOff.filter((request) => request.retryable))
    const decision = closeDecision(code, { canRenewToken: this.tokens.renewable, rateLimitedDelayMs: this.options.rateLimitedDelayMs })
    const willReconnect = decision.reconnect && this.closing === undefined && this.reconnectEnabled
    if (wasLive) this.emit('disconnected', { code, reason, willReconnect })
    if (code === CLOSE_CODES.unauthorized || code === CLOSE_CODES.rateLimited) {
      this.emit('error', new ContextError(code === CLOSE_CODES.unauthorized ? 'unauthorized' : 'rate_limited', `Closed ${code} ${reason}: ${decision.why}`))
    }
    if (!willReconnect && this.closing === undefined) {
      const error = code === CLOSE_CODES.unauthorized
        ? new ContextError('unauthorized', `The server refused the token (${reason}); ${decision.why}`, { code, reason })
        : new ContextError('closed', `The connection closed (${code} ${reason}) and will not reconnect: ${decision.why}`, { code, reason })
      this.setState('closed')
      this.terminate(error)
    }
    return { ...decision, reconnect: willReconnect }
  }

  private onTransportState (state: TransportState): void {
    if (state === 'connecting') this.setState('connecting')
    else if (state === 'waiting') this.setState('disconnected')
    // 'open' is still connecting (authenticating); 'stopped' is handled by close() and onClosed.
  }

  /** Stops for good with an error (a refusal that will not change); the same as close() otherwise. */
  private async closeWith (error: ContextError): Promise<void> {
    if (this.closing !== undefined) return
    this.closing = (async () => {
      this.setState('closed')
      this.terminate(error)
      await this.transport.stop(CLOSE_CODES.normal, 'client stopped')
    })()
    await this.closing
  }

  /** Rejects everything pending with `error` and clears every timer of the client. */
  private terminate (error: ContextError): void {
    this.phase = 'down'
    this.stopTimers()
    this.outbox.rejectAll(error)
    for (const request of this.tracker.detach()) request.reject(error)
    this.settleReady?.reject(error)
    this.settleReady = undefined
  }

  private setState (state: ConnectionState): void {
    const previous = this.currentState
    if (previous === state || previous === 'closed') return
    this.currentState = state
    this.emit('state', { state, previous })
  }

  // ---- Timers: token refresh and heartbeat ----------------------------------------------------

  private scheduleRefresh (expiresAt: string): void {
    clearTimeout(this.refreshTimer)
    this.refreshTimer = undefined
    if (!this.tokens.renewable) return
    const at = Date.parse(expiresAt)
    if (Number.isNaN(at)) return
    const connection = this.connection
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined
      this.refresh(connection, at).catch(() => {}) // never rejects: it reports through the error event
    }, refreshDelay(at, Date.now(), this.options.refreshAheadMs))
  }

  /** In-band refresh (`refresh_token`) on the same connection, before the token expires. */
  private async refresh (connection: number, expiresAt: number): Promise<void> {
    let token: string
    try {
      token = await this.tokens.fetch()
    } catch (error) {
      if (connection !== this.connection) return
      this.emit('error', error as ContextError)
      // Try again while there is time; at expiry the server closes 4001 and the reconnect asks anew.
      if (expiresAt - Date.now() > 2000) this.scheduleRefresh(new Date(expiresAt).toISOString())
      return
    }
    if (connection !== this.connection || this.phase === 'down') return
    try {
      const reply = await this.sessionRequest({ type: 'refresh_token', token })
      if (connection !== this.connection) return
      const next = String(reply.expires_at)
      this.emit('token_refreshed', { expires_at: next })
      this.scheduleRefresh(next)
    } catch (error) {
      // A refused token: the server closes 4001 next, and the reconnect asks the provider again.
      if (connection === this.connection && error instanceof ContextError && error.code !== 'disconnected') this.emit('error', error)
    }
  }

  private startHeartbeat (): void {
    clearInterval(this.heartbeatTimer)
    this.heartbeatTimer = undefined
    const interval = this.options.pingIntervalMs
    if (interval <= 0) return
    this.heartbeatTimer = setInterval(() => {
      if (this.phase !== 'live' || this.pinging || Date.now() - this.lastFrameAt < interval) return
      this.pinging = true
      this.sessionRequest({ type: 'ping' }).then(() => { this.pinging = false }, () => { this.pinging = false })
    }, Math.min(interval, 2 ** 31 - 1))
  }

  private stopTimers (): void {
    clearTimeout(this.refreshTimer)
    clearInterval(this.heartbeatTimer)
    this.refreshTimer = undefined
    this.heartbeatTimer = undefined
    this.pinging = false
  }

  protected override onListenerError (event: keyof ClientEvents, error: unknown): void {
    // A listener's bug is reported, not allowed to break the mirror or the connection.
    if (event !== 'error') this.emit('error', new ContextError('listener', `A '${String(event)}' listener threw: ${String(error)}`, undefined, { cause: error }))
  }
}

/**
 * The URL the transport opens: the server broadcasts nothing until the client subscribes. In a
 * browser a relative URL (`/ws`) or an http(s) one means the page's own server.
 */
function connectUrl (url: string): string {
  const parsed = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:'
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:'
  parsed.searchParams.set('mode', 'none')
  return parsed.toString()
}

function snapshotOf (frame: ServerFrame): SnapshotFrame {
  return {
    data: (frame.data ?? {}) as Record<string, Entry>,
    seq: typeof frame.seq === 'number' ? frame.seq : 0,
    epoch: typeof frame.epoch === 'string' ? frame.epoch : undefined,
    metadata: frame.metadata as StoreMetadata | undefined
  }
}

/** A reply's `data` as a Map, in the order the server sent it (its rank order). */
function entryMap (frame: ServerFrame): Map<string, Entry> {
  const map = new Map<string, Entry>()
  const object = (frame.data ?? {}) as Record<string, Entry>
  const text = replyTexts.get(frame)
  for (const key of text === undefined ? Object.keys(object) : keysInTextOrder(object, text, 'data')) map.set(key, object[key])
  return map
}

/** A reply's own fields, without the envelope. */
function replyOf<T> (frame: ServerFrame): T {
  const { type: _type, id: _id, ...fields } = frame
  return fields as T
}

/** 128 random bits, hex: unique per write. getRandomValues works outside secure contexts too. */
function idempotencyKey (): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  let out = ''
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0')
  return out
}
