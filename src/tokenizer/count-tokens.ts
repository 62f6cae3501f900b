// Token counting and encoding of plain text, exactly as js-tiktoken's `encode(text, [], [])`: the
// encoding's pattern splits the text into pieces, and each piece is either a token as a whole or
// byte-pair merged (bpe-merge.ts). Special-token text such as "<|endoftext|>" is plain text here.
//
// Cost: the split is one pass of the pattern (measured linear on long runs of one character,
// repeated patterns and random mixes; see `npm run bench:store`), and the merge is O(n log n) per
// piece, so counting is O(n log n) in the text's length whatever its content.
import { bytePairCount, bytePairTokens, LONG_MERGE_MIN_BYTES, type MergeChoice } from './bpe-merge.js'
import type { RankTable } from './rank-table.js'
import { NOT_SHORT, shortPieceCount, shortTokenTableOf, type ShortTokenTable } from './short-pieces.js'

/** Knobs for tests; production code uses the defaults. */
export interface CountOptions extends MergeChoice {
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

/** The number of tokens in `text`. */
export function countTokens (table: RankTable, text: string, options: CountOptions = {}): number {
  const longFrom = options.longFrom ?? LONG_MERGE_MIN_BYTES
  const cache = options.cache === false ? undefined : pieceCacheOf(table)
  const short = shortTokenTableOf(table)
  const ascii = isAscii(text)
  // The split walks the text with the table's sticky pattern and `test`, which builds no match
  // array and no piece string (cheaper per piece than exec by a third): each piece starts where
  // the last one ended. One pattern per table, its lastIndex set before each piece: a copy per
  // count (`new RegExp` of this large pattern) costs microseconds, and counting is synchronous,
  // so no two counts share it. The patterns match every character, but should some text not
  // match, the global copy finds the next piece and the text skipped is left out, as matchAll does.
  const sticky = table.stickyPattern
  let count = 0
  let start = 0
  while (start < text.length) {
    sticky.lastIndex = start
    let end: number
    if (sticky.test(text)) {
      end = sticky.lastIndex
    } else {
      const search = new RegExp(table.pattern)
      search.lastIndex = start
      const match = search.exec(text)
      if (match === null) break
      start = match.index
      end = search.lastIndex
    }
    // The pattern has no empty match; this guard only keeps the loop finite.
    if (end <= start) {
      start++
      continue
    }
    count += pieceCount(table, short, cache, options, longFrom, text, start, end, ascii)
    start = end
  }
  sticky.lastIndex = 0
  return count
}

/** The tokens of the piece text[start, end); `ascii` when the whole text is (no UTF-8 to encode). */
function pieceCount (
  table: RankTable, short: ShortTokenTable, cache: Map<string, number> | undefined, choice: MergeChoice, longFrom: number,
  text: string, start: number, end: number, ascii: boolean
): number {
  // Pieces of up to four bytes (most of dense text such as base64) are counted from the text's
  // characters, without a piece string (short-pieces.ts).
  const shortCount = shortPieceCount(short, text, start, end)
  if (shortCount !== NOT_SHORT) return shortCount
  const slice = text.slice(start, end)
  const piece = ascii ? slice : toByteString(slice)
  if (cache === undefined || piece.length >= longFrom) return table.ranks.has(piece) ? 1 : bytePairCount(piece, table, choice)
  // The small cache first, whole tokens included: a hit is cheaper than a look-up in the ranks.
  let counted = cache.get(piece)
  if (counted === undefined) {
    counted = table.ranks.has(piece) ? 1 : bytePairCount(piece, table, choice)
    if (cache.size >= PIECE_CACHE_SIZE) cache.clear()
    cache.set(piece, counted)
  }
  return counted
}

/** The token ids of `text` (for tests against the oracle, which compares ids, not only counts). */
export function encodeTokens (table: RankTable, text: string, options: CountOptions = {}): number[] {
  const tokens: number[] = []
  for (const match of text.matchAll(table.pattern)) {
    const piece = toByteString(match[0])
    const whole = table.ranks.get(piece)
    if (whole !== undefined) tokens.push(whole)
    else for (const token of bytePairTokens(piece, table, options)) tokens.push(token)
  }
  return tokens
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
