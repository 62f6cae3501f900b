// The MCP resource URIs of the store: one per entry and one for the whole tenant store. Keys are
// arbitrary strings (up to 512 characters), so they are percent-encoded into one path segment.

export const SNAPSHOT_URI = 'context://snapshot'
export const ENTRY_URI_TEMPLATE = 'context://entries/{key}'

const ENTRY_URI_PREFIX = 'context://entries/'

/** The resource URI of the entry with this key. */
export function entryUri (key: string): string {
  return ENTRY_URI_PREFIX + encodeURIComponent(key)
}

/** The key an entry URI names, or undefined when the URI is not an entry URI or is badly encoded. */
export function keyOfEntryUri (uri: string): string | undefined {
  if (!uri.startsWith(ENTRY_URI_PREFIX)) return undefined
  return decodeKey(uri.slice(ENTRY_URI_PREFIX.length))
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

/** Whether a host may subscribe to this URI: the snapshot or any entry, present or not yet written. */
export function isContextUri (uri: string): boolean {
  return uri === SNAPSHOT_URI || keyOfEntryUri(uri) !== undefined
}
