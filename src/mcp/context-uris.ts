// The MCP resource URIs of the store: one per entry and one for the whole tenant store. Keys are
// arbitrary strings (up to 512 characters), so they are percent-encoded into one path segment.
import { keySchema } from '../protocol/schemas.js'

export const SNAPSHOT_URI = 'context://snapshot'
export const ENTRY_URI_TEMPLATE = 'context://entries/{key}'

const ENTRY_URI_PREFIX = 'context://entries/'

// A key is at most 512 UTF-16 code units; percent-encoding makes one unit at most 9 characters
// (%XX%XX%XX), so no longer URI can name an entry and it is refused before any decoding.
const MAX_KEY_LENGTH = keySchema.maxLength ?? 512
export const MAX_ENTRY_URI_LENGTH = ENTRY_URI_PREFIX.length + MAX_KEY_LENGTH * 9

/** The resource URI of the entry with this key. */
export function entryUri (key: string): string {
  return ENTRY_URI_PREFIX + encodeURIComponent(key)
}

/** The key an entry URI names, or undefined when the URI is not an entry URI or is badly encoded. */
export function keyOfEntryUri (uri: string): string | undefined {
  if (!uri.startsWith(ENTRY_URI_PREFIX) || uri.length > MAX_ENTRY_URI_LENGTH) return undefined
  const key = decodeKey(uri.slice(ENTRY_URI_PREFIX.length))
  return key !== undefined && key.length <= MAX_KEY_LENGTH ? key : undefined
}

/** Decodes the `{key}` variable of the entry template; undefined when it is not valid encoding. */
export function decodeKey (encoded: string): string | undefined {
  if (encoded.length === 0 || encoded.includes('/')) return undefined
  try {
    return decodeURIComponent(encoded)
  } catch {
    return undefined
  }
}

/**
 * Whether a host may subscribe to this URI: the snapshot or any entry, present or not yet written.
 * A URI whose key could never be stored (over 512 characters) names nothing and is refused.
 */
export function isContextUri (uri: string): boolean {
  return uri === SNAPSHOT_URI || keyOfEntryUri(uri) !== undefined
}
