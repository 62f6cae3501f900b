// The matches of a relevant_to query, best first, for its budget fill: a binary max-heap over
// parallel typed arrays (the key, the index id, whether the key is the exact score yet), in the
// order orderByRelevance sorts in: key descending, a bound before an exact score of the same
// value, then rank order (priority, then the later write). Only the entries the fill takes pay
// O(log n); building the heap is O(n) (Floyd).
//
// Why not a heap of positions under a comparator closure (what it replaced): a new closure per
// query failed the call-target check of V8's optimized heap code, and each full collection threw
// that code away (the closure it had inlined died), so the queries after a collection ran
// unoptimized; and each comparison read its keys through a position, a cache miss apiece at
// 100,000 matches. Here the comparison is a method over the heap's own arrays.
import type { RelevanceIndex } from './relevance-index.js'

export class MatchHeap {
  private keys = new Float64Array(0)
  private ids = new Int32Array(0)
  /** 1 where the key is the exact score, 0 where it is still an upper bound of it. */
  private exact = new Uint8Array(0)
  private size = 0

  /** `index` gives the rank order (priorityOf, seqOf) and sizes (tokensOf) of the ids held. */
  constructor (private readonly index: RelevanceIndex) {}

  get length (): number { return this.size }

  /** Empties the heap, with room for `capacity` matches. */
  clear (capacity: number): void {
    this.size = 0
    if (this.keys.length >= capacity) return
    // Twice the need, so a store growing by a few entries does not reallocate at every query.
    this.keys = new Float64Array(capacity * 2)
    this.ids = new Int32Array(capacity * 2)
    this.exact = new Uint8Array(capacity * 2)
  }

  /** Adds a match whose key is an upper bound of its score, unordered until `heapify`. */
  addBound (id: number, bound: number): void {
    const slot = this.size++
    this.keys[slot] = bound
    this.ids[slot] = id
    this.exact[slot] = 0
  }

  /** Orders what `addBound` added, in O(n). */
  heapify (): void {
    for (let slot = (this.size >> 1) - 1; slot >= 0; slot--) this.siftDown(slot)
  }

  /** The best match's id; the heap must not be empty. */
  topId (): number { return this.ids[0] }

  /** The best match's key: its exact score once `topIsExact`. */
  topKey (): number { return this.keys[0] }

  topIsExact (): boolean { return this.exact[0] === 1 }

  /** Replaces the best match's bound by its exact score (never higher), which may sink it. */
  settleTop (score: number): void {
    this.keys[0] = score
    this.exact[0] = 1
    this.siftDown(0)
  }

  /** Removes the best match. */
  pop (): void {
    const last = --this.size
    if (last <= 0) return
    this.keys[0] = this.keys[last]
    this.ids[0] = this.ids[last]
    this.exact[0] = this.exact[last]
    this.siftDown(0)
  }

  /** Keeps only the matches of at most `tokens` tokens, in O(n). */
  retainUpTo (tokens: number): void {
    const { keys, ids, exact, index } = this
    let kept = 0
    for (let slot = 0; slot < this.size; slot++) {
      if (index.tokensOf(ids[slot]) > tokens) continue
      keys[kept] = keys[slot]
      ids[kept] = ids[slot]
      exact[kept] = exact[slot]
      kept++
    }
    this.size = kept
    this.heapify()
  }

  /** Whether match a (key, exact, id) comes before match b. */
  private before (keyA: number, exactA: number, idA: number, keyB: number, exactB: number, idB: number): boolean {
    if (keyA !== keyB) return keyA > keyB
    if (exactA !== exactB) return exactA === 0
    const priorityA = this.index.priorityOf(idA)
    const priorityB = this.index.priorityOf(idB)
    return priorityA !== priorityB ? priorityA > priorityB : this.index.seqOf(idA) > this.index.seqOf(idB)
  }

  private siftDown (start: number): void {
    const { keys, ids, exact, size } = this
    const key = keys[start]
    const id = ids[start]
    const isExact = exact[start]
    let slot = start
    for (;;) {
      let child = 2 * slot + 1
      if (child >= size) break
      const right = child + 1
      if (right < size && this.before(keys[right], exact[right], ids[right], keys[child], exact[child], ids[child])) child = right
      if (!this.before(keys[child], exact[child], ids[child], key, isExact, id)) break
      keys[slot] = keys[child]
      ids[slot] = ids[child]
      exact[slot] = exact[child]
      slot = child
    }
    keys[slot] = key
    ids[slot] = id
    exact[slot] = isExact
  }
}
