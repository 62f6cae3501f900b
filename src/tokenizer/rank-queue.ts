// A priority queue of (rank, position) pairs for the byte-pair merge (bpe-merge.ts), shaped for
// how merging uses it: ranks repeat a lot and positions mostly arrive in increasing order.

/**
 * Candidate pairs by (rank, position): a binary min-heap of the ranks that have candidates, and
 * per rank a bucket of positions. The order is that of one heap keyed by (rank, position), but
 * cheaper where it counts: merging sweeps left to right, so a bucket mostly receives positions in
 * increasing order and then is a plain queue (O(1) per candidate, read sequentially); only a
 * bucket that receives a position out of order becomes a heap of its own. A long run of one
 * character, the worst case of the loop, stays on the queue path.
 */
export class RankQueue {
  private readonly ranks: number[] = []
  /** The buckets in order of creation; `slots[rank]` is the index of rank's, or -1. */
  private readonly buckets: Bucket[] = []
  private readonly bucketRanks: number[] = []

  /** `slots` is scratch shared between calls: all -1 on entry, and again after release(). */
  constructor (private readonly slots: Int32Array) {}

  push (rank: number, position: number): void {
    let slot = this.slots[rank]
    if (slot < 0) {
      slot = this.buckets.length
      this.buckets.push(new Bucket())
      this.bucketRanks.push(rank)
      this.slots[rank] = slot
    }
    const bucket = this.buckets[slot]
    if (bucket.size === 0) heapPush(this.ranks, this.ranks.length, rank)
    bucket.push(position)
  }

  /** The lowest rank with a candidate, or -1 when none is left. */
  lowestRank (): number {
    return this.ranks.length > 0 ? this.ranks[0] : -1
  }

  /** Removes and returns the leftmost candidate of `rank`, which must be the lowest rank. */
  popLeftmost (rank: number): number {
    const bucket = this.buckets[this.slots[rank]]
    const position = bucket.pop()
    if (bucket.size === 0) {
      heapPop(this.ranks, this.ranks.length)
      this.ranks.length--
    }
    return position
  }

  /** Hands the shared scratch back clean. */
  release (): void {
    for (const rank of this.bucketRanks) this.slots[rank] = -1
  }
}

/** Positions of one rank: a queue while they arrive in increasing order, then a min-heap. */
class Bucket {
  private items = new Int32Array(8)
  private head = 0
  private end = 0
  private ordered = true

  get size (): number {
    return this.end - this.head
  }

  push (position: number): void {
    if (this.end === this.items.length) this.grow()
    if (this.ordered) {
      if (this.head === this.end || position >= this.items[this.end - 1]) {
        this.items[this.end++] = position
        return
      }
      // Out of order: what is left of the queue is ascending, which is already a valid heap.
      this.items.copyWithin(0, this.head, this.end)
      this.end -= this.head
      this.head = 0
      this.ordered = false
    }
    heapPush(this.items, this.end++, position)
  }

  pop (): number {
    const position = this.ordered ? this.items[this.head++] : heapPop(this.items, this.end--)
    // Drained: start again as a queue.
    if (this.head === this.end) this.head = this.end = 0
    if (this.end === 0) this.ordered = true
    return position
  }

  private grow (): void {
    if (this.head > 0 && this.head >= this.end >> 1) {
      // Mostly consumed: slide the rest down rather than grow.
      this.items.copyWithin(0, this.head, this.end)
      this.end -= this.head
      this.head = 0
      return
    }
    const items = new Int32Array(this.items.length * 2)
    items.set(this.items.subarray(0, this.end))
    this.items = items
  }
}

type Slots = { [index: number]: number }

/** Adds `value` to the binary min-heap held in heap[0 .. size - 1]; the caller grows size. */
function heapPush (heap: Slots, size: number, value: number): void {
  let i = size
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap[parent] <= value) break
    heap[i] = heap[parent]
    i = parent
  }
  heap[i] = value
}

/** Removes and returns the least of heap[0 .. size - 1]; the caller shrinks size. */
function heapPop (heap: Slots, size: number): number {
  const top = heap[0]
  const last = heap[size - 1]
  const rest = size - 1
  let i = 0
  for (;;) {
    let child = 2 * i + 1
    if (child >= rest) break
    if (child + 1 < rest && heap[child + 1] < heap[child]) child++
    if (heap[child] >= last) break
    heap[i] = heap[child]
    i = child
  }
  if (rest > 0) heap[i] = last
  return top
}
