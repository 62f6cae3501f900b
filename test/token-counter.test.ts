// The fast tokenizer must agree with js-tiktoken (the original design's choice) on every input.
import { test } from 'tap'
import fc from 'fast-check'
import { getEncoding } from 'js-tiktoken'
import { tokenCounter } from '../src/token-counter.js'
import { TOKEN_ENCODINGS } from '../src/config.js'

for (const encoding of TOKEN_ENCODINGS) {
  test(`${encoding}: counts equal js-tiktoken's`, async (t) => {
    const oracle = getEncoding(encoding)
    const count = tokenCounter(encoding)
    const expected = (text: string) => oracle.encode(text, [], []).length

    const fixed = [
      '', '{}', JSON.stringify({ agent: 'ContentAgent', task: 'Generate math lesson', progress: 'content_created' }),
      'special tokens as text: <|endoftext|> <|im_start|> <|fim_prefix|>',
      'ünïcödé, 中文字符, emoji 🎉👩‍👩‍👧, RTL שלום, combining é',
      '    indented\n\tcode();\r\n'.repeat(20),
      JSON.stringify({ nested: { a: [1, 2.5, -3e10, null, true], b: 'x'.repeat(5000) } })
    ]
    for (const text of fixed) t.equal(count(text), expected(text), `fixed: ${text.slice(0, 30)}`)

    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.json(), fc.string({ unit: 'grapheme', maxLength: 200 })), (text) => {
      return count(text) === expected(text)
    }), { numRuns: 1500 })
  })
}

test('the counter is never the string length', async (t) => {
  const text = JSON.stringify({ note: 'the quick brown fox jumps over the lazy dog '.repeat(10) })
  t.not(tokenCounter('o200k_base')(text), text.length)
})
