// Per-connection rates as token buckets, two numbers per bucket and no timers (it refills lazily
// when a message arrives): the message rate (MCP_WS_RATE_LIMIT per second, MCP_WS_RATE_BURST
// deep) and the content byte rate (MCP_WS_BYTE_RATE per second, twice that deep).

export type RateDecision =
  | { readonly allowed: true }
  | { readonly allowed: false, readonly retryAfterMs: number, readonly exhausted: boolean }

// The one answer of a message let through, shared: a decision per message would be garbage.
const ALLOWED: RateDecision = Object.freeze({ allowed: true })

export class RateLimiter {
  private tokens: number
  private refilledAt: number
  // What was refused since the bucket was last full. It is not forgiven by the odd message that
  // passes (a flooder gets one through each time a token refills), only by a spell at or below
  // the rate long enough to fill the bucket again.
  private refused = 0

  /**
   * @param perSecond sustained cost per second (messages, or bytes)
   * @param capacity bucket depth: how much may arrive at once after a quiet spell
   * @param now the clock, in milliseconds
   */
  constructor (private readonly perSecond: number, private readonly capacity: number, now: number) {
    this.tokens = capacity
    this.refilledAt = now
  }

  /**
   * Takes `cost` from the bucket. A cost larger than the whole bucket passes once the bucket is
   * full and leaves it in debt, so it is possible at all but not more often than the rate allows.
   * A refusal adds its cost to what was refused; `exhausted` turns true once that exceeds a
   * whole bucket (more than could have been in flight when the first `rate_limited` left): the
   * client keeps on regardless of being told.
   */
  take (now: number, cost = 1): RateDecision {
    const elapsed = now - this.refilledAt
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.perSecond) / 1000)
      this.refilledAt = now
    }
    if (this.tokens >= this.capacity) this.refused = 0
    const needed = Math.min(cost, this.capacity)
    if (this.tokens >= needed) {
      this.tokens -= cost
      return ALLOWED
    }
    this.refused += cost
    return {
      allowed: false,
      retryAfterMs: Math.ceil(((needed - this.tokens) * 1000) / this.perSecond),
      exhausted: this.refused > this.capacity
    }
  }
}
