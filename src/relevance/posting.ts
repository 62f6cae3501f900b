// One term's postings: the entries holding it and how often, as append-only triples
// (id, term frequency, generation) in one Int32Array.
//
// Why not a Map (entry id -> frequency) per term: indexing an entry set one Map slot in each of
// its ~50 terms' Maps and unindexing it deleted them again, and those scattered hash-table writes
// were most of the index's cost per write. Why not three JS arrays: a push costs ~20 ns, three per
// term of every entry written; one typed array is three stores and a length check, and the scoring
// loop reads each posting from one place. Removing touches no array at all: each posting carries the
// generation its id had when it was added, an id's generation moves on when its entry leaves, so
// stale postings are skipped when read and, once they outnumber the live ones, dropped in one pass
// (amortized O(1) per removal). Generations are int32: an id would have to be reused 2^31 times.

/** Int32 slots per posting: id, term frequency, generation. */
export const POSTING_WIDTH = 3
const INITIAL_POSTINGS = 2

export class Posting {
  private data = new Int32Array(INITIAL_POSTINGS * POSTING_WIDTH)
  /** Postings held, stale ones included. */
  private count = 0
  /** Live postings: the term's document frequency. */
  live = 0

  /** `id`: the index's small integer for this posting (relevance-index.ts, its word table's values). */
  constructor (readonly term: string, readonly id: number) {}

  add (id: number, tf: number, generation: number): void {
    let { data } = this
    const at = this.count * POSTING_WIDTH
    if (at === data.length) {
      const grown = new Int32Array(data.length * 2)
      grown.set(data)
      this.data = data = grown
    }
    data[at] = id
    data[at + 1] = tf
    data[at + 2] = generation
    this.count++
    this.live++
  }

  /** One of its entries left; `generations` already has that id's moved on. */
  removed (generations: readonly number[]): void {
    this.live--
    if (this.count > 2 * this.live + 16) this.compact(generations)
  }

  /**
   * The postings as triples, stale ones included (live when `generations[data[k]] === data[k + 2]`),
   * and how many there are, for the scoring loop: a callback per posting was most of its cost. Read
   * only, and only until the next change.
   */
  get triples (): { readonly data: Int32Array, readonly count: number } {
    return { data: this.data, count: this.count }
  }

  /** Calls `visit` for every live posting. */
  forEachLive (generations: readonly number[], visit: (id: number, tf: number) => void): void {
    const { data } = this
    for (let k = 0; k < this.count * POSTING_WIDTH; k += POSTING_WIDTH) {
      if (generations[data[k]] === data[k + 2]) visit(data[k], data[k + 1])
    }
  }

  private compact (generations: readonly number[]): void {
    const { data } = this
    let kept = 0
    for (let k = 0; k < this.count * POSTING_WIDTH; k += POSTING_WIDTH) {
      if (generations[data[k]] !== data[k + 2]) continue
      data[kept] = data[k]
      data[kept + 1] = data[k + 1]
      data[kept + 2] = data[k + 2]
      kept += POSTING_WIDTH
    }
    this.count = kept / POSTING_WIDTH
    // Shrink a list that emptied out (a term once common), so it does not hold its peak forever.
    const needed = Math.max(kept, INITIAL_POSTINGS * POSTING_WIDTH)
    if (data.length > 4 * needed) this.data = data.slice(0, 2 * needed)
  }
}
