// The eviction order of one tenant: priority descending, then most recent write first.
// Priorities are the ten integers 1..10, so the index is ten buckets, each a Map kept in write
// order (JS Maps iterate in insertion order). Every write appends the newest entry to its bucket,
// so finding the entry that ranks last is "first key of the lowest non-empty bucket": O(1), with
// no sorting, whatever the number of entries.

export const MIN_PRIORITY = 1
export const MAX_PRIORITY = 10

export class RankedIndex {
  private readonly buckets: Array<Map<string, number>> = []

  constructor () {
    for (let p = 0; p <= MAX_PRIORITY; p++) this.buckets.push(new Map())
  }

  /**
   * Adds a key as the most recent write of its priority. Callers add in increasing `seq` order
   * (a write always carries the tenant's newest seq), which keeps every bucket in rank order.
   */
  add (key: string, priority: number, seq: number): void {
    this.buckets[priority].set(key, seq)
  }

  remove (key: string, priority: number): void {
    this.buckets[priority].delete(key)
  }

  /** The key that ranks last: the oldest write of the lowest priority present. */
  last (): string | undefined {
    for (let p = MIN_PRIORITY; p <= MAX_PRIORITY; p++) {
      const bucket = this.buckets[p]
      if (bucket.size > 0) return bucket.keys().next().value
    }
    return undefined
  }

  /** Every key from the best-ranked to the last. O(n): for snapshots and queries, never writes. */
  * inRankOrder (): Generator<string> {
    for (let p = MAX_PRIORITY; p >= MIN_PRIORITY; p--) {
      const bucket = this.buckets[p]
      if (bucket.size === 0) continue
      const keys = [...bucket.keys()]
      for (let i = keys.length - 1; i >= 0; i--) yield keys[i]
    }
  }
}
