// The long-piece merges (rounds, the queue, and rounds handing over to the queue) make exactly
// the merges of tiktoken's rescanning loop, on any vocabulary. Real vocabularies rarely reach
// their corner cases (a bucket fed out of order, a changed pair tying with a queued one, a
// round's merge making a pair ranked below the round's), so random small vocabularies, with
// ranks in random order, over a three-letter alphabet force them; the loop is the reference
// (count-tokens.test.ts checks it against js-tiktoken on the real ones).
import { test } from 'tap'
import fc from 'fast-check'
import { bytePairCount, bytePairTokens, type MergeChoice, type MergeTable } from '../../src/tokenizer/bpe-merge.js'

const LOOP: MergeChoice = { longFrom: Infinity }
/** The long-piece paths on every piece: rounds to the end, the queue alone, and the shipped hand-over (and one that hands over early). */
const LONG_PATHS: Record<string, MergeChoice> = {
  'rounds only': { longFrom: 0, roundShare: 0 },
  'queue only': { longFrom: 0, roundShare: Infinity },
  'rounds then queue': { longFrom: 0 },
  'rounds then queue, early': { longFrom: 0, roundShare: 0.3 }
}

const letter = fc.constantFrom('a', 'b', 'c')

/** Every byte is a token (ranks 0-255, as in tiktoken's tables); then `extra` in rank order. */
function tableOf (extra: string[]): MergeTable {
  const tokens = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b))
  for (const token of extra) tokens.push(token)
  return { tokens, ranks: new Map(tokens.map((token, rank) => [token, rank])) }
}

test('every long-piece merge gives the loop\'s tokens on random vocabularies and texts', async (t) => {
  const vocabulary = fc.uniqueArray(fc.string({ unit: letter, minLength: 2, maxLength: 8 }), { minLength: 1, maxLength: 60 })
  const text = fc.oneof(
    fc.string({ unit: letter, minLength: 1, maxLength: 400 }),
    fc.tuple(letter, fc.integer({ min: 1, max: 400 })).map(([char, times]) => char.repeat(times))
  )
  fc.assert(fc.property(vocabulary, text, (extra, input) => {
    const table = tableOf(extra)
    const byLoop = JSON.stringify(bytePairTokens(input, table, LOOP))
    return Object.values(LONG_PATHS).every((choice) =>
      JSON.stringify(bytePairTokens(input, table, choice)) === byLoop && bytePairCount(input, table, choice) === JSON.parse(byLoop).length)
  }), { numRuns: 3000 })
  t.pass('3000 vocabularies and texts agree')
})

test('ties go to the leftmost pair', async (t) => {
  // "aaa" with only "aa" merged: the loop's rule makes "aa" + "a", never "a" + "aa".
  const table = tableOf(['aa'])
  const aa = 256
  const a = 'a'.charCodeAt(0)
  for (const [path, choice] of Object.entries({ loop: LOOP, ...LONG_PATHS })) {
    t.strictSame(bytePairTokens('aaa', table, choice), [aa, a], path)
    t.strictSame(bytePairTokens('aaaaa', table, choice), [aa, aa, a], path)
  }
})

test('a merge that makes a pair ranked lower than itself takes it next', async (t) => {
  // "bc" (rank 257) forms first, which makes "abc" (256) possible: it wins over "ab" (258).
  const table = tableOf(['abc', 'bc', 'ab'])
  for (const [path, choice] of Object.entries({ loop: LOOP, ...LONG_PATHS })) {
    t.strictSame(bytePairTokens('xabc', table, choice), ['x'.charCodeAt(0), 256], path)
  }
})

test('a round stops where its merge makes a pair ranked lower than its own', async (t) => {
  // The round of "bc" (258) over "xabcbc": its first merge makes "a"+"bc" (256), which the loop
  // takes next, and then "abc"+"b" (257) before the second "bc". A round that went on would
  // merge both "bc" first and end with x, abc, bc.
  const table = tableOf(['abc', 'abcb', 'bc'])
  const [x, c] = ['x'.charCodeAt(0), 'c'.charCodeAt(0)]
  for (const [path, choice] of Object.entries({ loop: LOOP, ...LONG_PATHS })) {
    t.strictSame(bytePairTokens('xabcbc', table, choice), [x, 257, c], path)
  }
})
