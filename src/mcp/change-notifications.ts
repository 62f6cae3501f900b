// Which MCP notifications one store change causes. Every change updates the snapshot resource and
// the resources of the keys it wrote or removed; the resource list changes only when a key appears
// or disappears (a replace or a priority change keeps the same list).
import type { ChangeEvent } from '../store/types.js'
import { SNAPSHOT_URI, entryUri } from './context-uris.js'

export interface ChangeNotifications {
  /** URIs for `notifications/resources/updated`, the snapshot first. */
  readonly updatedUris: string[]
  /** Whether to send `notifications/resources/list_changed`. */
  readonly listChanged: boolean
}

/** The notifications a change causes, for hosts of the change's tenant. */
export function notificationsFor (change: ChangeEvent): ChangeNotifications {
  const updatedUris = [SNAPSHOT_URI]
  for (const stored of change.upserted) updatedUris.push(entryUri(stored.key))
  for (const removal of change.removed) updatedUris.push(entryUri(removal.key))
  const created = change.reason === 'created' && change.upserted.length > 0
  return { updatedUris, listChanged: created || change.removed.length > 0 }
}
