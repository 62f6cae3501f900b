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
}

/** The number of tokens in `text`. */
export function countTokens (table: RankTable, text: string, options: CountOptions = {}): number {
  const queueFrom = options.queueFrom ?? QUEUE_MERGE_MIN_BYTES
  let count = 0
  // matchAll works on its own copy of the pattern, so the shared one keeps no state between calls.
  for (const match of text.matchAll(table.pattern)) {
    const piece = toByteString(match[0])
    count += table.ranks.has(piece) ? 1 : bytePairCount(piece, table, queueFrom)
  }
  return count
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

/** UTF-8 bytes as a byte string; ASCII text is already one (a lone surrogate becomes U+FFFD, as with TextEncoder). */
function toByteString (text: string): string {
  const bytes = Buffer.byteLength(text, 'utf8')
  return bytes === text.length ? text : Buffer.from(text, 'utf8').toString('latin1')
}
