// The shapes the client exchanges with the server (CONTRACT §1, §2, §7, §8) and hands to its
// users. Field names are the wire's own, so what a user reads here is what the docs call it.

/** An entry as the server shows it. The seven named fields are fixed; more may follow. */
export interface Entry {
  readonly timestamp: string
  readonly content: Record<string, unknown>
  readonly tokens: number
  readonly source: string
  readonly priority: number
  readonly owner: string
  readonly version: number
  readonly expires_at?: string
  readonly [field: string]: unknown
}

/** The tenant's totals, carried by every snapshot and delta. */
export interface StoreMetadata {
  readonly total_tokens: number
  readonly max_tokens: number
  readonly entry_count: number
}

/** Who made a change (CONTRACT §8), when the server reports it. */
export interface ChangeActor {
  readonly sub: string
  readonly surface: 'ws' | 'rest' | 'mcp' | 'system' | (string & {})
  readonly client_id?: string
}

/** What a mirror receives: entries whose source starts with `source`, at `min_priority` or more. */
export interface SubscriptionFilter {
  readonly source?: string
  readonly min_priority?: number
}

/** `delta`: a live mirror fed by deltas; `snapshot`: fed by whole snapshots; `none`: no mirror. */
export type MirrorMode = 'delta' | 'snapshot' | 'none'

export interface WriteInput {
  readonly context: Record<string, unknown>
  readonly source?: string
  readonly priority?: number
  readonly key?: string
  readonly expected_version?: number
  readonly ttl_seconds?: number
  /**
   * Makes the write exactly-once across retries (CONTRACT §8). The client makes one for every
   * write; give your own to retry a write yourself (after a `timeout`) without doubling it.
   */
  readonly idempotency_key?: string
}

export interface UpdateAck {
  readonly status: 'success'
  readonly key: string
  readonly tokens: number
  readonly version: number
  readonly seq: number
  readonly epoch?: string
  readonly evicted: readonly string[]
  /** False when the write's own entry ranked last and was evicted at once. */
  readonly stored?: boolean
  /** True when the server had already applied this idempotency key and sent its first reply again. */
  readonly replayed?: boolean
}

export interface QueryInput {
  readonly source?: string
  readonly sources?: readonly string[]
  readonly keys?: readonly string[]
  readonly min_priority?: number
  readonly max_priority?: number
  readonly since?: string
  readonly text?: string
  readonly max_tokens?: number
  readonly limit?: number
  readonly relevant_to?: string
  readonly [option: string]: unknown
}

export interface QueryResult {
  /** The matches, in the server's rank order. */
  readonly entries: ReadonlyMap<string, Entry>
  readonly metadata: {
    readonly matched: number
    readonly returned: number
    readonly returned_tokens: number
    readonly truncated: boolean
    readonly [field: string]: unknown
  }
}

/** A whole store as `get()` returns it. */
export interface ContextSnapshot {
  readonly entries: ReadonlyMap<string, Entry>
  readonly metadata: StoreMetadata
  readonly seq: number
  readonly epoch?: string
}

export interface ClearInput {
  readonly source?: string
  readonly keys?: readonly string[]
  readonly all?: boolean
  readonly idempotency_key?: string
}

export interface ClearResult {
  readonly removed: readonly string[]
  readonly count: number
  readonly seq?: number
  readonly replayed?: boolean
}

export interface PriorityResult {
  readonly key: string
  readonly priority: number
  readonly version: number
  readonly seq?: number
  readonly replayed?: boolean
}

/** The body of GET /status, for the caller's tenant (admin). */
export interface StatusResult {
  readonly connected_clients: number
  readonly context_entries: number
  readonly total_tokens: number
  readonly max_tokens: number
  readonly [field: string]: unknown
}

/** Who the server says this connection is (`auth_success`). */
export interface SessionInfo {
  readonly client_id: string
  readonly user_id: string
  readonly roles: readonly string[]
  readonly tenant: string
  readonly authenticated_at: string
  readonly expires_at: string
  readonly epoch?: string
  readonly server_info: { readonly version: string, readonly max_tokens: number, readonly features: readonly string[], readonly [field: string]: unknown }
}

/**
 * The part of the platform WebSocket the client uses. The browser's `WebSocket` and the `ws`
 * package's class (Node 20) both fit.
 */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: any) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: any) => void) | null
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

/** A frame from the server, before the client looks at its type. */
export type ServerFrame = Record<string, unknown> & { readonly type: string, readonly id?: string | number }
