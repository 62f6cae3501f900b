// The queue merge makes exactly the merges of tiktoken's rescanning loop, on any vocabulary.
// Real vocabularies rarely reach the queue's corner cases (a bucket fed out of order, a changed
// pair tying with a queued one), so random small vocabularies, with ranks in random order, over
// a three-letter alphabet force them; the loop is the reference (count-tokens.test.ts checks it
// against js-tiktoken on the real ones).
import { test } from 'tap'
import fc from 'fast-check'
import { bytePairCount, bytePairTokens, type MergeTable } from '../../src/tokenizer/bpe-merge.js'

const letter = fc.constantFrom('a', 'b', 'c')

/** Every byte is a token (ranks 0-255, as in tiktoken's tables); then `extra` in rank order. */
function tableOf (extra: string[]): MergeTable {
  const tokens = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b))
  for (const token of extra) tokens.push(token)
  return { tokens, ranks: new Map(tokens.map((token, rank) => [token, rank])) }
}

test('the queue merge gives the loop\'s tokens on random vocabularies and texts', async (t) => {
  const vocabulary = fc.uniqueArray(fc.string({ unit: letter, minLength: 2, maxLength: 8 }), { minLength: 1, maxLength: 60 })
  const text = fc.oneof(
    fc.string({ unit: letter, minLength: 1, maxLength: 400 }),
    fc.tuple(letter, fc.integer({ min: 1, max: 400 })).map(([char, times]) => char.repeat(times))
  )
  fc.assert(fc.property(vocabulary, text, (extra, input) => {
    const table = tableOf(extra)
    const byLoop = bytePairTokens(input, table, Infinity)
    const byQueue = bytePairTokens(input, table, 0)
    return JSON.stringify(byQueue) === JSON.stringify(byLoop) && bytePairCount(input, table, 0) === byLoop.length
  }), { numRuns: 3000 })
  t.pass('3000 vocabularies and texts agree')
})

test('ties go to the leftmost pair', async (t) => {
  // "aaa" with only "aa" merged: the loop's rule makes "aa" + "a", never "a" + "aa".
  const table = tableOf(['aa'])
  const aa = 256
  const a = 'a'.charCodeAt(0)
  for (const queueFrom of [0, Infinity]) {
    t.strictSame(bytePairTokens('aaa', table, queueFrom), [aa, a], `queueFrom ${queueFrom}`)
    t.strictSame(bytePairTokens('aaaaa', table, queueFrom), [aa, aa, a], `queueFrom ${queueFrom}`)
  }
})

test('a merge that makes a pair ranked lower than itself takes it next', async (t) => {
  // "bc" (rank 257) forms first, which makes "abc" (256) possible: it wins over "ab" (258).
  const table = tableOf(['abc', 'bc', 'ab'])
  for (const queueFrom of [0, Infinity]) t.strictSame(bytePairTokens('xabc', table, queueFrom), ['x'.charCodeAt(0), 256], `queueFrom ${queueFrom}`)
})
