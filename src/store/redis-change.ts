// Turns the change records the Redis scripts write (and return) back into ChangeEvents. One
// decoder serves the script's own reply (read-your-writes) and the stream (every other instance),
// so a change looks the same wherever it is applied.
import { SYSTEM_ACTOR } from './change-actor.js'
import type { ChangeActor, ChangeEvent, ChangeReason, RemovalReason, StoredEntry } from './types.js'

interface Header {
  r: ChangeReason
  at: string
  /** Upserted entries: [key, seq, expiry ms or 0], in the order of their JSON. */
  u: Array<[string, number, number]> | Record<string, never>
  d: Array<[string, RemovalReason]> | Record<string, never>
  /** total tokens, max tokens, entry count, after the change. */
  m: [number, number, number]
  /** Who made the change (absent in records written before the audit trail). */
  a?: ChangeActor
}

/** Builds the change with `seq` from its header JSON and the JSON of each upserted entry. */
export function decodeChange (tenant: string, seq: number, headerJson: string, entryJsons: readonly string[]): ChangeEvent {
  const header = JSON.parse(headerJson) as Header
  // Lua's cjson writes an empty table as {}, not [].
  const upserts = Array.isArray(header.u) ? header.u : []
  const removals = Array.isArray(header.d) ? header.d : []
  const upserted: StoredEntry[] = upserts.map(([key, entrySeq, expiresAt], i) => storedEntry(key, entrySeq, expiresAt, entryJsons[i]))
  return {
    tenant,
    seq,
    reason: header.r,
    at: header.at,
    upserted,
    removed: removals.map(([key, reason]) => ({ key, reason })),
    metadata: { total_tokens: header.m[0], max_tokens: header.m[1], entry_count: header.m[2] },
    actor: header.a ?? SYSTEM_ACTOR
  }
}

/** A stream record `[id, [field, value, ...]]` (fields h, 1, 2, ...) as a change. */
export function decodeRecord (tenant: string, record: [string, string[]]): ChangeEvent {
  const [id, fields] = record
  const entryJsons: string[] = []
  for (let i = 3; i < fields.length; i += 2) entryJsons.push(fields[i])
  return decodeChange(tenant, seqOfId(id), fields[1], entryJsons)
}

/** The seq of a stream id: records are added with the explicit id `<seq>-0`. */
export function seqOfId (id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}

/** A stored entry from its JSON as Redis holds it (made by the script, byte-identical to JS's). */
export function storedEntry (key: string, seq: number, expiresAt: number, json: string): StoredEntry {
  return { key, seq, expiresAt: expiresAt > 0 ? expiresAt : undefined, json, entry: JSON.parse(json) }
}
