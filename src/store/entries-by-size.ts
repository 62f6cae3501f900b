// A tenant's entries grouped by size in tokens, kept up to date on every put and drop. A budgeted
// relevant_to query uses it when little budget is left: it stops once nothing held is small
// enough, and it looks only at the entries that are small enough instead of walking the rest of
// the store for them (src/relevance/relevance-query.ts).
//
// A Set per size, not a sorted structure: a put or drop is one Map lookup and one Set update, and
// the minimum is only recomputed (over the distinct sizes, far fewer than the entries) at the next
// read after the last entry of the smallest size left.
import type { StoredEntry } from './types.js'

export class EntriesBySize {
  private readonly bySize = new Map<number, Set<StoredEntry>>()
  /** The smallest size held; undefined when it left and is not recomputed yet. */
  private least: number | undefined = Infinity

  add (stored: StoredEntry): void {
    const tokens = stored.entry.tokens
    let entries = this.bySize.get(tokens)
    if (entries === undefined) this.bySize.set(tokens, entries = new Set())
    entries.add(stored)
    if (this.least !== undefined && tokens < this.least) this.least = tokens
  }

  remove (stored: StoredEntry): void {
    const tokens = stored.entry.tokens
    const entries = this.bySize.get(tokens)
    if (entries === undefined || !entries.delete(stored) || entries.size > 0) return
    this.bySize.delete(tokens)
    if (tokens === this.least) this.least = undefined
  }

  /** Tokens of the smallest entry held; Infinity when there is none. */
  smallest (): number {
    if (this.least === undefined) {
      let least = Infinity
      for (const tokens of this.bySize.keys()) if (tokens < least) least = tokens
      this.least = least
    }
    return this.least
  }

  /**
   * Every entry of at most `maxTokens` tokens, in no particular order, or undefined when there are
   * more than `atMost` of them (the caller then walks the store instead). O(distinct sizes + result).
   */
  upTo (maxTokens: number, atMost: number): StoredEntry[] | undefined {
    let count = 0
    for (const [tokens, entries] of this.bySize) {
      if (tokens <= maxTokens) count += entries.size
      if (count > atMost) return undefined
    }
    const found: StoredEntry[] = []
    for (const [tokens, entries] of this.bySize) if (tokens <= maxTokens) for (const stored of entries) found.push(stored)
    return found
  }
}
