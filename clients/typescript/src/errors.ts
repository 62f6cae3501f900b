// The one error type every promise of the client rejects with: the contract's `code` when the
// server answered with an error, or one of the client's own codes when it could not get an answer.

/** The codes of the server's error replies (CONTRACT §2). */
export type ServerErrorCode =
  | 'invalid_json' | 'validation_error' | 'unknown_type' | 'forbidden' | 'not_found'
  | 'entry_too_large' | 'version_conflict' | 'rate_limited' | 'internal'

/**
 * The client's own codes:
 * - `timeout`: no reply within `requestTimeoutMs` (a write may still have been applied; retry it
 *   with the same `idempotency_key`, found in `details.idempotency_key`, to make sure it is once);
 * - `closed`: the client was closed, or stopped reconnecting, before the request was answered;
 * - `disconnected`: the connection dropped under a request that is not safe to resend;
 * - `outbox_full`: more than `maxQueued` requests are waiting for a connection;
 * - `message_too_large`: the request is larger than `maxMessageBytes`, so the server would close;
 * - `unauthorized`: the server refused the token (close 4001) and there is no provider to ask again;
 * - `token_provider`: the token provider threw or returned something that is not a token;
 * - `protocol`: the server broke the protocol (a delta from another epoch, a frame that is not JSON).
 */
export type ClientErrorCode =
  | 'timeout' | 'closed' | 'disconnected' | 'outbox_full' | 'message_too_large'
  | 'unauthorized' | 'token_provider' | 'protocol'

export type ErrorCode = ServerErrorCode | ClientErrorCode

export class ContextError extends Error {
  override readonly name = 'ContextError'
  /** For `rate_limited`: how long the server asked to wait. */
  readonly retryAfterMs?: number

  constructor (
    readonly code: ErrorCode | (string & {}),
    message: string,
    readonly details?: unknown,
    options: { retryAfterMs?: number, cause?: unknown } = {}
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs
  }
}

/** A server `error` frame as a ContextError. */
export function errorFromFrame (frame: Record<string, unknown>): ContextError {
  const code = typeof frame.code === 'string' ? frame.code : 'internal'
  const message = typeof frame.message === 'string' ? frame.message : code
  const retryAfterMs = typeof frame.retry_after_ms === 'number' ? frame.retry_after_ms : undefined
  return new ContextError(code, message, frame.details, { retryAfterMs })
}
