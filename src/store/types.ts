// Shapes shared by the store engine, its backends and every surface that reads them.

export type Role = 'reader' | 'writer' | 'admin'

/** The surface a change came through; `system` is the server itself (expiry, eviction, tools). */
export type Surface = 'ws' | 'rest' | 'mcp' | 'system'

/** Who is acting: the JWT's subject, roles and tenant. Every store operation takes one. */
export interface Actor {
  readonly userId: string
  readonly roles: readonly Role[]
  readonly tenant: string
  /** Where the request came from, for the audit trail (default `system`: in-process callers). */
  readonly surface?: Surface
  /** The connection or session that sent it (WebSocket client_id, `mcp-<session>`), if any. */
  readonly clientId?: string
}

/** Who made a change, as the audit trail records it (contract §8). */
export interface ChangeActor {
  readonly sub: string
  readonly surface: Surface
  readonly client_id?: string
  /** The server instance that decided it (Redis backend), so one instance writes its audit line. */
  readonly instance?: string
}

/** Per-request options of a store write: the idempotency key, when the client gave one. */
export interface RequestOptions {
  readonly idempotencyKey?: string
}

/** An entry exactly as clients see it (contract §1). */
export interface Entry {
  timestamp: string
  content: unknown
  tokens: number
  source: string
  priority: number
  owner: string
  version: number
  expires_at?: string
}

/** An entry as the store keeps it: the public entry plus its key, write sequence and caches. */
export interface StoredEntry {
  readonly key: string
  readonly entry: Entry
  /** The tenant seq of the change that last wrote this entry: its recency for ranking. */
  readonly seq: number
  /** Milliseconds since the epoch, when a TTL was given. */
  readonly expiresAt?: number
  /** JSON.stringify(entry), made once per write so snapshots and broadcasts never re-serialize. */
  readonly json: string
}

export type RemovalReason = 'evicted' | 'cleared' | 'deleted' | 'expired'

/** Why a change happened; `replaced` is a write to a key that already existed. */
export type ChangeReason = 'created' | 'replaced' | 'priority' | 'deleted' | 'cleared' | 'expired'

export interface StoreMetadata {
  total_tokens: number
  max_tokens: number
  entry_count: number
}

/** One change to one tenant's store: the unit of broadcast, history, persistence and replication. */
export interface ChangeEvent {
  readonly tenant: string
  /** The history this change belongs to (contract §7): seqs are comparable only within one epoch. */
  readonly epoch: string
  readonly seq: number
  readonly reason: ChangeReason
  readonly at: string
  readonly upserted: readonly StoredEntry[]
  readonly removed: ReadonlyArray<{ readonly key: string, readonly reason: RemovalReason }>
  readonly metadata: StoreMetadata
  /** Who made it; evictions inside a write are the system's (see src/store/change-actor.ts). */
  readonly actor: ChangeActor
}

export interface WriteInput {
  content: unknown
  source?: string
  priority?: number
  key?: string
  expected_version?: number
  ttl_seconds?: number
}

export interface WriteResult {
  key: string
  tokens: number
  version: number
  seq: number
  /** The epoch of the history `seq` belongs to. */
  epoch: string
  evicted: string[]
  /** False when the write's own entry ranked last and was evicted at once. */
  stored: boolean
  /** The entry written; absent on a replay (the first reply is kept, not the entry). */
  entry?: Entry
  /** True when this is the first reply again, for a repeated idempotency key: nothing changed. */
  replayed?: true
}

export interface PriorityResult { key: string, priority: number, version: number, seq: number, replayed?: true }

export interface RemoveResult { key: string, seq: number, replayed?: true }

export interface ClearOptions { source?: string, keys?: string[], all?: boolean }

export interface ClearResult { removed: string[], count: number, seq: number, replayed?: true }

export interface ContextQuery {
  source?: string
  sources?: string[]
  keys?: string[]
  min_priority?: number
  max_priority?: number
  since?: string
  text?: string
  max_tokens?: number
  limit?: number
  /** A task in free text: rank the matches by relevance to it (contract §10). */
  relevant_to?: string
  /** Continues a walk in rank order where the previous page ended (src/store/query-paging.ts). */
  cursor?: string
}

export interface QueryResult {
  /**
   * Matches in rank order (priority descending, then most recent write), or with relevant_to in
   * score order (docs/context-optimizer.md).
   */
  entries: StoredEntry[]
  metadata: {
    matched: number
    returned: number
    returned_tokens: number
    truncated: boolean
    /** Keys that matched but did not fit max_tokens or limit, in rank order. */
    omitted: string[]
    /**
     * With relevant_to only: each returned entry's score, best first, as [key, score] pairs (a list,
     * because keys are user input and an object would reorder integer-like ones).
     */
    scores?: Array<[string, number]>
    /** While matches remain after a page of `limit`: the cursor of the next page. */
    next_cursor?: string
  }
  /** With relevant_to only: the score of any matched entry, returned or omitted (0: no shared term). */
  scoreOf?: (key: string) => number
}

export interface Snapshot {
  entries: StoredEntry[]
  metadata: StoreMetadata
  seq: number
  epoch: string
}
