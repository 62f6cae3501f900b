// The recent changes of one tenant, for resuming with `since_seq`. A ring buffer bounded twice: in
// changes (MCP_HISTORY_SIZE) and in bytes (MCP_HISTORY_BYTES), so a tenant rewriting large entries
// cannot make its history hold gigabytes. Seqs of one tenant are contiguous, so the change with
// seq s sits at a computable slot; the oldest changes give way first.
import type { ChangeEvent } from './types.js'

/** Default byte bound of one tenant's history (MCP_HISTORY_BYTES). */
export const DEFAULT_HISTORY_BYTES = 64 * 1024 * 1024

// What a change costs besides its entries' JSON (its header, its removed keys' bookkeeping).
const CHANGE_OVERHEAD_BYTES = 64

/**
 * The size of a change as the history counts it: its entries' JSON and removed keys (characters,
 * which for the usual one-byte text are bytes), plus a fixed overhead. Every backend counts the
 * same way, so every instance keeps the same window.
 */
export function changeBytes (change: ChangeEvent): number {
  let bytes = CHANGE_OVERHEAD_BYTES
  for (const stored of change.upserted) bytes += stored.json.length + stored.key.length
  for (const removal of change.removed) bytes += removal.key.length
  return bytes
}

export class ChangeHistory {
  private readonly ring: Array<ChangeEvent | undefined>
  private readonly sizes: number[]
  private newestSeq = 0
  private count = 0
  private bytes = 0

  constructor (readonly capacity: number, readonly maxBytes = DEFAULT_HISTORY_BYTES) {
    this.ring = new Array(Math.max(capacity, 0))
    this.sizes = new Array(Math.max(capacity, 0)).fill(0)
  }

  /** The oldest seq held (newest + 1 when the history is empty). */
  get oldestSeq (): number { return this.newestSeq - this.count + 1 }

  /** Bytes held, as `changeBytes` counts them. */
  get heldBytes (): number { return this.bytes }

  /** Records a change; seqs must arrive in order without gaps (a gap restarts the history). */
  record (change: ChangeEvent): void {
    if (this.capacity === 0) {
      // Nothing is kept, but the window still moves: it starts after the newest change.
      this.newestSeq = change.seq
      return
    }
    if (change.seq !== this.newestSeq + 1) {
      this.count = 0
      this.bytes = 0
    }
    // The slot of the new change holds the oldest one when the ring is full: it leaves first.
    if (this.count === this.capacity) this.dropOldest()
    const slot = change.seq % this.capacity
    const size = changeBytes(change)
    this.ring[slot] = change
    this.sizes[slot] = size
    this.bytes += size
    this.newestSeq = change.seq
    this.count++
    while (this.bytes > this.maxBytes && this.count > 0) this.dropOldest()
  }

  /**
   * Every change after `seq`, oldest first; `undefined` when the history no longer reaches back
   * that far (the caller then sends a fresh snapshot instead).
   */
  since (seq: number, currentSeq: number): ChangeEvent[] | undefined {
    if (seq >= currentSeq) return []
    if (seq < 0 || this.newestSeq !== currentSeq) return undefined
    if (seq + 1 < this.oldestSeq) return undefined
    const changes: ChangeEvent[] = []
    for (let s = seq + 1; s <= this.newestSeq; s++) changes.push(this.ring[s % this.capacity] as ChangeEvent)
    return changes
  }

  /**
   * Up to `limit` retained changes after `seq`, oldest first, starting at the oldest retained one
   * when the history no longer reaches back that far (the audit trail pages through what is kept).
   */
  retained (seq: number, limit: number): ChangeEvent[] {
    const changes: ChangeEvent[] = []
    for (let s = Math.max(seq + 1, this.oldestSeq); s <= this.newestSeq && changes.length < limit; s++) {
      changes.push(this.ring[s % this.capacity] as ChangeEvent)
    }
    return changes
  }

  private dropOldest (): void {
    const slot = this.oldestSeq % this.capacity
    this.bytes -= this.sizes[slot]
    this.sizes[slot] = 0
    this.ring[slot] = undefined
    this.count--
  }
}
