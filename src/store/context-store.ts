// The store every surface uses: async operations (a backend may be remote), synchronous reads
// from the local working set, and one stream of change events in seq order per tenant.
import type { DeferredWrite } from './tenant-store.js'
import type {
  Actor, ChangeEvent, ClearOptions, ClearResult, ContextQuery, PriorityResult, QueryResult,
  RemoveResult, RequestOptions, Snapshot, StoreMetadata, StoredEntry, WriteInput, WriteResult
} from './types.js'

export type ChangeListener = (change: ChangeEvent) => void

export interface ContextStore {
  readonly backend: 'memory' | 'redis'
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
  /** Tenants with a store on this instance (for metrics and status). */
  tenants (): string[]
  /** Called once per change, in seq order per tenant, after the change is durable. */
  onChange (listener: ChangeListener): () => void
  /** Whether the backend answers (drives /ready). */
  isReady (): Promise<boolean>
  close (): Promise<void>
}
