// How text becomes index terms, for entries and tasks alike: split on anything that is not a letter
// or a digit (and at camelCase humps, so a content key `lessonPlan` matches "lesson plan"),
// lowercase, drop English stopwords, very long runs and bare punctuation, then Porter-stem so
// "quizzes" matches "quiz". One function for both sides, so a task term always meets the entry
// term it was written as.
import { stemmer } from 'stemmer'

/** Runs longer than this are ids, hashes or base64, not words: indexing them only costs memory. */
export const MAX_TERM_LENGTH = 32

// The usual short English list (articles, pronouns, auxiliaries, prepositions): words that carry
// no topic and would otherwise put most entries on every query's posting lists.
const STOPWORDS = new Set(('a an and are as at be been being but by can could did do does doing for from had has have ' +
  'having he her here hers him his how i if in into is it its itself just me more most my no nor not of off on ' +
  'once only or other our ours out over own same she should so some such than that the their theirs them then there ' +
  'these they this those through to too under until up very was we were what when where which while who whom why ' +
  'will with would you your yours').split(' '))

const WORD_SPLIT = /[^\p{L}\p{N}]+/u
const CAMEL_HUMP = /(\p{Ll})(\p{Lu})/gu

/** The raw words of a text, before stopwords and stemming. */
export function tokenize (text: string): string[] {
  return text.replace(CAMEL_HUMP, '$1 $2').split(WORD_SPLIT)
}

/** One word as an index term, or null when it carries no topic. */
export function processTerm (word: string): string | null {
  if (word.length === 0 || word.length > MAX_TERM_LENGTH) return null
  const lower = word.toLowerCase()
  if (STOPWORDS.has(lower)) return null
  return stemmer(lower)
}

/** The distinct terms of a text, in first-seen order, at most `max` of them. */
export function distinctTerms (text: string, max = Infinity): string[] {
  const seen = new Set<string>()
  for (const word of tokenize(text)) {
    const term = processTerm(word)
    if (term === null) continue
    seen.add(term)
    if (seen.size >= max) break
  }
  return [...seen]
}
