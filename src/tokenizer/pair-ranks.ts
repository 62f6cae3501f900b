// "Is the pair of tokens (a, b) itself a token, and of which rank?": the question byte-pair merging
// asks once per merge. Answered from the table's byte-string map behind a fixed-size cache, since
// long runs ask the same few pairs hundreds of thousands of times.
import type { MergeTable } from './bpe-merge.js'

/** Not a token: larger than any rank. */
export const NONE = 0x7fffffff

/** Slots of a PairRanks cache (a power of two): 2^18 slots, 3 MB per encoding and thread. */
const PAIR_CACHE_BITS = 18
const PAIR_CACHE_SLOTS = 1 << PAIR_CACHE_BITS
/** The cache is emptied when this full, so probes stay short and its memory fixed. */
const PAIR_CACHE_MAX_FILL = PAIR_CACHE_SLOTS * 0.6

/**
 * The rank of the token that two tokens make together (or NONE), cached by id pair in an
 * open-addressing table of fixed size: no allocation per lookup, and a bounded footprint.
 */
export class PairRanks {
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
