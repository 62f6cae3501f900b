// Server-to-client frames as JSON text. Entries already carry their JSON (StoredEntry.json, made once
// per write), so stores, snapshots and deltas are assembled by concatenation: content is never
// re-serialized, and user-chosen keys never become properties of a JavaScript object.
import type { ErrorCode } from '../errors.js'
import type { MessageId } from '../protocol/messages.js'
import type { ChangeEvent, Snapshot, StoreMetadata, StoredEntry, WriteResult } from '../store/types.js'
import type { SubscriptionFilter } from '../protocol/messages.js'
import { entryMatches, viewOf } from './subscription.js'

/** `,"id":<id>` when the client gave an id, else nothing. Keeps `id` right after `type`. */
export function idField (id: MessageId | undefined): string {
  return id === undefined ? '' : `,"id":${JSON.stringify(id)}`
}

/** `{"key":entry,...}` in the order given (rank order for stores and queries). */
export function entriesObject (entries: Iterable<StoredEntry>, filter?: SubscriptionFilter): string {
  let out = '{'
  let first = true
  for (const stored of entries) {
    if (filter !== undefined && !entryMatches(stored, filter)) continue
    out += (first ? '' : ',') + JSON.stringify(stored.key) + ':' + stored.json
    first = false
  }
  return out + '}'
}

function metadataJson (metadata: StoreMetadata): string {
  return `{"total_tokens":${metadata.total_tokens},"max_tokens":${metadata.max_tokens},"entry_count":${metadata.entry_count}}`
}

/** The reply to get_context, the store sent on connect, and a resync (`resync: true`). */
export function contextFrame (snapshot: Snapshot, options: { id?: MessageId, resync?: boolean, filter?: SubscriptionFilter } = {}): string {
  return `{"type":"context"${idField(options.id)},"data":${entriesObject(snapshot.entries, options.filter)}` +
    `,"metadata":${metadataJson(snapshot.metadata)},"seq":${snapshot.seq},"epoch":${JSON.stringify(snapshot.epoch)}` +
    `${options.resync === true ? ',"resync":true' : ''}}`
}

/**
 * A snapshot-mode broadcast: the whole store (or its matching part, `data` from entriesObject), as
 * the original design sent it.
 */
export function snapshotUpdateFrame (data: string, snapshot: Snapshot): string {
  return `{"type":"context_update","data":${data},"metadata":${metadataJson(snapshot.metadata)},"seq":${snapshot.seq}` +
    `,"epoch":${JSON.stringify(snapshot.epoch)}}`
}

/** A delta-mode broadcast, or undefined when nothing in the change matches the filter. */
export function deltaFrame (change: ChangeEvent, filter?: SubscriptionFilter): string | undefined {
  const view = viewOf(change, filter)
  if (view === undefined) return undefined
  return `{"type":"context_delta","seq":${change.seq},"epoch":${JSON.stringify(change.epoch)},"reason":${JSON.stringify(change.reason)}` +
    `,"upserted":${entriesObject(view.upserted)},"removed":${JSON.stringify(view.removed)}` +
    `,"metadata":${metadataJson(change.metadata)},"at":${JSON.stringify(change.at)}}`
}

/** A direct reply: `type`, then the echoed `id`, then the reply's own fields (fixed, server-chosen names). */
export function replyFrame (type: string, id: MessageId | undefined, fields: Record<string, unknown> = {}): string {
  const body = JSON.stringify(fields)
  return `{"type":${JSON.stringify(type)}${idField(id)}${body === '{}' ? '' : ',' + body.slice(1, -1)}}`
}

/**
 * The reply to a write, the most frequent frame: assembled directly, byte for byte what
 * replyFrame('update_ack', id, {status, key, tokens, version, seq, epoch, evicted, stored,
 * replayed?}) gives, without the fields object and its copy.
 */
export function ackFrame (id: MessageId | undefined, result: WriteResult): string {
  return `{"type":"update_ack"${idField(id)},"status":"success","key":${JSON.stringify(result.key)},"tokens":${result.tokens}` +
    `,"version":${result.version},"seq":${result.seq},"epoch":${JSON.stringify(result.epoch)},"evicted":${JSON.stringify(result.evicted)}` +
    `,"stored":${result.stored}${result.replayed === true ? ',"replayed":true' : ''}}`
}

export function errorFrame (id: MessageId | undefined, code: ErrorCode, message: string, details?: unknown, extra: Record<string, unknown> = {}): string {
  return replyFrame('error', id, { code, message, ...(details !== undefined ? { details } : {}), ...extra })
}
