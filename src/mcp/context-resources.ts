// The store as MCP resources: every entry at context://entries/{key} (a template whose list is the
// tenant's entries, with priority and last-modified annotations) and the whole tenant store at
// context://snapshot. Sessions of the 2025 protocol also subscribe to URIs here; hosts of the
// current protocol name their URIs in subscriptions/listen instead, which the SDK serves.
import { McpServer, ProtocolError, ProtocolErrorCode, ResourceNotFoundError, ResourceTemplate, type Resource, type Variables } from '@modelcontextprotocol/server'
import type { ContextStore } from '../store/context-store.js'
import type { StoredEntry } from '../store/types.js'
import { actorOf } from './auth-info.js'
import { ENTRY_URI_TEMPLATE, SNAPSHOT_URI, decodeKey, entryUri, isContextUri } from './context-uris.js'

const JSON_TYPE = 'application/json'

/** Subscriptions one 2025-protocol session may hold, so a host cannot grow the server without bound. */
export const MAX_SUBSCRIPTIONS_PER_SESSION = 10_000

export interface ContextResourceOptions {
  /** The URIs a 2025-protocol session subscribed to; given only for such sessions. */
  subscriptions?: Set<string>
}

/** Registers the entry template, the snapshot and, for 2025 sessions, resources/(un)subscribe. */
export function registerContextResources (server: McpServer, store: ContextStore, options: ContextResourceOptions = {}): void {
  server.registerResource('entry', new ResourceTemplate(ENTRY_URI_TEMPLATE, {
    list: (ctx) => ({ resources: store.snapshot(actorOf(ctx).tenant).entries.map(entryResource) })
  }), {
    title: 'Context entry',
    description: 'One entry of the shared context store, as JSON (timestamp, content, tokens, source, priority, owner, version)',
    mimeType: JSON_TYPE
  }, (uri, variables, ctx) => {
    const key = keyVariable(variables)
    const stored = key === undefined ? undefined : store.get(actorOf(ctx).tenant, key)
    if (stored === undefined) throw new ResourceNotFoundError(uri.href)
    return { contents: [{ uri: uri.href, mimeType: JSON_TYPE, text: stored.json }] }
  })

  server.registerResource('snapshot', SNAPSHOT_URI, {
    title: 'Context store snapshot',
    description: 'The whole context store of your tenant: {data: {key: entry}, metadata, seq}, best-ranked entries first',
    mimeType: JSON_TYPE
  }, (uri, ctx) => ({ contents: [{ uri: uri.href, mimeType: JSON_TYPE, text: snapshotJson(store, actorOf(ctx).tenant) }] }))

  const subscriptions = options.subscriptions
  if (subscriptions === undefined) return
  server.server.setRequestHandler('resources/subscribe', (request) => {
    const { uri } = request.params
    if (!isContextUri(uri)) {
      // The refused URI is echoed only in part: it may be as long as the request body.
      const shown = uri.length > 200 ? `${uri.slice(0, 200)}... (${uri.length} characters)` : uri
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Not a resource of this server (an entry key has 1-512 characters): ${shown}`)
    }
    if (!subscriptions.has(uri) && subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SESSION) {
      throw new ProtocolError(ProtocolErrorCode.InvalidParams, `At most ${MAX_SUBSCRIPTIONS_PER_SESSION} subscriptions per session`)
    }
    subscriptions.add(uri)
    return {}
  })
  server.server.setRequestHandler('resources/unsubscribe', (request) => {
    subscriptions.delete(request.params.uri)
    return {}
  })
}

/** An entry as a listed resource; MCP priority runs 0..1, so 1..10 maps linearly onto it. */
export function entryResource (stored: StoredEntry): Resource {
  const { entry } = stored
  return {
    uri: entryUri(stored.key),
    name: stored.key,
    // Overrides the template's title, which hosts would otherwise show for every entry alike.
    title: stored.key,
    description: `${entry.tokens} tokens from ${entry.source}, priority ${entry.priority}, version ${entry.version}`,
    mimeType: JSON_TYPE,
    size: Buffer.byteLength(stored.json),
    annotations: { priority: (entry.priority - 1) / 9, lastModified: entry.timestamp }
  }
}

/** The snapshot document, assembled from each entry's cached JSON (nothing is re-serialized). */
export function snapshotJson (store: ContextStore, tenant: string): string {
  const snapshot = store.snapshot(tenant)
  const data = snapshot.entries.map((stored) => `${JSON.stringify(stored.key)}:${stored.json}`).join(',')
  return `{"data":{${data}},"metadata":${JSON.stringify(snapshot.metadata)},"seq":${snapshot.seq}}`
}

function keyVariable (variables: Variables): string | undefined {
  const value = variables.key
  const encoded = Array.isArray(value) ? value[0] : value
  return encoded === undefined ? undefined : decodeKey(encoded)
}
