// A change as a compact record: a header JSON (reason, time, epoch, which entries, removals,
// totals) plus the JSON of each upserted entry. The Redis scripts write this form to the tenant's
// stream, and the embedded journal keeps its resume history in it; one decoder turns either back
// into a ChangeEvent, so a change looks the same wherever it is applied.
import { SYSTEM_ACTOR } from './change-actor.js'
import { entryFromJson } from './content-from-json.js'
import type { ChangeActor, ChangeEvent, ChangeReason, RemovalReason, StoredEntry } from './types.js'

interface Header {
  r: ChangeReason
  at: string
  /** The epoch of the history the change belongs to (absent in records written before epochs). */
  e?: string
  /** Upserted entries: [key, seq, expiry ms or 0], in the order of their JSON. */
  u: Array<[string, number, number]> | Record<string, never>
  d: Array<[string, RemovalReason]> | Record<string, never>
  /** total tokens, max tokens, entry count, after the change. */
  m: [number, number, number]
  /** Who made the change (absent in records written before the audit trail: then `system`). */
  a?: ChangeActor
}

/** The header JSON of a change, in the form the Redis scripts write. */
export function encodeHeader (change: ChangeEvent): string {
  const header: Header = {
    r: change.reason,
    at: change.at,
    e: change.epoch,
    u: change.upserted.map((stored) => [stored.key, stored.seq, stored.expiresAt ?? 0]),
    d: change.removed.map((removal) => [removal.key, removal.reason]),
    m: [change.metadata.total_tokens, change.metadata.max_tokens, change.metadata.entry_count],
    a: change.actor
  }
  return JSON.stringify(header)
}

/**
 * Builds the change with `seq` from its header JSON and the JSON of each upserted entry.
 * `epoch` is used when the header carries none (a record older than epochs).
 */
export function decodeChange (tenant: string, seq: number, headerJson: string, entryJsons: readonly string[], epoch = ''): ChangeEvent {
  const header = JSON.parse(headerJson) as Header
  // Lua's cjson writes an empty table as {}, not [].
  const upserts = Array.isArray(header.u) ? header.u : []
  const removals = Array.isArray(header.d) ? header.d : []
  const upserted: StoredEntry[] = upserts.map(([key, entrySeq, expiresAt], i) => storedEntry(key, entrySeq, expiresAt, entryJsons[i]))
  return {
    tenant,
    epoch: header.e ?? epoch,
    seq,
    reason: header.r,
    at: header.at,
    upserted,
    removed: removals.map(([key, reason]) => ({ key, reason })),
    metadata: { total_tokens: header.m[0], max_tokens: header.m[1], entry_count: header.m[2] },
    actor: header.a ?? SYSTEM_ACTOR
  }
}

/**
 * A stored entry from its JSON as the record holds it (made by JSON.stringify or the script,
 * byte-identical); a large content stays JSON until read (content-from-json.ts).
 */
export function storedEntry (key: string, seq: number, expiresAt: number, json: string): StoredEntry {
  return { key, seq, expiresAt: expiresAt > 0 ? expiresAt : undefined, json, entry: entryFromJson(json) }
}
