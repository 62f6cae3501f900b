// The socket's lifecycle and nothing above it: open a WebSocket, hand its text frames up, and when
// it closes ask whether to come back; if so, after a backoff delay with full jitter. The backoff
// is reset only after a connection has stayed up for `stableAfterMs`, so a server that accepts
// and then drops at once is not hammered. It knows no message type: the client speaks the protocol.
import { Backoff, MAX_TIMER_MS, type BackoffOptions } from './backoff.js'
import { CLOSE_CODES, type CloseDecision } from './close-policy.js'
import type { WebSocketConstructor, WebSocketLike } from './types.js'

export type TransportState = 'connecting' | 'open' | 'waiting' | 'stopped'

export interface TransportOptions extends BackoffOptions {
  readonly url: string
  readonly WebSocket: WebSocketConstructor
  /** Whether to come back at all after a close. */
  readonly reconnect: boolean
  /** An attempt not `established()` within this long is dropped and retried. */
  readonly connectTimeoutMs: number
  /** A connection up this long resets the backoff. */
  readonly stableAfterMs: number
  readonly random?: () => number
}

export interface TransportHandlers {
  /** Before every attempt (the token is fetched here). A rejection fails the attempt. */
  prepare: () => Promise<void>
  open: () => void
  message: (text: string) => void
  /** The socket closed (or the attempt failed); the answer says whether to come back. */
  closed: (code: number, reason: string) => CloseDecision
  retrying: (attempt: number, delayMs: number, code: number, reason: string) => void
  state: (state: TransportState) => void
  /** An attempt failed before a socket existed (the prepare step threw). */
  failed: (error: unknown) => void
}

const OPEN = 1
const CONNECTING = 0
const CLOSED = 3
// How long stop() waits for the server's half of the close handshake before giving up on it.
const CLOSE_WAIT_MS = 1000

export class Transport {
  private socket: WebSocketLike | undefined
  private current: TransportState = 'stopped'
  private readonly backoff: Backoff
  private attemptTimer: ReturnType<typeof setTimeout> | undefined
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private stableTimer: ReturnType<typeof setTimeout> | undefined
  // Bumped by every new attempt and by stop(): a late callback of an older attempt is ignored.
  private generation = 0
  private stopped = false

  constructor (private readonly options: TransportOptions, private readonly handlers: TransportHandlers) {
    this.backoff = new Backoff(options, options.random)
  }

  get state (): TransportState { return this.current }

  start (): void {
    this.stopped = false
    this.attempt().catch(() => {}) // never rejects: failures end in onClosed
  }

  /** Sends a text frame; false when there is no open socket (the caller keeps the message). */
  send (text: string): boolean {
    if (this.socket === undefined || this.socket.readyState !== OPEN) return false
    this.socket.send(text)
    return true
  }

  /** The protocol handshake succeeded: stop the attempt's deadline, start the stability clock. */
  established (): void {
    clearTimeout(this.attemptTimer)
    this.attemptTimer = undefined
    clearTimeout(this.stableTimer)
    this.stableTimer = setTimeout(() => { this.backoff.reset() }, Math.min(this.options.stableAfterMs, MAX_TIMER_MS))
  }

  /**
   * Abandons the current socket at once (it stopped answering, or broke the protocol) and goes on
   * as for any close. Does not wait for a close handshake a dead peer would never finish.
   */
  drop (reason: string): void {
    const socket = this.socket
    if (socket === undefined) return
    this.detach(socket)
    closeQuietly(socket, CLOSE_CODES.clientDropped, reason)
    this.onClosed(CLOSE_CODES.clientDropped, reason)
  }

  /** Closes for good: no reconnect, every timer cleared. Resolves once the socket has closed. */
  async stop (code: number = CLOSE_CODES.normal, reason = 'client closed'): Promise<void> {
    this.stopped = true
    this.generation++
    this.clearTimers()
    const current = this.socket
    this.socket = undefined
    this.setState('stopped')
    if (current === undefined) return
    const socket: WebSocketLike = current
    if (socket.readyState !== OPEN && socket.readyState !== CONNECTING) {
      this.detach(socket)
      return
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, CLOSE_WAIT_MS)
      function finish (): void {
        clearTimeout(timer)
        socket.onclose = null
        resolve()
      }
      socket.onmessage = null
      socket.onopen = null
      socket.onerror = () => {}
      socket.onclose = finish
      closeQuietly(socket, code, reason)
    })
    // A peer that never answered the close: make sure the socket is gone (ws has terminate()).
    const terminate = (socket as { terminate?: () => void }).terminate
    if ((socket.readyState as number) !== CLOSED && typeof terminate === 'function') terminate.call(socket)
  }

  private async attempt (): Promise<void> {
    const generation = ++this.generation
    this.setState('connecting')
    clearTimeout(this.attemptTimer)
    this.attemptTimer = setTimeout(() => {
      if (generation !== this.generation) return
      if (this.socket !== undefined) this.drop('connect timeout')
      else this.onClosed(CLOSE_CODES.clientDropped, 'connect timeout')
    }, Math.min(this.options.connectTimeoutMs, MAX_TIMER_MS))
    try {
      await this.handlers.prepare()
    } catch (error) {
      if (generation !== this.generation) return
      this.handlers.failed(error)
      this.onClosed(CLOSE_CODES.abnormal, 'could not prepare the connection')
      return
    }
    if (generation !== this.generation) return
    let socket: WebSocketLike
    try {
      socket = new this.options.WebSocket(this.options.url)
    } catch (error) {
      // A malformed URL throws here; it will not get better by itself.
      this.handlers.failed(error)
      this.onClosed(CLOSE_CODES.policyViolation, 'could not open a WebSocket')
      return
    }
    this.socket = socket
    socket.onopen = () => {
      if (generation === this.generation && this.socket === socket) {
        this.setState('open')
        this.handlers.open()
      }
    }
    socket.onmessage = (event) => {
      if (generation === this.generation && this.socket === socket) this.handlers.message(textOf(event.data))
    }
    // A failed or lost socket always ends with a close event; that is where it is handled.
    socket.onerror = () => {}
    socket.onclose = (event) => {
      if (generation !== this.generation || this.socket !== socket) return
      this.detach(socket)
      this.onClosed(event.code, event.reason)
    }
  }

  private onClosed (code: number, reason: string): void {
    this.socket = undefined
    this.generation++
    this.clearTimers()
    if (this.stopped) return
    const decision = this.handlers.closed(code, reason)
    if (this.stopped) return
    if (!decision.reconnect || !this.options.reconnect) {
      this.stopped = true
      this.setState('stopped')
      return
    }
    const delay = Math.min(MAX_TIMER_MS, Math.max(decision.minDelayMs, this.backoff.next()))
    this.setState('waiting')
    this.handlers.retrying(this.backoff.attempt, delay, code, reason)
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.attempt().catch(() => {}) // never rejects: failures end in onClosed
    }, delay)
  }

  private detach (socket: WebSocketLike): void {
    socket.onopen = null
    socket.onmessage = null
    socket.onclose = null
    socket.onerror = () => {}
    if (this.socket === socket) this.socket = undefined
  }

  private clearTimers (): void {
    clearTimeout(this.attemptTimer)
    clearTimeout(this.retryTimer)
    clearTimeout(this.stableTimer)
    this.attemptTimer = undefined
    this.retryTimer = undefined
    this.stableTimer = undefined
  }

  private setState (state: TransportState): void {
    if (this.current === state) return
    this.current = state
    this.handlers.state(state)
  }
}

function closeQuietly (socket: WebSocketLike, code: number, reason: string): void {
  try {
    socket.close(code, reason)
  } catch {
    // Closing a socket that is still connecting throws in some implementations; it is gone anyway.
  }
}

const decoder = typeof TextDecoder === 'function' ? new TextDecoder() : undefined

/** A frame's text: browsers and ws give a string for text frames; be lenient with bytes. */
function textOf (data: unknown): string {
  if (typeof data === 'string') return data
  if (decoder !== undefined && (data instanceof ArrayBuffer || ArrayBuffer.isView(data))) return decoder.decode(data as ArrayBuffer)
  return String(data)
}
