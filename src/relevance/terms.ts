// How a word becomes an index term, for entries and tasks alike (words are word-scan.ts's):
// lowercase, drop English stopwords and very long runs, then Porter-stem so "quizzes" matches
// "quiz". One function for both sides, so a task term always meets the entry term it was written as.
import { stemmer } from 'stemmer'
import { type WordSink, scanText } from './word-scan.js'

/** Runs longer than this are ids, hashes or base64, not words: indexing them only costs memory. */
export const MAX_TERM_LENGTH = 32

// The usual short English list (articles, pronouns, auxiliaries, prepositions): words that carry
// no topic and would otherwise put most entries on every query's posting lists.
const STOPWORDS = new Set(('a an and are as at be been being but by can could did do does doing for from had has have ' +
  'having he her here hers him his how i if in into is it its itself just me more most my no nor not of off on ' +
  'once only or other our ours out over own same she should so some such than that the their theirs them then there ' +
  'these they this those through to too under until up very was we were what when where which while who whom why ' +
  'will with would you your yours').split(' '))

// Stemming runs a dozen regular expressions per word and was most of the cost of indexing an
// entry; agents reuse a small vocabulary, so a memo answers nearly every word. It is bounded: when
// full it starts over (a moment of misses, never unbounded growth).
export const STEM_MEMO_SIZE = 50_000
const stems = new Map<string, string | null>()

/** One word as an index term, or null when it carries no topic. */
export function processTerm (word: string): string | null {
  if (word.length === 0 || word.length > MAX_TERM_LENGTH) return null
  const known = stems.get(word)
  if (known !== undefined) return known
  // Numbers are their own terms, and kept out of the memo: ids and counts are mostly unique.
  if (isDigits(word)) return word
  const lower = word.toLowerCase()
  const term = STOPWORDS.has(lower) ? null : stemmer(lower)
  if (stems.size >= STEM_MEMO_SIZE) stems.clear()
  stems.set(word, term)
  return term
}

function isDigits (word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i)
    if (c < 48 || c > 57) return false
  }
  return true
}

/** The distinct terms of a text, in first-seen order, at most `max` of them. */
export function distinctTerms (text: string, max = Infinity): string[] {
  const collector = new DistinctTerms(max)
  scanText(text, collector)
  return [...collector.terms]
}

class DistinctTerms implements WordSink {
  readonly terms = new Set<string>()
  constructor (private readonly max: number) {}

  word (text: string, start: number, end: number): void {
    if (this.terms.size >= this.max) return
    const term = processTerm(text.slice(start, end))
    if (term !== null) this.terms.add(term)
  }
}
