// What the client does when the connection closes, by close code (CONTRACT §2). One table, so the
// README's reconnect policy and the code cannot drift apart.

export interface CloseDecision {
  /** Whether to connect again (after the backoff delay). */
  readonly reconnect: boolean
  /** A floor under the backoff delay (4029: the server asked us to slow down). */
  readonly minDelayMs: number
  /** Why, in words, for the 'disconnected' event and the docs. */
  readonly why: string
}

export interface ClosePolicyOptions {
  /** A token provider can hand out a fresh token, so a 4001 is worth another attempt. */
  readonly canRenewToken: boolean
  /** The floor after 4029 (the server closed us for flooding). */
  readonly rateLimitedDelayMs: number
}

export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  unsupportedData: 1003,
  abnormal: 1006,
  policyViolation: 1008,
  messageTooBig: 1009,
  tryAgainLater: 1013,
  /** Used by the client itself when it drops a connection that stopped answering. */
  clientDropped: 4000,
  unauthorized: 4001,
  idle: 4002,
  slowConsumer: 4008,
  rateLimited: 4029
} as const

/** The decision for one close code and reason. */
export function closeDecision (code: number, options: ClosePolicyOptions): CloseDecision {
  switch (code) {
    case CLOSE_CODES.unauthorized:
      return options.canRenewToken
        ? { reconnect: true, minDelayMs: 0, why: 'token refused or expired: reconnecting with a fresh token from the provider' }
        : { reconnect: false, minDelayMs: 0, why: 'token refused or expired, and a fixed token cannot be renewed' }
    case CLOSE_CODES.rateLimited:
      return { reconnect: true, minDelayMs: options.rateLimitedDelayMs, why: 'closed for sending too fast: reconnecting after a pause' }
    case CLOSE_CODES.slowConsumer:
      return { reconnect: true, minDelayMs: 0, why: 'closed as a slow consumer: reconnecting and resuming' }
    case CLOSE_CODES.goingAway:
      return { reconnect: true, minDelayMs: 0, why: 'the server is shutting down: reconnecting' }
    // The client sent something the server cannot take: sending it again would end the same way.
    case CLOSE_CODES.unsupportedData:
    case CLOSE_CODES.policyViolation:
    case CLOSE_CODES.messageTooBig:
      return { reconnect: false, minDelayMs: 0, why: 'the server refused what this client sent' }
    default:
      // 1006 (network lost, server killed), 4002 (idle), 1013 (too many connections), 4000 (the
      // client dropped a silent connection), and anything else.
      return { reconnect: true, minDelayMs: 0, why: 'connection lost: reconnecting' }
  }
}
