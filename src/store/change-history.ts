// The last N changes of one tenant, for resuming with `since_seq`. A ring buffer: seqs of one
// tenant are contiguous, so the change with seq s sits at a computable slot.
import type { ChangeEvent } from './types.js'

export class ChangeHistory {
  private readonly ring: Array<ChangeEvent | undefined>
  private newestSeq = 0
  private count = 0

  constructor (readonly capacity: number) {
    this.ring = new Array(Math.max(capacity, 0))
  }

  /** Records a change; seqs must arrive in order without gaps (a gap restarts the history). */
  record (change: ChangeEvent): void {
    if (this.capacity === 0) return
    if (change.seq !== this.newestSeq + 1) this.count = 0
    this.ring[change.seq % this.capacity] = change
    this.newestSeq = change.seq
    this.count = Math.min(this.count + 1, this.capacity)
  }

  /**
   * Every change after `seq`, oldest first; `undefined` when the history no longer reaches back
   * that far (the caller then sends a fresh snapshot instead).
   */
  since (seq: number, currentSeq: number): ChangeEvent[] | undefined {
    if (seq >= currentSeq) return []
    if (seq < 0 || this.newestSeq !== currentSeq) return undefined
    const oldestSeq = this.newestSeq - this.count + 1
    if (seq + 1 < oldestSeq) return undefined
    const changes: ChangeEvent[] = []
    for (let s = seq + 1; s <= this.newestSeq; s++) changes.push(this.ring[s % this.capacity] as ChangeEvent)
    return changes
  }

  /**
   * Up to `limit` retained changes after `seq`, oldest first, starting at the oldest retained one
   * when the history no longer reaches back that far (the audit trail pages through what is kept).
   */
  retained (seq: number, limit: number): ChangeEvent[] {
    const oldestSeq = this.newestSeq - this.count + 1
    const changes: ChangeEvent[] = []
    for (let s = Math.max(seq + 1, oldestSeq); s <= this.newestSeq && changes.length < limit; s++) {
      changes.push(this.ring[s % this.capacity] as ChangeEvent)
    }
    return changes
  }
}
