// The last step of a query: fill `max_tokens` (and `limit`) in the order the earlier steps chose,
// rank order or relevance order, and list what did not fit.
import type { ContextQuery, QueryResult, StoredEntry } from './types.js'

/**
 * The budget step: a greedy fill in the given order. An entry too large for what is left is
 * skipped, and smaller, later ones may still fit; `limit` caps the count.
 */
export function fillBudget (ordered: readonly StoredEntry[], query: Pick<ContextQuery, 'max_tokens' | 'limit'>): QueryResult {
  const budget = query.max_tokens ?? Infinity
  const limit = query.limit ?? Infinity
  const entries: StoredEntry[] = []
  const omitted: string[] = []
  let returnedTokens = 0
  for (const stored of ordered) {
    if (entries.length < limit && returnedTokens + stored.entry.tokens <= budget) {
      entries.push(stored)
      returnedTokens += stored.entry.tokens
    } else {
      omitted.push(stored.key)
    }
  }
  return {
    entries,
    metadata: { matched: ordered.length, returned: entries.length, returned_tokens: returnedTokens, truncated: omitted.length > 0, omitted }
  }
}
