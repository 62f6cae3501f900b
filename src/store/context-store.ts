// The store every surface uses: async operations (a backend may be remote), synchronous reads
// from the local working set, and one stream of change events in seq order per tenant.
import type { DeferredWrite } from './tenant-store.js'
import type {
  Actor, ChangeEvent, ClearOptions, ClearResult, ContextQuery, PriorityResult, QueryResult,
  RemoveResult, RequestOptions, Snapshot, StoreMetadata, StoredEntry, WriteInput, WriteResult
} from './types.js'
import type { ReplicaStats, TenantLease } from './replica-leases.js'

export type ChangeListener = (change: ChangeEvent) => void

// Tenants on demand (src/store/replica-leases.ts): a backend may hold only the tenants in use on
// this instance. Every surface acquires the tenant (`use`) before it reads it and holds the lease
// while it serves it; the synchronous reads below are only for acquired tenants. Operations
// (write, setPriority, remove, clear) acquire their tenant themselves for their duration.
export interface ContextStore {
  readonly backend: 'memory' | 'redis'
  /**
   * Loads the tenant here if it is not (sharing a load already in flight) and holds it loaded and
   * current until the lease is released; after MCP_REPLICA_IDLE_SECONDS without a lease it may be
   * dropped. Rejects with ContextError('unavailable') when it cannot be loaded (Redis away).
   */
  use (tenant: string): Promise<TenantLease>
  /** A lease at once when the tenant is loaded here, else undefined (then `use`). */
  useLoaded (tenant: string): TenantLease | undefined
  /** Hears each tenant this instance drops, so per-tenant caches elsewhere can go with it. */
  onUnload (listener: (tenant: string) => void): () => void
  /** Tenants loaded and in use on this instance, and loads and drops since start (for /metrics). */
  replicaStats (): ReplicaStats
  /** A shared backend's id for this instance, as stamped on the actor of the changes it decides. */
  readonly instanceId?: string
  // Writes take the request's options last: with an idempotency key, a repeated request gets
  // its first result again (`replayed: true`) and changes nothing (src/store/idempotency.ts).
  write (actor: Actor, input: WriteInput, request?: RequestOptions): Promise<WriteResult>
  /**
   * A write whose input is not known yet (a large frame being parsed and counted on a worker
   * thread): it takes its place in the tenant's order now, and is applied in that place once
   * `pending` gives it. When `pending` rejects, nothing is applied, the tenant's next operations
   * go on, and this rejects with the same error.
   */
  writeDeferred (actor: Actor, pending: Promise<DeferredWrite>): Promise<WriteResult>
  setPriority (actor: Actor, key: string, priority: number, request?: RequestOptions): Promise<PriorityResult>
  remove (actor: Actor, key: string, request?: RequestOptions): Promise<RemoveResult>
  clear (actor: Actor, options: ClearOptions, request?: RequestOptions): Promise<ClearResult>
  // Reads of a tenant that is not loaded throw ContextError('internal'): a surface forgot `use`.
  get (tenant: string, key: string): StoredEntry | undefined
  snapshot (tenant: string): Snapshot
  query (tenant: string, query: ContextQuery): QueryResult
  metadata (tenant: string): StoreMetadata
  seq (tenant: string): number
  /**
   * The tenant's history epoch (contract §7): an opaque string of at most 64 characters that
   * changes whenever the history starts again (memory-only start, lost or replaced data dir, Redis
   * state lost or reset). While it stays the same, `seq` only grows and names one change.
   */
  epoch (tenant: string): string
  /** Changes after `seq` in order, or undefined when the retained history does not reach back. */
  changesSince (tenant: string, seq: number): ChangeEvent[] | undefined
  /** Up to `limit` retained changes after `seq`, oldest first, from the oldest one retained (GET /changes). */
  retainedChanges (tenant: string, seq: number, limit: number): ChangeEvent[]
  /** Tenants loaded on this instance (with Redis: the replicas it keeps now), for metrics. */
  tenants (): string[]
  /** Called once per change, in seq order per tenant, after the change is durable. */
  onChange (listener: ChangeListener): () => void
  /** Whether the backend answers (drives /ready). */
  isReady (): Promise<boolean>
  close (): Promise<void>
}
