// Input and output schemas of the MCP tools. Inputs reuse the shared protocol schemas, so a tool
// accepts exactly what the WebSocket message and the REST body accept; outputs describe the
// structured results hosts receive (and validate) next to the text rendering.
import { z } from 'zod'
import type { StandardSchemaWithJSON } from '@modelcontextprotocol/server'
import { contextQuerySchema, keySchema, prioritySchema, sourceSchema } from '../protocol/schemas.js'
// The entry exactly as every surface shows it (contract §1), shared with the REST responses.
import { entrySchema } from '../rest/response-schemas.js'

const unboundedSchema = z.boolean().optional()
  .describe('Lift the result cap (about 20,000 tokens) and the default budget: the result may exceed a host\'s tool-result limit')

/** query_context: the WebSocket query filters plus the opt-out from the result cap. */
// No cursor: the tool always fills a token budget (max_tokens, default 8000), which picks matches,
// so a page walk cannot resume after it; its manifest names what was left out instead.
export const queryToolInputSchema = contextQuerySchema.omit({ cursor: true }).extend({
  max_tokens: contextQuerySchema.shape.max_tokens
    .describe('Return the best-ranked matches whose content fits this many tokens (default 8000)'),
  unbounded: unboundedSchema
}).strict()

/** get_context: the whole store, budgeted the same way as query_context. */
export const getToolInputSchema = z.object({
  max_tokens: queryToolInputSchema.shape.max_tokens,
  unbounded: unboundedSchema
}).strict()

const omittedItemSchema = z.object({
  key: keySchema,
  tokens: z.number().int(),
  priority: prioritySchema,
  source: sourceSchema
})

/** What a budgeted read matched, returned and left out. */
export const manifestSchema = z.object({
  matched: z.number().int().describe('Entries that matched the filters'),
  returned: z.number().int().describe('Entries in data'),
  returned_tokens: z.number().int().describe('Content tokens of the returned entries'),
  truncated: z.boolean().describe('Whether any match was left out'),
  budget_tokens: z.number().int().nullable().describe('The content budget applied (max_tokens), or null'),
  result_cap_tokens: z.number().int().nullable().describe('The cap on the whole result, or null when unbounded'),
  omitted_count: z.number().int().describe('Matches left out'),
  omitted_tokens: z.number().int().describe('Content tokens of the matches left out'),
  omitted: z.array(omittedItemSchema).describe('The best-ranked matches left out (at most 50), to fetch by key if needed')
})

const storeMetadataSchema = z.object({
  total_tokens: z.number().int(),
  max_tokens: z.number().int(),
  entry_count: z.number().int()
})

const replayedSchema = z.literal(true).optional()
  .describe('Present when this is the first result again, for a repeated idempotency_key: nothing was changed this time')

export const writeOutputSchema = z.object({
  status: z.literal('success'),
  key: keySchema,
  tokens: z.number().int(),
  version: z.number().int(),
  seq: z.number().int(),
  stored: z.boolean().describe('False when the entry ranked last and was evicted at once'),
  evicted: z.array(keySchema).describe('Keys evicted to make room (at most 500 listed)'),
  evicted_count: z.number().int(),
  replayed: replayedSchema
})

export const getOutputSchema = z.object({
  data: z.record(z.string(), entrySchema).describe('Entries by key, best-ranked first'),
  metadata: storeMetadataSchema,
  seq: z.number().int(),
  manifest: manifestSchema
})

/** metadata.scores of a relevant_to query (contract §10), shared by the tool and its text rendering. */
export const scoresMetadataSchema = z.object({
  scores: z.record(z.string(), z.number()).describe('The score of each returned entry, best first (0: no term in common with relevant_to)')
})

export const queryOutputSchema = z.object({
  data: z.record(z.string(), entrySchema).describe('Matching entries by key, best-ranked first'),
  manifest: manifestSchema,
  metadata: scoresMetadataSchema.optional().describe('With relevant_to only')
})

export const clearOutputSchema = z.object({
  removed: z.array(keySchema).describe('Removed keys (at most 500 listed)'),
  count: z.number().int(),
  seq: z.number().int(),
  replayed: replayedSchema
})

export const priorityOutputSchema = z.object({
  key: keySchema,
  priority: prioritySchema,
  version: z.number().int(),
  seq: z.number().int(),
  replayed: replayedSchema
})

/**
 * Advertises a zod schema in tools/list while letting every argument through to the handler. The
 * handler validates with the same schema and answers a `validation_error` tool error with one
 * detail per problem, as the WebSocket surface does; the SDK's own check would answer a generic
 * message without the contract's code.
 */
export function advertised (schema: z.ZodType): StandardSchemaWithJSON<Record<string, unknown>> {
  const standard = schema['~standard']
  return {
    '~standard': {
      version: 1,
      vendor: 'context-server',
      validate: (value: unknown) => ({ value: value as Record<string, unknown> }),
      jsonSchema: standard.jsonSchema
    }
  }
}
