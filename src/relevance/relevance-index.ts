// One tenant's full-text index for `relevant_to`: an inverted index scored with BM25+ over each
// entry's content text (string, number and boolean values, and object keys) and its source. It is
// fed by TenantStore.put/drop, the one place the working set changes, so it follows writes,
// replaces, evictions, expiries, clears and priority changes on every backend and every Redis
// replica, at a cost proportional to the distinct terms of the entry that changed.
//
// Why not a full-text library's index: MiniSearch and Orama were measured (docs/context-optimizer.md,
// "Choosing the index"); both cost a write several times over (MiniSearch's radix tree re-tokenizes
// an entry to remove it; Orama's removal took milliseconds), against a budget of +30%, and neither
// can key postings by a small integer. The words are the library's part: the `stemmer` package
// (terms.ts). The scoring is checked against the BM25+ definition in the tests.
import type { StoredEntry } from '../store/types.js'
import { Posting, POSTING_WIDTH } from './posting.js'
import { distinctTerms, MAX_TERM_LENGTH, processTerm } from './terms.js'
import { scanContent, scanText, type WordSink } from './word-scan.js'
import { WordTable } from './word-table.js'

/** The longest `relevant_to` accepted (characters): a task description, not a document. */
export const MAX_RELEVANT_TO_CHARS = 2000

/** At most this many distinct terms of a task are looked up: it bounds the work of one query. */
export const MAX_QUERY_TERMS = 64

/** BM25+ parameters (Lv and Zhai 2011): term saturation k1, length normalisation b, floor delta. */
export const BM25 = { k1: 1.2, b: 0.75, delta: 0.5 } as const

export interface TermMatch {
  /** BM25+ of the task's terms over the entry's text and source. */
  readonly bm25: number
  /** The entry's timestamp in milliseconds. */
  readonly writtenAt: number
}

/** The entries sharing a term with a task: parallel arrays, in no particular order. */
export interface ScoredIds {
  /** Index ids (RelevanceIndex.keyOf, writtenAtOf). */
  readonly ids: Int32Array
  /** BM25+ of each, > 0. */
  readonly bm25: Float64Array
}

/** The word table is cleared when it holds more words than this many per live term, plus the slack. */
export const WORDS_PER_TERM = 4
export const WORD_TABLE_SLACK = 4096

const NO_POSTINGS: readonly Posting[] = []
/** A word table value: the word is no term. */
const NO_TERM = -1
/** A pendingTf value: the posting's last entry left; words naming it must look their term up again. */
const RETIRED = -1

export class RelevanceIndex implements WordSink {
  /** term -> the entries holding it (posting.ts: append-only, stale postings skipped by generation). */
  private readonly postings = new Map<string, Posting>()
  /**
   * Each word as it is written (any case, any inflection) -> its term's posting id, or NO_TERM for a
   * word that is no term (a stopword): reading an entry is one lookup per word, with no substring,
   * stem or term lookup for a word seen before. A word naming a retired posting is resolved again
   * when met; the table is cleared when it has outgrown the live terms (unique ids and numbers pile up).
   */
  private readonly words = new WordTable()
  /**
   * Per posting id: its Posting, and how often the entry being read has given its term so far (0
   * when idle, RETIRED once its last entry left). Read per word in packed arrays, not on the Posting
   * objects, which are scattered over the heap: the word loop is bound by cache misses.
   */
  private readonly postingById: Array<Posting | undefined> = []
  private pendingTf = new Int32Array(1024)
  /** Posting ids free for reuse: retired ones, once the word table no longer names them (its clear). */
  private readonly freePostingIds: number[] = []
  /** The posting ids the entry being read has given so far (their `pendingTf` > 0). */
  private readonly reading: number[] = []
  /** key -> its id while indexed. */
  private readonly ids = new Map<string, number>()
  /** Per id: the postings of its entry's distinct terms, so removal never re-reads it nor looks a term up. */
  private readonly entryPostings: Array<readonly Posting[]> = []
  // Per id: the entry's key and seq (not the entry: a replaced one must not stay alive until the
  // next query catches up), its length in terms (the document length of BM25) and write time.
  private readonly keys: string[] = []
  private readonly seqs: number[] = []
  private readonly lengths: number[] = []
  private readonly writtenAt: number[] = []
  /** Per id: the timestamp as written, parsed into `writtenAt` only when a query first needs it (NaN until then). */
  private readonly timestamps: string[] = []
  // Per id, copied from the entry so that a query reads small packed arrays, not 10,000s of objects.
  private readonly priorities: number[] = []
  private readonly tokens: number[] = []
  /** Per id: bumped when its entry leaves, so the postings it had are stale from then on. */
  private readonly generations: number[] = []
  /** Ids of removed entries, reused so the arrays stay as long as the most entries ever held. */
  private readonly freeIds: number[] = []
  private totalLength = 0
  /** Scratch for one query's scores by id, reused: a query allocates nothing per posting. */
  private scratch = new Float64Array(0)
  /** The ids the last `score` touched and their scores, reused likewise. */
  private touched = new Int32Array(0)
  private touchedBm25 = new Float64Array(0)
  private touchedCount = 0

  get size (): number { return this.ids.size }

  /** Distinct terms held (for the memory figures). */
  get termCount (): number { return this.postings.size }

  /** Distinct words in the word table (bounded by WORDS_PER_TERM x terms + WORD_TABLE_SLACK). */
  get wordCount (): number { return this.words.size }

  /** Indexes an entry, replacing whatever its key held. */
  add (stored: StoredEntry): void {
    if (this.ids.has(stored.key)) this.remove(stored.key)
    if (this.words.size > WORDS_PER_TERM * this.postings.size + WORD_TABLE_SLACK) this.clearWords()
    const id = this.freeIds.pop() ?? this.keys.length
    this.generations[id] ??= 0
    const generation = this.generations[id]
    scanContent(stored.entry.content, this)
    scanText(stored.entry.source, this)
    const { reading, pendingTf, postingById } = this
    const postings: Posting[] = new Array(reading.length)
    let length = 0
    for (let i = 0; i < reading.length; i++) {
      const postingId = reading[i]
      const tf = pendingTf[postingId]
      pendingTf[postingId] = 0
      length += tf
      const posting = postingById[postingId] as Posting
      posting.add(id, tf, generation)
      postings[i] = posting
    }
    reading.length = 0
    this.lengths[id] = length
    this.describe(id, stored)
    this.ids.set(stored.key, id)
    this.entryPostings[id] = postings
    this.totalLength += length
  }

  /** One word of the entry being read (WordSink): counts it towards its term's frequency. */
  word (text: string, start: number, end: number, hash: number): void {
    if (end - start > MAX_TERM_LENGTH) return
    const { words } = this
    const slot = words.find(text, start, end, hash)
    let postingId: number
    if (slot < 0) {
      const word = text.slice(start, end)
      postingId = this.postingIdFor(processTerm(word))
      words.insert(word, hash, postingId)
    } else {
      postingId = words.valueAt(slot)
      if (postingId !== NO_TERM && this.pendingTf[postingId] === RETIRED) {
        words.setValue(slot, postingId = this.postingIdFor((this.postingById[postingId] as Posting).term))
      }
    }
    if (postingId === NO_TERM) return
    if (this.pendingTf[postingId]++ === 0) this.reading.push(postingId)
  }

  /**
   * The posting id of a term (its postings new and empty when the term is new), or NO_TERM. A term
   * whose last posting retired gets a new one (another id: the retired id may still be named by words).
   */
  private postingIdFor (term: string | null): number {
    if (term === null) return NO_TERM
    const posting = this.postings.get(term)
    if (posting !== undefined) return posting.id
    const id = this.freePostingIds.pop() ?? this.postingById.length
    if (id >= this.pendingTf.length) {
      const grown = new Int32Array(this.pendingTf.length * 2)
      grown.set(this.pendingTf)
      this.pendingTf = grown
    }
    const created = new Posting(term, id)
    this.postingById[id] = created
    this.pendingTf[id] = 0
    this.postings.set(term, created)
    return id
  }

  /**
   * Empties the word table; the retired postings only its words still named are let go (their
   * objects collected, their ids reused).
   */
  private clearWords (): void {
    this.words.clear()
    for (let id = 0; id < this.postingById.length; id++) {
      if (this.pendingTf[id] === RETIRED) {
        this.pendingTf[id] = 0
        this.postingById[id] = undefined
        this.freePostingIds.push(id)
      }
    }
  }

  private describe (id: number, stored: StoredEntry): void {
    this.keys[id] = stored.key
    this.seqs[id] = stored.seq
    this.timestamps[id] = stored.entry.timestamp
    this.writtenAt[id] = NaN
    this.priorities[id] = stored.entry.priority
    this.tokens[id] = stored.entry.tokens
  }

  /** Unindexes the entry under `key`, if any. */
  remove (key: string): void {
    const id = this.ids.get(key)
    if (id === undefined) return
    this.generations[id]++
    for (const posting of this.entryPostings[id]) {
      posting.removed(this.generations)
      if (posting.live === 0) {
        this.postings.delete(posting.term)
        this.pendingTf[posting.id] = RETIRED
      }
    }
    this.ids.delete(key)
    this.entryPostings[id] = NO_POSTINGS
    this.totalLength -= this.lengths[id]
    this.keys[id] = ''
    this.freeIds.push(id)
  }

  /** One more than the highest id in use: the length of an array indexed by id. */
  get capacity (): number { return this.keys.length }

  /** The id of the entry indexed under `key`, if any. */
  idOf (key: string): number | undefined { return this.ids.get(key) }

  /** The key of the entry indexed under `id` (an id from `score`, valid until the index next changes). */
  keyOf (id: number): string { return this.keys[id] }

  /** The seq of the entry under `id` (its place in rank order among equal priorities). */
  seqOf (id: number): number { return this.seqs[id] }

  /** The write time (ms) of the entry under `id`, parsed the first time a query asks (most entries never match). */
  writtenAtOf (id: number): number {
    const known = this.writtenAt[id]
    return Number.isNaN(known) ? (this.writtenAt[id] = Date.parse(this.timestamps[id])) : known
  }

  /** The priority of the entry under `id`. */
  priorityOf (id: number): number { return this.priorities[id] }

  /** The tokens of the entry under `id`. */
  tokensOf (id: number): number { return this.tokens[id] }

  /**
   * Every entry sharing at least one term with `task` and its BM25+ score, as two arrays. Cost: the
   * postings of the task's terms; nothing here is proportional to the store, and nothing is
   * allocated: the arrays are views of the index's own buffers, valid until the next call, as is
   * `bm25Of` (a query asks which entries matched without a set of its own).
   */
  score (task: string): ScoredIds {
    const scores = this.scratch
    clearScores(scores, this.touched, this.touchedCount)
    this.touchedCount = 0
    const count = this.ids.size
    if (count === 0) return { ids: this.touched.subarray(0, 0), bm25: this.touchedBm25.subarray(0, 0) }
    if (scores.length < this.keys.length) {
      const capacity = this.keys.length * 2
      this.scratch = new Float64Array(capacity)
      this.touched = new Int32Array(capacity)
      this.touchedBm25 = new Float64Array(capacity)
      return this.score(task)
    }
    let touchedCount = 0
    const averageLength = this.totalLength / count
    for (const term of queryTerms(task)) {
      const posting = this.postings.get(term)
      if (posting === undefined) continue
      const df = posting.live
      const idf = Math.log(1 + (count - df + 0.5) / (df + 0.5))
      touchedCount = addTermScores(posting, idf, averageLength, this.generations, this.lengths, scores, this.touched, touchedCount)
    }
    this.touchedCount = touchedCount
    copyScores(scores, this.touched, touchedCount, this.touchedBm25)
    return { ids: this.touched.subarray(0, touchedCount), bm25: this.touchedBm25.subarray(0, touchedCount) }
  }

  /** The BM25+ of the entry under `id` in the last `score` (0: it shares no term with that task). */
  bm25Of (id: number): number { return this.scratch[id] }

  /**
   * Every entry sharing at least one term with `task`, with its BM25+ score and write time.
   * Entries absent from the map share none. Cost: the postings of the task's terms.
   */
  matches (task: string): Map<string, TermMatch> {
    const found = new Map<string, TermMatch>()
    const { ids, bm25 } = this.score(task)
    for (let i = 0; i < ids.length; i++) found.set(this.keys[ids[i]], { bm25: bm25[i], writtenAt: this.writtenAtOf(ids[i]) })
    return found
  }

  /** Every posting as sorted `term key tf` lines and the length of each entry, for the consistency tests. */
  dump (): { postings: string[], lengths: Record<string, number>, totalLength: number } {
    const postings: string[] = []
    for (const [term, posting] of this.postings) posting.forEachLive(this.generations, (id, tf) => postings.push(`${term} ${this.keys[id]} ${tf}`))
    const lengths: Record<string, number> = {}
    for (const [key, id] of [...this.ids].sort(([a], [b]) => a < b ? -1 : 1)) lengths[key] = this.lengths[id]
    return { postings: postings.sort(), lengths, totalLength: this.totalLength }
  }
}

// The loops of `score`, each a function of its own: V8 compiles a loop that runs long in a function
// called once per query on the stack (OSR) with the feedback it has then, and a function holding
// several such loops had its code thrown away again at the next loop (too little feedback there)
// on every query, and a full collection dropped what was left, so the first queries after one ran
// interpreted. A function that is only its loop gets compiled whole, once.

/** Adds one term's BM25+ part to `scores` by id; returns the new count of `touched` ids. */
function addTermScores (
  posting: Posting, idf: number, averageLength: number, generations: readonly number[], lengths: readonly number[],
  scores: Float64Array, touched: Int32Array, touchedCount: number
): number {
  const { k1, b, delta } = BM25
  const { data, count } = posting.triples
  for (let k = 0; k < count * POSTING_WIDTH; k += POSTING_WIDTH) {
    const id = data[k]
    if (generations[id] !== data[k + 2]) continue // stale: its entry left
    const tf = data[k + 1]
    if (scores[id] === 0) touched[touchedCount++] = id
    scores[id] += idf * (tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[id] / averageLength)) + delta)
  }
  return touchedCount
}

function clearScores (scores: Float64Array, touched: Int32Array, count: number): void {
  for (let i = 0; i < count; i++) scores[touched[i]] = 0
}

function copyScores (scores: Float64Array, touched: Int32Array, count: number, into: Float64Array): void {
  for (let i = 0; i < count; i++) into[i] = scores[touched[i]]
}

/** The distinct index terms of a task, capped at MAX_QUERY_TERMS. */
export function queryTerms (task: string): string[] {
  return distinctTerms(task, MAX_QUERY_TERMS)
}
