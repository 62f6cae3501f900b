// The relevant_to query, at a cost proportional to the matching postings and the budget rather
// than to the store. It returns exactly what the plain steps would (filter every entry in rank
// order, order them all with orderByRelevance, fill the budget with fillBudget; the property test
// in test/relevance/relevance-query.property.test.ts holds the two equal), but:
//
// - only entries on the postings of the task's terms are scored, and the filters are applied to
//   them alone;
// - the budget takes matches best first from a heap (MatchHeap) ordered by an upper bound of
//   the score: only what is taken pays a sort step and an exact score. Matches too large for
//   what is left are dropped from the heap in batches, so a nearly spent budget does not pop
//   every match one by one;
// - entries sharing no term come after every match in rank order, which is the store's own
//   order: they are walked from the top only while budget remains for the smallest entry held,
//   and once few entries are small enough for what is left, only those are looked at;
// - `metadata.omitted` (every match left out, in order) is listed only when read: the WebSocket
//   and REST replies never read it, and listing it is the one step that must touch every entry;
// - the per-match arrays are buffers reused from query to query (the index's and FillBuffers,
//   kept per index), so a query allocates next to nothing and does not feed the garbage collector
//   17,000 matches' worth of arrays each time. `omitted` and `scoreOf` score the task again when
//   first used.
import type { EntriesBySize } from '../store/entries-by-size.js'
import { MAX_PRIORITY, MIN_PRIORITY } from '../store/ranked-index.js'
import type { ContextQuery, QueryResult, StoredEntry } from '../store/types.js'
import { MatchHeap } from './match-heap.js'
import { MatchTranches } from './match-tranches.js'
import type { RelevanceIndex } from './relevance-index.js'
import { matchScore } from './score.js'

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

/**
 * What one relevant_to query needs besides the index's own buffers, kept per index and reused by
 * its next query (a tenant's queries run one at a time): the heap and its tranches, and the
 * positions of the matches that pass the filters. They grow to twice the most matches a query of
 * the index has had, 17 bytes each (at most 3.4 MB at 100,000 entries; and a 4 KB histogram), and
 * go with the index (a WeakMap): a query allocates next to nothing per match, so it feeds the
 * garbage collector next to nothing.
 */
interface FillBuffers {
  readonly tranches: MatchTranches
  passing: Int32Array
}

const fillBuffers = new WeakMap<RelevanceIndex, FillBuffers>()

function fillBuffersOf (index: RelevanceIndex, matches: number): FillBuffers {
  let buffers = fillBuffers.get(index)
  if (buffers === undefined) fillBuffers.set(index, buffers = { tranches: new MatchTranches(new MatchHeap(index), index), passing: new Int32Array(0) })
  buffers.tranches.heap.clear(matches)
  if (buffers.passing.length < matches) buffers.passing = new Int32Array(matches * 2)
  return buffers
}

/**
 * The matches of `task` that pass the filters and fit in `budget`, for a heap by score bound
 * (matchScoreBound: no recency, so no exp per match), fed in tranches (MatchTranches), and the
 * best BM25+ among those that pass (the fit does not count: it is the same best as
 * orderByRelevance's). The exact score costs an exp per match, most of a query's time when a task
 * shares a common term with 100,000 entries; the fill works it out only for the matches that
 * reach the top of the heap.
 */
function matchesByBound (source: RelevanceSource, task: string, budget: number): { tranches: MatchTranches, best: number, matched: number } {
  const { index, passes } = source
  const { ids, bm25 } = index.score(task)
  const n = ids.length
  const { tranches, passing } = fillBuffersOf(index, n)
  const positions = passes === undefined ? undefined : passing
  const count = passes === undefined ? n : keepPassing(source, passes, ids, n, passing)
  const best = highest(bm25, positions, count)
  tranches.start(ids, bm25, positions, count, best, budget)
  return { tranches, best, matched: n }
}

// The loops over every match, each a function of its own so that V8 compiles it whole rather than
// on the stack of a longer function (relevance-index.ts, addTermScores).

/** Writes the positions of the matches that pass the filters to `passing`; returns how many. */
function keepPassing (source: RelevanceSource, passes: (stored: StoredEntry) => boolean, ids: Int32Array, n: number, passing: Int32Array): number {
  let count = 0
  for (let i = 0; i < n; i++) if (passes(entryOf(source, ids[i]))) passing[count++] = i
  return count
}

/** The highest of `values` at `positions[0..count)`, or of the first `count` without positions. */
function highest (values: Float64Array, positions: Int32Array | undefined, count: number): number {
  let best = 0
  for (let k = 0; k < count; k++) {
    const value = values[positions === undefined ? k : positions[k]]
    if (value > best) best = value
  }
  return best
}

/** The matches of a task among the candidates, with their exact scores, for `omitted` and `scoreOf`. */
interface RankedMatches {
  readonly ids: Int32Array
  readonly bm25: Float64Array
  /** Positions of the matches that pass the filters: `candidates[0..count)`. */
  readonly candidates: Int32Array
  readonly count: number
  /** Score of each candidate (0 for a match filtered out). */
  readonly score: Float64Array
  /** Highest BM25+ among the candidates. */
  readonly best: number
  /** Score, then rank order (priority, then the later write): the order orderByRelevance sorts in. */
  readonly before: (a: number, b: number) => boolean
}

/** Scores the task again into arrays of its own, so that the result outlives the next `index.score`. */
function rankMatches (source: RelevanceSource, task: string, now: number): RankedMatches {
  const { index, passes } = source
  const scored = index.score(task)
  const ids = scored.ids.slice()
  const bm25 = scored.bm25.slice()
  const n = ids.length
  const candidates = new Int32Array(n)
  const score = new Float64Array(n)
  let count = 0
  let best = 0
  for (let i = 0; i < n; i++) {
    if (passes !== undefined && !passes(entryOf(source, ids[i]))) continue
    candidates[count++] = i
    if (bm25[i] > best) best = bm25[i]
  }
  for (let k = 0; k < count; k++) {
    const i = candidates[k]
    score[i] = matchScore(bm25[i], best, index.priorityOf(ids[i]), now - index.writtenAtOf(ids[i]))
  }
  const before = (a: number, b: number): boolean => {
    if (score[a] !== score[b]) return score[a] > score[b]
    const pa = index.priorityOf(ids[a])
    const pb = index.priorityOf(ids[b])
    return pa !== pb ? pa > pb : index.seqOf(ids[a]) > index.seqOf(ids[b])
  }
  return { ids, bm25, candidates, count, score, best, before }
}

/** One relevant_to query (no cursor: pagingOf refuses one beside relevant_to). */
export function relevanceQuery (source: RelevanceSource, query: ContextQuery & { relevant_to: string }, now: number): QueryResult {
  const { index, passes } = source
  const budget = query.max_tokens ?? Infinity
  const limit = query.limit ?? Infinity
  const smallest = source.bySize.smallest()
  const { tranches, best, matched: matchCount } = matchesByBound(source, query.relevant_to, budget)
  const heap = tranches.heap
  const entries: StoredEntry[] = []
  const scores: Array<[string, number]> = []
  let left = budget

  // Matches, best first. A match larger than what is left is never taken later (what is left only
  // shrinks), so once such pops outnumber a sixteenth of the heap they are dropped in one pass.
  // The heap is ordered by score bounds; a match at the top with a bound gets its exact score
  // (never higher) and sinks to its place, so a match is taken only once its exact score is the
  // best, and the order taken is the exact order.
  let tooLarge = 0
  while (entries.length < limit && left >= smallest && tranches.topIsBest(left)) {
    const id = heap.topId()
    const tokens = index.tokensOf(id)
    if (tokens <= left && !heap.topIsExact()) {
      heap.settleTop(matchScore(index.bm25Of(id), best, index.priorityOf(id), now - index.writtenAtOf(id)))
      continue
    }
    const score = heap.topKey()
    heap.pop()
    if (tokens <= left) {
      const stored = entryOf(source, id)
      entries.push(stored)
      scores.push([stored.key, score])
      left -= tokens
    } else if (++tooLarge > 16 + (heap.length >> 4)) {
      heap.retainUpTo(left)
      tooLarge = 0
    }
  }

  // Then the entries sharing no term, in rank order, while anything held could still fit.
  const room = () => entries.length < limit && left >= smallest
  const take = (entry: StoredEntry): boolean => {
    entries.push(entry)
    scores.push([entry.key, 0])
    left -= entry.entry.tokens
    return room()
  }
  // Entries sharing no term with the task, filtered or not: when every entry matched (a common
  // term), there is nothing to walk the store for.
  const unmatched = source.size - matchCount
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
    return (ranked ??= rankMatches(source, task, now))
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
 * while many entries are small enough for what is left; once few are, it takes those, in rank
 * order, that rank after where the walk stopped. `take` returns whether anything more may fit.
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
  // Rank order is priority first (ten values), then the later write: the entries are grouped by
  // priority and only the groups the fill reaches are sorted, and whether an entry matched (a
  // look-up by key) is asked only of those it reaches. Mostly one group and a few entries: a
  // nearly spent budget takes one or two.
  const after = walkedTo
  const byPriority: StoredEntry[][] = []
  for (let p = 0; p <= MAX_PRIORITY; p++) byPriority.push([])
  for (const entry of few) if (after === undefined || ranksBefore(after, entry)) byPriority[entry.entry.priority].push(entry)
  for (let p = MAX_PRIORITY; p >= MIN_PRIORITY; p--) {
    const group = byPriority[p].sort(laterWriteFirst)
    for (const entry of group) if (entry.entry.tokens <= left() && isOther(entry) && !take(entry)) return
  }
}

function laterWriteFirst (a: StoredEntry, b: StoredEntry): number {
  return b.seq - a.seq
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
