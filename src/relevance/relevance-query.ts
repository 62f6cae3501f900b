// The relevant_to query, at a cost proportional to the matching postings and the budget rather
// than to the store. It returns exactly what the plain steps would (filter every entry in rank
// order, order them all with orderByRelevance, fill the budget with fillBudget; the property test
// in test/relevance/relevance-query.property.test.ts holds the two equal), but:
//
// - only entries on the postings of the task's terms are scored, and the filters are applied to
//   them alone;
// - the budget takes matches best first from a heap (BestFirst): only what is taken pays a sort
//   step. Matches too large for what is left are dropped from the heap in batches, so a nearly
//   spent budget does not pop every match one by one;
// - entries sharing no term come after every match in rank order, which is the store's own
//   order: they are walked from the top only while budget remains for the smallest entry held,
//   and once few entries are small enough for what is left, only those are looked at;
// - `metadata.omitted` (every match left out, in order) is listed only when read: the WebSocket
//   and REST replies never read it, and listing it is the one step that must touch every entry;
// - the per-match arrays are buffers reused from query to query (the index's and this module's),
//   so a query allocates next to nothing and does not feed the garbage collector 17,000 matches'
//   worth of arrays each time. `omitted` and `scoreOf` score the task again when first used.
import type { EntriesBySize } from '../store/entries-by-size.js'
import type { ContextQuery, QueryResult, StoredEntry } from '../store/types.js'
import { BestFirst } from './best-first.js'
import type { RelevanceIndex } from './relevance-index.js'
import { matchScore, matchScoreBound } from './score.js'

/** What the query needs of the tenant's store. */
export interface RelevanceSource {
  /** The relevance index, caught up with every change. */
  readonly index: RelevanceIndex
  /** The query's filters; undefined when it has none (every entry is a candidate). */
  readonly passes: ((stored: StoredEntry) => boolean) | undefined
  /** Every entry, best-ranked first (priority descending, then most recent write). */
  inRankOrder: () => Iterable<StoredEntry>
  /** The entry under a key. */
  get: (key: string) => StoredEntry | undefined
  /** Entries held. */
  readonly size: number
  /** The same entries by size. */
  readonly bySize: Pick<EntriesBySize, 'smallest' | 'upTo'>
  /** The tenant's seq now: `omitted` must be read before the store changes. */
  seq: () => number
}

/** Buffers for the matches of one query, reused by the next (queries run one at a time). */
class MatchBuffers {
  candidates = new Int32Array(0)
  score = new Float64Array(0)
  /** 1 where `score` is the exact score, 0 where it is still matchScoreBound. */
  exact = new Uint8Array(0)
  fits = new Int32Array(0)

  /** The buffers, at least `n` long. */
  atLeast (n: number): this {
    if (this.candidates.length < n) {
      const capacity = n * 2
      this.candidates = new Int32Array(capacity)
      this.score = new Float64Array(capacity)
      this.exact = new Uint8Array(capacity)
      this.fits = new Int32Array(capacity)
    }
    return this
  }
}

const shared = new MatchBuffers()

/** The matches of a task among the candidates, scored. Arrays are by match position. */
interface RankedMatches {
  readonly ids: Int32Array
  readonly bm25: Float64Array
  /** Positions of the matches that pass the filters: `candidates[0..count)`. */
  readonly candidates: Int32Array
  readonly count: number
  /** Score of each candidate (0 for a match filtered out); with `bounds`, at first its upper bound. */
  readonly score: Float64Array
  /** Whether score[i] is exact (always, unless ranked with `bounds`). */
  readonly exact: Uint8Array
  /** Makes score[i] exact. */
  readonly settle: (i: number) => void
  /** Highest BM25+ among the candidates. */
  readonly best: number
  /**
   * Score, then rank order (priority, then the later write): the order orderByRelevance sorts in.
   * A bound comes before an exact score of the same value, so that no exact score is taken while
   * an entry that might equal it, and rank before it, is still unsettled.
   */
  readonly before: (a: number, b: number) => boolean
}

/**
 * `keep`: copy the index's arrays, so that the result outlives the next `index.score`. `bounds`:
 * score the candidates with matchScoreBound only (no recency), for a caller that settles the exact
 * score of those that reach the top of its heap; the exact score costs an exp per match, most of
 * a query's time when a task shares a common term with 100,000 entries.
 */
function rankMatches (source: RelevanceSource, task: string, now: number, buffers: MatchBuffers, keep = false, bounds = false): RankedMatches {
  const { index, passes } = source
  const scored = index.score(task)
  const ids = keep ? scored.ids.slice() : scored.ids
  const bm25 = keep ? scored.bm25.slice() : scored.bm25
  const n = ids.length
  const { candidates, score, exact } = buffers.atLeast(n)
  let count = 0
  let best = 0
  for (let i = 0; i < n; i++) {
    score[i] = 0
    if (passes !== undefined && !passes(entryOf(source, ids[i]))) continue
    candidates[count++] = i
    if (bm25[i] > best) best = bm25[i]
  }
  const settle = (i: number): void => {
    score[i] = matchScore(bm25[i], best, index.priorityOf(ids[i]), now - index.writtenAtOf(ids[i]))
    exact[i] = 1
  }
  for (let k = 0; k < count; k++) {
    const i = candidates[k]
    if (bounds) {
      score[i] = matchScoreBound(bm25[i], best, index.priorityOf(ids[i]))
      exact[i] = 0
    } else {
      settle(i)
    }
  }
  const before = (a: number, b: number): boolean => {
    if (score[a] !== score[b]) return score[a] > score[b]
    if (exact[a] !== exact[b]) return exact[a] === 0
    const pa = index.priorityOf(ids[a])
    const pb = index.priorityOf(ids[b])
    return pa !== pb ? pa > pb : index.seqOf(ids[a]) > index.seqOf(ids[b])
  }
  return { ids, bm25, candidates, count, score, exact, settle, best, before }
}

/** One relevant_to query (no cursor: pagingOf refuses one beside relevant_to). */
export function relevanceQuery (source: RelevanceSource, query: ContextQuery & { relevant_to: string }, now: number): QueryResult {
  const { index, passes } = source
  const { ids, candidates, count, score, exact, settle, before } = rankMatches(source, query.relevant_to, now, shared, false, true)
  const { fits } = shared
  const budget = query.max_tokens ?? Infinity
  const limit = query.limit ?? Infinity
  const smallest = source.bySize.smallest()
  const entries: StoredEntry[] = []
  const scores: Array<[string, number]> = []
  let left = budget
  const room = () => entries.length < limit && left >= smallest

  // Matches, best first. A match larger than what is left is never taken later (what is left only
  // shrinks), so once such pops outnumber a sixteenth of the heap they are dropped in one pass.
  // The heap is ordered by score bounds; a match at the top with a bound gets its exact score
  // (never higher) and sinks to its place, so a match is taken only once its exact score is the
  // best, and the order taken is the exact order.
  let fitting = 0
  for (let k = 0; k < count; k++) if (index.tokensOf(ids[candidates[k]]) <= budget) fits[fitting++] = candidates[k]
  const heap = new BestFirst(fits.subarray(0, fitting), before)
  let tooLarge = 0
  while (heap.length > 0 && room()) {
    const i = heap.peek()
    const tokens = index.tokensOf(ids[i])
    if (tokens <= left && exact[i] === 0) {
      settle(i)
      heap.topChanged()
      continue
    }
    heap.pop()
    if (tokens <= left) {
      const stored = entryOf(source, ids[i])
      entries.push(stored)
      scores.push([stored.key, score[i]])
      left -= tokens
    } else if (++tooLarge > 16 + (heap.length >> 4)) {
      heap.retain((j) => index.tokensOf(ids[j]) <= left)
      tooLarge = 0
    }
  }

  // Then the entries sharing no term, in rank order, while anything held could still fit.
  const takenOthers = new Set<StoredEntry>()
  const take = (entry: StoredEntry): boolean => {
    entries.push(entry)
    scores.push([entry.key, 0])
    takenOthers.add(entry)
    left -= entry.entry.tokens
    return room()
  }
  // Entries sharing no term with the task, filtered or not: when every entry matched (a common
  // term), there is nothing to walk the store for.
  const unmatched = source.size - ids.length
  if (room() && unmatched > 0) fillWithOthers(source, (entry) => isOther(source, entry), take, () => left)

  const matched = passes === undefined ? source.size : countPassing(source.inRankOrder(), passes)
  const metadata = {
    matched,
    returned: entries.length,
    returned_tokens: budget === Infinity ? sumTokens(entries) : budget - left,
    truncated: matched > entries.length
  } as QueryResult['metadata']
  const later = afterTheQuery(source, query.relevant_to, now, new Set(entries))
  let omitted: string[] | undefined
  Object.defineProperty(metadata, 'omitted', { enumerable: true, get: () => (omitted ??= later.omitted()) })
  metadata.scores = scores
  return { entries, metadata, scoreOf: later.scoreOf }
}

/** The entry under an index id (the index is caught up, so the store holds it). */
function entryOf (source: RelevanceSource, id: number): StoredEntry {
  return source.get(source.index.keyOf(id)) as StoredEntry
}

/** Whether an entry is a candidate sharing no term with the task of the last `index.score`. */
function isOther (source: RelevanceSource, entry: StoredEntry): boolean {
  return source.index.bm25Of(source.index.idOf(entry.key) as number) === 0 && (source.passes === undefined || source.passes(entry))
}

/**
 * `omitted` and `scoreOf` of a query, worked out when first used: the task is scored again (into
 * buffers of their own), which gives what the query saw as long as the store has not changed since;
 * after a change they throw rather than answer from another state.
 */
function afterTheQuery (source: RelevanceSource, task: string, now: number, returned: ReadonlySet<StoredEntry>) {
  const seqAtQuery = source.seq()
  let ranked: RankedMatches | undefined
  const again = (): RankedMatches => {
    if (source.seq() !== seqAtQuery) throw new Error('omitted or scoreOf of a relevant_to query was used after the store changed')
    return (ranked ??= rankMatches(source, task, now, new MatchBuffers(), true))
  }
  let byKey: Map<string, number> | undefined
  return {
    /** Every candidate left out: matches in score order, then the others in rank order. */
    omitted: (): string[] => {
      const { ids, candidates, count, before } = again()
      const { index } = source
      const order = Array.from(candidates.subarray(0, count)).sort((a, b) => before(a, b) ? -1 : before(b, a) ? 1 : 0)
      const omitted: string[] = []
      for (const i of order) if (!returned.has(entryOf(source, ids[i]))) omitted.push(index.keyOf(ids[i]))
      index.score(task) // bm25Of (isOther) answers for this task again
      for (const entry of source.inRankOrder()) if (!returned.has(entry) && isOther(source, entry)) omitted.push(entry.key)
      return omitted
    },
    /** Any entry sharing a term with the task, filtered out or not, as orderByRelevance's scoreOf. */
    scoreOf: (key: string): number => {
      const { ids, bm25, score, best } = again()
      const { index } = source
      byKey ??= new Map(Array.from(ids, (id, i) => [index.keyOf(id), i]))
      const i = byKey.get(key)
      if (i === undefined) return 0
      return score[i] > 0 ? score[i] : matchScore(bm25[i], best, index.priorityOf(ids[i]), now - index.writtenAtOf(ids[i]))
    }
  }
}
/**
 * The greedy fill over the entries sharing no term, in rank order. It walks the store from the top
 * while many entries are small enough for what is left; once few are, it takes those,
 * sorted, that rank after where the walk stopped. `take` returns whether anything more may fit.
 */
function fillWithOthers (
  source: RelevanceSource, isOther: (entry: StoredEntry) => boolean, take: (entry: StoredEntry) => boolean, left: () => number
): void {
  // A sixteenth of the store: sorting that many costs less than walking the store for them.
  const fewEnough = source.size >> 4
  let few = source.bySize.upTo(left(), fewEnough)
  let walkedTo: StoredEntry | undefined
  if (few === undefined) {
    for (const entry of source.inRankOrder()) {
      walkedTo = entry
      // The size first: it is a field, while whether the entry matched is a look-up by key.
      if (entry.entry.tokens > left() || !isOther(entry)) continue
      if (!take(entry)) return
      few = source.bySize.upTo(left(), fewEnough)
      if (few !== undefined) break
    }
    if (few === undefined) return
  }
  const after = walkedTo
  const rest = few.filter((entry) => (after === undefined || ranksBefore(after, entry)) && isOther(entry)).sort((a, b) => ranksBefore(a, b) ? -1 : 1)
  for (const entry of rest) if (entry.entry.tokens <= left() && !take(entry)) return
}

/** Rank order: priority descending, then the more recent write (higher seq) first. */
function ranksBefore (a: StoredEntry, b: StoredEntry): boolean {
  return a.entry.priority !== b.entry.priority ? a.entry.priority > b.entry.priority : a.seq > b.seq
}

function countPassing (entries: Iterable<StoredEntry>, passes: (stored: StoredEntry) => boolean): number {
  let count = 0
  for (const stored of entries) if (passes(stored)) count++
  return count
}

function sumTokens (entries: readonly StoredEntry[]): number {
  let total = 0
  for (const stored of entries) total += stored.entry.tokens
  return total
}
