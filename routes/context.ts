// The REST surface of the context store (contract §3): read, query, write, re-prioritise, delete
// and clear the caller's tenant. Roles, ownership, token counting and eviction are the store's; a
// REST write is a store change like any other, so WebSocket subscribers and MCP hosts see it.
import { z } from 'zod'
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ContextError, notFound } from '../src/errors.js'
import type { Identity } from '../src/auth/identity.js'
import { assertCanRead } from '../src/store/permissions.js'
import { idempotencyKeySchema, keySchema, prioritySchema, writeBodySchema } from '../src/protocol/schemas.js'
import { clearQueryStringSchema, contextQueryStringSchema } from '../src/rest/query-schemas.js'
import { contextListJson, keyedEntryJson } from '../src/rest/context-json.js'
import {
  clearResultSchema, contextListSchema, errorResponses, jsonResponse, keyedEntrySchema, priorityResultSchema, writeResultSchema
} from '../src/rest/response-schemas.js'
import { replayedMark, withIdempotencyKey } from '../src/store/idempotency.js'
import type { Actor, RequestOptions, WriteResult } from '../src/store/types.js'

const JSON_TYPE = 'application/json; charset=utf-8'

const keyParams = z.object({ key: keySchema })

// REST bodies are strict: a misspelt or misplaced field (`data` for `context`, a `key` in a PUT
// body) is a 400 naming it, not a silently ignored option.
const postBodySchema = writeBodySchema.strict()
const putBodySchema = writeBodySchema.omit({ key: true }).strict()
const patchBodySchema = z.object({ priority: prioritySchema }).strict()

// Every write takes an optional Idempotency-Key header (contract §8). The other headers pass
// through untouched (a strict object would strip them from the request).
const writeHeaders = z.looseObject({ 'idempotency-key': idempotencyKeySchema.optional() })

/** The write's request options: the Idempotency-Key header, if any. */
function requestOf (request: FastifyRequest): RequestOptions | undefined {
  return withIdempotencyKey((request.headers as { 'idempotency-key'?: string })['idempotency-key'])
}

/** Marks a replayed reply: `Idempotent-Replayed: true`, and `replayed: true` in a body that has one. */
function markReplay (reply: FastifyReply, result: { replayed?: true }): void {
  if (result.replayed === true) reply.header('idempotent-replayed', 'true')
}

/** The caller as the actor of a store write, tagged for the audit trail. */
function writerOf (request: FastifyRequest): Actor {
  return { ...callerOf(request), surface: 'rest' }
}

/** The caller, set by the authentication hook that runs before any handler here. */
function callerOf (request: FastifyRequest): Identity {
  if (request.identity === null) throw new ContextError('unauthorized', 'Authentication token required')
  return request.identity
}

/**
 * Sends JSON already assembled from the store's cached entry JSON (why: src/rest/context-json.ts).
 * The route's response schema still documents the shape; the tests hold the bodies to it.
 */
function sendSerialized (reply: FastifyReply, json: string) {
  return reply.type(JSON_TYPE).send(json)
}

/** The store's write result without its entry: what POST and PUT reply with. */
function writeReply (result: WriteResult) {
  const { key, tokens, version, seq, epoch, evicted, stored, replayed } = result
  return { key, tokens, version, seq, epoch, evicted, stored, ...replayedMark({ replayed }) }
}

const contextRoutes: FastifyPluginAsyncZod = async (app) => {
  // Before the body is read: a caller without a valid token gets 401 and costs no parsing. The
  // rate limit (onRequest) has already counted the request by then. A callback hook: an async one
  // costs a promise and a microtask turn on every request.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    try {
      app.authenticateRequest(request)
    } catch (error) {
      done(error as Error)
      return
    }
    done(null, payload)
  })

  app.get('/context', {
    schema: {
      operationId: 'queryContext',
      tags: ['context'],
      summary: 'Read the store, or query it',
      description: 'Without parameters: every entry of the tenant. With parameters: the query_context filters ' +
        '(all must match). Entries come in rank order: priority descending, then most recent write. `max_tokens` ' +
        'returns the best-ranked matches that fit that budget. `relevant_to` (a task in free text) ranks the matches ' +
        'by relevance to it instead, with each returned entry\'s score in `metadata.scores` (docs/context-optimizer.md).',
      querystring: contextQueryStringSchema,
      response: { 200: jsonResponse('The matching entries in rank order, with totals and the seq they reflect', contextListSchema), ...errorResponses(400, 403) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    assertCanRead(caller)
    // The query, the store totals and seq are read in one synchronous step, so they agree.
    const result = app.store.query(caller.tenant, request.query)
    const { omitted: _omitted, scores, ...matches } = result.metadata
    const body = contextListJson(result.entries, { ...app.store.metadata(caller.tenant), ...matches },
      app.store.seq(caller.tenant), app.store.epoch(caller.tenant), scores)
    return sendSerialized(reply, body)
  })

  app.get('/context/:key', {
    schema: {
      operationId: 'getEntry',
      tags: ['context'],
      summary: 'Read one entry',
      description: 'The entry with this key (URL-encode it), or 404.',
      params: keyParams,
      response: { 200: jsonResponse('The entry', keyedEntrySchema), ...errorResponses(400, 403, 404) }
    }
  }, async (request, reply) => {
    const caller = callerOf(request)
    assertCanRead(caller)
    const stored = app.store.get(caller.tenant, request.params.key)
    if (stored === undefined) throw notFound(request.params.key)
    return sendSerialized(reply, keyedEntryJson(stored))
  })

  app.post('/context', {
    schema: {
      operationId: 'createEntry',
      tags: ['context'],
      summary: 'Create an entry',
      description: 'The body of update_context: `context` (any JSON object) and optionally `source`, `priority` ' +
        '(1-10, default 1), `key` (create or replace; otherwise the server makes one from the source), ' +
        '`expected_version` (0: only if absent) and `ttl_seconds`. Evictions that keep the tenant within ' +
        'its budget are listed in `evicted`. Needs the writer or admin role; a writer replaces only its own entries.',
      headers: writeHeaders,
      body: postBodySchema,
      response: { 201: jsonResponse('Written (Location names the entry); evicted lists what the budget pushed out', writeResultSchema), ...errorResponses(400, 403, 409, 413, 422) }
    }
  }, async (request, reply) => {
    const { context, ...options } = request.body
    const result = await app.store.write(writerOf(request), { ...options, content: context }, requestOf(request))
    markReplay(reply, result)
    return reply.code(201).header('location', `/context/${encodeURIComponent(result.key)}`).send(writeReply(result))
  })

  app.put('/context/:key', {
    schema: {
      operationId: 'putEntry',
      tags: ['context'],
      summary: 'Create or replace the entry with this key',
      description: 'As POST /context, with the key in the path. 201 when the key was created, 200 when replaced.',
      params: keyParams,
      headers: writeHeaders,
      body: putBodySchema,
      response: { 200: jsonResponse('Replaced', writeResultSchema), 201: jsonResponse('Created', writeResultSchema), ...errorResponses(400, 403, 409, 413, 422) }
    }
  }, async (request, reply) => {
    const { context, ...options } = request.body
    const result = await app.store.write(writerOf(request), { ...options, key: request.params.key, content: context }, requestOf(request))
    markReplay(reply, result)
    return reply.code(result.version === 1 ? 201 : 200).send(writeReply(result))
  })

  app.patch('/context/:key', {
    schema: {
      operationId: 'setEntryPriority',
      tags: ['context'],
      summary: "Change an entry's priority",
      description: 'Counts as a write of the entry: its version goes up and it becomes the most recent.',
      params: keyParams,
      headers: writeHeaders,
      body: patchBodySchema,
      response: { 200: jsonResponse('Priority set; the entry has a new version', priorityResultSchema), ...errorResponses(400, 403, 404, 422) }
    }
  }, async (request, reply) => {
    const result = await app.store.setPriority(writerOf(request), request.params.key, request.body.priority, requestOf(request))
    markReplay(reply, result)
    const { key, priority, version, seq, replayed } = result
    return { key, priority, version, seq, ...replayedMark({ replayed }) }
  })

  app.delete('/context/:key', {
    schema: {
      operationId: 'deleteEntry',
      tags: ['context'],
      summary: 'Delete one entry',
      description: 'Writers delete their own entries, admins any entry of the tenant.',
      params: keyParams,
      headers: writeHeaders,
      response: { 204: z.undefined().describe('Deleted (a replay says so in Idempotent-Replayed)'), ...errorResponses(400, 403, 404, 422) }
    }
  }, async (request, reply) => {
    markReplay(reply, await app.store.remove(writerOf(request), request.params.key, requestOf(request)))
    return reply.code(204).send()
  })

  app.delete('/context', {
    schema: {
      operationId: 'clearContext',
      tags: ['context'],
      summary: 'Clear entries',
      description: "The clear_context options. None: the caller's own entries. `source` (prefix) and `keys` narrow " +
        "it (an admin's reach every owner). `all=true`: the whole tenant (admin only). A writer naming another " +
        "user's key is refused with 403 and nothing is removed.",
      querystring: clearQueryStringSchema,
      headers: writeHeaders,
      response: { 200: jsonResponse('What was removed', clearResultSchema), ...errorResponses(400, 403, 422) }
    }
  }, async (request, reply) => {
    const result = await app.store.clear(writerOf(request), request.query, requestOf(request))
    markReplay(reply, result)
    const { removed, count, seq, replayed } = result
    return { removed, count, seq, ...replayedMark({ replayed }) }
  })
}

export default contextRoutes
