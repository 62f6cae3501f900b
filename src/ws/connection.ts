// One WebSocket connection from upgrade to close: authentication, then each frame's path
// (size and type checks, rate limit, parse, validate, handle, reply, effects), and the socket end
// of broadcasts (unsent bytes, drain, slow-consumer close).
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { RawData, WebSocket } from 'ws'
import type { Identity } from '../auth/identity.js'
import { TokenRevokedError } from '../security/revocation-list.js'
import type { ErrorCode } from '../errors.js'
import { connectQuerySchema, type BroadcastMode, type ClientMessage, type MessageId } from '../protocol/messages.js'
import { issueDetails } from '../protocol/schemas.js'
import { serverInfo } from '../server-info.js'
import type { Group, Subscriber } from './broadcaster.js'
import { ClientSession } from './client-session.js'
import { parseFrame } from './frame-parser.js'
import { handleMessage, type Effect, type Outcome } from './handlers.js'
import type { WsHub } from './hub.js'
import { RateLimiter, type RateDecision } from './rate-limiter.js'
import { errorFrame, replyFrame } from './serialization.js'
import { subscriptionOf } from './subscription.js'

/** What the connection needs from the upgrade request; the request itself is not kept. */
export interface ConnectRequest {
  readonly authorization?: string
  readonly query: unknown
  /** The TCP socket under the WebSocket, for 'drain' events. */
  readonly netSocket: Socket
}

const OPEN = 1
const TEXT_FRAME = { binary: false }

export const CLOSE = {
  goingAway: 1001,
  unsupportedData: 1003,
  policyViolation: 1008,
  tryAgainLater: 1013,
  unauthorized: 4001,
  idle: 4002,
  slowConsumer: 4008,
  rateLimited: 4029
} as const

/** The `Authorization: Bearer <jwt>` credential, or undefined for a missing or other scheme. */
function bearerCredential (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1]
}

export class Connection implements Subscriber {
  // 96 random bits as one flat 16-character string (a UUID string is built from a dozen
  // concatenated pieces that stay alive as long as the id does: ~300 bytes per connection).
  readonly id = randomBytes(12).toString('base64url')
  session: ClientSession | undefined
  // Broadcast state (see Broadcaster).
  cursor = 0
  pending: Subscriber['pending'] = 'none'
  heldBytes = 0
  group: Group | undefined
  // Heartbeat state (see WsHub): pings sent without a pong since.
  missedPongs = 0
  private awaitingPong = false
  // Made at the first message (and the first write): an idle connection holds no bucket. A bucket
  // starts full, and one made later is exactly the full bucket it would have refilled to.
  private limiter: RateLimiter | undefined
  private byteLimiter: RateLimiter | undefined
  private authTimer: NodeJS.Timeout | undefined
  // The connect options (query string), kept as two fields until authentication uses them.
  private connectMode: BroadcastMode = 'snapshot'
  private connectSinceSeq: number | undefined
  private connectEpoch: string | undefined
  private closing = false
  private drainArmed = false
  private corked = false
  // Flow-control accounting (see backlogBytes and chargedBytes): the socket's backlog when this
  // tick's cork began, the broadcast bytes queued in this tick, and an upper bound on the unsent
  // bytes of the one whole-view frame (context, resync, snapshot update) that is not charged.
  private backlogAtCork = 0
  private tickBroadcastBytes = 0
  private wholeViewBytes = 0

  constructor (private readonly socket: WebSocket, private readonly netSocket: Socket, private readonly hub: WsHub) {}

  get tenant (): string { return this.session?.tenant ?? '' }
  get authenticated (): boolean { return this.session !== undefined }

  /**
   * Runs right after the upgrade. The frame listener is attached first and synchronously, so no
   * frame that arrives while anything else happens can be lost.
   */
  start (request: ConnectRequest): void {
    // Shared listener functions find their connection on the socket: three closures per
    // connection would cost more than the tag.
    const socket = this.socket as TaggedSocket
    socket[CONNECTION] = this
    socket.on('message', onSocketMessage)
    socket.on('close', onSocketClose)
    socket.on('pong', onSocketPong)

    const options = connectQuerySchema.safeParse(request.query)
    if (!options.success) {
      this.sendText(errorFrame(undefined, 'validation_error', 'Invalid connection parameters', issueDetails(options.error)))
      this.close(CLOSE.policyViolation, 'Invalid connection parameters')
      return
    }
    this.connectMode = options.data.mode ?? 'snapshot'
    this.connectSinceSeq = options.data.since_seq
    this.connectEpoch = options.data.epoch

    // Credentials, the first found wins: the header, then the `token` query parameter, then an
    // `authenticate` message within MCP_AUTH_TIMEOUT.
    const fromHeader = bearerCredential(request.authorization)
    if (fromHeader !== undefined) return this.authenticate(fromHeader, undefined)
    const fromQuery = (request.query as { token?: unknown } | undefined)?.token
    if (fromQuery !== undefined) {
      if (typeof fromQuery === 'string') return this.authenticate(fromQuery, undefined)
      return this.refuse('Invalid authentication token', 'invalid')
    }
    this.authTimer = setTimeout(() => this.refuse('Authentication token required', 'timeout'), this.hub.config.authTimeoutMs)
    this.authTimer.unref()
  }

  // ---- Frames ------------------------------------------------------------------------------

  /** @internal Every frame of the socket, first thing. */
  onFrame (data: RawData, isBinary: boolean): void {
    if (this.closing) return
    try {
      if (isBinary) {
        this.hub.metrics.errors.inc({ code: 'binary_frame', surface: 'ws' })
        this.close(CLOSE.unsupportedData, 'Binary frames are not supported')
        return
      }
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[])
      const text = bytes.toString('utf8')
      if (this.session === undefined) this.onFirstFrame(text)
      else this.onMessage(this.session, text, bytes.length)
    } catch (error) {
      // A bug in one frame's path must cost that frame only, never the process or other clients.
      this.hub.log.error({ err: error, clientId: this.id }, 'websocket frame failed')
      this.sendText(errorFrame(undefined, 'internal', 'Internal error'))
    }
  }

  private onFirstFrame (text: string): void {
    const parsed = parseFrame(text)
    if (parsed.ok && parsed.message.type === 'authenticate') this.authenticate(parsed.message.token, parsed.message.id)
    else this.refuse('Authentication token required', 'missing')
  }

  private onMessage (session: ClientSession, text: string, byteLength: number): void {
    const now = Date.now()
    session.lastActivityMs = now
    // Checked at each message, not only by the hub's once-a-second sweep: nothing is served on
    // an expired token.
    if (now >= session.identity.expiresAt) {
      this.close(CLOSE.unauthorized, 'Token expired')
      return
    }
    const { config } = this.hub
    this.limiter ??= new RateLimiter(config.wsRateLimit, config.wsRateBurst, now)
    const rate = this.limiter.take(now)
    if (!rate.allowed) {
      this.limited(rate, idOf(parseFrame(text)), 'Too many messages; slow down')
      return
    }
    const parsed = parseFrame(text)
    if (!parsed.ok) {
      this.replyError(parsed.id, parsed.code, parsed.message, parsed.details)
      return
    }
    const message = parsed.message
    if (message.type === 'update_context' || message.type === 'context_update') {
      // The byte rate (CONTRACT §9) charges the write frame as received: its content plus an
      // envelope of a few dozen bytes.
      this.byteLimiter ??= new RateLimiter(config.wsByteRate, config.wsByteRate * 2, now)
      const bytes = this.byteLimiter.take(now, byteLength)
      if (!bytes.allowed) {
        this.limited(bytes, message.id, 'Too much content written; slow down')
        return
      }
    }
    if (this.hub.draining) {
      // `unavailable` travels as `internal` with details.reason (src/errors.ts): clients retry it elsewhere.
      this.replyError(message.id, 'internal', 'The server is shutting down; reconnect and send again', { reason: 'unavailable' })
      return
    }
    const started = performance.now()
    const outcome = handleMessage(message, session, this.hub.deps)
    if (outcome instanceof Promise) {
      // handleMessage never rejects; the hub counts the message in flight until it is answered.
      this.hub.messageStarted()
      outcome.then((result) => {
        try {
          this.finish(message, result, started)
        } catch (error) {
          this.hub.log.error({ err: error, clientId: this.id }, 'websocket reply failed')
        } finally {
          this.hub.messageFinished()
        }
      }, () => {})
    } else {
      this.finish(message, outcome, started)
    }
  }

  /** A refused message: `rate_limited`, or close 4029 for a client that keeps on after being told. */
  private limited (decision: Extract<RateDecision, { allowed: false }>, id: MessageId | undefined, message: string): void {
    if (decision.exhausted) {
      this.countError('rate_limit_exceeded')
      this.close(CLOSE.rateLimited, 'Rate limit exceeded')
      return
    }
    this.replyError(id, 'rate_limited', message, undefined, { retry_after_ms: decision.retryAfterMs })
  }

  private finish (message: ClientMessage, outcome: Outcome, started: number): void {
    // A get_context reply is the whole store, like the one sent on connect.
    const wholeView = message.type === 'get_context'
    for (const frame of outcome.replies) this.sendText(frame, wholeView)
    if (outcome.error !== undefined) this.countError(outcome.error)
    if (outcome.failure !== undefined) this.hub.log.error({ err: outcome.failure, clientId: this.id, type: message.type }, 'websocket message failed')
    if (outcome.effect !== undefined && !this.closing) this.apply(outcome.effect)
    this.hub.countMessage(message.type, (performance.now() - started) / 1000)
  }

  private apply (effect: Effect): void {
    const session = this.session as ClientSession
    switch (effect.kind) {
      case 'subscribe': {
        // One synchronous block: the cursor is set and the replay built with no change in between.
        session.subscription = effect.subscription
        const { broadcaster } = this.hub
        const replay = effect.sinceSeq === undefined
          ? { frames: [], cursor: broadcaster.publishedSeq(session.tenant), wholeView: false }
          : broadcaster.replay(session.tenant, effect.subscription, effect.sinceSeq, effect.epoch)
        this.sendText(replyFrame('subscribed', effect.id, {
          mode: effect.subscription.mode, seq: replay.cursor, epoch: this.hub.store.epoch(session.tenant)
        }))
        for (const frame of replay.frames) this.send(frame, replay.wholeView)
        broadcaster.subscribe(this, effect.subscription, replay.cursor)
        return
      }
      case 'refresh':
        session.identity = effect.identity
        return
      case 'close':
        // The one close a handler asks for is a refused token refresh (contract §2).
        if (effect.code === CLOSE.unauthorized) this.hub.audit.refused({ surface: 'ws', reason: 'refresh_refused' })
        this.close(effect.code, effect.reason)
    }
  }

  // ---- Authentication ----------------------------------------------------------------------

  private authenticate (token: string, id: MessageId | undefined): void {
    clearTimeout(this.authTimer)
    this.authTimer = undefined
    const { hub } = this
    let identity: Identity
    try {
      identity = hub.deps.verifyToken(token)
    } catch (error) {
      if (error instanceof TokenRevokedError) hub.audit.refused({ surface: 'ws', reason: 'revoked', token: error.token })
      this.refuse('Invalid authentication token', 'invalid', error instanceof TokenRevokedError)
      return
    }
    // An idle MCP session of the same user gives way; only clients in use lock the user out.
    if (!hub.sessions.hasRoomForUser(identity.tenant, identity.userId, hub.config.maxConnectionsPerUser)) {
      hub.metrics.authAttempts.inc({ result: 'over_capacity', surface: 'ws' })
      this.close(CLOSE.tryAgainLater, 'Too many connections for this user')
      return
    }
    const now = Date.now()
    const session = new ClientSession(this.id, identity, subscriptionOf(this.connectMode, undefined), now)
    // CONTRACT §2: the store first, then auth_success. Both are built before the session is
    // registered, so nothing that fails while building them can leave a half-authenticated client.
    const storeFrame = hub.broadcaster.joinFrame(identity.tenant)
    const successFrame = replyFrame('auth_success', id, {
      client_id: this.id,
      user_id: identity.userId,
      roles: identity.roles,
      tenant: identity.tenant,
      authenticated_at: session.authenticatedAt.toISOString(),
      expires_at: new Date(identity.expiresAt).toISOString(),
      server_info: serverInfo(hub.config, hub.store.backend),
      // The caller's tenant's history (contract §7), as of the store frame just built.
      seq: storeFrame.seq,
      epoch: hub.store.epoch(identity.tenant)
    })
    this.session = session
    hub.sessions.add(session)
    hub.metrics.authAttempts.inc({ result: 'success', surface: 'ws' })
    hub.metrics.connections.dec({ state: 'pending' })
    hub.metrics.connections.inc({ state: 'authenticated' })

    // The store, whatever its size, reaches a client that reads: it is a whole-view frame.
    this.send(storeFrame.bytes, true)
    this.sendText(successFrame)
    const sinceSeq = this.connectSinceSeq
    if (sinceSeq === undefined) {
      hub.broadcaster.subscribe(this, session.subscription, storeFrame.seq)
    } else {
      const replay = hub.broadcaster.replay(identity.tenant, session.subscription, sinceSeq, this.connectEpoch)
      for (const frame of replay.frames) this.send(frame, replay.wholeView)
      hub.broadcaster.subscribe(this, session.subscription, replay.cursor)
    }
  }

  /** Closes 4001 with one of the contract's two reasons; the reason never carries the token. */
  private refuse (reason: 'Authentication token required' | 'Invalid authentication token', result: 'invalid' | 'missing' | 'timeout', audited = false): void {
    this.hub.metrics.authAttempts.inc({ result, surface: 'ws' })
    if (!audited) this.hub.audit.refused({ surface: 'ws', reason: result })
    this.close(CLOSE.unauthorized, reason)
  }

  // ---- Upkeep (called by the hub's timers) -------------------------------------------------

  /** A heartbeat tick: a client that has missed two pings in a row is gone; terminate it. */
  heartbeat (): void {
    if (this.closing) return
    if (this.awaitingPong && ++this.missedPongs >= 2) {
      this.closing = true
      this.socket.terminate()
      return
    }
    // A client that stopped reading after one large tick of broadcasts is not judged again until
    // the next broadcast; the heartbeat bounds how long it can hold that.
    if (this.chargedBytes() > this.hub.config.maxBufferedBytes) {
      this.closeSlow()
      return
    }
    this.awaitingPong = true
    this.socket.ping()
  }

  /** Closes a client whose token has expired (4001) or that has been idle too long (4002). */
  checkDeadlines (now: number): void {
    const session = this.session
    if (session === undefined || this.closing) return
    if (now >= session.identity.expiresAt) this.close(CLOSE.unauthorized, 'Token expired')
    else if (now - session.lastActivityMs > this.hub.config.connectionTimeoutMs) this.close(CLOSE.idle, 'Connection timeout')
  }

  /** @internal */
  onPong (): void {
    this.awaitingPong = false
    this.missedPongs = 0
  }

  // ---- Sending and closing -----------------------------------------------------------------

  /** The bytes the socket had not sent when this tick began; frames queued in this tick do not count. */
  backlogBytes (): number {
    return this.corked ? this.backlogAtCork : this.socket.bufferedAmount
  }

  /**
   * The unsent bytes charged against MCP_MAX_BUFFERED_BYTES: the backlog and this tick's replies
   * (the client's own requests), but not this tick's broadcasts (judged once the socket had a
   * chance to send them) nor the one whole-view frame still being sent.
   */
  chargedBytes (): number {
    const unsent = this.socket.bufferedAmount
    // What remains of the whole-view frame is never more than all that remains.
    this.wholeViewBytes = Math.min(this.wholeViewBytes, unsent)
    return Math.max(0, unsent - this.tickBroadcastBytes - this.wholeViewBytes)
  }

  /**
   * Writes a frame built once for many clients (shared bytes, sent as text). A whole-view frame
   * (the store on connect, a resync, a snapshot update, a get_context reply) is not charged
   * against the cap, one at a time: the largest one still unsent is exempt, so the store reaches
   * a client that reads whatever its size, and a client that asks for it again and again before
   * reading it is still cut off.
   */
  send (frame: Buffer, wholeView: boolean): void {
    if (this.socket.readyState !== OPEN) return
    this.corkForThisTick()
    if (wholeView) this.wholeViewBytes = Math.max(Math.min(this.wholeViewBytes, this.socket.bufferedAmount), frame.length)
    else this.tickBroadcastBytes += frame.length
    this.socket.send(frame, TEXT_FRAME)
  }

  /**
   * Holds this tick's frames in the socket and writes them with one system call: a client that
   * pipelines messages gets its replies (and broadcasts) together, not one writev each. Replies to
   * a store write are sent from a microtask; the uncork is a nextTick scheduled after them.
   */
  private corkForThisTick (): void {
    if (this.corked) return
    this.corked = true
    this.backlogAtCork = this.socket.bufferedAmount
    this.netSocket.cork()
    process.nextTick(uncork, this)
  }

  /** @internal Ends corkForThisTick. */
  uncork (): void {
    this.corked = false
    this.tickBroadcastBytes = 0
    this.netSocket.uncork()
  }

  notifyOnDrain (): void {
    if (this.drainArmed) return
    this.drainArmed = true
    this.netSocket.once('drain', () => {
      this.drainArmed = false
      if (!this.closing) this.hub.broadcaster.drained(this)
    })
  }

  closeSlow (): void {
    this.countError('slow_consumer')
    this.close(CLOSE.slowConsumer, 'Slow consumer')
  }

  /** Writes a direct reply; unlike broadcasts it is charged at once (the client asked for it). */
  private sendText (frame: string, wholeView = false): void {
    if (this.socket.readyState !== OPEN) return
    if (wholeView) this.send(Buffer.from(frame), true)
    else {
      this.corkForThisTick()
      this.socket.send(frame)
    }
    if (this.chargedBytes() > this.hub.config.maxBufferedBytes) this.closeSlow()
  }

  private replyError (id: MessageId | undefined, code: ErrorCode, message: string, details?: unknown, extra?: Record<string, unknown>): void {
    this.countError(code)
    this.sendText(errorFrame(id, code, message, details, extra))
  }

  private countError (code: string): void {
    this.hub.metrics.errors.inc({ code, surface: 'ws' })
  }

  /** Starts a close handshake; broadcasts stop at once. */
  close (code: number, reason: string): void {
    if (this.closing) return
    this.closing = true
    clearTimeout(this.authTimer)
    this.hub.broadcaster.leave(this)
    this.hub.metrics.wsCloses.inc({ code: String(code) })
    this.socket.close(code, reason)
  }

  /** Forces the socket shut (shutdown, after the close handshake had its chance). */
  terminate (): void {
    this.closing = true
    this.socket.terminate()
  }

  /** @internal The socket has closed (handshake done, or cut). */
  onClosed (): void {
    this.closing = true
    clearTimeout(this.authTimer)
    this.hub.broadcaster.leave(this)
    if (this.session !== undefined) this.hub.sessions.remove(this.id)
    this.hub.metrics.connections.dec({ state: this.session !== undefined ? 'authenticated' : 'pending' })
    this.hub.forget(this)
  }
}

const CONNECTION = Symbol('connection')
type TaggedSocket = WebSocket & { [CONNECTION]: Connection }

function onSocketMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as TaggedSocket)[CONNECTION].onFrame(data, isBinary)
}

function onSocketClose (this: WebSocket): void {
  (this as TaggedSocket)[CONNECTION].onClosed()
}

function onSocketPong (this: WebSocket): void {
  (this as TaggedSocket)[CONNECTION].onPong()
}

function uncork (connection: Connection): void {
  connection.uncork()
}

function idOf (parsed: ReturnType<typeof parseFrame>): MessageId | undefined {
  return parsed.ok ? parsed.message.id : parsed.id
}
