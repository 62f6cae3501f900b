// Zod schemas for the store's inputs, shared by every surface (WebSocket messages, REST bodies and
// query strings, MCP tools) so one input is validated the same way everywhere.
import { z } from 'zod'
import { MAX_RELEVANT_TO_CHARS } from '../relevance/relevance-index.js'
import { decodeCursor } from '../store/query-paging.js'
import { isWellFormed, wellFormedMessage } from './well-formed.js'

// Keys name entries in URLs (REST paths, Location, MCP resource URIs) and generated keys are made
// from the source, so both must be well-formed Unicode.
const wellFormed = wellFormedMessage

export const keySchema = z.string().min(1).max(512).refine(isWellFormed, wellFormed).describe('Entry key, unique within the tenant')
export const sourceSchema = z.string().min(1).max(256).refine(isWellFormed, wellFormed).describe('Origin identifier, e.g. content_agent_001')
export const prioritySchema = z.number().int().min(1).max(10).describe('1 (evicted first) to 10 (kept longest)')

/** Entry content: any JSON object. Its nesting depth is checked against MCP_MAX_DEPTH by the store. */
export const contentSchema = z.record(z.string(), z.unknown()).describe('Any JSON object')

/** The options of a write, beside its content (which is `context` or `data` depending on the surface). */
export const writeOptionsSchema = z.object({
  source: sourceSchema.optional(),
  priority: prioritySchema.optional(),
  key: keySchema.optional(),
  expected_version: z.number().int().min(0).optional()
    .describe('Write only if the stored version equals this (0: only if the key does not exist)'),
  ttl_seconds: z.number().int().min(1).max(365 * 24 * 3600).optional()
    .describe('Remove the entry this many seconds after the write')
})

/** A write as update_context and POST /context take it. */
export const writeBodySchema = writeOptionsSchema.extend({ context: contentSchema })

/** The query_context filters; also GET /context's query parameters. */
export const contextQuerySchema = z.object({
  source: z.string().max(256).optional().describe('Source prefix'),
  sources: z.array(z.string().max(256)).max(1000).optional().describe('Exact sources'),
  keys: z.array(keySchema).max(10000).optional(),
  min_priority: prioritySchema.optional(),
  max_priority: prioritySchema.optional(),
  since: z.iso.datetime({ offset: true }).optional().describe('Only entries written at or after this ISO time'),
  text: z.string().min(1).max(1000).optional().describe('Substring of the content JSON'),
  max_tokens: z.number().int().min(0).optional().describe('Return the best-ranked matches that fit this many tokens'),
  limit: z.number().int().min(1).max(100000).optional(),
  relevant_to: z.string().min(1).max(MAX_RELEVANT_TO_CHARS).optional()
    .describe('A task in free text: rank the matches by relevance to it, then fill max_tokens in that order (docs/context-optimizer.md)'),
  cursor: z.string().max(96).refine((cursor) => decodeCursor(cursor) !== undefined, { error: 'is not a cursor this server returned' })
    .optional().describe('Continue a walk: the metadata.next_cursor of the previous page (with limit; not with max_tokens or relevant_to)')
}).strict()

export const clearOptionsSchema = z.object({
  source: z.string().min(1).max(256).optional().describe('Source prefix'),
  keys: z.array(keySchema).max(10000).optional(),
  all: z.boolean().optional().describe('The whole tenant (admin)')
})

export const setPrioritySchema = z.object({ key: keySchema, priority: prioritySchema })

/**
 * The idempotency key of a write (contract §8): the same request again with the same key, from the
 * same user and tenant, within MCP_IDEMPOTENCY_TTL, gets the first reply again and changes nothing.
 */
export const idempotencyKeySchema = z.string().min(1).max(128)
  .describe('Retry-safe key: the same request with this key again returns the first reply (replayed: true) and changes nothing')

/** The field that carries it in a WebSocket message or an MCP tool's arguments. */
export const idempotencyField = { idempotency_key: idempotencyKeySchema.optional() }

export type WriteBody = z.infer<typeof writeBodySchema>
export type ContextQueryInput = z.infer<typeof contextQuerySchema>
export type ClearOptionsInput = z.infer<typeof clearOptionsSchema>

/** Zod issues as the contract's validation_error details: one item per problem, with its path. */
export function issueDetails (error: z.ZodError): Array<{ path: string, message: string }> {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message
  }))
}
