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
//   and REST replies never read it, and listing it is the one step that must touch every entry.
import type { EntriesBySize } from '../store/entries-by-size.js'
import type { ContextQuery, QueryResult, StoredEntry } from '../store/types.js'
import { BestFirst } from './best-first.js'
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
  /** Entries held. */
  readonly size: number
  /** The same entries by size. */
  readonly bySize: Pick<EntriesBySize, 'smallest' | 'upTo'>
  /** The tenant's seq now: `omitted` must be read before the store changes. */
  seq: () => number
}

/** One relevant_to query (no cursor: pagingOf refuses one beside relevant_to). */
export function relevanceQuery (source: RelevanceSource, query: ContextQuery & { relevant_to: string }, now: number): QueryResult {
  const { index, passes } = source
  const { ids, bm25 } = index.score(query.relevant_to)
  const n = ids.length
  // Every match by position (filtered out or not, for scoreOf), and which of them are candidates.
  const isMatch = new Uint8Array(index.capacity)
  const all: StoredEntry[] = new Array(n)
  const candidates = new Int32Array(n)
  let count = 0
  let best = 0
  for (let i = 0; i < n; i++) {
    isMatch[ids[i]] = 1
    all[i] = index.storedOf(ids[i])
    if (passes !== undefined && !passes(all[i])) continue
    candidates[count++] = i
    if (bm25[i] > best) best = bm25[i]
  }
  // Scored in the same pass that keeps the candidates small enough for the budget at all.
  const budget = query.max_tokens ?? Infinity
  const score = new Float64Array(n)
  const fits = new Int32Array(count)
  let fitting = 0
  for (let k = 0; k < count; k++) {
    const i = candidates[k]
    const id = ids[i]
    score[i] = matchScore(bm25[i], best, index.priorityOf(id), now - index.writtenAtOf(id))
    if (index.tokensOf(id) <= budget) fits[fitting++] = i
  }
  // Score, then rank order (priority, then the later write): the order orderByRelevance sorts in.
  const before = (a: number, b: number): boolean => {
    if (score[a] !== score[b]) return score[a] > score[b]
    const pa = index.priorityOf(ids[a])
    const pb = index.priorityOf(ids[b])
    return pa !== pb ? pa > pb : all[a].seq > all[b].seq
  }

  const limit = query.limit ?? Infinity
  const smallest = source.bySize.smallest()
  const entries: StoredEntry[] = []
  const scores: Array<[string, number]> = []
  const taken = new Uint8Array(n)
  let left = budget
  const room = () => entries.length < limit && left >= smallest

  // Matches, best first. A match larger than what is left is never taken later (what is left only
  // shrinks), so once such pops outnumber a sixteenth of the heap they are dropped in one pass.
  const heap = new BestFirst(fits.subarray(0, fitting), before)
  let tooLarge = 0
  while (heap.length > 0 && room()) {
    const i = heap.pop() as number
    const tokens = index.tokensOf(ids[i])
    if (tokens <= left) {
      entries.push(all[i])
      scores.push([all[i].key, score[i]])
      taken[i] = 1
      left -= tokens
    } else if (++tooLarge > 16 + (heap.length >> 4)) {
      heap.retain((j) => index.tokensOf(ids[j]) <= left)
      tooLarge = 0
    }
  }

  // Then the entries sharing no term, in rank order, while anything held could still fit.
  const isOther = (entry: StoredEntry) => isMatch[index.idOf(entry.key) as number] !== 1 && (passes === undefined || passes(entry))
  const takenOthers = new Set<StoredEntry>()
  const take = (entry: StoredEntry): boolean => {
    entries.push(entry)
    scores.push([entry.key, 0])
    takenOthers.add(entry)
    left -= entry.entry.tokens
    return room()
  }
  if (room()) fillWithOthers(source, isOther, take, () => left)

  const matched = passes === undefined ? source.size : countPassing(source.inRankOrder(), passes)
  const seqAtQuery = source.seq()
  // Every candidate left out: matches in score order, then the others in rank order.
  const listOmitted = (): string[] => {
    if (source.seq() !== seqAtQuery) throw new Error('metadata.omitted of a relevant_to query was read after the store changed')
    const order = Array.from(candidates.subarray(0, count)).sort((a, b) => before(a, b) ? -1 : before(b, a) ? 1 : 0)
    const omitted: string[] = []
    for (const i of order) if (taken[i] !== 1) omitted.push(all[i].key)
    for (const entry of source.inRankOrder()) if (!takenOthers.has(entry) && isOther(entry)) omitted.push(entry.key)
    return omitted
  }

  const metadata = {
    matched,
    returned: entries.length,
    returned_tokens: budget === Infinity ? sumTokens(entries) : budget - left,
    truncated: matched > entries.length
  } as QueryResult['metadata']
  let omitted: string[] | undefined
  Object.defineProperty(metadata, 'omitted', { enumerable: true, get: () => (omitted ??= listOmitted()) })
  metadata.scores = scores
  // Any entry sharing a term with the task, filtered out or not, as orderByRelevance's scoreOf.
  let byKey: Map<string, number> | undefined
  const scoreOf = (key: string): number => {
    byKey ??= new Map(all.map((entry, i) => [entry.key, i]))
    const i = byKey.get(key)
    if (i === undefined) return 0
    return score[i] > 0 ? score[i] : matchScore(bm25[i], best, all[i].entry.priority, now - Date.parse(all[i].entry.timestamp))
  }
  return { entries, metadata, scoreOf }
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
      if (entry.entry.tokens > left() || !isOther(entry)) continue
      if (!take(entry)) return
      few = source.bySize.upTo(left(), fewEnough)
      if (few !== undefined) break
    }
    if (few === undefined) return
  }
  const after = walkedTo
  const rest = few.filter((entry) => isOther(entry) && (after === undefined || ranksBefore(after, entry))).sort((a, b) => ranksBefore(a, b) ? -1 : 1)
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
