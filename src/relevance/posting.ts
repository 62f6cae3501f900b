// One term's postings: the entries holding it and how often, as append-only parallel arrays.
//
// Why not a Map (entry id -> frequency) per term: indexing an entry set one Map slot in each of
// its ~50 terms' Maps and unindexing it deleted them again, and those scattered hash-table writes
// were most of the index's cost per write. Here adding appends to three arrays, and removing
// touches no array at all: each posting carries the generation its id had when it was added, an
// id's generation moves on when its entry leaves, so stale postings are skipped when read and,
// once they outnumber the live ones, dropped in one pass (amortized O(1) per removal).
export class Posting {
  private ids: number[] = []
  private tfs: number[] = []
  private gens: number[] = []
  /** Live postings: the term's document frequency. */
  live = 0

  constructor (readonly term: string) {}

  add (id: number, tf: number, generation: number): void {
    this.ids.push(id)
    this.tfs.push(tf)
    this.gens.push(generation)
    this.live++
  }

  /** One of its entries left; `generations` already has that id's moved on. */
  removed (generations: readonly number[]): void {
    this.live--
    if (this.ids.length > 2 * this.live + 16) this.compact(generations)
  }

  /**
   * The postings as parallel arrays, stale ones included (live when `generations[ids[k]] ===
   * gens[k]`), for the scoring loop: a callback per posting was most of its cost. Read only, and
   * only until the next change.
   */
  get arrays (): { readonly ids: readonly number[], readonly tfs: readonly number[], readonly gens: readonly number[] } {
    return { ids: this.ids, tfs: this.tfs, gens: this.gens }
  }

  /** Calls `visit` for every live posting. */
  forEachLive (generations: readonly number[], visit: (id: number, tf: number) => void): void {
    const { ids, tfs, gens } = this
    for (let k = 0; k < ids.length; k++) if (generations[ids[k]] === gens[k]) visit(ids[k], tfs[k])
  }

  private compact (generations: readonly number[]): void {
    const { ids, tfs, gens } = this
    let kept = 0
    for (let k = 0; k < ids.length; k++) {
      if (generations[ids[k]] !== gens[k]) continue
      ids[kept] = ids[k]
      tfs[kept] = tfs[k]
      gens[kept] = gens[k]
      kept++
    }
    ids.length = tfs.length = gens.length = kept
  }
}
