// The contract's error codes, built in one place so every surface (WebSocket, REST, MCP) reports
// the same code for the same failure.

export const ERROR_CODES = [
  'invalid_json', 'validation_error', 'unknown_type', 'forbidden', 'not_found',
  'entry_too_large', 'version_conflict', 'rate_limited', 'unauthorized', 'unavailable', 'internal'
] as const

export type ErrorCode = typeof ERROR_CODES[number]

/** HTTP status for each code, used by the REST error handler. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  validation_error: 400,
  unknown_type: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  version_conflict: 409,
  entry_too_large: 413,
  rate_limited: 429,
  internal: 500,
  unavailable: 503
}

export interface ErrorDetail { path: string, message: string }

/** A failure a client caused or may retry; its message is safe to show to the client. */
export class ContextError extends Error {
  constructor (
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[] | Record<string, unknown>
  ) {
    super(message)
    this.name = 'ContextError'
  }
}

export const forbidden = (message: string) => new ContextError('forbidden', message)
export const notFound = (key: string) => new ContextError('not_found', `No entry with key "${key}"`)

/** The codes the contract lists for error replies (§2, and §3 "code from the list above"). */
export const LISTED_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'invalid_json', 'validation_error', 'unknown_type', 'forbidden', 'not_found', 'entry_too_large',
  'version_conflict', 'rate_limited', 'internal'
])

/**
 * The code and details an error carries on the wire. The contract lists no code for a missing
 * token (`unauthorized`, HTTP 401) or a backend that is down (`unavailable`, HTTP 503): they travel
 * as the nearest listed code (`forbidden`, `internal`) with the precise one in `details.reason`.
 */
export function wireError (code: ErrorCode, details?: ContextError['details']): { code: ErrorCode, details?: ContextError['details'] } {
  if (LISTED_CODES.has(code)) return details === undefined ? { code } : { code, details }
  const listed: ErrorCode = code === 'unauthorized' ? 'forbidden' : 'internal'
  return { code: listed, details: Array.isArray(details) ? details : { ...details, reason: code } }
}
