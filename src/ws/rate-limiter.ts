// Per-connection message rate: a token bucket (MCP_WS_RATE_LIMIT per second, MCP_WS_RATE_BURST
// deep). Two numbers per connection, no timers: the bucket refills lazily when a message arrives.

export type RateDecision =
  | { readonly allowed: true }
  | { readonly allowed: false, readonly retryAfterMs: number, readonly exhausted: boolean }

export class MessageRateLimiter {
  private tokens: number
  private refilledAt: number
  private strikes = 0

  /**
   * @param perSecond sustained messages per second
   * @param burst bucket depth: how many messages may arrive at once after a quiet spell
   * @param now the clock, in milliseconds
   */
  constructor (private readonly perSecond: number, private readonly burst: number, now: number) {
    this.tokens = burst
    this.refilledAt = now
  }

  /**
   * Takes one message's token. A refused message is a strike; `exhausted` turns true once a
   * client has sent a further burst's worth while limited (more than what was already in flight
   * when the first `rate_limited` left), which marks it as one that keeps on regardless.
   */
  take (now: number): RateDecision {
    const elapsed = now - this.refilledAt
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000)
      this.refilledAt = now
    }
    if (this.tokens >= 1) {
      this.tokens -= 1
      this.strikes = 0
      return { allowed: true }
    }
    this.strikes++
    return {
      allowed: false,
      retryAfterMs: Math.ceil(((1 - this.tokens) * 1000) / this.perSecond),
      exhausted: this.strikes > this.burst
    }
  }
}
