// The combined score of `relevant_to` (docs/context-optimizer.md, "The formula"): relevance first,
// then priority and recency as mild factors, after the original design's calculate_retention_score
// (priority x age x size). Each factor is bounded away from zero, so neither can sink an entry
// that matches the task far better than the rest. Size is deliberately not a factor: the budget
// fill already spends tokens one entry at a time, and in the evaluation a size penalty traded
// relevant tokens for more, smaller entries (docs/context-optimizer.md, "Why no size factor").
import type { StoredEntry } from '../store/types.js'
import type { TermMatch } from './relevance-index.js'

/** Priority factor: (PRIORITY_OFFSET + priority) / (PRIORITY_OFFSET + 10), 0.55 at 1 to 1 at 10. */
export const PRIORITY_OFFSET = 9
/** Recency: the part of the factor that fades, halving every RECENCY_HALF_LIFE_HOURS. */
export const RECENCY_WEIGHT = 0.2
export const RECENCY_HALF_LIFE_HOURS = 24

const HOUR_MS = 3_600_000

export interface ScoreFactors {
  /** BM25+ of the entry divided by the best BM25+ among the candidates: (0, 1]. */
  relevance: number
  priority: number
  /** Milliseconds since the entry was written (negative counts as zero). */
  ageMs: number
}

/** The combined score of one entry that shares a term with the task. Always > 0 when relevance > 0. */
export function combinedScore ({ relevance, priority, ageMs }: ScoreFactors): number {
  return combinedScoreOf(relevance, priority, ageMs)
}

/**
 * combinedScore with its factors as arguments: a query scores every match (100,000 of them when a
 * task shares a common term with every entry), and an object per match was most of that cost.
 */
export function combinedScoreOf (relevance: number, priority: number, ageMs: number): number {
  const ageHours = Math.max(0, ageMs) / HOUR_MS
  // 2^(-ageHours / half-life), as exp: Math.pow costs three times as much in V8.
  const recencyFactor = 1 - RECENCY_WEIGHT + RECENCY_WEIGHT * Math.exp(-ageHours / RECENCY_HALF_LIFE_HOURS * Math.LN2)
  return relevance * priorityFactorOf(priority) * recencyFactor
}

function priorityFactorOf (priority: number): number {
  return (PRIORITY_OFFSET + priority) / (PRIORITY_OFFSET + 10)
}

export interface RelevanceOrder {
  /** The candidates, best score first; those sharing no term last, in their given order. */
  ordered: StoredEntry[]
  /** The score of a candidate (0 when it shares no term with the task), as the order used it. */
  scoreOf: (stored: StoredEntry) => number
}

/**
 * The ordering step of a relevant_to query. `candidates` come in the usual rank order (priority,
 * then most recent write); ties of the score (combinedScore unless another is given, as the
 * evaluation does) keep that order, and entries sharing no term with the task follow all others,
 * still in that order. Sorting touches only the entries that matched a term; parallel arrays and
 * an index sort keep it to one small object per match (at 100,000 entries a task can match tens of
 * thousands).
 */
export function orderByRelevance (
  candidates: readonly StoredEntry[], matches: ReadonlyMap<string, TermMatch>, now: number, score: (factors: ScoreFactors) => number = combinedScore
): RelevanceOrder {
  const matched: StoredEntry[] = []
  const found: TermMatch[] = []
  const rest: StoredEntry[] = []
  let best = 0
  for (const stored of candidates) {
    const match = matches.get(stored.key)
    if (match === undefined) {
      rest.push(stored)
      continue
    }
    matched.push(stored)
    found.push(match)
    if (match.bm25 > best) best = match.bm25
  }
  const scoreWith = (stored: StoredEntry, match: TermMatch) => matchScore(match.bm25, best, stored.entry.priority, now - match.writtenAt, score)
  const values = new Float64Array(matched.length)
  const positions: number[] = new Array(matched.length)
  for (let i = 0; i < matched.length; i++) {
    values[i] = scoreWith(matched[i], found[i])
    positions[i] = i
  }
  // Ties by position: the candidates' rank order.
  positions.sort((a, b) => values[b] - values[a] || a - b)
  const ordered: StoredEntry[] = new Array(matched.length + rest.length)
  for (let i = 0; i < positions.length; i++) ordered[i] = matched[positions[i]]
  for (let i = 0; i < rest.length; i++) ordered[matched.length + i] = rest[i]
  return {
    ordered,
    // Recomputed from the same inputs, so it equals what the sort used, without a map of every match.
    scoreOf: (stored) => {
      const match = matches.get(stored.key)
      return match === undefined ? 0 : scoreWith(stored, match)
    }
  }
}

/**
 * The score of one match as the query reports and orders it: `score` of its factors, rounded.
 * `best` is the highest BM25+ among the candidates (the filtered entries).
 */
export function matchScore (bm25: number, best: number, priority: number, ageMs: number, score?: (factors: ScoreFactors) => number): number {
  return roundScore(score === undefined ? combinedScoreOf(bm25 / best, priority, ageMs) : score({ relevance: bm25 / best, priority, ageMs }))
}

/**
 * An upper bound of matchScore that needs no recency: the recency factor is at most 1, so the
 * product before rounding is at most bm25 / best x the priority factor, and rounding to six
 * decimals adds at most 5e-7 (the floor of 1e-6 is below the bound too): matchScore(...) <
 * matchScoreBound(...) for every age. A query orders its matches by this bound and works out the
 * exact score only for those that reach the top (src/relevance/relevance-query.ts).
 */
export function matchScoreBound (bm25: number, best: number, priority: number): number {
  return bm25 / best * priorityFactorOf(priority) + 1e-6
}

/** Six decimals are plenty to read and compare; a match never rounds down to the 0 of no match. */
function roundScore (score: number): number {
  return Math.max(1e-6, Math.round(score * 1e6) / 1e6)
}
