// One tenant's local replica of the Redis store, kept in step with it. Changes arrive from two
// places (the script's own reply, for read-your-writes, and the tenant's stream, for everyone
// else's writes), in any order and possibly twice; each is applied exactly once, in seq order,
// through TenantStore.apply, and handed to listeners in that order. A replica exists only while
// its tenant is loaded on this instance (replica-leases.ts); once dropped it ignores whatever
// arrives late, so a read still in flight cannot bring the tenant back.
import { SYSTEM_ACTOR } from './change-actor.js'
import type { TenantRegistry } from './tenant-registry.js'
import type { TenantKeys } from './redis-keys.js'
import type { TenantStore } from './tenant-store.js'
import type { ChangeEvent, StoredEntry } from './types.js'

export interface ReplicaHooks {
  /** A change was applied: fan it out. */
  emit (change: ChangeEvent): void
  /** Changes are waiting behind a missing seq: fetch the missing ones (or reload). */
  onGap (replica: TenantReplica): void
}

interface Waiter { seq: number, resolve: () => void }

export class TenantReplica {
  private readonly pending = new Map<number, ChangeEvent>()
  private waiters: Waiter[] = []
  private holding = false
  /** The store reads see; replaced by each reload. Registered in the registry from the first one. */
  private current: TenantStore
  /** Whether a first load has been installed (before it, nobody has seen this replica's store). */
  private installed = false
  /** Dropped: the tenant is no longer followed here. */
  private dropped = false
  /** Earliest expiry this instance knows of (a hint: the expire script has the truth). */
  nextExpiry: number | undefined
  /** Whether this instance has seen the tenant in Redis's tenant set. */
  registered = false

  constructor (
    readonly tenant: string,
    readonly keys: TenantKeys,
    private readonly registry: TenantRegistry,
    private readonly hooks: ReplicaHooks
  ) {
    this.current = registry.create(tenant)
  }

  get store (): TenantStore { return this.current }
  get seq (): number { return this.current.seq }
  /** True while a reload is in flight (changes are held until it lands). */
  get reloading (): boolean { return this.holding }
  /** Whether its first load has landed: reads may use it. */
  get loaded (): boolean { return this.installed && !this.dropped }
  /** Whether the tenant was dropped here: async work for this replica stops. */
  get gone (): boolean { return this.dropped }

  /** Takes a change from either source; applies it and every change it unblocks, in order. */
  deliver (change: ChangeEvent): void {
    if (this.dropped || change.seq <= this.seq) return
    this.pending.set(change.seq, change)
    this.drain()
  }

  /** The seqs missing before the oldest held change, or undefined when nothing is held. */
  gap (): { from: number, to: number } | undefined {
    if (this.pending.size === 0) return undefined
    return { from: this.seq + 1, to: Math.min(...this.pending.keys()) - 1 }
  }

  /**
   * Resolves once the change with `seq` is applied here, or after `timeoutMs` (the change is
   * committed in Redis either way; the wait only orders the reply after the local apply).
   */
  whenApplied (seq: number, timeoutMs: number): Promise<void> {
    if (this.seq >= seq) return Promise.resolve()
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve()
      }, timeoutMs)
      const waiter = { seq, resolve: () => { clearTimeout(timer); resolve() } }
      this.waiters.push(waiter)
    })
  }

  /** Holds incoming changes until `replace` installs a reloaded store. */
  hold (): void {
    this.holding = true
  }

  /** A reload failed: stop holding changes (a first load installs nothing: it is retried whole). */
  abandonReload (): void {
    this.holding = false
    this.drain()
  }

  /**
   * Installs a store reloaded from Redis in place of the current one and tells listeners what
   * changed between the two as one change (it is not put in the resume history: clients that
   * resume from before it get a resync snapshot). Then applies held changes that follow it.
   */
  replace (fresh: TenantStore, now = Date.now()): void {
    if (this.dropped) return
    // The first load announces nothing: no listener has seen this tenant here before it.
    const old = this.installed ? this.current : undefined
    this.current = fresh
    this.installed = true
    this.registry.replace(fresh)
    this.holding = false
    this.nextExpiry = undefined
    for (const stored of fresh.snapshot().entries) this.noteExpiry(stored)
    for (const seq of this.pending.keys()) if (seq <= fresh.seq) this.pending.delete(seq)
    const diff = old === undefined ? undefined : difference(old, fresh, now)
    if (diff !== undefined) this.hooks.emit(diff)
    this.drain()
  }

  /** Stops following: frees the store, answers waiters, ignores whatever arrives later. */
  drop (): void {
    this.dropped = true
    this.pending.clear()
    if (this.registry.peek(this.tenant) === this.current) this.registry.remove(this.tenant)
    this.releaseAll()
  }

  /** Resolves every waiter (shutdown). */
  releaseAll (): void {
    for (const waiter of this.waiters) waiter.resolve()
    this.waiters = []
  }

  private drain (): void {
    if (this.holding || this.dropped || !this.installed) return
    const store = this.store
    for (let next = this.pending.get(store.seq + 1); next !== undefined; next = this.pending.get(store.seq + 1)) {
      this.pending.delete(next.seq)
      store.apply(next)
      for (const stored of next.upserted) this.noteExpiry(stored)
      this.hooks.emit(next)
    }
    if (this.waiters.length > 0) {
      const still: Waiter[] = []
      for (const waiter of this.waiters) {
        if (waiter.seq <= store.seq) waiter.resolve()
        else still.push(waiter)
      }
      this.waiters = still
    }
    if (this.pending.size > 0) this.hooks.onGap(this)
  }

  private noteExpiry (stored: StoredEntry): void {
    if (stored.expiresAt !== undefined && (this.nextExpiry === undefined || stored.expiresAt < this.nextExpiry)) {
      this.nextExpiry = stored.expiresAt
    }
  }
}

/**
 * The change that turns `old` into `fresh`, or undefined when they hold the same entries in the
 * same history. A new epoch is always announced (listeners resync their clients on it).
 */
function difference (old: TenantStore, fresh: TenantStore, now: number): ChangeEvent | undefined {
  const upserted = fresh.snapshot().entries
    // Seqs of two histories are not comparable: after a new epoch every entry is news.
    .filter((stored) => old.epoch !== fresh.epoch || old.get(stored.key)?.seq !== stored.seq)
    .sort((a, b) => a.seq - b.seq)
  const removed = old.snapshot().entries
    .filter((stored) => fresh.get(stored.key) === undefined)
    // Gone while this instance was not following: the exact reason is not known here.
    .map((stored) => ({ key: stored.key, reason: 'cleared' as const }))
  if (upserted.length === 0 && removed.length === 0 && old.epoch === fresh.epoch) return undefined
  return {
    tenant: fresh.tenant,
    epoch: fresh.epoch,
    seq: fresh.seq,
    reason: 'replaced',
    at: new Date(now).toISOString(),
    upserted,
    removed,
    metadata: fresh.metadata,
    actor: SYSTEM_ACTOR
  }
}
