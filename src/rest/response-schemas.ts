// Zod schemas of the REST responses: what the OpenAPI document shows and what the tests hold the
// real responses to. Entries are documented exactly as the contract shows them (§1).
import { z } from 'zod'
import { ERROR_CODES } from '../errors.js'
import { contentSchema, keySchema } from '../protocol/schemas.js'
import { CLIENT_KINDS } from '../sessions/session-registry.js'

/** The history `seq` belongs to (contract §7); resume with it beside since_seq. */
const epochField = z.string().max(64)
  .describe('The epoch of the tenant history seq belongs to: an opaque string that changes when that history starts again (send it with since_seq)')

export const entrySchema = z.object({
  timestamp: z.string().describe('Time of the last write (ISO 8601, UTC)'),
  content: contentSchema,
  tokens: z.number().int().min(0).describe('Tokens of JSON.stringify(content) in the configured encoding'),
  source: z.string().describe('Origin identifier given by the writer (default: its user)'),
  priority: z.number().int().min(1).max(10).describe('1 (evicted first) to 10 (kept longest)'),
  owner: z.string().describe('The sub of the writer'),
  version: z.number().int().min(1).describe('1 on create, +1 on every write of this key'),
  expires_at: z.string().optional().describe('When the entry is removed, if written with ttl_seconds')
}).meta({ id: 'Entry', description: 'One context entry, as every surface shows it' })

/** GET /context/{key}: the entry, with its key as one more field. */
export const keyedEntrySchema = entrySchema.extend({ key: keySchema })
  .meta({ id: 'KeyedEntry', description: 'One context entry and its key' })

export const contextListSchema = z.object({
  data: z.record(z.string(), entrySchema).describe('Matching entries by key, in rank order (priority descending, then most recent write)'),
  metadata: z.object({
    total_tokens: z.number().int().describe('Tokens held by the whole tenant store'),
    max_tokens: z.number().int().describe('The tenant budget (MCP_MAX_TOKENS)'),
    entry_count: z.number().int().describe('Entries in the whole tenant store'),
    matched: z.number().int().describe('Entries matching the filters'),
    returned: z.number().int().describe('Entries in data'),
    returned_tokens: z.number().int().describe('Tokens of the entries in data'),
    truncated: z.boolean().describe('Whether max_tokens or limit left matches out'),
    next_cursor: z.string().optional().describe('While matches remain after a page of `limit` (without max_tokens): pass it as `cursor` for the next page'),
    scores: z.record(z.string(), z.number()).optional()
      .describe('With relevant_to only: the score of each returned entry, best first (0: no term in common with the task)')
  }),
  seq: z.number().int().describe('The tenant change sequence this view reflects (usable as since_seq on the WebSocket)'),
  epoch: epochField
}).meta({ id: 'ContextList' })

/** Present (true) only on the first reply repeated for a repeated Idempotency-Key. */
const replayedSchema = z.boolean().optional()
  .describe('True when this is the first reply again, for a repeated Idempotency-Key: nothing was changed this time')

export const writeResultSchema = z.object({
  key: keySchema,
  tokens: z.number().int(),
  version: z.number().int(),
  seq: z.number().int().describe('The tenant change sequence of this write'),
  epoch: epochField,
  evicted: z.array(z.string()).describe('Keys evicted to keep the tenant within its budget'),
  stored: z.boolean().describe('False when the new entry itself ranked last and was evicted at once'),
  replayed: replayedSchema
}).meta({ id: 'WriteResult' })

export const priorityResultSchema = z.object({
  key: keySchema,
  priority: z.number().int(),
  version: z.number().int(),
  seq: z.number().int(),
  replayed: replayedSchema
}).meta({ id: 'PriorityResult' })

export const clearResultSchema = z.object({
  removed: z.array(z.string()).describe('Keys removed'),
  count: z.number().int(),
  seq: z.number().int().describe('The tenant change sequence after the clear'),
  replayed: replayedSchema
}).meta({ id: 'ClearResult' })

export const errorDetailSchema = z.object({
  path: z.string().describe('Where the problem is, e.g. body.priority or querystring.min_priority'),
  message: z.string()
})

export const errorSchema = z.object({
  statusCode: z.number().int(),
  error: z.string().describe('The HTTP status text'),
  message: z.string(),
  code: z.enum(ERROR_CODES).describe('Stable error code, the same on every surface'),
  details: z.union([z.array(errorDetailSchema), z.record(z.string(), z.unknown())]).optional()
    .describe('validation_error: one item per problem; other codes: facts about the failure')
}).meta({ id: 'Error', description: "Fastify's error shape plus the contract's code" })

export const statusSchema = z.looseObject({
  connected_clients: z.number().int(),
  context_entries: z.number().int(),
  total_tokens: z.number().int(),
  max_tokens: z.number().int(),
  authenticated_clients: z.array(z.object({
    client_id: z.string(),
    kind: z.enum(CLIENT_KINDS)
      .describe('A WebSocket connection, a 2025 MCP session, or an MCP subscriptions/listen stream'),
    user_id: z.string(),
    authenticated_at: z.string(),
    last_activity: z.string()
  })),
  seq: z.number().int(),
  server_info: z.looseObject({
    version: z.string(),
    max_tokens: z.number().int(),
    token_encoding: z.string(),
    store: z.string(),
    features: z.array(z.string())
  })
}).meta({ id: 'Status', description: "The caller's tenant: its store and its connected clients" })

export const healthSchema = z.looseObject({
  status: z.literal('healthy'),
  timestamp: z.string(),
  version: z.string(),
  connections: z.number().int().describe('Client sessions connected to this instance'),
  memory_usage: z.object({
    rss_mb: z.number(),
    heap_used_mb: z.number(),
    heap_total_mb: z.number(),
    external_mb: z.number()
  })
}).meta({ id: 'Health' })

export const readinessSchema = z.looseObject({
  status: z.enum(['ready', 'draining', 'unavailable']),
  store: z.enum(['memory', 'redis']).optional().describe('The store backend')
}).meta({ id: 'Readiness' })

/** A documented JSON response: the schema plus the sentence Swagger UI shows for its status. */
export function jsonResponse<T extends z.ZodType> (description: string, schema: T) {
  return { description, content: { 'application/json': { schema } } }
}

const ERROR_DESCRIPTIONS = {
  400: 'Invalid input (validation_error, invalid_json): details name each problem; nothing changed',
  401: 'No token, or a token that does not verify (unauthorized)',
  403: 'The role or ownership rules refuse this (forbidden)',
  404: 'No such entry (not_found)',
  409: 'expected_version does not match the stored version (version_conflict); nothing changed',
  413: 'The entry alone exceeds the token budget, or the body exceeds MCP_MAX_MESSAGE_BYTES (entry_too_large)',
  422: 'The Idempotency-Key was already used for a different request (validation_error, details.reason idempotency_key_reused); nothing changed',
  429: 'Too many requests (rate_limited); Retry-After says when to retry'
} as const

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS

/** One documented error response: its sentence and the one error schema. */
export function errorResponse (status: ErrorStatus) {
  return jsonResponse(ERROR_DESCRIPTIONS[status], errorSchema)
}

/**
 * The route-specific error responses of a route. 400, 401 and 429 are added to every route they
 * apply to by src/rest/openapi-conventions.ts, so a route lists only what its own logic refuses.
 */
export function errorResponses (...statuses: ErrorStatus[]) {
  const out: Partial<Record<ErrorStatus, ReturnType<typeof errorResponse>>> = {}
  // Integer-like keys: the object lists them in ascending order whatever the order here.
  for (const status of statuses) out[status] = errorResponse(status)
  return out
}

export type ErrorBody = z.infer<typeof errorSchema>
export type ContextListMetadata = z.infer<typeof contextListSchema>['metadata']
