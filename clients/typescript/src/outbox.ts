// Requests waiting to be sent: made while disconnected, cut off by a disconnect before their reply,
// or told to wait (`rate_limited`). Bounded, so an application that keeps writing through a long
// outage learns it (`outbox_full`) instead of growing without limit. Writes in it carry their
// idempotency key, so sending one again after a lost ack is applied once.
import { MAX_TIMER_MS } from './backoff.js'
import { ContextError } from './errors.js'
import type { PendingRequest } from './request-tracker.js'

export class Outbox {
  private queue: PendingRequest[] = []
  private pauseTimer: ReturnType<typeof setTimeout> | undefined
  private pausedUntil = 0

  constructor (private readonly limit: number) {}

  get size (): number { return this.queue.length }

  /** Sending is on hold (the server asked us to wait). */
  get paused (): boolean { return this.pauseTimer !== undefined }

  /** Accepts a new request, or refuses it with `outbox_full`. */
  add (request: PendingRequest): void {
    if (this.queue.length >= this.limit) {
      throw new ContextError('outbox_full', `${this.queue.length} requests are already waiting for the connection (maxQueued)`, { limit: this.limit })
    }
    this.queue.push(request)
  }

  /**
   * Puts requests that were already accepted back in line, in acceptance order before any newer
   * ones. They do not count against the limit again: they were accepted once.
   */
  restore (requests: readonly PendingRequest[]): void {
    if (requests.length === 0) return
    this.queue = [...requests, ...this.queue].sort((a, b) => a.order - b.order)
  }

  /** The next request to send, unless sending is paused. */
  take (): PendingRequest | undefined {
    if (this.paused) return undefined
    return this.queue.shift()
  }

  /** Holds every request for `ms`, then calls `resume`. A longer pause wins over a shorter one. */
  pause (ms: number, resume: () => void): void {
    const until = Date.now() + Math.max(0, ms)
    if (this.paused && until <= this.pausedUntil) return
    this.pausedUntil = until
    clearTimeout(this.pauseTimer)
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined
      resume()
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS))
  }

  /** Rejects everything waiting and clears the pause timer (the client is closing). */
  rejectAll (error: ContextError): void {
    clearTimeout(this.pauseTimer)
    this.pauseTimer = undefined
    const waiting = this.queue
    this.queue = []
    for (const request of waiting) request.reject(error)
  }
}
