// JSON bodies of the REST reads, assembled from the JSON the store already made for each entry.
//
// Why strings and not objects: every stored entry carries its JSON, made once at write time, so a
// read of 1,000 entries costs string joins instead of re-encoding every content through zod and
// JSON.stringify. It also keeps the rank order exactly: an object with integer-like keys ("7",
// "12") would be reordered by JavaScript, and keys are user input, so no object built from them
// can be trusted with that order (nor with a key like "__proto__").
import { metadataJson } from '../relevance/scores-json.js'
import type { StoredEntry } from '../store/types.js'
import type { ContextListMetadata } from './response-schemas.js'

/** One entry as GET /context/{key} returns it: the entry's fields, then its key. */
export function keyedEntryJson (stored: StoredEntry): string {
  // stored.json is a JSON object, so it ends with "}": the key goes in just before it.
  return `${stored.json.slice(0, -1)},"key":${JSON.stringify(stored.key)}}`
}

/**
 * GET /context's body: `{ data: {key: entry, ...in the given order}, metadata, seq, epoch }`, with
 * `metadata.scores` when the query ranked by relevance.
 */
export function contextListJson (
  entries: readonly StoredEntry[], metadata: Omit<ContextListMetadata, 'scores'>, seq: number, epoch: string,
  scores?: ReadonlyArray<readonly [string, number]>
): string {
  const data: string[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) data[i] = `${JSON.stringify(entries[i].key)}:${entries[i].json}`
  return `{"data":{${data.join(',')}},"metadata":${metadataJson(metadata, scores)},"seq":${seq},"epoch":${JSON.stringify(epoch)}}`
}
