// Pieces of one to four bytes are counted from the text's characters by a closed form
// (src/tokenizer/short-pieces.ts), not by the merge: their counts must still be js-tiktoken's,
// on dense text that is mostly such pieces (base64, hex, random ASCII) and on every short shape
// (each first merge of a four-byte piece, two- and three-byte UTF-8 characters, surrogates).
import { randomBytes } from 'node:crypto'
import { test } from 'tap'
import fc from 'fast-check'
import { getEncoding } from 'js-tiktoken'
import { TOKEN_ENCODINGS } from '../../src/config.js'
import { countTokens } from '../../src/tokenizer/count-tokens.js'
import { rankTable } from '../../src/tokenizer/rank-table.js'
import { NOT_SHORT, shortPieceCount, shortTokenTableOf } from '../../src/tokenizer/short-pieces.js'

for (const encoding of TOKEN_ENCODINGS) {
  const oracle = getEncoding(encoding)
  const table = rankTable(encoding)
  const expected = (text: string) => oracle.encode(text, [], []).length

  test(`${encoding}: dense text (base64, hex, random ASCII) counts as js-tiktoken`, async (t) => {
    for (let i = 0; i < 20; i++) {
      const bytes = randomBytes(3000)
      for (const text of [bytes.toString('base64'), bytes.toString('hex'), bytes.toString('base64url'), bytes.toString('latin1')]) {
        const count = countTokens(table, text)
        if (count !== expected(text)) t.fail(`${JSON.stringify(text.slice(0, 40))}...: ${count} vs ${expected(text)}`)
      }
    }
    t.pass('80 texts of 3-6 KB agree')
  })

  test(`${encoding}: every short piece shape counts as js-tiktoken`, async (t) => {
    // Letters, digits and marks of one, two and three UTF-8 bytes, astral and lone surrogates: one to
    // four characters make one or two pieces of up to four bytes, and the few longer ones take
    // the general path.
    const unit = fc.oneof(
      fc.constantFrom(...'abcdeilnorstuABCDEXYZ0123456789 =+/_-.\n\'', 'é', 'ß', 'ж', 'ש', '中', '€', '\u0301', '🎉', '\ud800'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })
    )
    fc.assert(fc.property(fc.array(unit, { minLength: 1, maxLength: 4 }), fc.constantFrom('', ' ', '\n'), (chars, lead) => {
      const text = lead + chars.join('')
      return countTokens(table, text) === expected(text)
    }), { numRuns: 20_000 })
    t.pass('20,000 short texts agree')
  })

  test(`${encoding}: four-letter words, each first merge`, async (t) => {
    // Every 4-letter string over a few letters: pieces that are tokens, and pieces whose first
    // merge is the left, middle or right pair (with ties between equal pairs).
    const letters = 'aeinrst'
    let checked = 0
    for (const a of letters) {
      for (const b of letters) {
        for (const c of letters) {
          for (const d of letters) {
            for (const text of [a + b + c + d, ' ' + a + b + c, (a + b + c + d).toUpperCase()]) {
              t.equal(countTokens(table, text), expected(text), text)
              checked++
            }
          }
        }
      }
    }
    t.equal(checked, 3 * letters.length ** 4)
  })

  test(`${encoding}: pieces over four bytes are left to the general path`, async (t) => {
    const short = shortTokenTableOf(table)
    for (const piece of ['abcde', 'éééé'.slice(0, 3), '中中', '🎉', '\ud800']) {
      t.equal(shortPieceCount(short, piece, 0, piece.length), NOT_SHORT, JSON.stringify(piece))
    }
    for (const piece of ['abcd', ' the', 'éé', '中a']) t.equal(shortPieceCount(short, piece, 0, piece.length), expected(piece), JSON.stringify(piece))
  })
}
