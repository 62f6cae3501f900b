// Which matches of a relevant_to query are in its heap: the most relevant first, the rest in
// tranches of decreasing relevance only once the fill reaches them. A budget takes a few hundred
// matches; a task sharing a common term with 100,000 entries has 100,000, and building a heap of
// all of them was a third of such a query.
//
// The matches are counted by relevance (BM25+ / best) in BUCKETS buckets; a tranche is the next
// buckets down holding at least `target` matches. A match left out, in a bucket below `lowest`,
// has relevance r < lowest / BUCKETS (exactly: BUCKETS is a power of two), so its bound
// (matchScoreBound: r x a priority factor of at most 1, plus 1e-6; rounding is monotonic) is at
// most `ceiling` = lowest / BUCKETS + 1e-6, and its exact score is below that. So while the top of
// the heap is above `ceiling`, it comes before every match left out; once it is not (or the heap
// is empty), the next tranche goes in first.
import type { MatchHeap } from './match-heap.js'
import type { RelevanceIndex } from './relevance-index.js'
import { matchScoreBound } from './score.js'

export const BUCKETS = 1024

export class MatchTranches {
  private readonly histogram = new Int32Array(BUCKETS)
  private ids: Int32Array = new Int32Array(0)
  private bm25: Float64Array = new Float64Array(0)
  private positions: Int32Array | undefined
  private count = 0
  private best = 0
  /** The lowest bucket in the heap: the matches below it are not in yet. */
  private lowest = 0
  /** No match left out has a score bound above this. */
  private ceiling = 0
  /** Matches the next tranche takes at least: doubled each time, so a fill adds O(log n) tranches. */
  private target = 0

  constructor (readonly heap: MatchHeap, private readonly index: RelevanceIndex) {}

  /**
   * Puts the first tranche of the matches (`ids`, `bm25`; at `positions[0..count)` when given, else
   * the first `count`) in the heap, those of at most `maxTokens` tokens. `best` is the highest
   * BM25+ among them. The arrays are read until the fill ends.
   */
  start (ids: Int32Array, bm25: Float64Array, positions: Int32Array | undefined, count: number, best: number, maxTokens: number): void {
    this.ids = ids
    this.bm25 = bm25
    this.positions = positions
    this.count = count
    this.best = best
    countByBucket(this.histogram, bm25, positions, count, best)
    this.lowest = BUCKETS
    // A thirty-second of the matches: about as many as a budget of 8,000 tokens pops at 100,000.
    this.target = 64 + (count >> 5)
    this.addTranche(maxTokens)
  }

  /** Adds tranches until the heap's top is the best match left; false when none is left. */
  topIsBest (maxTokens: number): boolean {
    const heap = this.heap
    while (this.lowest > 0 && (heap.length === 0 || heap.topKey() <= this.ceiling)) this.addTranche(maxTokens)
    return heap.length > 0
  }

  /** The matches of the next buckets down, those of at most `maxTokens` tokens (others never fit). */
  private addTranche (maxTokens: number): void {
    const high = this.lowest
    let low = high
    let taken = 0
    while (low > 0 && taken < this.target) taken += this.histogram[--low]
    addBucketRange(this.heap, this.index, this.ids, this.bm25, this.positions, this.count, this.best, low, high, maxTokens)
    this.heap.heapify()
    this.lowest = low
    this.ceiling = low / BUCKETS + 1e-6
    this.target *= 2
  }
}

/** The bucket of a match's relevance: floor(relevance x BUCKETS), the best in the top one. */
function bucketOf (bm25: number, best: number): number {
  return Math.min(BUCKETS - 1, Math.floor(bm25 / best * BUCKETS))
}

// The loops over every match, each a function of its own: V8 compiles it whole (relevance-index.ts,
// addTermScores).

function countByBucket (histogram: Int32Array, bm25: Float64Array, positions: Int32Array | undefined, count: number, best: number): void {
  histogram.fill(0)
  for (let k = 0; k < count; k++) histogram[bucketOf(bm25[positions === undefined ? k : positions[k]], best)]++
}

function addBucketRange (
  heap: MatchHeap, index: RelevanceIndex, ids: Int32Array, bm25: Float64Array, positions: Int32Array | undefined, count: number,
  best: number, low: number, high: number, maxTokens: number
): void {
  for (let k = 0; k < count; k++) {
    const i = positions === undefined ? k : positions[k]
    const bucket = bucketOf(bm25[i], best)
    if (bucket < low || bucket >= high) continue
    const id = ids[i]
    if (index.tokensOf(id) <= maxTokens) heap.addBound(id, matchScoreBound(bm25[i], best, index.priorityOf(id)))
  }
}
