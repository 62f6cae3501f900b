// Where an entry's content sits in its JSON: buildStoredEntry (tenant-store.ts) assembles the
// entry's JSON around the content serialized once, so the content's JSON can be cut back out
// without serializing again (the journal stores it; the relevance index compares it).
import type { StoredEntry } from './types.js'

export const CONTENT_PREFIX = ',"content":'

/** The content's JSON, cut out of the entry's JSON (no re-serialization). */
export function contentJsonOf (stored: StoredEntry): string {
  const start = stored.json.indexOf(CONTENT_PREFIX) + CONTENT_PREFIX.length
  const end = stored.json.lastIndexOf(',"tokens":')
  return stored.json.slice(start, end)
}
