// A binary min-heap of (expiresAt, key, seq) so that entries with a TTL leave on time without a
// scan of the store. Stale items (the entry was rewritten or removed since) are skipped lazily:
// the caller checks that the entry still carries the same seq.

interface Item { expiresAt: number, key: string, seq: number }

export class ExpiryQueue {
  private readonly heap: Item[] = []

  get size (): number { return this.heap.length }

  push (expiresAt: number, key: string, seq: number): void {
    const heap = this.heap
    heap.push({ expiresAt, key, seq })
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent].expiresAt <= heap[i].expiresAt) break
      ;[heap[parent], heap[i]] = [heap[i], heap[parent]]
      i = parent
    }
  }

  /** The earliest expiry time queued, or undefined. */
  peekTime (): number | undefined {
    return this.heap[0]?.expiresAt
  }

  /** Removes and returns every item due at `now`. */
  popDue (now: number): Item[] {
    const due: Item[] = []
    while (this.heap.length > 0 && this.heap[0].expiresAt <= now) due.push(this.pop())
    return due
  }

  private pop (): Item {
    const heap = this.heap
    const top = heap[0]
    const tail = heap.pop() as Item
    if (heap.length > 0) {
      heap[0] = tail
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        const right = left + 1
        let smallest = i
        if (left < heap.length && heap[left].expiresAt < heap[smallest].expiresAt) smallest = left
        if (right < heap.length && heap[right].expiresAt < heap[smallest].expiresAt) smallest = right
        if (smallest === i) break
        ;[heap[smallest], heap[i]] = [heap[i], heap[smallest]]
        i = smallest
      }
    }
    return top
  }
}
