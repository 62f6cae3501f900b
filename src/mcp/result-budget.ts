// Budgeted reads for MCP hosts, which refuse or truncate tool results above about 25,000 tokens.
// A read first applies the contract's content budget (`max_tokens`, as the WebSocket query does,
// through the store's own query), then, unless the caller asks for an unbounded result, leaves out
// the lowest-ranked returned entries until the whole rendered result fits the result cap. Whatever
// is left out is listed in a manifest so the host can fetch it by key.
import type { ContextStore } from '../store/context-store.js'
import { withParsedContent } from '../store/content-from-json.js'
import type { ContextQuery, Entry, StoredEntry } from '../store/types.js'
import type { z } from 'zod'
import type { manifestSchema } from './tool-schemas.js'

/** Content budget when the caller gives none: well under a host's result cap. */
export const DEFAULT_RESULT_TOKENS = 8_000
/** Cap on a whole rendered result, with room to spare below the usual 25,000-token host limit. */
export const RESULT_TOKEN_CAP = 20_000
/** How many left-out entries the manifest lists by name (the counts cover all of them). */
export const OMITTED_LISTED = 50

export type Manifest = z.infer<typeof manifestSchema>

export interface BudgetOptions {
  /** Content budget in tokens; DEFAULT_RESULT_TOKENS when undefined and not unbounded. */
  maxTokens?: number
  /** No default budget and no result cap. An explicit maxTokens still applies. */
  unbounded?: boolean
  /** Counts tokens of rendered text (the configured encoding). */
  countTokens: (text: string) => number
  /** The cap on the rendered result; RESULT_TOKEN_CAP unless a test needs another. */
  resultCap?: number
}

export interface BudgetedRead<T> {
  /** The structured result: what `render` built from the entries that fit. */
  structured: T
  /** JSON.stringify(structured): the text rendering, within the cap unless unbounded. */
  text: string
  /** Tokens of `text`, when the cap was checked. */
  textTokens?: number
}

/**
 * Builds the result from the entries kept (rank order) and the manifest of what was left out;
 * `scores` (kept entries' scores, best first) when the query ranked by relevance.
 */
export type ResultRenderer<T> = (data: Record<string, unknown>, manifest: Manifest, scores?: Record<string, number>) => T

/**
 * Reads the tenant's matches for `query` (its own max_tokens and limit are replaced by the budget),
 * keeps what fits and renders the result.
 */
export function budgetedRead<T> (
  store: ContextStore, tenant: string, query: Omit<ContextQuery, 'max_tokens'>, options: BudgetOptions, render: ResultRenderer<T>
): BudgetedRead<T> {
  const budget = options.maxTokens ?? (options.unbounded === true ? undefined : DEFAULT_RESULT_TOKENS)
  const result = store.query(tenant, { ...query, ...(budget !== undefined ? { max_tokens: budget } : {}) })
  const returned = result.entries
  // Serialized twice per build and built again while fitting the cap: large contents kept as JSON
  // are parsed here once, not at each of those reads.
  const entries = returned.map((stored) => withParsedContent(stored.entry))
  const outOfBudget = result.metadata.omitted
    .map((key) => store.get(tenant, key))
    .filter((stored): stored is StoredEntry => stored !== undefined)

  const build = (kept: number): BudgetedRead<T> => {
    const manifest = manifestOf(result.metadata.matched, returned, kept, outOfBudget, budget, options, rankOrder(result.scoreOf))
    const structured = render(dataOf(returned, entries, kept), manifest, result.scoreOf !== undefined ? scoresOf(returned, kept, result.scoreOf) : undefined)
    return { structured, text: JSON.stringify(structured) }
  }

  if (options.unbounded === true) return build(returned.length)
  const cap = options.resultCap ?? RESULT_TOKEN_CAP
  let kept = longestFittingPrefix(returned, cap, options.countTokens)
  for (;;) {
    const read = build(kept)
    const tokens = options.countTokens(read.text)
    if (tokens <= cap || kept === 0) return { ...read, textTokens: tokens }
    // Token counts of concatenated JSON are not exactly additive, and every entry left out adds a
    // manifest line, so trim by the measured overshoot and measure again: each round keeps fewer.
    let overshoot = tokens - cap
    while (kept > 0 && overshoot > 0) {
      kept--
      overshoot -= entryCost(returned[kept], options.countTokens)
    }
  }
}

/** Rendered tokens of one entry in `data`: its key and its JSON. */
function entryCost (stored: StoredEntry, countTokens: (text: string) => number): number {
  return countTokens(JSON.stringify(stored.key)) + countTokens(stored.json) + 1
}

/**
 * How many of the best-ranked entries fit the cap on their own. Counting stops at the first entry
 * that does not fit, so the work is bounded by the cap, not by the size of the store.
 */
function longestFittingPrefix (entries: StoredEntry[], cap: number, countTokens: (text: string) => number): number {
  let total = 0
  for (let i = 0; i < entries.length; i++) {
    total += entryCost(entries[i], countTokens)
    if (total > cap) return i
  }
  return entries.length
}

function dataOf (returned: StoredEntry[], entries: Entry[], kept: number): Record<string, unknown> {
  // A null-prototype object: keys are user input ("__proto__" is an ordinary key here).
  const data: Record<string, unknown> = Object.create(null)
  for (let i = 0; i < kept; i++) data[returned[i].key] = entries[i]
  return data
}

function scoresOf (entries: StoredEntry[], kept: number, scoreOf: (key: string) => number): Record<string, number> {
  const scores: Record<string, number> = Object.create(null)
  for (let i = 0; i < kept; i++) scores[entries[i].key] = scoreOf(entries[i].key)
  return scores
}

function manifestOf (
  matched: number, returned: StoredEntry[], kept: number, outOfBudget: StoredEntry[], budget: number | undefined, options: BudgetOptions,
  ranksBefore: RanksBefore
): Manifest {
  const capped = returned.slice(kept)
  let returnedTokens = 0
  for (let i = 0; i < kept; i++) returnedTokens += returned[i].entry.tokens
  let omittedTokens = 0
  for (const stored of outOfBudget) omittedTokens += stored.entry.tokens
  for (const stored of capped) omittedTokens += stored.entry.tokens
  const omittedCount = outOfBudget.length + capped.length
  return {
    matched,
    returned: kept,
    returned_tokens: returnedTokens,
    truncated: omittedCount > 0,
    budget_tokens: budget ?? null,
    result_cap_tokens: options.unbounded === true ? null : (options.resultCap ?? RESULT_TOKEN_CAP),
    omitted_count: omittedCount,
    omitted_tokens: omittedTokens,
    omitted: firstRanked(outOfBudget, capped, OMITTED_LISTED, ranksBefore).map((stored) => ({
      key: stored.key, tokens: stored.entry.tokens, priority: stored.entry.priority, source: stored.entry.source
    }))
  }
}

type RanksBefore = (a: StoredEntry, b: StoredEntry) => boolean

/** Rank order of the contract: priority descending, then the most recent write first. */
function ranksBefore (a: StoredEntry, b: StoredEntry): boolean {
  return a.entry.priority !== b.entry.priority ? a.entry.priority > b.entry.priority : a.seq > b.seq
}

/** The query's order: by score when it ranked by relevance (ties in rank order, as the store sorts). */
function rankOrder (scoreOf: ((key: string) => number) | undefined): RanksBefore {
  if (scoreOf === undefined) return ranksBefore
  return (a, b) => {
    const sa = scoreOf(a.key)
    const sb = scoreOf(b.key)
    return sa !== sb ? sa > sb : ranksBefore(a, b)
  }
}

/** The first `limit` entries of two lists ordered by `ranksBefore`, merged in that order. */
function firstRanked (a: StoredEntry[], b: StoredEntry[], limit: number, ranksBefore: RanksBefore): StoredEntry[] {
  const out: StoredEntry[] = []
  let i = 0
  let j = 0
  while (out.length < limit && (i < a.length || j < b.length)) {
    if (j >= b.length || (i < a.length && ranksBefore(a[i], b[j]))) out.push(a[i++])
    else out.push(b[j++])
  }
  return out
}
