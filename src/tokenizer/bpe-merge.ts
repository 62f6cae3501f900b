// Byte-pair merging of one pre-tokenized piece: the step that turns a piece's bytes into tokens.
//
// tiktoken's rule: while some adjacent pair of parts is itself a token, merge the pair of lowest
// rank, the leftmost one on a tie. The textbook loop rescans every pair after each merge, so a
// piece of n bytes costs O(n^2) (a run of 160,000 'a's took 20 s). Short pieces keep that loop:
// it is the fastest there. Long pieces are merged in rounds (round-merge.ts: one sweep merges
// every occurrence of the lowest-ranked pair) while a round merges a large share of the parts,
// which is where long repetitive pieces spend their merges, and then with a priority queue of
// candidate pairs ordered by (rank, position) over a linked list of parts, so each merge costs
// O(log n) at most and a piece O(n log n). Each makes exactly the merges the loop would, so the
// tokens are the same.
//
// Parts are tracked by token id, and "is the pair (a, b) a token, of which rank?" is answered
// by PairRanks (pair-ranks.ts).
import { NONE, PairRanks } from './pair-ranks.js'
import { RankQueue } from './rank-queue.js'
import { mergeInRounds } from './round-merge.js'

/** What merging needs of an encoding's rank table. */
export interface MergeTable {
  /** Byte string of a token (one character per byte) -> its rank, which is also its id. */
  readonly ranks: ReadonlyMap<string, number>
  /** Token id -> its byte string. */
  readonly tokens: readonly string[]
}

/**
 * Pieces of this many bytes or more take the long-piece merge, shorter ones the rescanning
 * loop. Both give the same tokens; this only picks the faster one (measured crossover: about
 * 40-60 bytes).
 */
export const LONG_MERGE_MIN_BYTES = 48

/**
 * Rounds go on while the lowest-ranked pair occurs at least this share of the parts. A round
 * costs a few nanoseconds per part and the queue ~100 ns per merge, so a round that merges a
 * sixteenth of the parts is still the cheaper; rounds that merge less would add up to O(n^2).
 */
export const ROUND_MIN_SHARE = 1 / 16

/** Which merge takes a piece; production uses the defaults, tests force each path. */
export interface MergeChoice {
  /** Long-piece merge from this many bytes (default LONG_MERGE_MIN_BYTES): 0 = every piece, Infinity = the loop only. */
  longFrom?: number
  /** Rounds while the lowest rank has this share of the parts (default ROUND_MIN_SHARE): 0 = rounds to the end, Infinity = the queue only. */
  roundShare?: number
}

/** The number of tokens a piece merges into. The piece is a byte string (one character per byte, at least one byte). */
export function bytePairCount (piece: string, table: MergeTable, choice: MergeChoice = {}): number {
  return mergePiece(piece, table, choice)
}

/** The token ids a piece merges into, left to right; see bytePairCount. */
export function bytePairTokens (piece: string, table: MergeTable, choice: MergeChoice = {}): number[] {
  const out: number[] = []
  mergePiece(piece, table, choice, out)
  return out
}

/** Merges a piece with the merge `choice` picks; returns the token count, and the ids into `out` when given. */
function mergePiece (piece: string, table: MergeTable, choice: MergeChoice, out?: number[]): number {
  const merger = mergerOf(table)
  return piece.length >= (choice.longFrom ?? LONG_MERGE_MIN_BYTES)
    ? longMerge(piece, merger.pairs, choice.roundShare ?? ROUND_MIN_SHARE, out)
    : loopMerge(piece, merger, out)
}

/**
 * tiktoken's loop: rescan every pair for the lowest rank after each merge. O(n^2), for short
 * pieces, in scratch arrays reused across calls (merging is synchronous).
 */
function loopMerge (piece: string, merger: Merger, out?: number[]): number {
  const { pairs } = merger
  merger.reserve(piece.length)
  const { ids, pairRanks } = merger
  let count = piece.length
  for (let i = 0; i < count; i++) ids[i] = pairs.byteRank(piece.charCodeAt(i))
  for (let i = 0; i + 1 < count; i++) pairRanks[i] = pairs.rank(ids[i], ids[i + 1])
  for (;;) {
    let lowest = NONE
    let at = -1
    // Strictly lower: on a tie the leftmost pair wins.
    for (let i = 0; i + 1 < count; i++) {
      if (pairRanks[i] < lowest) { lowest = pairRanks[i]; at = i }
    }
    if (at < 0) break
    // Part at + 1 joins part at: shift what follows one place left.
    ids[at] = lowest
    for (let i = at + 1; i + 1 < count; i++) ids[i] = ids[i + 1]
    for (let i = at; i + 2 < count; i++) pairRanks[i] = pairRanks[i + 1]
    count--
    if (at + 1 < count) pairRanks[at] = pairs.rank(ids[at], ids[at + 1])
    if (at > 0) pairRanks[at - 1] = pairs.rank(ids[at - 1], ids[at])
  }
  if (out !== undefined) for (let i = 0; i < count; i++) out.push(ids[i])
  return count
}

/**
 * A long piece: rounds while they merge a large share of the parts (round-merge.ts), then the
 * queue for what is left.
 */
function longMerge (piece: string, pairs: PairRanks, minShare: number, out?: number[]): number {
  const n = piece.length
  const ids = new Int32Array(n)
  const pairRank = new Int32Array(n)
  for (let i = 0; i < n; i++) ids[i] = pairs.byteRank(piece.charCodeAt(i))
  // A long piece mostly repeats its last pair (runs): a compare is cheaper than the pair cache.
  let a = -1
  let b = -1
  let rank = NONE
  for (let i = 0; i + 1 < n; i++) {
    if (ids[i] !== a || ids[i + 1] !== b) {
      a = ids[i]
      b = ids[i + 1]
      rank = pairs.rank(a, b)
    }
    pairRank[i] = rank
  }
  pairRank[n - 1] = NONE
  const count = mergeInRounds(ids, pairRank, n, pairs, minShare)
  return queueMerge(ids, pairRank, count, pairs, out)
}

/**
 * The queue merge of the parts ids[0, n), whose pairs' ranks are pairRank[0, n - 1). Parts are
 * named by their index; `next` links them left to right and `id` holds each part's token.
 * `pairRank[i]` is the rank of the pair that starts at part i (part i and the part after it),
 * NONE when that pair is not a token, and -1 once part i has been merged into its left
 * neighbour. Candidate pairs wait in a RankQueue, which yields the lowest rank and, within it,
 * the leftmost position; a candidate is acted on only if it still matches `pairRank` (stale
 * ones, left behind when a neighbour merged, are skipped), so each merge is the one the loop
 * would make. Both arrays are the caller's and are changed.
 */
function queueMerge (id: Int32Array, pairRank: Int32Array, n: number, pairs: PairRanks, out?: number[]): number {
  const next = new Int32Array(n)
  const prev = new Int32Array(n)
  const queue = new RankQueue(pairs.slots)
  for (let i = 0; i < n; i++) {
    next[i] = i + 1
    prev[i] = i - 1
  }
  for (let i = 0; i + 1 < n; i++) {
    if (pairRank[i] !== NONE) queue.push(pairRank[i], i)
  }
  pairRank[n - 1] = NONE
  // Pairs that changed wait here before they enter the queue: a sweep through one rank changes
  // the same pair several times (each neighbour's merge), and only its last value matters. They
  // enter before any candidate of their rank or higher is taken, so the order is unchanged.
  // Each part is pending at most once, so n slots hold them all.
  const pending = new Int32Array(n)
  let pendingCount = 0
  const isPending = new Uint8Array(n)
  let lowestPending = NONE
  let count = n
  try {
    for (;;) {
      const rank = queue.lowestRank()
      if (pendingCount > 0 && (rank < 0 || lowestPending <= rank)) {
        for (let k = 0; k < pendingCount; k++) {
          const position = pending[k]
          isPending[position] = 0
          const current = pairRank[position]
          if (current >= 0 && current !== NONE) queue.push(current, position)
        }
        pendingCount = 0
        lowestPending = NONE
        continue
      }
      if (rank < 0) break
      const i = queue.popLeftmost(rank)
      if (pairRank[i] !== rank) continue // stale: part i merged away or its pair changed
      const absorbed = next[i]
      const after = next[absorbed]
      next[i] = after
      if (after < n) prev[after] = i
      id[i] = rank
      pairRank[absorbed] = -1
      count--
      // The two pairs that changed (i's own, and the one ending at i) go pending. Written out
      // twice rather than as a closure: a closure would keep the pending state in a context
      // object, and this is the innermost loop of a long piece's merge.
      const own = after < n ? pairs.rank(rank, id[after]) : NONE
      pairRank[i] = own
      if (own !== NONE) {
        if (isPending[i] === 0) { isPending[i] = 1; pending[pendingCount++] = i }
        if (own < lowestPending) lowestPending = own
      }
      const before = prev[i]
      if (before >= 0) {
        const left = pairs.rank(id[before], rank)
        pairRank[before] = left
        if (left !== NONE) {
          if (isPending[before] === 0) { isPending[before] = 1; pending[pendingCount++] = before }
          if (left < lowestPending) lowestPending = left
        }
      }
    }
  } finally {
    queue.release()
  }
  if (out !== undefined) for (let i = 0; i < n; i = next[i]) out.push(id[i])
  return count
}

/** Per encoding: the pair cache and the loop's scratch arrays. */
class Merger {
  readonly pairs: PairRanks
  /** The loop's scratch: part ids and pair ranks. */
  ids = new Int32Array(64)
  pairRanks = new Int32Array(64)

  constructor (table: MergeTable) {
    this.pairs = new PairRanks(table)
  }

  /** Makes the scratch hold a piece of `length` bytes. */
  reserve (length: number): void {
    if (this.ids.length < length) {
      this.ids = new Int32Array(length)
      this.pairRanks = new Int32Array(length)
    }
  }
}

const mergers = new WeakMap<MergeTable, Merger>()

function mergerOf (table: MergeTable): Merger {
  let merger = mergers.get(table)
  if (merger === undefined) {
    merger = new Merger(table)
    mergers.set(table, merger)
  }
  return merger
}
