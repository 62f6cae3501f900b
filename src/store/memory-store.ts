// The embedded backend: the working set in memory, optionally made durable by a journal that
// every change passes through before it is acknowledged or broadcast.
import type { ChangeListener, ContextStore } from './context-store.js'
import {
  DEFAULT_IDEMPOTENCY_MAX_KEYS, DEFAULT_IDEMPOTENCY_TTL_MS, IdempotencyTable, fingerprintOf, heldReply, keptReply, observeIdempotency, replayOf,
  type IdempotencyOptions, type IdempotencyWrite, type IdempotentOperation
} from './idempotency.js'
import { TenantOrder } from './tenant-order.js'
import { TenantRegistry } from './tenant-registry.js'
import { prepareWrite, type TenantStore, type TenantStoreOptions } from './tenant-store.js'
import type { Actor, ChangeEvent, ClearOptions, ContextQuery, RequestOptions, WriteInput } from './types.js'

/**
 * Where changes go to become durable. `append` resolves once the change (and the idempotency
 * record answering it, in the same transaction) survives a crash.
 */
export interface ChangeJournal {
  /**
   * Makes `change` durable, with the resume history: the journal keeps the changes from
   * `retainedFrom` (the oldest seq the tenant's in-memory history still holds) onwards.
   */
  append (change: ChangeEvent, retainedFrom: number, idempotency?: IdempotencyWrite): Promise<void>
  /** Commits an idempotency record of a request that changed nothing (a clear that matched none). */
  recordIdempotency? (idempotency: IdempotencyWrite): Promise<void>
  isHealthy (): boolean
  close (): Promise<void>
}

export interface MemoryStoreOptions extends TenantStoreOptions, IdempotencyOptions {
  journal?: ChangeJournal
  /** How often entries with a TTL are swept (they are also expired lazily on every access). */
  expirySweepMs?: number
  /** A registry already filled (by journal replay) to serve from. */
  registry?: TenantRegistry
  /** Idempotency tables already filled (by journal replay), by tenant. */
  idempotency?: Map<string, IdempotencyTable>
  /** Reports failures nobody awaits (background expiry commits, throwing listeners). */
  onError?: (error: unknown) => void
}

export class MemoryContextStore implements ContextStore {
  readonly backend = 'memory' as const
  private readonly registry: TenantRegistry
  private readonly listeners = new Set<ChangeListener>()
  private readonly sweeper: NodeJS.Timeout
  /** The journal, when persisted (revocations share its database). */
  readonly journal?: ChangeJournal
  private readonly idempotency: Map<string, IdempotencyTable>
  private readonly idempotencyTtlMs: number
  private readonly idempotencyMaxKeys: number
  private readonly onError: (error: unknown) => void
  private readonly outbox: ChangeEvent[] = []
  private emitting = false
  /** Applies each tenant's operations in call order while large writes are being counted. */
  private readonly order = new TenantOrder()
  // Tenants whose due TTLs were applied in the current synchronous step. A reader that makes
  // several calls in one step (GET /context: entries, then totals, then seq) must see one state,
  // not entries from before an expiry and totals from after it.
  private readonly expiredThisStep = new Set<string>()

  constructor (private readonly options: MemoryStoreOptions) {
    this.registry = options.registry ?? new TenantRegistry(options)
    this.journal = options.journal
    this.idempotency = options.idempotency ?? new Map()
    this.idempotencyTtlMs = options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS
    this.idempotencyMaxKeys = options.idempotencyMaxKeys ?? DEFAULT_IDEMPOTENCY_MAX_KEYS
    this.onError = options.onError ?? (() => {})
    this.sweeper = setInterval(() => this.sweepExpired(), options.expirySweepMs ?? 1000)
    this.sweeper.unref()
  }

  // Ordering: each operation is counted first (a large content possibly on a worker thread),
  // then applied in the order the tenant's operations were called (tenant-order.ts). With
  // nothing to wait for, it is applied at once, within the call. Idempotency (once) is decided
  // when the operation is applied, in its turn.

  async write (actor: Actor, input: WriteInput, request?: RequestOptions) {
    return await this.observed(actor, request, this.order.run(actor.tenant, prepareWrite(actor, input, this.options), async (prepared) =>
      await this.once(actor, request, { op: 'write', input }, (store) => store.write(actor, input, Date.now(), prepared))))
  }

  async setPriority (actor: Actor, key: string, priority: number, request?: RequestOptions) {
    return await this.observed(actor, request, this.order.run(actor.tenant, undefined, async () =>
      await this.once(actor, request, { op: 'priority', key, priority }, (store) => store.setPriority(actor, key, priority))))
  }

  async remove (actor: Actor, key: string, request?: RequestOptions) {
    return await this.observed(actor, request, this.order.run(actor.tenant, undefined, async () =>
      await this.once(actor, request, { op: 'remove', key }, (store) => store.remove(actor, key))))
  }

  async clear (actor: Actor, options: ClearOptions, request?: RequestOptions) {
    return await this.observed(actor, request, this.order.run(actor.tenant, undefined, async () =>
      await this.once(actor, request, { op: 'clear', options }, (store) => store.clear(actor, options))))
  }

  get (tenant: string, key: string) { return this.tenant(tenant).get(key) }
  snapshot (tenant: string) { return this.tenant(tenant).snapshot() }
  query (tenant: string, query: ContextQuery) { return this.tenant(tenant).query(query) }
  metadata (tenant: string) { return this.tenant(tenant).metadata }
  seq (tenant: string) { return this.tenant(tenant).seq }
  epoch (tenant: string) { return this.tenant(tenant).epoch }
  changesSince (tenant: string, seq: number) { return this.tenant(tenant).changesSince(seq) }
  retainedChanges (tenant: string, seq: number, limit: number) { return this.tenant(tenant).retainedChanges(seq, limit) }
  tenants () { return this.registry.names() }

  onChange (listener: ChangeListener) {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async isReady () {
    return this.journal?.isHealthy() ?? true
  }

  async close () {
    clearInterval(this.sweeper)
    await this.journal?.close()
  }

  /**
   * The tenant's store, with any due TTLs expired first so no reader sees a stale entry; once per
   * synchronous step, so that the calls of one step agree with each other.
   */
  private tenant (name: string): TenantStore {
    const store = this.registry.of(name)
    if (this.expiredThisStep.has(name)) return store
    if (this.expiredThisStep.size === 0) queueMicrotask(() => this.expiredThisStep.clear())
    this.expiredThisStep.add(name)
    const expired = store.expireDue()
    if (expired !== undefined) this.commit(expired).catch(this.onError)
    return store
  }

  private sweepExpired (): void {
    const now = Date.now()
    for (const store of this.registry.all()) {
      const next = store.nextExpiry()
      if (next === undefined || next > now) continue
      const change = store.expireDue(now)
      if (change !== undefined) this.commit(change).catch(this.onError)
    }
  }

  /**
   * Runs an operation once per idempotency key: without a key, as is; with one, the first reply
   * is kept (committed with the change) and the same request again gets it back. The look-up and
   * the operation run in one synchronous step, so two requests with one key cannot both apply.
   */
  private async observed<R extends { replayed?: true }> (actor: Actor, request: RequestOptions | undefined, operation: Promise<R>): Promise<R> {
    return await observeIdempotency(this.options.onIdempotency, actor, request, operation)
  }

  private async once<R extends object> (
    actor: Actor, request: RequestOptions | undefined, operation: IdempotentOperation,
    run: (store: TenantStore) => { result: R, change?: ChangeEvent }
  ): Promise<R> {
    const store = this.tenant(actor.tenant)
    const key = request?.idempotencyKey
    if (key === undefined) {
      const { result, change } = run(store)
      if (change !== undefined) await this.commit(change)
      return result
    }
    const now = Date.now()
    const table = this.idempotencyTable(actor.tenant)
    const fingerprint = fingerprintOf(operation)
    const prior = heldReply(table, actor.userId, key, fingerprint, now)
    if (prior !== undefined) return await replayOf<R>(prior)
    const { result, change } = run(store)
    const record = { userId: actor.userId, key, fingerprint, reply: keptReply(result), expiresAt: now + this.idempotencyTtlMs }
    const { held, dropped } = table.add(record, now)
    const idempotency = { tenant: actor.tenant, record, dropped }
    held.committed = change !== undefined
      ? this.commit(change, idempotency)
      : this.journal?.recordIdempotency?.(idempotency) ?? Promise.resolve()
    // A failed commit fails this request, and any replay of it (which awaits the same promise).
    held.committed.catch(() => {})
    await held.committed
    return result
  }

  private idempotencyTable (tenant: string): IdempotencyTable {
    let table = this.idempotency.get(tenant)
    if (table === undefined) this.idempotency.set(tenant, (table = new IdempotencyTable(this.idempotencyMaxKeys)))
    return table
  }

  private async commit (change: ChangeEvent, idempotency?: IdempotencyWrite): Promise<void> {
    try {
      if (this.journal !== undefined) await this.journal.append(change, this.registry.of(change.tenant).oldestRetainedSeq, idempotency)
    } finally {
      // Emitted even when the journal failed: the change is in the working set (readers see it),
      // so subscribers must see it too or their seq stream would have a hole. The writer still
      // gets the failure, and /ready reports the journal unhealthy.
      this.emit(change)
    }
  }

  /**
   * Delivers changes to listeners in seq order, never re-entrantly: a listener that reads the
   * store may expire a TTL and so produce the next change; it is queued and delivered after the
   * current one has reached every listener.
   */
  private emit (change: ChangeEvent): void {
    this.outbox.push(change)
    if (this.emitting) return
    this.emitting = true
    try {
      for (let next = this.outbox.shift(); next !== undefined; next = this.outbox.shift()) {
        for (const listener of this.listeners) {
          // A failing listener (one broken subscriber path) must not fail the write or starve the others.
          try { listener(next) } catch (error) { this.onError(error) }
        }
      }
    } finally {
      this.emitting = false
    }
  }
}
