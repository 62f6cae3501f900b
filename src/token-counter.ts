// Counts tokens exactly as js-tiktoken does, using gpt-tokenizer (same BPE ranks, about 5x faster
// here; see `npm run bench:store`). js-tiktoken stays the oracle in the tests.
import { countTokens as countO200k } from 'gpt-tokenizer/encoding/o200k_base'
import { countTokens as countCl100k } from 'gpt-tokenizer/encoding/cl100k_base'
import type { TOKEN_ENCODINGS } from './config.js'

export type TokenEncoding = typeof TOKEN_ENCODINGS[number]

// Special-token text such as "<|endoftext|>" inside user content is counted as plain text, never
// rejected: js-tiktoken's encode(text, [], []) does the same.
const PLAIN_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() }

const counters: Record<TokenEncoding, (text: string) => number> = {
  o200k_base: (text) => countO200k(text, PLAIN_TEXT),
  cl100k_base: (text) => countCl100k(text, PLAIN_TEXT)
}

/** Returns the token counting function for an encoding; the encoder tables load once per process. */
export function tokenCounter (encoding: TokenEncoding): (text: string) => number {
  return counters[encoding]
}
