import type { Identity } from '../auth/identity.js'

// Long-lived MCP streams (a 2025 session's GET stream, a subscriptions/listen stream) must not
// outlive the token that opened them: the host reconnects with a fresh token instead, as a
// WebSocket client refreshes its token or is closed with "Token expired".

/** The HTTP exchange a request to /mcp arrived on. */
export interface HttpExchange {
  /** Aborts when the client goes away or the response ends. */
  readonly closed: AbortSignal
  /** Ends the exchange at once, whatever is still unsent (a stream whose host stopped reading). */
  readonly abort: () => void
}

// setTimeout fires at once for delays above 2^31-1 ms, so a far expiry ends the stream after ~24
// days instead, and the host reconnects.
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Calls `onExpire` when the token expires, unless `closed` aborts first (the client left or the
 * response ended). The timer never keeps the process alive.
 */
export function endAtExpiry (closed: AbortSignal, expiresAt: number, onExpire: () => void): void {
  if (closed.aborted) return
  const timer = setTimeout(onExpire, Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS))
  timer.unref()
  closed.addEventListener('abort', () => clearTimeout(timer), { once: true })
}

/** Which token a long-lived stream was opened with, and how to end it. */
interface OpenStream { readonly identity: Identity, readonly end: () => void }

/**
 * The long-lived streams open now, by the identity that opened them, so a revocation can end
 * those of a revoked token (contract §8). Each leaves the set when its request closes.
 */
export class OpenStreams {
  private readonly open = new Set<OpenStream>()

  track (closed: AbortSignal, identity: Identity, end: () => void): void {
    if (closed.aborted) return
    const stream = { identity, end }
    this.open.add(stream)
    closed.addEventListener('abort', () => this.open.delete(stream), { once: true })
  }

  /** Ends the tenant's streams whose token `matches`. */
  endWhere (tenant: string, matches: (identity: Identity) => boolean): void {
    for (const stream of this.open) {
      if (stream.identity.tenant === tenant && matches(stream.identity)) {
        this.open.delete(stream)
        stream.end()
      }
    }
  }
}

/** Runs `listener` once when the signal aborts, or at once if it already has. */
export function onAbort (signal: AbortSignal, listener: () => void): void {
  if (signal.aborted) listener()
  else signal.addEventListener('abort', listener, { once: true })
}

/** Whether a response is a Server-Sent Events stream. */
export function isEventStream (response: Response): boolean {
  return response.headers.get('content-type')?.startsWith('text/event-stream') === true
}

/**
 * An SSE comment (which clients ignore) to start a 2025 GET stream with. Response headers go out
 * with the first byte, and the SDK writes nothing on a new GET stream until a notification or its
 * 15-second keep-alive, so without it a host would wait that long to learn that its stream is open.
 */
export const OPENING_COMMENT = new TextEncoder().encode(': stream open\n\n')
