// Large frames off the event loop. A frame of MCP_TOKENIZER_INLINE_BELOW bytes or more from an
// authenticated client goes to the counting pool's threads as it arrived (its bytes), and the
// thread does everything the event loop would: decode, parse (prototype-safe), zod validation,
// the depth check, the content's JSON.stringify and its token count (frame-preparation.ts, the
// same code). The event loop keeps what is cheap: the size cap (ws), the token expiry, the message
// and byte rates, the store's turn and the reply. So a client writing 900 KB entries costs the
// event loop a memory copy per write, not tens of milliseconds of parsing and serializing; the
// content comes back as its JSON alone (src/store/content-from-json.ts), not a clone of its tree.
//
// Order: a write's place in its tenant's order is taken when the frame arrives (writeDeferred),
// exactly as for a small write, so everything the tenant sends after it (any connection, any
// surface) is applied after it. A large frame that turns out not to be a write (rare: a query with
// a huge text, a clear with thousands of keys) is handled when its parse is done.
import type { FramePreparation } from './frame-preparation.js'
import type { FrameError } from './frame-parser.js'
import type { ClientMessage } from '../protocol/messages.js'
import type { DeferredWrite } from '../store/tenant-store.js'
import { inputWithContentJson } from '../store/content-from-json.js'
import { withIdempotencyKey } from '../store/idempotency.js'
import { writeInput, type WriteMessage } from './handlers.js'
import type { RateDecision } from './rate-limiter.js'

/** What the WebSocket side needs of the counting pool (src/tokenizer/counting-pool.ts). */
export interface LargeFramePreparer {
  /** Whether frames of this many bytes are prepared on a thread now (threads on, room in the queue). */
  takes: (byteLength: number) => boolean
  prepareFrame: (bytes: Uint8Array, maxDepth: number) => Promise<FramePreparation>
}

/** Why a large frame's deferred write was not applied, and what the connection does instead. */
export class FrameNotWritten extends Error {
  constructor (readonly outcome:
  | { readonly kind: 'invalid', readonly error: FrameError }
  | { readonly kind: 'not_a_write', readonly message: ClientMessage }
  | { readonly kind: 'over_byte_rate', readonly message: WriteMessage, readonly decision: Extract<RateDecision, { allowed: false }> }) {
    super(outcome.kind)
  }
}

/**
 * The store's input from a prepared frame, or FrameNotWritten. `byteDecision` is the byte rate's
 * verdict on the frame, taken when it arrived (as for any write, in arrival order).
 */
export function deferredWriteOf (prepared: FramePreparation, byteDecision: RateDecision): DeferredWrite & { message: WriteMessage } {
  const { parsed, content } = prepared
  if (!parsed.ok) throw new FrameNotWritten({ kind: 'invalid', error: parsed })
  const message = parsed.message
  if (content === undefined || (message.type !== 'update_context' && message.type !== 'context_update')) {
    throw new FrameNotWritten({ kind: 'not_a_write', message })
  }
  if (!byteDecision.allowed) throw new FrameNotWritten({ kind: 'over_byte_rate', message, decision: byteDecision })
  return {
    message,
    input: content.contentJson !== undefined ? inputWithContentJson(writeInput(message), content.contentJson) : writeInput(message),
    request: withIdempotencyKey(message.idempotency_key),
    contentJson: content.contentJson,
    tokens: content.tokens,
    tooDeep: content.tooDeep
  }
}
