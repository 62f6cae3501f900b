// The five MCP tools over the store. Each validates its arguments with the shared protocol schema,
// acts as the caller's actor (the store enforces roles, tenant and ownership), and answers either
// a structured result with its JSON text rendering or a tool error (isError) carrying the
// contract's error code, as the WebSocket surface would.
import type { CallToolResult, McpServer } from '@modelcontextprotocol/server'
import type { z } from 'zod'
import { ContextError, wireError, type ErrorCode } from '../errors.js'
import { clearOptionsSchema, idempotencyField, issueDetails, setPrioritySchema, writeBodySchema } from '../protocol/schemas.js'
import type { ContextStore } from '../store/context-store.js'
import { replayedMark, withIdempotencyKey } from '../store/idempotency.js'
import { actorOf } from './auth-info.js'
import { budgetedRead } from './result-budget.js'
import {
  advertised, clearOutputSchema, getOutputSchema, getToolInputSchema, priorityOutputSchema, queryOutputSchema,
  queryToolInputSchema, writeOutputSchema
} from './tool-schemas.js'

// The write tools take `idempotency_key` as one more argument (contract §8).
const writeToolInputSchema = writeBodySchema.extend(idempotencyField)
const clearToolInputSchema = clearOptionsSchema.extend(idempotencyField)
const priorityToolInputSchema = setPrioritySchema.extend(idempotencyField)

/** Key lists in results (evicted, removed) are cut here so a mass eviction or clear stays small. */
export const LISTED_KEYS = 500

export interface ContextToolDeps {
  store: ContextStore
  /** Counts tokens of rendered text (the configured encoding). */
  countTokens: (text: string) => number
  /** Told about every tool error returned, by code (metrics). */
  onToolError?: (code: ErrorCode) => void
  /** Told about failures that are not the caller's (logged; the caller sees `internal`). */
  onInternalError?: (error: unknown) => void
}

/** Registers update_context, get_context, query_context, clear_context and set_priority. */
export function registerContextTools (server: McpServer, deps: ContextToolDeps): void {
  const { store } = deps

  server.registerTool('update_context', {
    title: 'Write a context entry',
    description: 'Create or replace one entry of the shared context store. `context` is the entry content (any JSON object). ' +
      'Give `key` to replace that entry (only your own, unless you are admin), `priority` 1-10 (higher is kept longer when ' +
      'the store is full), `expected_version` to write only if the entry is still at that version (0: only if new). ' +
      'Needs the writer or admin role. Give `idempotency_key` to make a retry safe: the same call again returns the first ' +
      'result (replayed: true) and changes nothing.',
    inputSchema: advertised(writeToolInputSchema),
    outputSchema: writeOutputSchema,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false }
  }, (args, ctx) => runTool(deps, writeToolInputSchema, args, async (input) => {
    const { context, idempotency_key: _key, ...options } = input
    const result = await store.write(actorOf(ctx), { ...options, content: context }, withIdempotencyKey(input.idempotency_key))
    return {
      status: 'success' as const,
      key: result.key,
      tokens: result.tokens,
      version: result.version,
      seq: result.seq,
      stored: result.stored,
      evicted: result.evicted.slice(0, LISTED_KEYS),
      evicted_count: result.evicted.length,
      ...replayedMark(result)
    }
  }))

  server.registerTool('get_context', {
    title: 'Read the whole context store',
    description: 'Return the entries of the shared context store, best-ranked first (priority, then most recent), up to ' +
      '`max_tokens` of content (default 8000) and within about 20,000 tokens in all. The manifest says what was left ' +
      'out (keys, tokens, priority, source); fetch those with query_context and `keys`. `unbounded: true` returns ' +
      'everything, which may exceed your tool-result limit.',
    inputSchema: advertised(getToolInputSchema),
    outputSchema: getOutputSchema,
    annotations: { readOnlyHint: true, openWorldHint: false }
  }, (args, ctx) => runTool(deps, getToolInputSchema, args, (input) => {
    const { tenant } = actorOf(ctx)
    const read = budgetedRead(store, tenant, {}, { maxTokens: input.max_tokens, unbounded: input.unbounded, countTokens: deps.countTokens },
      (data, manifest) => ({ data, metadata: store.metadata(tenant), seq: store.seq(tenant), manifest }))
    return read.structured
  }))

  server.registerTool('query_context', {
    title: 'Query the context store',
    description: 'Return the entries that match every filter given, best-ranked first: `source` (prefix), `sources` ' +
      '(exact), `keys`, `min_priority`/`max_priority`, `since` (ISO time), `text` (substring of the content JSON), ' +
      '`limit`. `relevant_to` (your task in a sentence) ranks the matches by relevance to it, with priority and ' +
      'recency as tie-breakers, and gives each returned entry\'s score in metadata.scores. Only the best-ranked ' +
      'matches whose content fits `max_tokens` (default 8000) are returned, and the whole result stays within about ' +
      '20,000 tokens unless `unbounded: true`; the manifest lists what matched, what was returned and what was left out.',
    inputSchema: advertised(queryToolInputSchema),
    outputSchema: queryOutputSchema,
    annotations: { readOnlyHint: true, openWorldHint: false }
  }, (args, ctx) => runTool(deps, queryToolInputSchema, args, (input) => {
    const { max_tokens: maxTokens, unbounded, ...filters } = input
    const read = budgetedRead(store, actorOf(ctx).tenant, filters, { maxTokens, unbounded, countTokens: deps.countTokens },
      (data, manifest, scores) => ({ data, manifest, ...(scores !== undefined ? { metadata: { scores } } : {}) }))
    return read.structured
  }))

  server.registerTool('clear_context', {
    title: 'Remove context entries',
    description: 'Remove entries. With no argument: all of your own entries. `source` (prefix) and `keys` narrow it ' +
      '(admins reach every owner\'s entries this way); `all: true` clears the whole tenant store (admin only).',
    inputSchema: advertised(clearToolInputSchema),
    outputSchema: clearOutputSchema,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false }
  }, (args, ctx) => runTool(deps, clearToolInputSchema, args, async (input) => {
    const { idempotency_key: _key, ...options } = input
    const result = await store.clear(actorOf(ctx), options, withIdempotencyKey(input.idempotency_key))
    return { removed: result.removed.slice(0, LISTED_KEYS), count: result.count, seq: result.seq, ...replayedMark(result) }
  }))

  server.registerTool('set_priority', {
    title: 'Change an entry\'s priority',
    description: 'Set the priority (1-10) of an entry you own (any entry, if admin). Higher priorities are evicted last.',
    inputSchema: advertised(priorityToolInputSchema),
    outputSchema: priorityOutputSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false }
  }, (args, ctx) => runTool(deps, priorityToolInputSchema, args, async (input) => {
    const result = await store.setPriority(actorOf(ctx), input.key, input.priority, withIdempotencyKey(input.idempotency_key))
    return { key: result.key, priority: result.priority, version: result.version, seq: result.seq, ...replayedMark(result) }
  }))
}

/**
 * Validates the arguments, runs the tool and shapes its result. Failures the caller can act on
 * (ContextError) become tool errors with their code; anything else is logged and answered as
 * `internal`, so no internal message reaches the host.
 */
async function runTool<S extends z.ZodType> (
  deps: ContextToolDeps, schema: S, args: unknown, body: (input: z.infer<S>) => Record<string, unknown> | Promise<Record<string, unknown>>
): Promise<CallToolResult> {
  const parsed = schema.safeParse(args ?? {})
  if (!parsed.success) {
    return toolError(deps, new ContextError('validation_error', 'Invalid tool arguments', issueDetails(parsed.error)))
  }
  try {
    const structured = await body(parsed.data)
    return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured }
  } catch (error) {
    if (error instanceof ContextError) return toolError(deps, error)
    deps.onInternalError?.(error)
    return toolError(deps, new ContextError('internal', 'Internal server error'))
  }
}

function toolError (deps: ContextToolDeps, error: ContextError): CallToolResult {
  deps.onToolError?.(error.code)
  const { code, details } = wireError(error.code, error.details)
  const structured = { code, message: error.message, ...(details !== undefined ? { details } : {}) }
  return {
    isError: true,
    content: [{ type: 'text', text: `${code}: ${error.message}${details !== undefined ? ` ${JSON.stringify(details)}` : ''}` }],
    structuredContent: structured
  }
}
