// The local copy of the server's store, and the only code that changes it. It applies snapshots
// (which replace it) and deltas (which only move it forward: a delta at or below its seq is a
// duplicate and is skipped) by seq and epoch, and reports each change. After every call,
// `entries` is exactly the server's view (through the subscription's filter) at `seq`.
import type { ChangeActor, Entry, StoreMetadata, SubscriptionFilter } from './types.js'

/** Why the whole mirror was replaced. */
export type ResyncCause =
  /** The first snapshot of this client. */
  | 'initial'
  /** The server sent a snapshot with `resync: true` (history did not reach back, or we fell behind). */
  | 'server'
  /** The server's history is another one than the mirror's (epoch changed, or seq went back). */
  | 'history'

/** One change to the mirror, as the 'change' event reports it. */
export interface MirrorChange {
  /** Entries created or changed by this change (with the filter: that match it). */
  readonly upserted: ReadonlyMap<string, Entry>
  /** Keys that were in the mirror and are gone. */
  readonly removed: readonly string[]
  readonly seq: number
  readonly epoch: string | undefined
  readonly metadata: StoreMetadata
  /** The server's reason (`created`, `replaced`, `priority`, `deleted`, `cleared`, `expired`, ...), or `resync`/`snapshot` for a replacement. */
  readonly reason: string | undefined
  readonly actor: ChangeActor | undefined
  readonly at: string | undefined
}

export interface DeltaFrame {
  readonly seq: number
  readonly epoch?: string
  readonly upserted?: Readonly<Record<string, Entry>>
  readonly removed?: readonly string[]
  readonly metadata?: StoreMetadata
  readonly reason?: string
  readonly actor?: ChangeActor
  readonly at?: string
}

export interface SnapshotFrame {
  readonly data: Readonly<Record<string, Entry>>
  readonly seq: number
  readonly epoch?: string
  readonly metadata?: StoreMetadata
}

const EMPTY_METADATA: StoreMetadata = Object.freeze({ total_tokens: 0, max_tokens: 0, entry_count: 0 })

export class Mirror {
  private readonly map = new Map<string, Entry>()
  private currentSeq = 0
  private currentEpoch: string | undefined
  private currentMetadata: StoreMetadata = EMPTY_METADATA
  private hasState = false

  constructor (private readonly filter?: SubscriptionFilter) {}

  get entries (): ReadonlyMap<string, Entry> { return this.map }
  get seq (): number { return this.currentSeq }
  get epoch (): string | undefined { return this.currentEpoch }
  get metadata (): StoreMetadata { return this.currentMetadata }
  /** A snapshot has been applied: the mirror holds a state it can resume from. */
  get loaded (): boolean { return this.hasState }

  /**
   * Whether a connection whose store is at (`seq`, `epoch`) continues the mirror's history, so
   * the server can bring the mirror forward with the deltas after its seq.
   */
  continues (seq: number, epoch: string | undefined): boolean {
    return this.hasState && epoch === this.currentEpoch && seq >= this.currentSeq
  }

  /** Replaces the mirror with a whole store; returns the difference as one change. */
  replace (snapshot: SnapshotFrame, reason: string): MirrorChange {
    const upserted = new Map<string, Entry>()
    const next = new Map<string, Entry>()
    for (const key of Object.keys(snapshot.data)) {
      const entry = snapshot.data[key]
      if (!this.matches(entry)) continue
      next.set(key, entry)
      const before = this.map.get(key)
      if (before === undefined || !sameEntry(before, entry)) upserted.set(key, entry)
    }
    const removed: string[] = []
    for (const key of this.map.keys()) if (!next.has(key)) removed.push(key)
    this.map.clear()
    for (const [key, entry] of next) this.map.set(key, entry)
    this.currentSeq = snapshot.seq
    this.currentEpoch = snapshot.epoch
    this.currentMetadata = snapshot.metadata ?? this.currentMetadata
    this.hasState = true
    return this.change(upserted, removed, reason)
  }

  /**
   * Applies a snapshot-mode broadcast: newer than the mirror (or of another history) replaces it;
   * an older one is skipped (undefined).
   */
  applySnapshot (snapshot: SnapshotFrame): MirrorChange | undefined {
    if (this.hasState && snapshot.epoch === this.currentEpoch && snapshot.seq <= this.currentSeq) return undefined
    return this.replace(snapshot, 'snapshot')
  }

  /**
   * Applies a delta after the mirror's seq. A delta at or below it is already reflected
   * (undefined). A delta of another epoch cannot be applied at all: 'other_history'.
   */
  applyDelta (delta: DeltaFrame): MirrorChange | undefined | 'other_history' {
    if (delta.epoch !== undefined && this.currentEpoch !== undefined && delta.epoch !== this.currentEpoch) return 'other_history'
    if (delta.seq <= this.currentSeq) return undefined
    const removed: string[] = []
    for (const key of delta.removed ?? []) {
      if (this.map.delete(key)) removed.push(key)
    }
    const upserted = new Map<string, Entry>()
    const incoming = delta.upserted ?? {}
    for (const key of Object.keys(incoming)) {
      const entry = incoming[key]
      if (this.matches(entry)) {
        this.map.set(key, entry)
        upserted.set(key, entry)
      } else if (this.map.delete(key)) {
        // Rewritten so that it no longer matches the filter: gone from this view.
        removed.push(key)
      }
    }
    this.currentSeq = delta.seq
    if (delta.epoch !== undefined) this.currentEpoch = delta.epoch
    this.currentMetadata = delta.metadata ?? this.currentMetadata
    return this.change(upserted, removed, delta.reason, delta.actor, delta.at)
  }

  private change (upserted: Map<string, Entry>, removed: string[], reason: string | undefined, actor?: ChangeActor, at?: string): MirrorChange {
    return { upserted, removed, seq: this.currentSeq, epoch: this.currentEpoch, metadata: this.currentMetadata, reason, actor, at }
  }

  private matches (entry: Entry): boolean {
    const filter = this.filter
    if (filter === undefined) return true
    if (filter.source !== undefined && !entry.source.startsWith(filter.source)) return false
    if (filter.min_priority !== undefined && entry.priority < filter.min_priority) return false
    return true
  }
}

/** Entries are replaced whole on every write, so equal JSON means the same entry. */
function sameEntry (a: Entry, b: Entry): boolean {
  return a.version === b.version && a.timestamp === b.timestamp && JSON.stringify(a) === JSON.stringify(b)
}
