// Where tokens come from: a fixed string, or a provider called on every (re)connect and before
// the current token expires. Concurrent asks share one provider call, so a reconnect that starts
// while a refresh is fetching never makes the provider race itself.
import { ContextError } from './errors.js'
import { MAX_TIMER_MS } from './backoff.js'

export type TokenProvider = () => string | Promise<string>

export class TokenSource {
  private inFlight: Promise<string> | undefined

  constructor (private readonly token: string | TokenProvider) {}

  /** A provider can be asked again; a fixed string cannot change. */
  get renewable (): boolean { return typeof this.token === 'function' }

  /** The token to present now: the string, or a fresh one from the provider. */
  async fetch (): Promise<string> {
    if (typeof this.token === 'string') return this.token
    if (this.inFlight !== undefined) return await this.inFlight
    const provider = this.token
    this.inFlight = (async () => {
      let token: unknown
      try {
        token = await provider()
      } catch (error) {
        throw new ContextError('token_provider', `The token provider failed: ${error instanceof Error ? error.message : String(error)}`, undefined, { cause: error })
      }
      if (typeof token !== 'string' || token.length === 0) {
        throw new ContextError('token_provider', 'The token provider must return a non-empty string')
      }
      return token
    })()
    try {
      return await this.inFlight
    } finally {
      this.inFlight = undefined
    }
  }
}

/**
 * How long to wait before refreshing a token that expires at `expiresAt` (ms since the epoch):
 * `aheadMs` before expiry, but never more than half of what is left, so short-lived tokens are
 * refreshed in time too. Capped to what a timer can wait.
 */
export function refreshDelay (expiresAt: number, now: number, aheadMs: number): number {
  const left = expiresAt - now
  if (!Number.isFinite(left) || left <= 0) return 0
  return Math.min(MAX_TIMER_MS, Math.max(0, left - Math.min(aheadMs, left / 2)))
}
