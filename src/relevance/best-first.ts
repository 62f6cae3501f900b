// A binary max-heap of small integers (positions in the caller's arrays) under the caller's
// order: the budget fill of a relevant_to query takes matches best first and stops once the budget
// is spent, so only the entries it takes pay O(log n), instead of a sort of every match.

/** Whether position `a` comes before position `b`. */
export type Before = (a: number, b: number) => boolean

export class BestFirst {
  private size = 0

  /** Heapifies `positions` in place, in O(n): the heap owns the array from now on. */
  constructor (private readonly heap: Int32Array, private readonly before: Before) {
    this.size = heap.length
    this.heapify()
  }

  get length (): number { return this.size }

  /** Removes and returns the best position; undefined when empty. */
  pop (): number | undefined {
    if (this.size === 0) return undefined
    const top = this.heap[0]
    this.size--
    if (this.size > 0) {
      this.heap[0] = this.heap[this.size]
      this.siftDown(0)
    }
    return top
  }

  /** The best position, left in place; the heap must not be empty. */
  peek (): number {
    return this.heap[0]
  }

  /** Restores the order after the best position's key moved down (it may no longer be the best). */
  topChanged (): void {
    if (this.size > 1) this.siftDown(0)
  }

  /** Keeps only the positions for which `keep` holds, in O(n). */
  retain (keep: (position: number) => boolean): void {
    let kept = 0
    for (let i = 0; i < this.size; i++) if (keep(this.heap[i])) this.heap[kept++] = this.heap[i]
    this.size = kept
    this.heapify()
  }

  private heapify (): void {
    for (let i = (this.size >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  private siftDown (start: number): void {
    const { heap, before, size } = this
    const item = heap[start]
    let i = start
    for (;;) {
      let child = 2 * i + 1
      if (child >= size) break
      if (child + 1 < size && before(heap[child + 1], heap[child])) child++
      if (!before(heap[child], item)) break
      heap[i] = heap[child]
      i = child
    }
    heap[i] = item
  }
}
