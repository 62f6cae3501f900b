// Counts tokens exactly as js-tiktoken's `encode(text, [], [])` does, in O(n log n) whatever the
// content (src/tokenizer/: js-tiktoken's own rank tables and pattern, a merge that stays fast on
// long runs of one character). js-tiktoken stays the oracle in the tests.
import { countTokens } from './tokenizer/count-tokens.js'
import { rankTable, type TokenEncoding } from './tokenizer/rank-table.js'

export type { TokenEncoding } from './tokenizer/rank-table.js'

/**
 * Returns the token counting function for an encoding. Special-token text such as
 * "<|endoftext|>" inside user content is counted as plain text, never rejected. The encoding's
 * table loads on the first count, once per process (or worker thread).
 */
export function tokenCounter (encoding: TokenEncoding): (text: string) => number {
  return (text) => countTokens(rankTable(encoding), text)
}
