// One tenant's full-text index for `relevant_to`: BM25+ over each entry's content text and source,
// kept by MiniSearch (why MiniSearch: docs/context-optimizer.md, "Choosing the library"). It is fed
// by TenantStore.put/drop, the one place the working set changes, so it follows writes, replaces,
// evictions, expiries, clears and priority changes on every backend and every Redis replica, at a
// cost proportional to the terms of the entry that changed.
import MiniSearch from 'minisearch'
import type { StoredEntry } from '../store/types.js'
import { contentText } from './entry-text.js'
import { distinctTerms, processTerm, tokenize } from './terms.js'

/** The longest `relevant_to` accepted (characters): a task description, not a document. */
export const MAX_RELEVANT_TO_CHARS = 2000

/** At most this many distinct terms of a task are looked up: it bounds the work of one query. */
export const MAX_QUERY_TERMS = 64

// MiniSearch's own BM25+ defaults (k1 1.2, b 0.7, delta 0.5), written out so the docs can cite them.
const BM25 = { k: 1.2, b: 0.7, d: 0.5 }

const asIs = (text: string): string[] => text.split(' ')

export class RelevanceIndex {
  private readonly search: MiniSearch<StoredEntry>

  constructor () {
    this.search = new MiniSearch<StoredEntry>({
      idField: 'key',
      fields: ['text', 'source'],
      // The write time, parsed once per write, so a query never parses timestamps.
      storeFields: ['writtenAt'],
      // The document is the stored entry itself: no copy of its text is kept, and removal
      // re-extracts the same text from the same entry.
      extractField,
      tokenize,
      processTerm,
      // Removal is exact (remove, not discard), so there is never dirt to vacuum in the background.
      autoVacuum: false,
      searchOptions: { combineWith: 'OR', prefix: false, fuzzy: false, bm25: BM25 }
    })
  }

  get size (): number { return this.search.documentCount }

  /** Indexes an entry; its key must not be indexed already. */
  add (stored: StoredEntry): void {
    this.search.add(stored)
  }

  /** Unindexes the very entry that was added under its key. */
  remove (stored: StoredEntry): void {
    this.search.remove(stored)
  }

  /**
   * Every entry sharing at least one term with `task`, with its BM25+ score and write time.
   * Entries absent from the map share none.
   */
  matches (task: string): Map<string, TermMatch> {
    const terms = queryTerms(task)
    const found = new Map<string, TermMatch>()
    if (terms.length === 0) return found
    // The terms are already processed: search them as they are.
    for (const hit of this.search.search(terms.join(' '), { tokenize: asIs, processTerm: asTerm })) {
      found.set(hit.id as string, { bm25: hit.score, writtenAt: hit.writtenAt as number })
    }
    return found
  }
}

export interface TermMatch {
  /** BM25+ of the task's terms over the entry's text and source. */
  readonly bm25: number
  /** The entry's timestamp in milliseconds. */
  readonly writtenAt: number
}

function extractField (stored: StoredEntry, field: string): string | number {
  switch (field) {
    case 'key': return stored.key
    case 'source': return stored.entry.source
    case 'writtenAt': return Date.parse(stored.entry.timestamp)
    default: return contentText(stored.entry.content)
  }
}

const asTerm = (term: string): string => term

/** The distinct index terms of a task, capped at MAX_QUERY_TERMS. */
export function queryTerms (task: string): string[] {
  return distinctTerms(task, MAX_QUERY_TERMS)
}
