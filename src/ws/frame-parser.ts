// Turns one text frame into a validated client message, or into the error the client gets back.
// Parsing refuses `__proto__` and `constructor.prototype` keys (secure-json-parse), so no later
// copy of user data can reach Object.prototype.
import sjson from 'secure-json-parse'
import { clientMessageSchema, MESSAGE_TYPES, messageIdSchema, type ClientMessage, type MessageId } from '../protocol/messages.js'
import { issueDetails } from '../protocol/schemas.js'
import type { ErrorCode, ErrorDetail } from '../errors.js'

export interface FrameError {
  readonly ok: false
  /** The frame's id, when it could be read and is valid, so even a refusal can be correlated. */
  readonly id?: MessageId
  readonly code: ErrorCode
  readonly message: string
  readonly details?: ErrorDetail[]
}

export type ParsedFrame = { readonly ok: true, readonly message: ClientMessage } | FrameError

const PARSE_OPTIONS = { protoAction: 'error', constructorAction: 'error' } as const

/** Parses and validates one frame's text. Never throws. */
export function parseFrame (text: string): ParsedFrame {
  let raw: unknown
  try {
    raw = sjson.parse(text, null, PARSE_OPTIONS)
  } catch {
    return refusedParse(text)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, code: 'validation_error', message: 'A message must be a JSON object', details: [{ path: '(root)', message: 'expected an object' }] }
  }
  const id = readId(raw)
  const type = (raw as { type?: unknown }).type
  if (typeof type !== 'string') {
    return { ok: false, id, code: 'validation_error', message: 'A message needs a string "type"', details: [{ path: 'type', message: 'expected a string' }] }
  }
  if (!MESSAGE_TYPES.has(type)) {
    return { ok: false, id, code: 'unknown_type', message: `Unknown message type "${type.slice(0, 64)}"` }
  }
  const parsed = clientMessageSchema.safeParse(raw)
  if (!parsed.success) {
    return { ok: false, id, code: 'validation_error', message: `Invalid ${type} message`, details: issueDetails(parsed.error) }
  }
  return { ok: true, message: parsed.data }
}

/**
 * secure-json-parse threw: either the text is not JSON, or it is JSON with a forbidden key. Plain
 * JSON.parse tells them apart safely (it only defines own properties, it never assigns a prototype),
 * and lets the refusal echo the id.
 */
function refusedParse (text: string): FrameError {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    return { ok: false, code: 'invalid_json', message: `Invalid JSON: ${(error as Error).message}` }
  }
  return {
    ok: false,
    id: raw !== null && typeof raw === 'object' ? readId(raw) : undefined,
    code: 'validation_error',
    message: 'Keys named __proto__ or constructor.prototype are not allowed',
    details: [{ path: '(root)', message: 'forbidden key __proto__ or constructor.prototype' }]
  }
}

function readId (raw: object): MessageId | undefined {
  if (!Object.hasOwn(raw, 'id')) return undefined
  const parsed = messageIdSchema.safeParse((raw as { id?: unknown }).id)
  return parsed.success ? parsed.data : undefined
}
