// The scanner that reads an entry's words in place (src/relevance/word-scan.ts) against the plain
// definition it replaced: the content's values and camelCase-split keys joined with spaces, split
// on a regular expression of non-word characters. Same words, same hashes as hashOf, every code unit
// classified as the expression does; and the word table finds what it was given, hash collisions
// included.
import fc from 'fast-check'
import { test } from 'tap'
import { isWordChar, scanContent, scanText, type WordSink } from '../../src/relevance/word-scan.js'
import { hashOf, WordTable } from '../../src/relevance/word-table.js'

// The definition of a word before the scanner, kept here as the specification.
const NON_WORD = /[^A-Za-z0-9\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u1FFF\u2C00-\u2FFF\u3040-\uD7FF\uE000-\uFEFF\uFF10-\uFFEF]+/
const referenceKey = (key: string) => key.replace(/([a-z])([A-Z])/g, '$1 $2')
function referenceText (content: unknown): string {
  if (typeof content === 'string') return content
  if (typeof content === 'number' || typeof content === 'boolean') return String(content)
  if (Array.isArray(content)) return content.map(referenceText).join(' ')
  if (content !== null && typeof content === 'object') return Object.entries(content).map(([key, value]) => `${referenceKey(key)} ${referenceText(value)}`).join(' ')
  return ''
}
const referenceWords = (text: string) => text.split(NON_WORD).filter((word) => word.length > 0)

class Collect implements WordSink {
  readonly words: string[] = []
  badHash: string | undefined
  word (text: string, start: number, end: number, hash: number): void {
    const word = text.slice(start, end)
    if (hash !== hashOf(word)) this.badHash ??= word
    this.words.push(word)
  }
}

const sorted = (words: string[]) => [...words].sort()

// Characters from each side of every range boundary, camel humps, surrogates (paired and lone).
const char = fc.constantFrom('a', 'z', 'A', 'Z', '0', '9', ' ', '-', '_', '.', '\n', '\u00BF', '\u00C0', '\u00D6', '\u00D7', '\u00D8',
  '\u00F6', '\u00F7', '\u00F8', 'é', 'ß', 'δ', '\u1FFF', '\u2000', '\u2BFF', '\u2C00', '\u2FFF', '\u3000', '\u303F', '\u3040', '中',
  '\uD7FF', '\uD800', '\uDFFF', '\uE000', '\uFEFF', '\uFF0F', '\uFF10', '\uFFEF', '\uFFF0', '🎉', 'q', 'Q', 'm', 'M')
const text = fc.array(char, { maxLength: 30 }).map((chars) => chars.join(''))
const content: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(text, tie('value'), { maxKeys: 4 }))
})).value

test('every UTF-16 code unit is a word character exactly when the expression says so', async (t) => {
  const wrong: number[] = []
  for (let c = 0; c < 0x10000; c++) if (isWordChar(c) === NON_WORD.test(String.fromCharCode(c))) wrong.push(c)
  t.strictSame(wrong.map((c) => c.toString(16)), [], 'no code unit classified differently')
})

test('a text and an entry content give the words of the joined-and-split definition, with their hashes', async (t) => {
  let runs = 0
  fc.assert(fc.property(text, (value) => {
    runs++
    const sink = new Collect()
    scanText(value, sink)
    return sink.badHash === undefined && JSON.stringify(sink.words) === JSON.stringify(referenceWords(value))
  }), { numRuns: 2000 })
  fc.assert(fc.property(content, (value) => {
    runs++
    const sink = new Collect()
    scanContent(value, sink)
    // Keys are read before the values under them: the same words, not in document order.
    return sink.badHash === undefined && JSON.stringify(sorted(sink.words)) === JSON.stringify(sorted(referenceWords(referenceText(value))))
  }), { numRuns: 2000 })
  t.equal(runs, 4000)
  const sink = new Collect()
  scanContent({ lessonPlan: ['Quiz3', 'x'], HTTPServer: 'naïve δέλτα—🎉end', aB_cD: 1.5e-7 }, sink)
  t.strictSame(sorted(sink.words), sorted(['lesson', 'Plan', 'Quiz3', 'x', 'HTTPServer', 'naïve', 'δέλτα', 'end', 'a', 'B', 'c', 'D', '1', '5e', '7']),
    'camel humps split keys only, at a-z then A-Z')
})

test('the word table finds every word it holds by a span, and no other, colliding hashes and growth included', async (t) => {
  const table = new WordTable()
  const words = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`)
  // Every fourth word is stored under one shared hash: the characters must decide.
  const hashFor = (word: string, i: number) => i % 4 === 0 ? 12345 : hashOf(word)
  words.forEach((word, i) => {
    const text = `(${word})`
    if (table.find(text, 1, text.length - 1, hashFor(word, i)) !== -1) t.fail(`${word} found before it was added`)
    table.insert(word, hashFor(word, i), i)
  })
  t.equal(table.size, 5000)
  let found = 0
  words.forEach((word, i) => {
    const text = `--${word}--`
    const at = table.find(text, 2, text.length - 2, hashFor(word, i))
    if (at !== -1 && table.wordAt(at) === word && table.valueAt(at) === i) found++
  })
  t.equal(found, 5000, 'each word found with its own characters and value, after the table grew')
  t.equal(table.find('wzzzz', 0, 5, 12345), -1, 'a word not held is not found, even under a crowded hash')
  const inside = table.find('w0x', 0, 2, 12345)
  t.equal(inside === -1 ? undefined : table.wordAt(inside), 'w0', 'a span that is a held word is found inside a longer text')
  table.setValue(inside, 77)
  t.equal(table.valueAt(table.find('(w0)', 1, 3, 12345)), 77, 'a value set in a slot is the word\'s from then on')
  table.clear()
  t.equal(table.size, 0)
  t.equal(table.find('w1', 0, 2, hashOf('w1')), -1, 'nothing is found after clear')
})
