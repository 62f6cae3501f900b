// Turns anything a REST request can throw into the one error body clients see: Fastify's shape
// `{statusCode, error, message}` plus the contract's `code` (and `details` when there are any).
// Framework-free: Fastify's own errors are recognised by their fields, not their classes.
import { STATUS_CODES } from 'node:http'
import { ContextError, HTTP_STATUS, wireError, type ErrorCode } from '../errors.js'
import type { ErrorBody } from './response-schemas.js'

/** What a failed request looks like from the outside, and whether it is our fault (log it). */
export interface HttpFailure {
  body: ErrorBody
  /** True for 5xx: the message is masked and the original error must be logged. */
  internal: boolean
}

/** One problem found by schema validation, as Fastify reports it (instancePath like "/a/0/b"). */
interface ValidationProblem { instancePath?: string, message?: string }

interface FrameworkError {
  statusCode?: unknown
  code?: unknown
  message?: unknown
  validation?: unknown
  validationContext?: unknown
}

// Codes for errors that carry only an HTTP status (Fastify's own, plugins').
const CODE_FOR_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'validation_error',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'version_conflict',
  413: 'entry_too_large',
  // The body's media type has no parser: whatever it is, it is not the JSON the route takes.
  415: 'invalid_json',
  429: 'rate_limited',
  503: 'unavailable'
}

// Fastify's body parser errors that mean "this is not JSON" rather than "this JSON is wrong".
const INVALID_JSON_CODES = new Set(['FST_ERR_CTP_INVALID_JSON_BODY', 'FST_ERR_CTP_EMPTY_JSON_BODY'])

const MAX_LISTED_PROBLEMS = 3

export function errorBody (statusCode: number, code: ErrorCode, message: string, details?: ErrorBody['details']): ErrorBody {
  const wire = wireError(code, details)
  const body: ErrorBody = { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code: wire.code }
  if (wire.details !== undefined) body.details = wire.details as ErrorBody['details']
  return body
}

/** The response for a thrown value. 5xx messages are replaced: they may hold internals. */
export function toHttpFailure (error: unknown): HttpFailure {
  if (error instanceof ContextError) {
    // A few refusals have a status of their own (an idempotency key reused: 422, contract §8).
    const statusCode = (error as { httpStatus?: number }).httpStatus ?? HTTP_STATUS[error.code]
    // `unavailable` tells clients to retry later; its message is written for them. Any other 5xx is masked.
    if (statusCode >= 500 && error.code !== 'unavailable') return internalFailure()
    return { body: errorBody(statusCode, error.code, error.message, error.details), internal: statusCode >= 500 }
  }
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError
  const validation = validationDetails(framework)
  if (validation !== undefined) {
    return { body: errorBody(400, 'validation_error', validationMessage(validation), validation), internal: false }
  }
  const statusCode = typeof framework.statusCode === 'number' ? framework.statusCode : 500
  if (statusCode < 400 || statusCode >= 500) return internalFailure()
  const code = typeof framework.code === 'string' && INVALID_JSON_CODES.has(framework.code)
    ? 'invalid_json'
    : CODE_FOR_STATUS[statusCode] ?? 'validation_error'
  const message = typeof framework.message === 'string' && framework.message !== '' ? framework.message : STATUS_CODES[statusCode] ?? 'Error'
  return { body: errorBody(statusCode, code, message), internal: false }
}

function internalFailure (): HttpFailure {
  return { body: errorBody(500, 'internal', 'Internal Server Error'), internal: true }
}

/**
 * Schema validation problems as the contract's details: one item per problem, its path prefixed by
 * the part of the request it is in (`body.priority`, `querystring.min_priority`, `params.key`).
 */
function validationDetails (error: FrameworkError): Array<{ path: string, message: string }> | undefined {
  if (!Array.isArray(error.validation) || error.validation.length === 0) return undefined
  const part = typeof error.validationContext === 'string' ? error.validationContext : 'request'
  return (error.validation as ValidationProblem[]).map((problem) => {
    const segments = (problem.instancePath ?? '').split('/').filter((segment) => segment !== '')
    return { path: [part, ...segments].join('.'), message: problem.message ?? 'is invalid' }
  })
}

function validationMessage (details: Array<{ path: string, message: string }>): string {
  const listed = details.slice(0, MAX_LISTED_PROBLEMS).map((d) => `${d.path}: ${d.message}`).join('; ')
  const more = details.length > MAX_LISTED_PROBLEMS ? ` (and ${details.length - MAX_LISTED_PROBLEMS} more)` : ''
  return `Invalid request: ${listed}${more}`
}
