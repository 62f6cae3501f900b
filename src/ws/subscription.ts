// What a client receives: its broadcast mode and filter, and which part of a change matches it.
import type { BroadcastMode, SubscriptionFilter } from '../protocol/messages.js'
import type { ChangeEvent, StoredEntry } from '../store/types.js'

export interface Subscription {
  readonly mode: BroadcastMode
  /** Undefined when the client takes every entry (the common case, kept free of per-entry checks). */
  readonly filter?: SubscriptionFilter
}

// The unfiltered subscriptions, shared by every client that has one (most do).
const UNFILTERED: Readonly<Record<BroadcastMode, Subscription>> = {
  snapshot: Object.freeze({ mode: 'snapshot' }),
  delta: Object.freeze({ mode: 'delta' }),
  none: Object.freeze({ mode: 'none' })
}

/** Normalizes a filter: an empty one is no filter, so unfiltered clients share one group. */
export function subscriptionOf (mode: BroadcastMode, filter: SubscriptionFilter | undefined): Subscription {
  if (filter === undefined || (filter.source === undefined && filter.min_priority === undefined)) return UNFILTERED[mode]
  return { mode, filter: { source: filter.source, min_priority: filter.min_priority } }
}

/** Clients with equal keys receive byte-identical broadcasts, so each message is built once per key. */
export function subscriptionKey (subscription: Subscription): string {
  const { mode, filter } = subscription
  return filter === undefined ? mode : JSON.stringify([mode, filter.source ?? null, filter.min_priority ?? null])
}

export function entryMatches (stored: StoredEntry, filter: SubscriptionFilter | undefined): boolean {
  if (filter === undefined) return true
  if (filter.source !== undefined && !stored.entry.source.startsWith(filter.source)) return false
  if (filter.min_priority !== undefined && stored.entry.priority < filter.min_priority) return false
  return true
}

export interface ChangeView {
  readonly upserted: readonly StoredEntry[]
  readonly removed: readonly string[]
}

/**
 * The part of a change a filtered client sees, or undefined when none of it concerns the client.
 * Removed keys are always passed on (the event does not say whose they were; a client ignores keys
 * it never had). An entry rewritten so that it no longer matches is reported as removed, because
 * the client may hold its earlier, matching version; a new entry that does not match is not news.
 */
export function viewOf (change: ChangeEvent, filter: SubscriptionFilter | undefined): ChangeView | undefined {
  const removedKeys = change.removed.map((removal) => removal.key)
  if (filter === undefined) return { upserted: change.upserted, removed: removedKeys }
  const upserted: StoredEntry[] = []
  for (const stored of change.upserted) {
    if (entryMatches(stored, filter)) upserted.push(stored)
    else if (change.reason !== 'created') removedKeys.push(stored.key)
  }
  if (upserted.length === 0 && removedKeys.length === 0) return undefined
  return { upserted, removed: removedKeys }
}
