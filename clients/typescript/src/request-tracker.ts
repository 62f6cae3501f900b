// Requests on the wire: each gets an id, a deadline and a promise; the server's reply with that id
// settles it. An error reply becomes a ContextError carrying the contract's code. Replies to
// retryable errors (`rate_limited`, a backend `unavailable`) and requests cut off by a disconnect
// are handed back to the caller, which decides where they wait (the outbox).
import { MAX_TIMER_MS } from './backoff.js'
import { ContextError, errorFromFrame } from './errors.js'
import type { ServerFrame } from './types.js'

/** One request from the moment it is accepted until it is answered, refused or abandoned. */
export class PendingRequest {
  id: string | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  /** Times it was sent again after a retryable error. */
  retries = 0
  /** The client's pace (ms between sends) when it was last sent; 0 when not pacing. */
  pace = 0

  constructor (
    /** The message without its id (a fresh id is given on every send). */
    readonly message: Readonly<Record<string, unknown>> & { readonly type: string },
    /** Safe to send again after a disconnect: a read, or a write with an idempotency key. */
    readonly retryable: boolean,
    /** Acceptance order: requests waiting again go back in this order. */
    readonly order: number,
    /** The message as JSON, made once: every send reuses it with a fresh id. */
    readonly text: string,
    private readonly onResolve: (frame: ServerFrame) => void,
    private readonly onReject: (error: ContextError) => void
  ) {}

  resolve (frame: ServerFrame): void { this.onResolve(frame) }
  reject (error: ContextError): void { this.onReject(error) }
}

export interface TrackerOptions {
  readonly timeoutMs: number
  /** Writes one text frame; false when it could not (no open socket). */
  readonly send: (text: string) => boolean
  /** An error reply that may succeed later: the tracker lets go of the request. */
  readonly retryable: (request: PendingRequest, error: ContextError) => boolean
  /** A request ran out of time (after it was rejected with `timeout`). */
  readonly timedOut?: (request: PendingRequest) => void
}

export class RequestTracker {
  private readonly inFlight = new Map<string, PendingRequest>()
  private nextId = 0

  constructor (private readonly options: TrackerOptions) {}

  get size (): number { return this.inFlight.size }

  /** Sends a request with a fresh id and starts its deadline. False when it could not be sent. */
  write (request: PendingRequest): boolean {
    const id = `c${++this.nextId}`
    // The message text was made once at acceptance; the id goes in front of its other fields.
    const text = `{"id":${JSON.stringify(id)},${request.text.slice(1)}`
    if (!this.options.send(text)) return false
    request.id = id
    this.inFlight.set(id, request)
    request.timer = setTimeout(() => this.expire(request), Math.min(this.options.timeoutMs, MAX_TIMER_MS))
    return true
  }

  /**
   * Settles the request a reply belongs to. True when the frame was a reply to one of ours (a
   * reply to a request that already timed out is dropped here too: it is nobody's news).
   */
  settle (frame: ServerFrame): boolean {
    if (frame.id === undefined) return false
    const request = this.inFlight.get(String(frame.id))
    if (request === undefined) return true
    this.release(request)
    if (frame.type !== 'error') {
      request.resolve(frame)
      return true
    }
    const error = errorFromFrame(frame)
    if (!this.options.retryable(request, error)) request.reject(error)
    return true
  }

  /** Lets go of every request on the wire (the connection closed), oldest first. */
  detach (): PendingRequest[] {
    const requests = [...this.inFlight.values()]
    for (const request of requests) this.release(request)
    return requests
  }

  private expire (request: PendingRequest): void {
    if (request.id === undefined || this.inFlight.get(request.id) !== request) return
    this.release(request)
    const key = request.message.idempotency_key
    request.reject(new ContextError('timeout', `No reply to ${request.message.type} within ${this.options.timeoutMs} ms`,
      key === undefined ? { type: request.message.type } : { type: request.message.type, idempotency_key: key }))
    this.options.timedOut?.(request)
  }

  private release (request: PendingRequest): void {
    clearTimeout(request.timer)
    request.timer = undefined
    if (request.id !== undefined) this.inFlight.delete(request.id)
    request.id = undefined
  }
}
