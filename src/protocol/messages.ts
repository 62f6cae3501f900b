// The WebSocket protocol's client messages (CONTRACT §2) as zod schemas: one discriminated union on
// `type`, built from the shared input schemas so a write is validated exactly as REST and MCP do.
import { z } from 'zod'
import { MAX_EPOCH_LENGTH } from '../store/epoch.js'
import {
  clearOptionsSchema, contentSchema, contextQuerySchema, idempotencyField, prioritySchema, setPrioritySchema, writeOptionsSchema
} from './schemas.js'

/** The optional `id` every direct reply echoes: a string of at most 64 characters, or an integer. */
export const messageIdSchema = z.union([z.string().max(64), z.number().int()])

export type MessageId = z.infer<typeof messageIdSchema>

export const BROADCAST_MODES = ['snapshot', 'delta', 'none'] as const
export const broadcastModeSchema = z.enum(BROADCAST_MODES, { error: 'must be snapshot, delta or none' })
export type BroadcastMode = z.infer<typeof broadcastModeSchema>

const seqSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)
/** The history a `since_seq` belongs to (contract §7): opaque, as the server sent it. */
const epochSchema = z.string().min(1).max(MAX_EPOCH_LENGTH)
// A JWT is a few hundred bytes; the cap only keeps a hostile frame from reaching the verifier.
const tokenSchema = z.string().min(1).max(16384)

/** Which changes a subscriber receives: entries whose source starts with `source`, at `min_priority` or more. */
export const subscriptionFilterSchema = z.object({
  source: z.string().min(1).max(256).optional(),
  min_priority: prioritySchema.optional()
}).strict()

export type SubscriptionFilter = z.infer<typeof subscriptionFilterSchema>

const envelope = { id: messageIdSchema.optional() }

export const updateContextMessageSchema = writeOptionsSchema.extend({
  type: z.literal('update_context'), ...envelope, ...idempotencyField, context: contentSchema
})

/** The original design's agent example: `data` in place of `context`, otherwise the same write. */
export const contextUpdateMessageSchema = writeOptionsSchema.extend({
  type: z.literal('context_update'), ...envelope, ...idempotencyField, data: contentSchema
})

export const clientMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('authenticate'), ...envelope, token: tokenSchema }),
  updateContextMessageSchema,
  contextUpdateMessageSchema,
  z.object({ type: z.literal('get_context'), ...envelope }),
  z.object({ type: z.literal('query_context'), ...envelope, query: contextQuerySchema.default({}) }),
  clearOptionsSchema.extend({ type: z.literal('clear_context'), ...envelope, ...idempotencyField }),
  setPrioritySchema.extend({ type: z.literal('set_priority'), ...envelope, ...idempotencyField }),
  z.object({
    type: z.literal('subscribe'),
    ...envelope,
    mode: broadcastModeSchema.default('snapshot'),
    filter: subscriptionFilterSchema.optional(),
    since_seq: seqSchema.optional(),
    epoch: epochSchema.optional()
  }),
  z.object({ type: z.literal('refresh_token'), ...envelope, token: tokenSchema }),
  z.object({ type: z.literal('ping'), ...envelope }),
  z.object({ type: z.literal('get_status'), ...envelope })
])

export type ClientMessage = z.infer<typeof clientMessageSchema>
export type MessageType = ClientMessage['type']
export type MessageOf<T extends MessageType> = Extract<ClientMessage, { type: T }>

/** Every type a client may send, to tell `unknown_type` apart from a malformed known message. */
export const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>(
  clientMessageSchema.options.map((option) => option.shape.type.value)
)

// A query value is text: only plain decimal digits name a seq (z.coerce.number would read "" and
// " " as 0, replaying the whole history, and accept "0x2" or "1e0").
const sinceSeqQuerySchema = z.string({ error: 'must be a non-negative decimal integer' })
  .regex(/^\d{1,16}$/, { error: 'must be a non-negative decimal integer' })
  .transform(Number).pipe(seqSchema)

/**
 * The connect options carried in the upgrade URL (`/ws?token=...&mode=delta&since_seq=42`).
 * The token is read separately and never leaves the auth path.
 */
export const connectQuerySchema = z.object({
  mode: broadcastModeSchema.optional(),
  since_seq: sinceSeqQuerySchema.optional(),
  epoch: epochSchema.optional()
})

export type ConnectOptions = z.infer<typeof connectQuerySchema>
