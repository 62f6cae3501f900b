// The BPE rank tables and pre-tokenization patterns of the encodings, read from the data that
// js-tiktoken ships (the test oracle's own tables, so both split and merge from the same source).
import cl100kBase from 'js-tiktoken/ranks/cl100k_base'
import o200kBase from 'js-tiktoken/ranks/o200k_base'
import type { TOKEN_ENCODINGS } from '../config.js'
import { shortTokenTableOf } from './short-pieces.js'

export type TokenEncoding = typeof TOKEN_ENCODINGS[number]

/**
 * One encoding, ready to count with. Token byte sequences are keys as "byte strings": one
 * character per byte (latin1), so an ASCII piece of text is its own key and needs no conversion.
 */
export interface RankTable {
  readonly name: TokenEncoding
  /** Byte string of a token -> its rank (which is also its id). */
  readonly ranks: ReadonlyMap<string, number>
  /** Rank -> the token's byte string. */
  readonly tokens: readonly string[]
  /** The encoding's pre-tokenization pattern, global and unicode as js-tiktoken compiles it. */
  readonly pattern: RegExp
  /**
   * The same pattern, sticky (`uy`): the split's (count-tokens.ts). Compiled with the table, so the
   * first count does not pay for compiling it; a copy made from it reuses the compiled code.
   */
  readonly stickyPattern: RegExp
}

interface RawRanks { pat_str: string, bpe_ranks: string }

const RAW: Record<TokenEncoding, RawRanks> = { o200k_base: o200kBase, cl100k_base: cl100kBase }
const loaded = new Map<TokenEncoding, RankTable>()

/**
 * The rank table of an encoding, built on first use (about 0.1-0.3 s and 10-20 MB per encoding,
 * per thread) and kept for the life of the process.
 */
export function rankTable (name: TokenEncoding): RankTable {
  let table = loaded.get(name)
  if (table === undefined) {
    const ranks = parseRanks(RAW[name].bpe_ranks)
    const tokens: string[] = []
    for (const [bytes, rank] of ranks) tokens[rank] = bytes
    table = { name, ranks, tokens, pattern: new RegExp(RAW[name].pat_str, 'ug'), stickyPattern: new RegExp(RAW[name].pat_str, 'uy') }
    // Compiled now (V8 compiles a pattern on its first use); lastIndex back to 0 after.
    table.stickyPattern.test('a')
    table.stickyPattern.lastIndex = 0
    loaded.set(name, table)
    // Built with the table, where its load is already paid (server start, a thread's start), not
    // inside the first count.
    shortTokenTableOf(table)
  }
  return table
}

/**
 * js-tiktoken's compact format: one line per run of consecutive ranks, `<tag> <first rank>` and
 * then each token's bytes in base64.
 */
function parseRanks (compact: string): Map<string, number> {
  const ranks = new Map<string, number>()
  for (const line of compact.split('\n')) {
    if (line === '') continue
    const fields = line.split(' ')
    const first = Number.parseInt(fields[1], 10)
    for (let i = 2; i < fields.length; i++) ranks.set(Buffer.from(fields[i], 'base64').toString('latin1'), first + i - 2)
  }
  return ranks
}
