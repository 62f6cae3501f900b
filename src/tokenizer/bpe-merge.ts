// Byte-pair merging of one pre-tokenized piece: the step that turns a piece's bytes into tokens.
//
// tiktoken's rule: while some adjacent pair of parts is itself a token, merge the pair of lowest
// rank, the leftmost one on a tie. The textbook loop rescans every pair after each merge, so a
// piece of n bytes costs O(n^2) (a run of 160,000 'a's took 20 s). Long pieces here keep their
// candidate pairs in a priority queue ordered by (rank, position) over a linked list of parts,
// so each merge costs O(log n) at most and a piece O(n log n); the queue's first candidate is
// exactly the pair the loop would pick, so the merges, and the tokens, are the same. Short pieces
// keep the loop: it is faster there than building a queue.
//
// Parts are tracked by token id, and "is the pair (a, b) a token, of which rank?" is answered
// by PairRanks, a fixed-size cache in front of the table's byte-string map: long runs ask the
// same few pairs hundreds of thousands of times.
import { RankQueue } from './rank-queue.js'

/** What merging needs of an encoding's rank table. */
export interface MergeTable {
  /** Byte string of a token (one character per byte) -> its rank, which is also its id. */
  readonly ranks: ReadonlyMap<string, number>
  /** Token id -> its byte string. */
  readonly tokens: readonly string[]
}

/**
 * Pieces of this many bytes or more are merged with the queue, shorter ones with the rescanning
 * loop. Both give the same tokens; this only picks the faster one (measured crossover: about
 * 40-60 bytes).
 */
export const QUEUE_MERGE_MIN_BYTES = 48

/** Not a token: larger than any rank. */
const NONE = 0x7fffffff

/**
 * The number of tokens a piece merges into. The piece is a byte string (one character per byte,
 * at least one byte). `queueFrom` overrides QUEUE_MERGE_MIN_BYTES: tests set it to 0 to run the
 * queue merge on every piece, or to Infinity to run the loop only.
 */
export function bytePairCount (piece: string, table: MergeTable, queueFrom = QUEUE_MERGE_MIN_BYTES): number {
  const merger = mergerOf(table)
  return piece.length >= queueFrom ? queueMerge(piece, merger.pairs) : loopMerge(piece, merger)
}

/** The token ids a piece merges into, left to right; see bytePairCount. */
export function bytePairTokens (piece: string, table: MergeTable, queueFrom = QUEUE_MERGE_MIN_BYTES): number[] {
  const merger = mergerOf(table)
  const out: number[] = []
  if (piece.length >= queueFrom) queueMerge(piece, merger.pairs, out)
  else loopMerge(piece, merger, out)
  return out
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
 * The queue merge. Parts are named by the byte where they start; `next` links them left to right
 * and `id` holds each part's token. `pairRank[i]` is the rank of the pair that starts at part i
 * (part i and the part after it), NONE when that pair is not a token, and -1 once part i has been
 * merged into its left neighbour. Candidate pairs wait in a RankQueue, which yields the lowest
 * rank and, within it, the leftmost position; a candidate is acted on only if it still matches
 * `pairRank` (stale ones, left behind when a neighbour merged, are skipped), so each merge is the
 * one the loop would make.
 */
function queueMerge (piece: string, pairs: PairRanks, out?: number[]): number {
  const n = piece.length
  const next = new Int32Array(n)
  const prev = new Int32Array(n)
  const id = new Int32Array(n)
  const pairRank = new Int32Array(n)
  const queue = new RankQueue(pairs.slots)
  for (let i = 0; i < n; i++) {
    next[i] = i + 1
    prev[i] = i - 1
    id[i] = pairs.byteRank(piece.charCodeAt(i))
  }
  for (let i = 0; i + 1 < n; i++) {
    pairRank[i] = pairs.rank(id[i], id[i + 1])
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

/** Slots of a PairRanks cache (a power of two): 2^18 slots, 3 MB per encoding and thread. */
const PAIR_CACHE_BITS = 18
const PAIR_CACHE_SLOTS = 1 << PAIR_CACHE_BITS
/** The cache is emptied when this full, so probes stay short and its memory fixed. */
const PAIR_CACHE_MAX_FILL = PAIR_CACHE_SLOTS * 0.6

/**
 * The rank of the token that two tokens make together (or NONE), cached by id pair in an
 * open-addressing table of fixed size: no allocation per lookup, and a bounded footprint.
 */
class PairRanks {
  private readonly left = new Int32Array(PAIR_CACHE_SLOTS).fill(-1)
  private readonly right = new Int32Array(PAIR_CACHE_SLOTS)
  private readonly value = new Int32Array(PAIR_CACHE_SLOTS)
  private readonly bytes = new Int32Array(256)
  private filled = 0
  /** Scratch for RankQueue: one slot per rank, -1 between merges (merging is synchronous). */
  readonly slots: Int32Array

  constructor (private readonly table: MergeTable) {
    this.slots = new Int32Array(table.tokens.length).fill(-1)
    for (let b = 0; b < 256; b++) {
      const rank = table.ranks.get(String.fromCharCode(b))
      // Every byte is a token in tiktoken's encodings; merging relies on it.
      if (rank === undefined) throw new Error(`byte ${b} is not a token`)
      this.bytes[b] = rank
    }
  }

  byteRank (byte: number): number {
    return this.bytes[byte]
  }

  rank (a: number, b: number): number {
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77)) >>> (32 - PAIR_CACHE_BITS)
    for (;;) {
      const l = this.left[slot]
      if (l === -1) break
      if (l === a && this.right[slot] === b) return this.value[slot]
      slot = (slot + 1) & (PAIR_CACHE_SLOTS - 1)
    }
    const rank = this.table.ranks.get(this.table.tokens[a] + this.table.tokens[b]) ?? NONE
    if (this.filled >= PAIR_CACHE_MAX_FILL) {
      this.left.fill(-1)
      this.filled = 0
      return rank // the slot found above may be gone; the next lookup inserts it
    }
    this.left[slot] = a
    this.right[slot] = b
    this.value[slot] = rank
    this.filled++
    return rank
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
