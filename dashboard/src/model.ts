// The dashboard's state and the pure functions over it: what the table shows (filter, sort,
// page), how the budget splits by source and priority, and the feed of changes. Views render
// this; nothing here touches the DOM, so it is tested as plain functions.
import type { Entry } from '@context-server/client'

export type SortColumn = 'key' | 'source' | 'priority' | 'tokens' | 'version' | 'owner' | 'age' | 'ttl'

export interface TableQuery {
  readonly source: string
  readonly minPriority: number
  readonly maxPriority: number
  readonly text: string
  readonly sort: SortColumn
  readonly descending: boolean
  readonly page: number
  readonly pageSize: number
}

export const defaultTableQuery: TableQuery = {
  source: '', minPriority: 1, maxPriority: 10, text: '', sort: 'priority', descending: true, page: 0, pageSize: 50
}

export interface Row {
  readonly key: string
  readonly entry: Entry
}

export interface TablePage {
  readonly rows: readonly Row[]
  readonly matched: number
  readonly page: number
  readonly pages: number
}

// The content's JSON text, made once per entry object (entries are immutable: a write replaces
// the object), so a text filter over 10,000 entries does not re-serialize on every render.
const contentText = new WeakMap<Entry, string>()
function textOf (entry: Entry): string {
  let text = contentText.get(entry)
  if (text === undefined) {
    text = JSON.stringify(entry.content).toLowerCase()
    contentText.set(entry, text)
  }
  return text
}

function matches (key: string, entry: Entry, query: TableQuery, text: string): boolean {
  if (query.source !== '' && !entry.source.startsWith(query.source)) return false
  if (entry.priority < query.minPriority || entry.priority > query.maxPriority) return false
  if (text !== '' && !key.toLowerCase().includes(text) && !textOf(entry).includes(text)) return false
  return true
}

const expiresAt = (entry: Entry): number => entry.expires_at === undefined ? Number.POSITIVE_INFINITY : Date.parse(entry.expires_at)

function compare (column: SortColumn, a: Row, b: Row): number {
  switch (column) {
    case 'key': return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
    case 'source': return a.entry.source.localeCompare(b.entry.source)
    case 'owner': return a.entry.owner.localeCompare(b.entry.owner)
    case 'priority': return a.entry.priority - b.entry.priority || Date.parse(a.entry.timestamp) - Date.parse(b.entry.timestamp)
    case 'tokens': return a.entry.tokens - b.entry.tokens
    case 'version': return a.entry.version - b.entry.version
    // Older first when ascending: age grows as the timestamp falls.
    case 'age': return Date.parse(b.entry.timestamp) - Date.parse(a.entry.timestamp)
    case 'ttl': return expiresAt(a.entry) - expiresAt(b.entry)
  }
}

/** The rows of the current page: filtered, sorted (ties by key, so the order is stable), paged. */
export function tablePage (entries: ReadonlyMap<string, Entry>, query: TableQuery): TablePage {
  const text = query.text.trim().toLowerCase()
  const rows: Row[] = []
  for (const [key, entry] of entries) if (matches(key, entry, query, text)) rows.push({ key, entry })
  const sign = query.descending ? -1 : 1
  rows.sort((a, b) => sign * compare(query.sort, a, b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const pages = Math.max(1, Math.ceil(rows.length / query.pageSize))
  const page = Math.min(Math.max(0, query.page), pages - 1)
  return { rows: rows.slice(page * query.pageSize, (page + 1) * query.pageSize), matched: rows.length, page, pages }
}

export interface BudgetSegment {
  readonly label: string
  readonly tokens: number
  /** Share of the budget (0..1). */
  readonly share: number
}

/** Tokens by source (the largest `top` sources, then "other") and by priority, as budget shares. */
export function budgetBreakdown (entries: ReadonlyMap<string, Entry>, maxTokens: number, top = 6): {
  bySource: BudgetSegment[]
  byPriority: BudgetSegment[]
  used: number
} {
  const sources = new Map<string, number>()
  const priorities = new Array<number>(11).fill(0)
  let used = 0
  for (const entry of entries.values()) {
    used += entry.tokens
    sources.set(entry.source, (sources.get(entry.source) ?? 0) + entry.tokens)
    priorities[entry.priority] += entry.tokens
  }
  const budget = Math.max(1, maxTokens)
  const ranked = [...sources].sort((a, b) => b[1] - a[1])
  const bySource = ranked.slice(0, top).map(([label, tokens]) => ({ label, tokens, share: tokens / budget }))
  const rest = ranked.slice(top).reduce((sum, [, tokens]) => sum + tokens, 0)
  if (rest > 0) bySource.push({ label: 'other sources', tokens: rest, share: rest / budget })
  const byPriority: BudgetSegment[] = []
  for (let p = 10; p >= 1; p--) {
    if (priorities[p] > 0) byPriority.push({ label: `priority ${p}`, tokens: priorities[p], share: priorities[p] / budget })
  }
  return { bySource, byPriority, used }
}

export type FeedReason = 'written' | 'replaced' | 'evicted' | 'expired' | 'cleared' | 'deleted' | 'priority' | 'resync'

export interface FeedItem {
  readonly seq: number
  readonly at: string
  readonly reason: FeedReason
  readonly keys: readonly string[]
  readonly actor: string
}

/** What one change means to a person: a write's removed keys are its evictions. */
export function feedItems (change: {
  seq: number
  reason?: string
  at?: string
  upserted: ReadonlyMap<string, Entry> | Record<string, Entry>
  removed: readonly string[]
  actor?: { sub: string, surface: string } | undefined
  resync?: boolean
}): FeedItem[] {
  const at = change.at ?? new Date().toISOString()
  const actor = change.actor === undefined ? '' : `${change.actor.sub} (${change.actor.surface})`
  const upserted = change.upserted instanceof Map ? [...change.upserted.keys()] : Object.keys(change.upserted)
  if (change.resync === true || change.reason === 'resync' || change.reason === 'snapshot') return [{ seq: change.seq, at, reason: 'resync', keys: [], actor }]
  const items: FeedItem[] = []
  const reason = change.reason ?? 'replaced'
  if (upserted.length > 0) {
    const shown: FeedReason = reason === 'created' ? 'written' : reason === 'priority' ? 'priority' : 'replaced'
    items.push({ seq: change.seq, at, reason: shown, keys: upserted, actor })
  }
  if (change.removed.length > 0) {
    const writeRemoved = reason === 'created' || reason === 'replaced' || reason === 'priority'
    const shown: FeedReason = writeRemoved ? 'evicted' : reason === 'expired' ? 'expired' : reason === 'deleted' ? 'deleted' : 'cleared'
    // Evictions and expiries are the server's doing, whoever caused them.
    items.push({ seq: change.seq, at, reason: shown, keys: change.removed, actor: shown === 'evicted' || shown === 'expired' ? 'system' : actor })
  }
  return items
}

/** Keeps the newest `limit` feed items, newest first. */
export function pushFeed (feed: readonly FeedItem[], items: readonly FeedItem[], limit = 200): FeedItem[] {
  return [...items.slice().reverse(), ...feed].slice(0, limit)
}

/** "3 s", "5 min", "2 h", "4 d": an age or a time left, for a table cell. */
export function shortDuration (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  if (s < 86400) return `${Math.round(s / 3600)} h`
  return `${Math.round(s / 86400)} d`
}
