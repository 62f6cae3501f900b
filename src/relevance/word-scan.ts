// The words of a text and of an entry's content, read in place: the scanner walks the characters
// once, hashing each word as it goes (word-table.ts), and hands the sink each word as a span of the
// text it came from. One definition of a word for entries and tasks alike, so a task's word always
// meets the entry's word it was written as.
//
// A word is a run of word characters: ASCII letters and digits, and everything from U+00C0 up except
// the blocks of punctuation and symbols (general punctuation, arrows to dingbats, CJK and full-width
// punctuation) and surrogates (emoji). A plain character class, not Unicode properties: this runs on
// every write of an indexed tenant. Object keys also break at camelCase humps (`lessonPlan` is
// "lesson" and "Plan"), since keys are often the topic.
import { HASH_START, hashStep } from './word-table.js'

export interface WordSink {
  /** The word `text[start, end)`, whose hash (word-table.ts `hashOf`) is `hash`. */
  word (text: string, start: number, end: number, hash: number): void
}

const ASCII_WORD = new Uint8Array(128)
for (let c = 0; c < 128; c++) ASCII_WORD[c] = /[A-Za-z0-9]/.test(String.fromCharCode(c)) ? 1 : 0

/** Whether the UTF-16 code unit `c` is part of a word. */
export function isWordChar (c: number): boolean {
  if (c < 128) return ASCII_WORD[c] === 1
  return (c >= 0xC0 && c <= 0x1FFF && c !== 0xD7 && c !== 0xF7) ||
    (c >= 0x2C00 && c <= 0x2FFF) || (c >= 0x3040 && c <= 0xD7FF) ||
    (c >= 0xE000 && c <= 0xFEFF) || (c >= 0xFF10 && c <= 0xFFEF)
}

const isLowerAscii = (c: number) => c >= 97 && c <= 122
const isUpperAscii = (c: number) => c >= 65 && c <= 90

/** Hands `sink` every word of `text`; `splitCamel` also breaks between a-z and A-Z (object keys). */
export function scanText (text: string, sink: WordSink, splitCamel = false): void {
  let start = -1
  let hash = HASH_START
  let previous = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (isWordChar(c)) {
      if (start < 0) {
        start = i
        hash = HASH_START
      } else if (splitCamel && isUpperAscii(c) && isLowerAscii(previous)) {
        sink.word(text, start, i, hash)
        start = i
        hash = HASH_START
      }
      hash = hashStep(hash, c)
    } else if (start >= 0) {
      sink.word(text, start, i, hash)
      start = -1
    }
    previous = c
  }
  if (start >= 0) sink.word(text, start, text.length, hash)
}

/**
 * Hands `sink` every word of an entry's content: string, number and boolean values ("lesson 3"
 * names a number) and object keys. Walked with a stack, not recursion: the store already bounds
 * nesting (MCP_MAX_DEPTH), but then there is no stack depth to think about. Keys are read before
 * the values under them; the index counts words, so their order does not matter.
 */
export function scanContent (content: unknown, sink: WordSink): void {
  const stack: unknown[] = [content]
  while (stack.length > 0) {
    const value = stack.pop()
    if (typeof value === 'string') scanText(value, sink)
    else if (typeof value === 'number' || typeof value === 'boolean') scanText(String(value), sink)
    else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push(value[i])
    } else if (value !== null && typeof value === 'object') {
      const object = value as Record<string, unknown>
      const keys = Object.keys(object)
      for (let i = keys.length - 1; i >= 0; i--) {
        scanText(keys[i], sink, true)
        stack.push(object[keys[i]])
      }
    }
  }
}
