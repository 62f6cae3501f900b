// The embedded backend: the working set in memory, optionally made durable by a journal that
// every change passes through before it is acknowledged or broadcast.
import type { ChangeListener, ContextStore } from './context-store.js'
import { TenantOrder } from './tenant-order.js'
import { TenantRegistry } from './tenant-registry.js'
import { prepareWrite, type PreparedWrite, type TenantStore, type TenantStoreOptions } from './tenant-store.js'
import type { Actor, ChangeEvent, ClearOptions, ContextQuery } from './types.js'

/** Where changes go to become durable. `append` resolves once the change survives a crash. */
export interface ChangeJournal {
  /**
   * Makes `change` durable, with the resume history: the journal keeps the changes from
   * `retainedFrom` (the oldest seq the tenant's in-memory history still holds) onwards.
   */
  append (change: ChangeEvent, retainedFrom: number): Promise<void>
  isHealthy (): boolean
  close (): Promise<void>
}

export interface MemoryStoreOptions extends TenantStoreOptions {
  journal?: ChangeJournal
  /** How often entries with a TTL are swept (they are also expired lazily on every access). */
  expirySweepMs?: number
  /** A registry already filled (by journal replay) to serve from. */
  registry?: TenantRegistry
  /** Reports failures nobody awaits (background expiry commits, throwing listeners). */
  onError?: (error: unknown) => void
}

export class MemoryContextStore implements ContextStore {
  readonly backend = 'memory' as const
  private readonly registry: TenantRegistry
  private readonly listeners = new Set<ChangeListener>()
  private readonly sweeper: NodeJS.Timeout
  private readonly journal?: ChangeJournal
  private readonly onError: (error: unknown) => void
  private readonly outbox: ChangeEvent[] = []
  private emitting = false
  /** Applies each tenant's operations in call order while large writes are being counted. */
  private readonly order = new TenantOrder()

  constructor (private readonly options: MemoryStoreOptions) {
    this.registry = options.registry ?? new TenantRegistry(options)
    this.journal = options.journal
    this.onError = options.onError ?? (() => {})
    this.sweeper = setInterval(() => this.sweepExpired(), options.expirySweepMs ?? 1000)
    this.sweeper.unref()
  }

  // Ordering: each operation is counted first (a large content possibly on a worker thread),
  // then applied in the order the tenant's operations were called (tenant-order.ts). With
  // nothing to wait for, it is applied at once, within the call.

  async write (actor: Actor, input: Parameters<ContextStore['write']>[1]) {
    return await this.order.run(actor.tenant, prepareWrite(actor, input, this.options), (prepared) => this.applyWrite(actor, input, prepared))
  }

  async setPriority (actor: Actor, key: string, priority: number) {
    return await this.order.run(actor.tenant, undefined, () => this.applySetPriority(actor, key, priority))
  }

  async remove (actor: Actor, key: string) {
    return await this.order.run(actor.tenant, undefined, () => this.applyRemove(actor, key))
  }

  async clear (actor: Actor, options: ClearOptions) {
    return await this.order.run(actor.tenant, undefined, () => this.applyClear(actor, options))
  }

  private async applyWrite (actor: Actor, input: Parameters<ContextStore['write']>[1], prepared: PreparedWrite) {
    const { result, change } = this.tenant(actor.tenant).write(actor, input, Date.now(), prepared)
    await this.commit(change)
    return result
  }

  private async applySetPriority (actor: Actor, key: string, priority: number) {
    const { result, change } = this.tenant(actor.tenant).setPriority(actor, key, priority)
    await this.commit(change)
    return result
  }

  private async applyRemove (actor: Actor, key: string) {
    const { result, change } = this.tenant(actor.tenant).remove(actor, key)
    await this.commit(change)
    return result
  }

  private async applyClear (actor: Actor, options: ClearOptions) {
    const { result, change } = this.tenant(actor.tenant).clear(actor, options)
    if (change !== undefined) await this.commit(change)
    return result
  }

  get (tenant: string, key: string) { return this.tenant(tenant).get(key) }
  snapshot (tenant: string) { return this.tenant(tenant).snapshot() }
  query (tenant: string, query: ContextQuery) { return this.tenant(tenant).query(query) }
  metadata (tenant: string) { return this.tenant(tenant).metadata }
  seq (tenant: string) { return this.tenant(tenant).seq }
  epoch (tenant: string) { return this.tenant(tenant).epoch }
  changesSince (tenant: string, seq: number) { return this.tenant(tenant).changesSince(seq) }
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

  /** The tenant's store, with any due TTLs expired first so no reader sees a stale entry. */
  private tenant (name: string): TenantStore {
    const store = this.registry.of(name)
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

  private async commit (change: ChangeEvent): Promise<void> {
    try {
      if (this.journal !== undefined) await this.journal.append(change, this.registry.of(change.tenant).oldestRetainedSeq)
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
