// One tenant's context: its entries, token total, ranked eviction index, expiry queue, change
// sequence and recent history. Framework-free and synchronous; backends wrap it.
//
// Every mutation goes through `apply(change)`: operations first decide a ChangeEvent, then apply
// it. Replicas (the Redis backend) and journal replay apply the same events, so there is exactly
// one code path that changes the working set.
import { ContextError, notFound } from '../errors.js'
import type { RelevanceIndex } from '../relevance/relevance-index.js'
import { relevanceQuery } from '../relevance/relevance-query.js'
import { TenantRelevance } from '../relevance/tenant-relevance.js'
import { fillBudget } from './budget-fill.js'
import { ChangeHistory } from './change-history.js'
import { SYSTEM_ACTOR, changeActorOf } from './change-actor.js'
import { newEpoch } from './epoch.js'
import { ExpiryQueue } from './expiry-queue.js'
import { isoTimestamp } from './iso-time.js'
import { CONTENT_FIELD, FROM_JSON, TOKENS_FIELD, contentFromJson, contentOfEntry, contentOfInput, contentSpanOf } from './content-from-json.js'
import { findTooDeep } from './json-depth.js'
import { assertCanWrite, assertMayChange, isAdmin } from './permissions.js'
import { MAX_PRIORITY, MIN_PRIORITY, RankedIndex, type IndexNode } from './ranked-index.js'
import { pagingOf, restOfWalk, withNextCursor } from './query-paging.js'
import { EntriesBySize } from './entries-by-size.js'
import type {
  Actor, ChangeEvent, ChangeReason, ClearOptions, ClearResult, ContextQuery, Entry, PriorityResult,
  QueryResult, RemovalReason, RemoveResult, RequestOptions, Snapshot, StoreMetadata, StoredEntry, WriteInput, WriteResult, ChangeActor
} from './types.js'

export interface TenantStoreOptions {
  maxTokens: number
  maxEntryTokens: number
  countTokens: (text: string) => number
  /**
   * Counts a write's content where that pays, possibly off the event loop (the worker pool);
   * backends use it through prepareWrite. Defaults to countTokens.
   */
  countWriteTokens?: (text: string) => number | Promise<number>
  historySize: number
  /** Bytes of resume history kept per tenant (MCP_HISTORY_BYTES); older changes give way. */
  historyBytes?: number
  /** Deepest nesting of content accepted (MCP_MAX_DEPTH). */
  maxDepth?: number
  /**
   * Whether this store expires TTLs itself (default true). Replicas of a Redis store do not: the
   * expiry happens in Redis and reaches them as a change.
   */
  expiresEntries?: boolean
}

export class TenantStore {
  /** key -> index node; the node carries the entry, so one lookup serves both. */
  private readonly nodes = new Map<string, IndexNode>()
  private readonly index = new RankedIndex()
  private expiries = new ExpiryQueue()
  /** Keys whose entry has a TTL: what the expiry queue must hold once stale items are dropped. */
  private readonly expiring = new Set<string>()
  private readonly history: ChangeHistory
  /**
   * The full-text index for relevant_to, built on the tenant's first such query and told of every
   * put/drop from then on: a tenant never queried that way pays nothing for it.
   */
  private readonly relevance = new TenantRelevance({
    get: (key) => this.get(key),
    entries: () => [...this.nodes.values()].map((node) => node.stored),
    size: () => this.nodes.size
  })

  private totalTokens = 0
  /** Entries by size: a budgeted relevant_to query looks there for what still fits. */
  private readonly bySize = new EntriesBySize()
  private currentSeq = 0
  private lastKeyMicros = 0
  private currentEpoch: string

  constructor (readonly tenant: string, private readonly options: TenantStoreOptions) {
    this.history = new ChangeHistory(options.historySize, options.historyBytes)
    // A store that starts empty starts a new history; `restore` puts a persisted one back.
    this.currentEpoch = newEpoch()
  }

  get seq (): number { return this.currentSeq }
  /** The epoch of this store's history (contract §7). */
  get epoch (): string { return this.currentEpoch }
  /**
   * Takes over the epoch of a history this store has seen nothing of (seq 0): a replica meeting
   * its tenant's first change. False, and nothing changes, once the store has a seq of its own.
   */
  adoptEpoch (epoch: string): boolean {
    if (this.currentSeq !== 0) return epoch === this.currentEpoch
    this.currentEpoch = epoch
    return true
  }

  /** The oldest seq the resume history still holds (the journal keeps the same window). */
  get oldestRetainedSeq (): number { return this.history.oldestSeq }
  get size (): number { return this.nodes.size }

  get metadata (): StoreMetadata {
    return { total_tokens: this.totalTokens, max_tokens: this.options.maxTokens, entry_count: this.nodes.size }
  }

  get (key: string): StoredEntry | undefined {
    return this.nodes.get(key)?.stored
  }

  /**
   * Creates or replaces an entry, then evicts what ranks last until the budget holds. `prepared`
   * is the input already checked and counted (prepareWrite); without it the checks run here.
   */
  write (actor: Actor, input: WriteInput, now = Date.now(), prepared?: PreparedWrite): { result: WriteResult & { entry: Entry }, change: ChangeEvent } {
    const { contentJson, tokens } = prepared ?? checkWriteInput(actor, input, this.options)
    const key = input.key ?? this.generateKey(input.source ?? actor.userId, now)
    const existing = this.get(key)
    if (existing !== undefined) assertMayChange(actor, existing.entry.owner, key)
    checkExpectedVersion(key, existing, input.expected_version)
    // A rewrite that leaves out priority or source keeps the entry's own: an agent updating its
    // progress entry should not silently drop it to priority 1.
    const priority = input.priority ?? existing?.entry.priority ?? 1
    const source = input.source ?? existing?.entry.source ?? actor.userId

    const seq = this.currentSeq + 1
    const timestamp = isoTimestamp(now)
    const stored = buildStoredEntry(key, seq, contentJson, contentOfInput(input), {
      timestamp,
      tokens,
      source,
      priority,
      owner: actor.userId,
      version: (existing?.entry.version ?? 0) + 1,
      expiresAt: input.ttl_seconds !== undefined ? now + input.ttl_seconds * 1000 : undefined
    })

    // Decide the evictions on the index as it will be after the write, without touching the
    // working set yet, so a refused or failed operation leaves nothing half-done.
    const evicted = this.planEvictions(stored, existing)
    const change = this.makeChange(seq, existing === undefined ? 'created' : 'replaced', timestamp,
      evicted.includes(key) ? [] : [stored],
      evicted.map((k) => ({ key: k, reason: 'evicted' as const })), stored, existing, changeActorOf(actor))
    this.apply(change)
    return {
      result: { key, tokens, version: stored.entry.version, seq, epoch: this.currentEpoch, evicted, stored: !evicted.includes(key), entry: stored.entry },
      change
    }
  }

  setPriority (actor: Actor, key: string, priority: number, now = Date.now()): { result: PriorityResult, change: ChangeEvent } {
    assertPriority(priority)
    const existing = this.get(key)
    if (existing === undefined) throw notFound(key)
    assertMayChange(actor, existing.entry.owner, key)
    const seq = this.currentSeq + 1
    const { tokens, source } = existing.entry
    const stored = buildStoredEntry(key, seq, contentJsonOf(existing), contentOfEntry(existing.entry), {
      tokens,
      source,
      timestamp: isoTimestamp(now),
      priority,
      owner: existing.entry.owner,
      version: existing.entry.version + 1,
      expiresAt: existing.expiresAt
    })
    // The token total does not change, so a priority change never evicts.
    const change = this.makeChange(seq, 'priority', stored.entry.timestamp, [stored], [], stored, existing, changeActorOf(actor))
    this.apply(change)
    return { result: { key, priority, version: stored.entry.version, seq }, change }
  }

  remove (actor: Actor, key: string, now = Date.now()): { result: RemoveResult, change: ChangeEvent } {
    const existing = this.get(key)
    if (existing === undefined) throw notFound(key)
    assertMayChange(actor, existing.entry.owner, key)
    const change = this.removal(now, 'deleted', [key], changeActorOf(actor))
    this.apply(change)
    return { result: { key, seq: change.seq }, change }
  }

  /**
   * Clears entries. No option: the caller's own entries. `source` (prefix) and `keys` narrow it.
   * `all`: the whole tenant (admins only). Admins with `source`/`keys` reach every owner's entries.
   * A writer naming a key owned by someone else is refused and nothing is removed.
   */
  clear (actor: Actor, options: ClearOptions, now = Date.now()): { result: ClearResult, change?: ChangeEvent } {
    assertCanWrite(actor)
    const admin = isAdmin(actor)
    if (options.all === true && !admin) throw new ContextError('forbidden', 'Clearing the whole tenant needs the admin role')
    const anyOwner = admin && (options.all === true || options.source !== undefined || options.keys !== undefined)
    const candidates = options.keys !== undefined
      // A key named twice is one candidate (removing it twice would corrupt the totals).
      ? [...new Set(options.keys)].map((key) => this.get(key)).filter((s): s is StoredEntry => s !== undefined)
      : [...this.nodes.values()].map((node) => node.stored)
    const keys: string[] = []
    for (const stored of candidates) {
      if (options.source !== undefined && !stored.entry.source.startsWith(options.source)) continue
      if (!anyOwner && stored.entry.owner !== actor.userId) {
        if (options.keys !== undefined) assertMayChange(actor, stored.entry.owner, stored.key)
        continue
      }
      keys.push(stored.key)
    }
    if (keys.length === 0) return { result: { removed: [], count: 0, seq: this.currentSeq } }
    const change = this.removal(now, 'cleared', keys, changeActorOf(actor))
    this.apply(change)
    return { result: { removed: keys, count: keys.length, seq: change.seq }, change }
  }

  /** Removes entries whose TTL has passed; one change for all of them, or none. */
  expireDue (now = Date.now()): ChangeEvent | undefined {
    const next = this.expiries.peekTime()
    if (next === undefined || next > now) return undefined
    const keys = this.expiries.popDue(now)
      .filter((item) => this.get(item.key)?.seq === item.seq)
      .map((item) => item.key)
    if (keys.length === 0) return undefined
    const change = this.removal(now, 'expired', keys, SYSTEM_ACTOR)
    this.apply(change)
    return change
  }

  /** Earliest pending expiry, so a sweeper knows whether this tenant needs a visit. */
  nextExpiry (): number | undefined {
    return this.expiries.peekTime()
  }

  /**
   * Applies a decided change to the working set: the only place entries are added or removed.
   * Used by the operations above, by journal replay and by replicas fed from Redis.
   */
  apply (change: ChangeEvent): void {
    for (const { key } of change.removed) this.drop(key)
    for (const stored of change.upserted) {
      this.drop(stored.key)
      this.put(stored)
    }
    this.currentSeq = change.seq
    this.history.record(change)
  }

  /**
   * Loads entries restored from a snapshot (journal compaction, Redis), oldest write first.
   * `history`, when given, is the run of changes that ended at `seq` (oldest first): it seeds the
   * resume history so `since_seq` works on an instance that loaded the tenant from Redis.
   * `epoch`, when given, is the persisted history's epoch, which this store then continues.
   */
  restore (entries: StoredEntry[], seq: number, history: readonly ChangeEvent[] = [], epoch?: string): void {
    if (epoch !== undefined) this.currentEpoch = epoch
    for (const stored of [...entries].sort((a, b) => a.seq - b.seq)) {
      this.drop(stored.key)
      this.put(stored)
    }
    this.currentSeq = Math.max(this.currentSeq, seq)
    for (const change of history) this.history.record(change)
  }

  /** The whole store in rank order. */
  snapshot (): Snapshot {
    return { entries: this.rankedEntries(), metadata: this.metadata, seq: this.currentSeq, epoch: this.currentEpoch }
  }

  /**
   * A query in steps, each its own function: filter (the query's filters, in rank order), paging
   * (where this page of a walk starts; src/store/query-paging.ts), order (by relevance to
   * `relevant_to`, when given), the `max_tokens` budget and `limit`, then paging's next_cursor.
   */
  query (query: ContextQuery, now = Date.now()): QueryResult {
    const paging = pagingOf(query, this.currentSeq, this.currentEpoch)
    if (query.relevant_to !== undefined) return this.relevantTo({ ...query, relevant_to: query.relevant_to }, now)
    return withNextCursor(fillBudget(restOfWalk(this.filter(query), paging), query), paging)
  }

  /**
   * A relevant_to query (src/relevance/relevance-query.ts): the same steps, at a cost set by the
   * task's postings and the budget rather than by the store. It is one page (no cursor).
   */
  private relevantTo (query: ContextQuery & { relevant_to: string }, now: number): QueryResult {
    return relevanceQuery({
      index: this.relevance.current(),
      passes: hasFilters(query) ? this.passesFilters(query) : undefined,
      inRankOrder: () => this.index.inRankOrder(),
      get: (key) => this.get(key),
      size: this.nodes.size,
      bySize: this.bySize,
      seq: () => this.currentSeq
    }, query, now)
  }

  /**
   * The relevance index caught up with every change, or undefined before the first relevant_to
   * query (for tests and benchmarks: queries use it through `query`).
   */
  relevanceIndex (): RelevanceIndex | undefined {
    return this.relevance.built ? this.relevance.current() : undefined
  }

  /** Changes after `seq`, or undefined when the retained history does not reach back that far. */
  changesSince (seq: number): ChangeEvent[] | undefined {
    return this.history.since(seq, this.currentSeq)
  }

  /** Up to `limit` retained changes after `seq` (from the oldest retained), for the audit trail. */
  retainedChanges (seq: number, limit: number): ChangeEvent[] {
    return this.history.retained(seq, limit)
  }

  /** The filter step: every entry matching the query's filters, in rank order. */
  private filter (query: ContextQuery): StoredEntry[] {
    const passes = this.passesFilters(query)
    const matches: StoredEntry[] = []
    for (const stored of this.index.inRankOrder()) if (passes(stored)) matches.push(stored)
    return matches
  }

  /** The query's filters (keys included) as one predicate. */
  private passesFilters (query: ContextQuery): (stored: StoredEntry) => boolean {
    const match = compileQuery(query)
    const wanted = query.keys !== undefined ? new Set(query.keys) : undefined
    return wanted === undefined ? match : (stored) => wanted.has(stored.key) && match(stored)
  }

  private rankedEntries (): StoredEntry[] {
    return [...this.index.inRankOrder()]
  }

  private put (stored: StoredEntry): void {
    this.nodes.set(stored.key, this.index.insert(stored))
    this.relevance.changed(stored.key)
    this.bySize.add(stored)
    this.totalTokens += stored.entry.tokens
    if (stored.expiresAt !== undefined && this.options.expiresEntries !== false) {
      this.expiring.add(stored.key)
      this.expiries.push(stored.expiresAt, stored.key, stored.seq)
      // A rewritten or removed entry leaves a stale item behind (skipped when due). Rebuild once
      // stale items outnumber live ones, so the queue stays proportional to live TTL entries.
      if (this.expiries.size > 2 * this.expiring.size + 1024) this.rebuildExpiries()
    }
  }

  private rebuildExpiries (): void {
    this.expiries = new ExpiryQueue()
    for (const key of this.expiring) {
      const stored = this.get(key) as StoredEntry
      this.expiries.push(stored.expiresAt as number, key, stored.seq)
    }
  }

  private drop (key: string): void {
    const node = this.nodes.get(key)
    if (node === undefined) return
    this.nodes.delete(key)
    this.index.unlink(node)
    this.relevance.changed(key)
    this.bySize.remove(node.stored)
    this.totalTokens -= node.stored.entry.tokens
    this.expiring.delete(key)
  }

  /**
   * Which keys leave if `incoming` replaces `existing`: the entries that rank last, in eviction
   * order, until the total fits. The index is only read, so the cost is proportional to the number
   * evicted, not the number stored.
   */
  private planEvictions (incoming: StoredEntry, existing: StoredEntry | undefined): string[] {
    const total = this.totalTokens - (existing?.entry.tokens ?? 0) + incoming.entry.tokens
    if (total <= this.options.maxTokens) return []
    return this.index.planEvictions(incoming, existing?.key, total - this.options.maxTokens).map((victim) => victim.key)
  }

  private removal (now: number, reason: RemovalReason & ChangeReason, keys: string[], actor: ChangeActor): ChangeEvent {
    const removed = keys.map((key) => ({ key, reason }))
    let tokens = 0
    for (const key of keys) tokens += this.get(key)?.entry.tokens ?? 0
    return {
      tenant: this.tenant,
      epoch: this.currentEpoch,
      seq: this.currentSeq + 1,
      reason,
      at: isoTimestamp(now),
      upserted: [],
      removed,
      metadata: {
        total_tokens: this.totalTokens - tokens,
        max_tokens: this.options.maxTokens,
        entry_count: this.nodes.size - keys.length
      },
      actor
    }
  }

  private makeChange (
    seq: number, reason: ChangeReason, at: string, upserted: StoredEntry[],
    removed: Array<{ key: string, reason: RemovalReason }>, incoming: StoredEntry, existing: StoredEntry | undefined,
    actor: ChangeActor
  ): ChangeEvent {
    let tokens = this.totalTokens - (existing?.entry.tokens ?? 0) + incoming.entry.tokens
    let count = this.nodes.size + (existing === undefined ? 1 : 0)
    for (const { key } of removed) {
      tokens -= key === incoming.key ? incoming.entry.tokens : (this.get(key)?.entry.tokens ?? 0)
      count--
    }
    return {
      tenant: this.tenant,
      epoch: this.currentEpoch,
      seq,
      reason,
      at,
      upserted,
      removed,
      metadata: { total_tokens: tokens, max_tokens: this.options.maxTokens, entry_count: count },
      actor
    }
  }

  /** A unique key from the source, like `content_agent_001_1763980200.123456`. */
  private generateKey (source: string, now: number): string {
    let micros = Math.max(now * 1000, this.lastKeyMicros + 1)
    let key = formatKey(source, micros)
    while (this.nodes.has(key)) key = formatKey(source, ++micros)
    this.lastKeyMicros = micros
    return key
  }
}

function formatKey (source: string, micros: number): string {
  const seconds = Math.floor(micros / 1e6)
  return `${source}_${seconds}.${String(micros % 1e6).padStart(6, '0')}`
}

/** A write's content serialized and counted once, with the checks that need no stored state passed. */
export interface PreparedWrite { contentJson: string, tokens: number }

/**
 * The checks of a write that need no stored state: role, priority, nesting depth, JSON, and the
 * size of the entry alone. Returns the content serialized and counted once. Backends that decide
 * the rest elsewhere (the Redis script) run the same checks first.
 */
export function checkWriteInput (actor: Actor, input: WriteInput, options: TenantStoreOptions): PreparedWrite {
  const contentJson = serializeWriteInput(actor, input, options)
  return withTokens(contentJson, options.countTokens(contentJson), options)
}

/**
 * checkWriteInput, with the count from `countWriteTokens`: a promise when a worker thread counts
 * a large content. Everything but the size check is decided before this returns, so bad input
 * is refused at once either way.
 */
export function prepareWrite (actor: Actor, input: WriteInput, options: TenantStoreOptions): PreparedWrite | Promise<PreparedWrite> {
  const contentJson = serializeWriteInput(actor, input, options)
  const tokens = (options.countWriteTokens ?? options.countTokens)(contentJson)
  return typeof tokens === 'number' ? withTokens(contentJson, tokens, options) : tokens.then((counted) => withTokens(contentJson, counted, options))
}

/**
 * A write whose content was checked, serialized and counted elsewhere (a worker thread, for a
 * large frame: src/ws/frame-preparation.ts), with the same code: the checks that remain, then
 * the same PreparedWrite. `tooDeep` is the depth check's finding, undefined when it passed.
 */
export interface DeferredWrite {
  readonly input: WriteInput
  readonly request?: RequestOptions
  readonly contentJson?: string
  readonly tokens?: number
  readonly tooDeep?: string
}

export function checkDeferredWrite (actor: Actor, write: DeferredWrite, options: TenantStoreOptions): PreparedWrite {
  assertCanWrite(actor)
  if (write.input.priority !== undefined) assertPriority(write.input.priority)
  if (write.tooDeep !== undefined) throw tooDeepError(write.tooDeep, options.maxDepth ?? 32)
  if (write.contentJson === undefined || write.tokens === undefined) throw new ContextError('validation_error', 'content must be JSON')
  return withTokens(write.contentJson, write.tokens, options)
}

function serializeWriteInput (actor: Actor, input: WriteInput, options: TenantStoreOptions): string {
  assertCanWrite(actor)
  if (input.priority !== undefined) assertPriority(input.priority)
  const maxDepth = options.maxDepth ?? 32
  const tooDeep = findTooDeep(input.content, maxDepth)
  if (tooDeep !== undefined) throw tooDeepError(tooDeep, maxDepth)
  const contentJson = JSON.stringify(input.content)
  if (contentJson === undefined) throw new ContextError('validation_error', 'content must be JSON')
  return contentJson
}

function tooDeepError (tooDeep: string, maxDepth: number): ContextError {
  return new ContextError('validation_error', `content is nested deeper than ${maxDepth} levels`,
    [{ path: tooDeep === '' ? 'content' : `content.${tooDeep}`, message: `nested deeper than ${maxDepth} levels` }])
}

function withTokens (contentJson: string, tokens: number, options: TenantStoreOptions): PreparedWrite {
  if (tokens > options.maxEntryTokens) {
    throw new ContextError('entry_too_large',
      `Entry has ${tokens} tokens; the limit for one entry is ${options.maxEntryTokens}`,
      { tokens, max_entry_tokens: options.maxEntryTokens })
  }
  return { contentJson, tokens }
}

export function assertPriority (priority: number): void {
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw new ContextError('validation_error', 'priority must be an integer from 1 to 10',
      [{ path: 'priority', message: 'must be an integer from 1 to 10' }])
  }
}

function checkExpectedVersion (key: string, existing: StoredEntry | undefined, expected: number | undefined): void {
  if (expected === undefined) return
  const actual = existing?.entry.version ?? 0
  if (actual !== expected) {
    throw new ContextError('version_conflict',
      `Entry "${key}" is at version ${actual}, not ${expected}`, { key, expected_version: expected, current_version: actual })
  }
}

interface EntryFields {
  timestamp: string
  tokens: number
  source: string
  priority: number
  owner: string
  version: number
  expiresAt?: number
}

/**
 * Builds a stored entry and its JSON once. The JSON is assembled around the already-serialized
 * content (serialized once for token counting), in the same field order as JSON.stringify(entry).
 * `content` FROM_JSON: the entry's content is read from `contentJson` when asked for.
 */
export function buildStoredEntry (key: string, seq: number, contentJson: string, content: unknown, fields: EntryFields): StoredEntry {
  const entry: Entry = {
    timestamp: fields.timestamp,
    content: content === FROM_JSON ? undefined : content,
    tokens: fields.tokens,
    source: fields.source,
    priority: fields.priority,
    owner: fields.owner,
    version: fields.version
  }
  if (fields.expiresAt !== undefined) entry.expires_at = new Date(fields.expiresAt).toISOString()
  const head = `{"timestamp":${JSON.stringify(entry.timestamp)}${CONTENT_FIELD}`
  const tail = `${TOKENS_FIELD}${entry.tokens},"source":${JSON.stringify(entry.source)},"priority":${entry.priority}` +
    `,"owner":${JSON.stringify(entry.owner)},"version":${entry.version}` +
    (entry.expires_at !== undefined ? `,"expires_at":"${entry.expires_at}"` : '') + '}'
  const json = head + contentJson + tail
  // Reading a character makes V8 flatten the concatenation into one string, so a stored entry
  // keeps one string alive instead of a tree of pieces (fewer objects for every GC to visit).
  json.charCodeAt(json.length >> 1)
  if (content === FROM_JSON) contentFromJson(entry, json, head.length, head.length + contentJson.length)
  return { key, entry, seq, expiresAt: fields.expiresAt, json }
}

/** The content's JSON, cut out of the entry's JSON (no re-serialization). */
export function contentJsonOf (stored: StoredEntry): string {
  const [start, end] = contentSpanOf(stored.json)
  return stored.json.slice(start, end)
}

// Every query option by what it does. TypeScript requires a new option to be listed here, so the
// relevant_to path, which skips the filter step when there is nothing to filter, cannot miss one.
const OPTION_KINDS: Record<keyof ContextQuery, 'filter' | 'selection'> = {
  source: 'filter',
  sources: 'filter',
  keys: 'filter',
  min_priority: 'filter',
  max_priority: 'filter',
  since: 'filter',
  text: 'filter',
  max_tokens: 'selection',
  limit: 'selection',
  relevant_to: 'selection',
  cursor: 'selection'
}
const FILTER_OPTIONS = (Object.keys(OPTION_KINDS) as Array<keyof ContextQuery>).filter((option) => OPTION_KINDS[option] === 'filter')

/** Whether the query filters at all (otherwise every entry is a match). */
function hasFilters (query: ContextQuery): boolean {
  return FILTER_OPTIONS.some((option) => query[option] !== undefined)
}

function compileQuery (query: ContextQuery): (stored: StoredEntry) => boolean {
  const sources = query.sources !== undefined ? new Set(query.sources) : undefined
  const since = query.since !== undefined ? new Date(query.since).toISOString() : undefined
  return (stored) => {
    const e = stored.entry
    if (query.source !== undefined && !e.source.startsWith(query.source)) return false
    if (sources !== undefined && !sources.has(e.source)) return false
    if (query.min_priority !== undefined && e.priority < query.min_priority) return false
    if (query.max_priority !== undefined && e.priority > query.max_priority) return false
    if (since !== undefined && e.timestamp < since) return false
    if (query.text !== undefined && !contentJsonOf(stored).includes(query.text)) return false
    return true
  }
}
