// A tenant's relevance index over time: absent until the tenant's first relevant_to query, then
// kept in step with the working set. Changes are recorded as the keys they touched (O(1) on the
// write path) and applied at the next relevant_to query, each in O(the entry's terms); a key
// changed many times between two queries is indexed once. So a write costs the index almost
// nothing, a query never rebuilds, and a tenant never queried this way holds nothing.
import type { StoredEntry } from '../store/types.js'
import { RelevanceIndex, type TermMatch } from './relevance-index.js'

/** Pending keys beyond the entry count plus this slack drop the index (see `changed`). */
export const PENDING_SLACK = 1024

export interface WorkingSet {
  get (key: string): StoredEntry | undefined
  /** Every entry, in any order. */
  entries (): Iterable<StoredEntry>
  size (): number
}

export class TenantRelevance {
  private index: RelevanceIndex | undefined
  private readonly pending = new Set<string>()

  constructor (private readonly workingSet: WorkingSet) {}

  /** Whether the index exists (from the first relevant_to query on, unless dropped since). */
  get built (): boolean { return this.index !== undefined }

  /** Changes waiting for the next query. */
  get pendingCount (): number { return this.pending.size }

  /**
   * The entry under `key` was written, replaced or removed. When the keys waiting outnumber the
   * entries (a tenant writing many new keys and no longer asking relevant_to), the index is dropped
   * instead: rebuilding it at the next query costs no more than catching up would, and the pending
   * set stays bounded by the working set.
   */
  changed (key: string): void {
    if (this.index === undefined) return
    this.pending.add(key)
    if (this.pending.size > this.workingSet.size() + PENDING_SLACK) {
      this.index = undefined
      this.pending.clear()
    }
  }

  /** The entries sharing a term with `task` (RelevanceIndex.matches), after catching up. */
  matches (task: string): Map<string, TermMatch> {
    return this.current().matches(task)
  }

  /** The index, built or caught up: every change so far applied. */
  current (): RelevanceIndex {
    if (this.index === undefined) {
      const index = new RelevanceIndex()
      for (const stored of this.workingSet.entries()) index.add(stored)
      this.index = index
      return index
    }
    for (const key of this.pending) {
      const stored = this.workingSet.get(key)
      if (stored !== undefined) this.index.add(stored)
      else this.index.remove(key)
    }
    this.pending.clear()
    return this.index
  }
}
