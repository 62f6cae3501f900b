// The eviction order of one tenant: priority descending, then most recent write first.
// Priorities are the ten integers 1..10, so the index is ten buckets, each a doubly linked list in
// write order. Every write appends the newest entry to its bucket's tail, so the entry that ranks
// last is the head of the lowest non-empty bucket: O(1), with no sorting, whatever the number of
// entries.
//
// Why linked lists and not a Map per bucket: V8 leaves deleted slots at the front of a Map until
// it rehashes, so "first key" after many front deletions costs a scan that grows with the store.
// The nodes also carry the entry itself, so the store keeps one Map (key -> node), not two.
import type { StoredEntry } from './types.js'

export const MIN_PRIORITY = 1
export const MAX_PRIORITY = 10

export interface IndexNode {
  readonly stored: StoredEntry
  older: IndexNode | undefined
  newer: IndexNode | undefined
}

interface Bucket { oldest: IndexNode | undefined, newest: IndexNode | undefined }

export class RankedIndex {
  private readonly buckets: Bucket[] = []

  constructor () {
    for (let p = 0; p <= MAX_PRIORITY; p++) this.buckets.push({ oldest: undefined, newest: undefined })
  }

  /**
   * Appends an entry as the most recent write of its priority. Callers insert in increasing write
   * order (a write always carries the tenant's newest seq), which keeps every bucket in rank order.
   */
  insert (stored: StoredEntry): IndexNode {
    const bucket = this.buckets[stored.entry.priority]
    const node: IndexNode = { stored, older: bucket.newest, newer: undefined }
    if (bucket.newest !== undefined) bucket.newest.newer = node
    else bucket.oldest = node
    bucket.newest = node
    return node
  }

  unlink (node: IndexNode): void {
    const bucket = this.buckets[node.stored.entry.priority]
    if (node.older !== undefined) node.older.newer = node.newer
    else bucket.oldest = node.newer
    if (node.newer !== undefined) node.newer.older = node.older
    else bucket.newest = node.older
    node.older = undefined
    node.newer = undefined
  }

  /**
   * The entries to evict, in eviction order, so that `excess` tokens leave: as if `incoming` were
   * written now (the newest of its priority) and the entry with key `replaced` were gone.
   * Read-only, and it visits only the entries it returns (plus `replaced`, skipped).
   */
  planEvictions (incoming: StoredEntry, replaced: string | undefined, excess: number): StoredEntry[] {
    const victims: StoredEntry[] = []
    let left = excess
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY && left > 0; p++) {
      for (let node = this.buckets[p].oldest; node !== undefined && left > 0; node = node.newer) {
        if (node.stored.key === replaced) continue
        victims.push(node.stored)
        left -= node.stored.entry.tokens
      }
      if (p === incoming.entry.priority && left > 0) {
        victims.push(incoming)
        left -= incoming.entry.tokens
      }
    }
    return victims
  }

  /** Every entry from the best-ranked to the last. O(n): for snapshots and queries, never writes. */
  * inRankOrder (): Generator<StoredEntry> {
    for (let p = MAX_PRIORITY; p >= MIN_PRIORITY; p--) {
      for (let node = this.buckets[p].newest; node !== undefined; node = node.older) yield node.stored
    }
  }
}
