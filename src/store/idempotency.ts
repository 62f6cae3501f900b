// Exactly-once writes (contract §8): the first reply to a write made with an idempotency key is
// kept per (tenant, user, key) for MCP_IDEMPOTENCY_TTL seconds; the same request again gets that
// reply back marked `replayed`, and a different request under the same key is refused. The record
// is committed with the change it answers (same journal transaction, same Redis script), so a
// crash between the commit and the reply cannot let a retry apply the write a second time.
//
// This module holds what both backends share: the request fingerprint, the reply kept, the refusal,
// and the embedded backend's per-tenant table (the Redis backend keeps its own in Redis).
import { createHash } from 'node:crypto'
import { ContextError } from '../errors.js'
import { contentJsonOfInput } from './content-from-json.js'
import type { Actor, ClearOptions, RequestOptions, Surface, WriteInput } from './types.js'

/** A store operation as the idempotency key covers it: two requests are "the same" when these match. */
export type IdempotentOperation =
  | { readonly op: 'write', readonly input: WriteInput }
  | { readonly op: 'priority', readonly key: string, readonly priority: number }
  | { readonly op: 'remove', readonly key: string }
  | { readonly op: 'clear', readonly options: ClearOptions }

/**
 * A digest of the operation: kind, target and every option, content included. Keys of the
 * options are sorted so two surfaces sending the same write in another field order still match;
 * the content is taken as serialized (a client retrying resends the same bytes).
 */
export function fingerprintOf (operation: IdempotentOperation): string {
  const hash = createHash('sha256')
  if (operation.op === 'write') {
    // The content's JSON as made for the write when the input carries it (a large frame's), so
    // the fingerprint does not parse it back to serialize it again; JSON.stringify gives the same.
    hash.update(`write\u0000${canonical(operation.input, 'content')}\u0000`)
    hash.update(contentJsonOfInput(operation.input) ?? JSON.stringify(operation.input.content) ?? '')
  } else {
    hash.update(`${operation.op}\u0000${canonical(operation)}`)
  }
  return hash.digest('base64url')
}

function canonical (value: object, leaveOut?: string): string {
  const sorted: Record<string, unknown> = {}
  for (const name of Object.keys(value).sort()) {
    if (name === leaveOut) continue
    const field = (value as Record<string, unknown>)[name]
    if (field !== undefined) sorted[name] = field
  }
  return JSON.stringify(sorted)
}

/** A store request's options for the idempotency key a client gave, or none. */
export function withIdempotencyKey (key: string | undefined): RequestOptions | undefined {
  return key === undefined ? undefined : { idempotencyKey: key }
}

/** `{replayed: true}` to spread into a reply repeated for a repeated key, else nothing. */
export function replayedMark (result: { replayed?: true }): { replayed?: true } {
  return result.replayed === true ? { replayed: true } : {}
}

/** The refusal of a key already used for a different request (REST: 422). */
export class IdempotencyKeyReusedError extends ContextError {
  readonly httpStatus = 422
  constructor () {
    super('validation_error', 'This idempotency key was already used for a different request; use a new key for a new request',
      { reason: 'idempotency_key_reused' })
  }
}

/** The part of an operation's result that is kept and replayed: everything but the entry. */
export function keptReply (result: object): string {
  const { entry: _entry, replayed: _replayed, ...reply } = result as { entry?: unknown, replayed?: unknown }
  return JSON.stringify(reply)
}

/** A kept reply as the operation's result again, marked as a replay. Lists Lua wrote as {} become []. */
export function replayedResult<R> (replyJson: string): R & { replayed: true } {
  const reply = JSON.parse(replyJson) as Record<string, unknown>
  for (const name of ['evicted', 'removed']) {
    if (name in reply && !Array.isArray(reply[name])) reply[name] = []
  }
  return { ...reply, replayed: true } as R & { replayed: true }
}

/** One kept reply. */
export interface IdempotencyRecord {
  readonly userId: string
  readonly key: string
  readonly fingerprint: string
  /** JSON of the first reply (keptReply). */
  readonly reply: string
  /** Milliseconds since the epoch. */
  readonly expiresAt: number
}

/** What the journal commits with a change: the new record and the records the cap pushed out. */
export interface IdempotencyWrite {
  readonly tenant: string
  readonly record: IdempotencyRecord
  readonly dropped: ReadonlyArray<{ readonly userId: string, readonly key: string }>
}

export interface Held { readonly record: IdempotencyRecord, committed: Promise<void> }

/** MCP_IDEMPOTENCY_TTL and the per-tenant cap (MCP_IDEMPOTENCY_MAX_KEYS). */
export interface IdempotencyOptions {
  idempotencyTtlMs?: number
  idempotencyMaxKeys?: number
  /** Told of every replayed request and every refused key reuse (the metrics count them). */
  onIdempotency?: IdempotencyObserver
}

export type IdempotencyObserver = (outcome: 'replayed' | 'conflict', surface: Surface) => void

/**
 * Passes an operation's result through, telling the observer when it was a replay or a refused
 * reuse of its key. One wrapper for every backend and operation, so the counts cannot drift
 * from what clients were told.
 */
export async function observeIdempotency<R extends { replayed?: true }> (
  observer: IdempotencyObserver | undefined, actor: Actor, request: RequestOptions | undefined, operation: Promise<R>
): Promise<R> {
  if (observer === undefined || request?.idempotencyKey === undefined) return await operation
  const surface = actor.surface ?? 'system'
  try {
    const result = await operation
    if (result.replayed === true) observer('replayed', surface)
    return result
  } catch (error) {
    if (error instanceof IdempotencyKeyReusedError) observer('conflict', surface)
    throw error
  }
}

export const DEFAULT_IDEMPOTENCY_TTL_MS = 600_000
export const DEFAULT_IDEMPOTENCY_MAX_KEYS = 10_000

/**
 * One tenant's kept replies, oldest first. Every record lives the same TTL, so insertion order is
 * expiry order: expired records leave from the front, and beyond `maxKeys` the oldest go first.
 */
export class IdempotencyTable {
  private readonly held = new Map<string, Held>()
  // Insertion order as a queue with a moving head: iterating a Map from its start after many
  // deletions there walks their tombstones every time, which made each add cost O(cap).
  private order: Array<{ readonly id: string, readonly held: Held }> = []
  private head = 0

  constructor (private readonly maxKeys: number) {}

  get size (): number { return this.held.size }

  /** The live record of (user, key), with the promise of its commit; expired ones are dropped. */
  find (userId: string, key: string, now: number): Held | undefined {
    const id = idOf(userId, key)
    const held = this.held.get(id)
    if (held === undefined) return undefined
    if (held.record.expiresAt > now) return held
    this.held.delete(id)
    return undefined
  }

  /**
   * Keeps a record (its commit promise is set by the caller once the commit is under way);
   * returns it and the records removed to stay within the cap (expired ones are not listed).
   */
  add (record: IdempotencyRecord, now: number): { held: Held, dropped: IdempotencyWrite['dropped'] } {
    const id = idOf(record.userId, record.key)
    const held: Held = { record, committed: Promise.resolve() }
    this.held.set(id, held)
    this.order.push({ id, held })
    const dropped: Array<{ userId: string, key: string }> = []
    while (this.head < this.order.length) {
      const oldest = this.order[this.head]
      // A key kept again since, or already dropped as expired by find(): its old place is stale.
      if (this.held.get(oldest.id) !== oldest.held) { this.head++; continue }
      const expired = oldest.held.record.expiresAt <= now
      if (!expired && this.held.size <= this.maxKeys) break
      this.held.delete(oldest.id)
      this.head++
      if (!expired) dropped.push({ userId: oldest.held.record.userId, key: oldest.held.record.key })
    }
    // Stale places and dropped ones are cut off once they are half the queue: amortized O(1).
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head)
      this.head = 0
    }
    return { held, dropped }
  }

  /** Puts back a record restored from the journal (oldest first). */
  restore (record: IdempotencyRecord, now: number): void {
    if (record.expiresAt > now) this.add(record, now)
  }
}

const idOf = (userId: string, key: string) => `${userId}\u0000${key}`

/**
 * Looks a request up, synchronously (so nothing can slip in between the look-up and the write
 * that follows it): the held record when the same request was made, a refusal when the key was
 * used for another request, or undefined when the request is new.
 */
export function heldReply (table: IdempotencyTable, userId: string, key: string, fingerprint: string, now: number): Held | undefined {
  const held = table.find(userId, key, now)
  if (held !== undefined && held.record.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError()
  return held
}

/** The replay of a held record, once the change it answers has committed. */
export async function replayOf<R> (held: Held): Promise<R & { replayed: true }> {
  await held.committed
  return replayedResult<R>(held.record.reply)
}
