// Token counting and encoding of plain text, exactly as js-tiktoken's `encode(text, [], [])`: the
// encoding's pattern splits the text into pieces, and each piece is either a token as a whole or
// byte-pair merged (bpe-merge.ts). Special-token text such as "<|endoftext|>" is plain text here.
//
// Cost: the split is one pass of the pattern (measured linear on long runs of one character,
// repeated patterns and random mixes; see `npm run bench:store`), and the merge is O(n log n) per
// piece, so counting is O(n log n) in the text's length whatever its content.
import { bytePairCount, bytePairTokens, QUEUE_MERGE_MIN_BYTES } from './bpe-merge.js'
import type { RankTable } from './rank-table.js'

/** Knobs for tests; production code uses the defaults. */
export interface CountOptions {
  /** Pieces of at least this many bytes are merged with the queue (default QUEUE_MERGE_MIN_BYTES). */
  queueFrom?: number
  /** Whether counts of merged short pieces may come from the piece cache (default true). */
  cache?: boolean
}

/**
 * Short pieces and their counts, per table: prose repeats its words, JSON its keys and
 * punctuation. Whole-token pieces are kept too: a hit in this small map is several times cheaper
 * than a look-up in the ~200,000 ranks (a cache miss or three each), and most pieces of ordinary
 * text are whole tokens. Emptied when full, so it holds at most this many pieces of under 48 bytes
 * (~1-2 MB).
 */
const PIECE_CACHE_SIZE = 16_384
const pieceCaches = new WeakMap<RankTable, Map<string, number>>()
// One pattern per table for counting, its lastIndex reset at each count: cheaper than a copy
// per count (`new RegExp` of this large pattern costs microseconds), and counting never
// re-enters itself (it is synchronous), so no two counts share the lastIndex.
const countingPatterns = new WeakMap<RankTable, RegExp>()

/** The number of tokens in `text`. */
export function countTokens (table: RankTable, text: string, options: CountOptions = {}): number {
  const queueFrom = options.queueFrom ?? QUEUE_MERGE_MIN_BYTES
  const cache = options.cache === false ? undefined : pieceCacheOf(table)
  const ascii = isAscii(text)
  // exec, cheaper per piece than matchAll's iterator.
  const pattern = countingPatternOf(table)
  pattern.lastIndex = 0
  let count = 0
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const piece = ascii ? match[0] : toByteString(match[0])
    if (cache === undefined || piece.length >= queueFrom) {
      count += pieceCount(piece, table, queueFrom)
      continue
    }
    let counted = cache.get(piece)
    if (counted === undefined) {
      counted = pieceCount(piece, table, queueFrom)
      if (cache.size >= PIECE_CACHE_SIZE) cache.clear()
      cache.set(piece, counted)
    }
    count += counted
  }
  return count
}

/** The tokens of one piece (a byte string): one when it is a token as a whole, else merged. */
function pieceCount (piece: string, table: RankTable, queueFrom: number): number {
  if (table.ranks.has(piece)) return 1
  // Not a token as a whole, so two bytes stay two tokens, and three make two if either pair
  // is a token (merging it leaves a pair that is the whole piece, not a token), else three.
  // Dense text (base64, hex) is mostly such pieces.
  if (piece.length === 2) return 2
  if (piece.length === 3) return table.ranks.has(piece.slice(0, 2)) || table.ranks.has(piece.slice(1)) ? 2 : 3
  return bytePairCount(piece, table, queueFrom)
}

/** The token ids of `text` (for tests against the oracle, which compares ids, not only counts). */
export function encodeTokens (table: RankTable, text: string, options: CountOptions = {}): number[] {
  const queueFrom = options.queueFrom ?? QUEUE_MERGE_MIN_BYTES
  const tokens: number[] = []
  for (const match of text.matchAll(table.pattern)) {
    const piece = toByteString(match[0])
    const whole = table.ranks.get(piece)
    if (whole !== undefined) tokens.push(whole)
    else for (const token of bytePairTokens(piece, table, queueFrom)) tokens.push(token)
  }
  return tokens
}

function countingPatternOf (table: RankTable): RegExp {
  let pattern = countingPatterns.get(table)
  if (pattern === undefined) {
    pattern = new RegExp(table.pattern)
    countingPatterns.set(table, pattern)
  }
  return pattern
}

function pieceCacheOf (table: RankTable): Map<string, number> {
  let cache = pieceCaches.get(table)
  if (cache === undefined) {
    cache = new Map()
    pieceCaches.set(table, cache)
  }
  return cache
}

function isAscii (text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length
}

/** UTF-8 bytes as a byte string; ASCII text is already one (a lone surrogate becomes U+FFFD, as with TextEncoder). */
function toByteString (text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return Buffer.from(text, 'utf8').toString('latin1')
  }
  return text
}
