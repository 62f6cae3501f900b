// A hand-written check of the two write messages (update_context, context_update), the hot path of
// ingest: when every field is plainly valid it returns the message exactly as their zod schemas
// (messages.ts) would, at a fraction of the cost. It never refuses: whatever it does not accept
// goes to zod, which stays the authority and words every error. So it may only ever be stricter
// than zod, never looser (test/protocol/write-precheck.test.ts holds the two together).
import type { MessageOf } from './messages.js'
import { isWellFormed } from './well-formed.js'

type WriteMessage = MessageOf<'update_context'> | MessageOf<'context_update'>

const MAX_TTL_SECONDS = 365 * 24 * 3600

const isString = (value: unknown, min: number, max: number): value is string =>
  typeof value === 'string' && value.length >= min && value.length <= max

/** A string the shared key and source schemas accept: length in range, well-formed Unicode. */
const isName = (value: unknown, max: number): value is string =>
  isString(value, 1, max) && isWellFormed(value)

const isInt = (value: unknown, min: number, max: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max

/** A JSON object (what z.record accepts of parsed JSON: not null, not an array). */
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The validated write message, or undefined to let zod decide. `raw` is a parsed JSON object
 * whose `type` is update_context or context_update. Like zod, the result holds only the schema's
 * fields (others are dropped); the content object is passed on as parsed.
 */
export function precheckedWrite (raw: Record<string, unknown>): WriteMessage | undefined {
  const type = raw.type
  const contentField = type === 'update_context' ? 'context' : type === 'context_update' ? 'data' : undefined
  if (contentField === undefined) return undefined
  const content = raw[contentField]
  if (!isObject(content)) return undefined
  const message: Record<string, unknown> = { type, [contentField]: content }
  // Each optional field written out: a table of (field, check) closures read the same but took
  // this function from ~280 to ~500 ns per write (measured), and this is ingest's hot path.
  const { id, idempotency_key: idempotencyKey, source, priority, key, expected_version: expectedVersion, ttl_seconds: ttl } = raw
  if (id !== undefined) {
    if (!(isString(id, 0, 64) || isInt(id, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))) return undefined
    message.id = id
  }
  if (idempotencyKey !== undefined) {
    if (!isString(idempotencyKey, 1, 128)) return undefined
    message.idempotency_key = idempotencyKey
  }
  if (source !== undefined) {
    if (!isName(source, 256)) return undefined
    message.source = source
  }
  if (priority !== undefined) {
    if (!isInt(priority, 1, 10)) return undefined
    message.priority = priority
  }
  if (key !== undefined) {
    if (!isName(key, 512)) return undefined
    message.key = key
  }
  if (expectedVersion !== undefined) {
    if (!isInt(expectedVersion, 0, Number.MAX_SAFE_INTEGER)) return undefined
    message.expected_version = expectedVersion
  }
  if (ttl !== undefined) {
    if (!isInt(ttl, 1, MAX_TTL_SECONDS)) return undefined
    message.ttl_seconds = ttl
  }
  return message as WriteMessage
}
