// Query-string versions of the shared input schemas. A query string carries only strings, so
// numbers, booleans and lists are converted first and then checked by the very same zod schemas
// the WebSocket messages use: one input, one set of rules, on every surface.
import { z } from 'zod'
import { clearOptionsSchema, contextQuerySchema } from '../protocol/schemas.js'

const NUMBER_TEXT = /^\s*-?\d+(\.\d+)?\s*$/

/** "5" becomes 5; anything else is left alone so the inner schema reports it. */
function numberFromQuery (value: unknown): unknown {
  return typeof value === 'string' && NUMBER_TEXT.test(value) ? Number(value) : value
}

/** "true"/"false" become booleans; anything else is left alone so the inner schema reports it. */
function booleanFromQuery (value: unknown): unknown {
  if (value === 'true') return true
  if (value === 'false') return false
  return value
}

/**
 * A list may come as repeated parameters (`?keys=a&keys=b`, an array once parsed), as one
 * comma-separated value (`?keys=a,b`), or both. Empty items are dropped. A value that itself holds a
 * comma cannot be named here; GET /context/{key} reaches such a key.
 */
function listFromQuery (value: unknown): unknown {
  const split = (item: unknown) => typeof item === 'string' ? item.split(',').map((part) => part.trim()).filter((part) => part !== '') : [item]
  if (typeof value === 'string') return split(value)
  if (Array.isArray(value)) return value.flatMap(split)
  return value
}

// z.preprocess keeps the inner schema's JSON Schema for the OpenAPI document (an integer stays an
// integer there), unlike z.string().transform(), which would document every parameter as a string.
const fromQuery = <T extends z.ZodType>(convert: (value: unknown) => unknown, schema: T) => z.preprocess(convert, schema)

const query = contextQuerySchema.shape
const clear = clearOptionsSchema.shape

/** GET /context: every query_context filter as a query parameter. */
export const contextQueryStringSchema = z.object({
  source: query.source,
  sources: fromQuery(listFromQuery, query.sources).describe('Exact sources: repeat the parameter or separate with commas'),
  keys: fromQuery(listFromQuery, query.keys).describe('Exact keys: repeat the parameter or separate with commas'),
  min_priority: fromQuery(numberFromQuery, query.min_priority).describe('Lowest priority returned'),
  max_priority: fromQuery(numberFromQuery, query.max_priority).describe('Highest priority returned'),
  since: query.since,
  text: query.text,
  max_tokens: fromQuery(numberFromQuery, query.max_tokens).describe('Return the best-ranked matches that fit this many tokens'),
  limit: fromQuery(numberFromQuery, query.limit).describe('Return at most this many entries: the page size of a walk (metadata.next_cursor)'),
  cursor: query.cursor,
  relevant_to: query.relevant_to
}).strict()

/** DELETE /context: the clear_context options as query parameters. */
export const clearQueryStringSchema = z.object({
  source: clear.source,
  keys: fromQuery(listFromQuery, clear.keys).describe('Exact keys: repeat the parameter or separate with commas'),
  all: fromQuery(booleanFromQuery, clear.all).describe('true: the whole tenant (admin)')
}).strict()
