// The protocol's message handlers: pure functions (message, session, deps) -> replies and effects.
// They never touch a socket, so each can be called directly; the connection sends what they return
// and applies their effects (subscribe, refresh, close) in the same tick.
import type { Identity } from '../auth/identity.js'
import type { Config } from '../config.js'
import { ContextError, wireError, type ErrorCode } from '../errors.js'
import type { ClientMessage, MessageId, MessageOf, MessageType } from '../protocol/messages.js'
import type { SessionInfo, SessionRegistry } from '../sessions/session-registry.js'
import { metadataJson } from '../relevance/scores-json.js'
import { statusBody } from '../status.js'
import type { ContextStore } from '../store/context-store.js'
import { assertAdmin } from '../store/permissions.js'
import { replayedMark, withIdempotencyKey } from '../store/idempotency.js'
import { isoTimestamp } from '../store/iso-time.js'
import type { WriteInput, WriteResult } from '../store/types.js'
import type { ClientSession } from './client-session.js'
import { ackFrame, contextFrame, entriesObject, errorFrame, idField, replyFrame } from './serialization.js'
import { subscriptionOf, type Subscription } from './subscription.js'

export interface HandlerDeps {
  readonly store: ContextStore
  readonly config: Config
  readonly sessions: SessionRegistry<SessionInfo>
  /** Verifies a JWT; throws ContextError('unauthorized') when it is not acceptable. */
  readonly verifyToken: (token: string) => Identity
  readonly now: () => number
}

export type Effect =
  | { readonly kind: 'subscribe', readonly id?: MessageId, readonly subscription: Subscription, readonly sinceSeq?: number, readonly epoch?: string }
  | { readonly kind: 'refresh', readonly identity: Identity }
  | { readonly kind: 'close', readonly code: number, readonly reason: string }

export interface Outcome {
  /** Frames to send, in order, before the effect is applied. */
  readonly replies: string[]
  readonly effect?: Effect
  /** The error code when the reply is an error, for the errors metric. */
  readonly error?: ErrorCode
  /** An unexpected failure, already answered with `internal`; the caller logs it. */
  readonly failure?: unknown
}

type Handler<T extends MessageType> = (message: MessageOf<T>, session: ClientSession, deps: HandlerDeps) => Outcome | Promise<Outcome>

const reply = (frame: string): Outcome => ({ replies: [frame] })
const replyError = (id: MessageId | undefined, code: ErrorCode, message: string, details?: unknown, extra?: Record<string, unknown>): Outcome =>
  ({ replies: [errorFrame(id, code, message, details, extra)], error: code })

export type WriteMessage = MessageOf<'update_context'> | MessageOf<'context_update'>

export function writeInput (message: WriteMessage): WriteInput {
  return {
    content: message.type === 'update_context' ? message.context : message.data,
    source: message.source,
    priority: message.priority,
    key: message.key,
    expected_version: message.expected_version,
    ttl_seconds: message.ttl_seconds
  }
}

// The write path is the hot one (agents stream updates): a plain .then rather than an async
// function saves a promise per message, and the ack is assembled directly (ackFrame).
function write (message: WriteMessage, session: ClientSession, deps: HandlerDeps): Promise<Outcome> {
  return deps.store.write(session.actor, writeInput(message), withIdempotencyKey(message.idempotency_key)).then((result) => writeAcked(message, result))
}

/** The `update_ack` of a write applied (also for a large frame's write, src/ws/large-frame.ts). */
export function writeAcked (message: WriteMessage, result: WriteResult): Outcome {
  return reply(ackFrame(message.id, result))
}

const sameRoles = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000')

const handlers: { [T in MessageType]: Handler<T> } = {
  authenticate: (message) => replyError(message.id, 'validation_error',
    'Already authenticated; send refresh_token to replace the token'),

  update_context: write,
  context_update: write,

  get_context: (message, session, deps) => reply(contextFrame(deps.store.snapshot(session.tenant), { id: message.id })),

  query_context: (message, session, deps) => {
    const result = deps.store.query(session.tenant, message.query)
    const { omitted: _omitted, scores, ...metadata } = result.metadata
    return reply(`{"type":"query_response"${idField(message.id)}` +
      `,"data":${entriesObject(result.entries)}` +
      `,"metadata":${metadataJson(metadata, scores)}}`)
  },

  clear_context: async (message, session, deps) => {
    const result = await deps.store.clear(session.actor, { source: message.source, keys: message.keys, all: message.all }, withIdempotencyKey(message.idempotency_key))
    return reply(replyFrame('context_cleared', message.id, { removed: result.removed, count: result.count, seq: result.seq, ...replayedMark(result) }))
  },

  set_priority: async (message, session, deps) => {
    const result = await deps.store.setPriority(session.actor, message.key, message.priority, withIdempotencyKey(message.idempotency_key))
    return reply(replyFrame('priority_set', message.id, {
      key: result.key, priority: result.priority, version: result.version, seq: result.seq, ...replayedMark(result)
    }))
  },

  subscribe: (message) => ({
    replies: [],
    effect: {
      kind: 'subscribe', id: message.id, subscription: subscriptionOf(message.mode, message.filter), sinceSeq: message.since_seq, epoch: message.epoch
    }
  }),

  refresh_token: (message, session, deps) => {
    let identity: Identity
    try {
      identity = deps.verifyToken(message.token)
    } catch {
      return refused(message.id, 'Invalid authentication token')
    }
    const current = session.identity
    if (identity.userId !== current.userId || identity.tenant !== current.tenant || !sameRoles(identity.roles, current.roles)) {
      return refused(message.id, 'A refreshed token must carry the same user, tenant and roles')
    }
    return {
      replies: [replyFrame('token_refreshed', message.id, {
        success: true,
        timestamp: new Date(deps.now()).toISOString(),
        expires_at: new Date(identity.expiresAt).toISOString()
      })],
      effect: { kind: 'refresh', identity }
    }
  },

  ping: (message, _session, deps) => reply(replyFrame('pong', message.id, { timestamp: isoTimestamp(deps.now()) })),

  get_status: (message, session, deps) => {
    assertAdmin(session.identity)
    const body = statusBody(session.tenant, { config: deps.config, store: deps.store, sessions: deps.sessions })
    return reply(replyFrame('status', message.id, body))
  }
}

/** A refused refresh: the error first, then the connection closes 4001 (CONTRACT §2). */
function refused (id: MessageId | undefined, message: string): Outcome {
  return { ...replyError(id, 'forbidden', message), effect: { kind: 'close', code: 4001, reason: 'Invalid authentication token' } }
}

/** The error reply of a failed operation: a ContextError as its wire code, anything else `internal`. */
export function failed (message: ClientMessage, error: unknown): Outcome {
  if (error instanceof ContextError) {
    // Codes the contract does not list (a backend `unavailable`) travel as a listed one, with the
    // precise code in details.reason: a client can tell that retrying later may help.
    const wire = wireError(error.code, error.details)
    // A store refusal that says when to retry (the counting pool's full queue) carries it where the
    // message rate's refusal does: `retry_after_ms` beside `code` (CONTRACT §2).
    const retryAfter = (error.details as { retry_after_ms?: unknown } | undefined)?.retry_after_ms
    const extra = wire.code === 'rate_limited' && typeof retryAfter === 'number' ? { retry_after_ms: retryAfter } : undefined
    return replyError(message.id, wire.code, error.message, wire.details, extra)
  }
  return { ...replyError(message.id, 'internal', 'Internal error'), failure: error }
}

/**
 * Handles one validated message. Synchronous handlers return synchronously, so effects such as a
 * subscription take place in the same tick as the message, with no change slipping in between.
 * Never rejects: failures become `error` replies.
 */
export function handleMessage (message: ClientMessage, session: ClientSession, deps: HandlerDeps): Outcome | Promise<Outcome> {
  const handler = handlers[message.type] as Handler<MessageType>
  let outcome: Outcome | Promise<Outcome>
  try {
    outcome = handler(message, session, deps)
  } catch (error) {
    return failed(message, error)
  }
  if (outcome instanceof Promise) return outcome.then(undefined, (error: unknown) => failed(message, error))
  return outcome
}
