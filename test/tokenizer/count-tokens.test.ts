// Token ids (not only counts) must equal js-tiktoken's on every input, on every merge path: the
// rescanning loop (short pieces), and for long pieces rounds handing over to the queue. Each
// shape is run four ways: the default split between the paths, rounds alone on every piece, the
// queue alone on every piece, and the loop on every piece.
import { test } from 'tap'
import fc from 'fast-check'
import { getEncoding } from 'js-tiktoken'
import { countTokens as gptCountO200k } from 'gpt-tokenizer/encoding/o200k_base'
import { countTokens as gptCountCl100k } from 'gpt-tokenizer/encoding/cl100k_base'
import { TOKEN_ENCODINGS } from '../../src/config.js'
import { countTokens, encodeTokens } from '../../src/tokenizer/count-tokens.js'
import { rankTable } from '../../src/tokenizer/rank-table.js'

const PATHS = [
  { name: 'default' },
  { name: 'rounds only', longFrom: 0, roundShare: 0 },
  { name: 'queue only', longFrom: 0, roundShare: Infinity },
  { name: 'loop only', longFrom: Infinity }
]

// js-tiktoken is itself quadratic on one long piece (5,000 'a's take ~1.5 s), so the shapes it
// checks are a thousand characters: far beyond the 48-byte switch to the long-piece merge.
const RUN = 1000
const SHAPES: Record<string, string> = {
  'run of a': 'a'.repeat(RUN),
  'run of =': '='.repeat(RUN),
  'run of spaces': ' '.repeat(RUN),
  'spaces then a word': ' '.repeat(RUN) + 'word',
  'run of digits': '7'.repeat(RUN),
  'run of newlines': '\n'.repeat(RUN),
  'run of CRLF': '\r\n'.repeat(RUN / 2),
  'run of tabs and spaces': '\t '.repeat(RUN / 2),
  'JSON string of a': JSON.stringify({ a: 'a'.repeat(RUN) }),
  'ab repeated': 'ab'.repeat(RUN / 2),
  'abc repeated': 'abc'.repeat(RUN / 3),
  'aA repeated': 'aA'.repeat(RUN / 2),
  '=- repeated': '=-'.repeat(RUN / 2),
  'word, comma': 'word, '.repeat(RUN / 6),
  'digit groups': '0123456789'.repeat(RUN / 10),
  'space digit': ' 1'.repeat(RUN / 2),
  'run of é': 'é'.repeat(RUN / 2),
  'run of 中': '中'.repeat(RUN / 3),
  'run of emoji': '🎉'.repeat(RUN / 4),
  'combining marks': 'e' + '\u0301'.repeat(RUN / 2),
  'lone surrogates': '\ud800'.repeat(RUN / 3),
  contractions: "it's".repeat(RUN / 4),
  'special-token text': '<|endoftext|>'.repeat(RUN / 13)
}

const gptCount = { o200k_base: gptCountO200k, cl100k_base: gptCountCl100k }

for (const encoding of TOKEN_ENCODINGS) {
  const oracle = getEncoding(encoding)
  const table = rankTable(encoding)
  const expected = (text: string) => oracle.encode(text, [], [])

  test(`${encoding}: long runs, repeated patterns and unicode give js-tiktoken's tokens`, async (t) => {
    for (const [shape, text] of Object.entries(SHAPES)) {
      const tokens = expected(text)
      for (const { name, ...choice } of PATHS) {
        t.strictSame(encodeTokens(table, text, choice), tokens, `${shape} (${name})`)
        t.equal(countTokens(table, text, choice), tokens.length, `${shape} (${name}): count`)
      }
      t.equal(countTokens(table, text), tokens.length, `${shape}: count`)
    }
  })

  test(`${encoding}: random strings give js-tiktoken's tokens on every path`, async (t) => {
    // Few distinct characters make long pieces and many equal ranks (ties), where the queue's
    // ordering matters; the full range covers unicode, surrogates and every pattern branch.
    const runs = fc.array(fc.tuple(fc.constantFrom('a', 'b', 'A', '=', ' ', '\n', '\t', '1', "'", 's', 'é', '中', '-'), fc.integer({ min: 1, max: 120 })), { maxLength: 12 })
      .map((parts) => parts.map(([char, times]) => char.repeat(times)).join(''))
    const text = fc.oneof(runs, fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.json(), fc.string({ unit: 'grapheme', maxLength: 200 }))
    fc.assert(fc.property(text, (input) => {
      const tokens = expected(input)
      for (const { name: _, ...choice } of PATHS) {
        if (JSON.stringify(encodeTokens(table, input, choice)) !== JSON.stringify(tokens)) return false
      }
      return countTokens(table, input) === tokens.length
    }), { numRuns: 400 })
    t.pass('400 random strings agree')
  })

  test(`${encoding}: runs too long for js-tiktoken agree with gpt-tokenizer`, async (t) => {
    // gpt-tokenizer (the previous counter) implements the same loop independently and is quick
    // enough for 10,000 characters; the long-piece merge must agree with it there too.
    for (const char of ['a', '=', ' ', '\n', '7', 'ab']) {
      const text = JSON.stringify({ a: char.repeat(10_000 / char.length) })
      t.equal(countTokens(table, text), gptCount[encoding](text), `10,000 × ${JSON.stringify(char)}`)
    }
  })
}
