// Turns one text frame into a validated client message, or into the error the client gets back.
// Parsing refuses `__proto__` and `constructor.prototype` keys (src/protocol/untrusted-json.ts).
import { clientMessageSchema, MESSAGE_TYPES, messageIdSchema, type ClientMessage, type MessageId } from '../protocol/messages.js'
import { issueDetails } from '../protocol/schemas.js'
import type { ErrorCode, ErrorDetail } from '../errors.js'
import { parseUntrustedJson } from '../protocol/untrusted-json.js'
import { precheckedWrite } from '../protocol/write-precheck.js'

export interface FrameError {
  readonly ok: false
  /** The frame's id, when it could be read and is valid, so even a refusal can be correlated. */
  readonly id?: MessageId
  readonly code: ErrorCode
  readonly message: string
  readonly details?: ErrorDetail[]
}

export type ParsedFrame = { readonly ok: true, readonly message: ClientMessage } | FrameError

/** Parses and validates one frame's text. Never throws. */
export function parseFrame (text: string): ParsedFrame {
  const parsedJson = parseUntrustedJson(text)
  if (!parsedJson.ok) {
    // Even a refusal echoes the id when the text was JSON and its id is readable.
    const raw = parsedJson.raw
    const id = raw !== null && typeof raw === 'object' ? readId(raw) : undefined
    return { ok: false, id, code: parsedJson.code, message: parsedJson.message, details: parsedJson.details }
  }
  const raw = parsedJson.value
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, code: 'validation_error', message: 'A message must be a JSON object', details: [{ path: '(root)', message: 'expected an object' }] }
  }
  // Writes, the hot messages, are checked by hand first; anything that check does not accept is
  // zod's to decide (and word), as every other message is.
  const write = precheckedWrite(raw as Record<string, unknown>)
  if (write !== undefined) return { ok: true, message: write }
  const type = (raw as { type?: unknown }).type
  if (typeof type !== 'string') {
    return { ok: false, id: readId(raw), code: 'validation_error', message: 'A message needs a string "type"', details: [{ path: 'type', message: 'expected a string' }] }
  }
  if (!MESSAGE_TYPES.has(type)) {
    return { ok: false, id: readId(raw), code: 'unknown_type', message: `Unknown message type "${type.slice(0, 64)}"` }
  }
  const parsed = clientMessageSchema.safeParse(raw)
  if (!parsed.success) {
    return { ok: false, id: readId(raw), code: 'validation_error', message: `Invalid ${type} message`, details: issueDetails(parsed.error) }
  }
  return { ok: true, message: parsed.data }
}

function readId (raw: object): MessageId | undefined {
  if (!Object.hasOwn(raw, 'id')) return undefined
  const parsed = messageIdSchema.safeParse((raw as { id?: unknown }).id)
  return parsed.success ? parsed.data : undefined
}
