// Which tenants an instance keeps a replica of, and for how long: a tenant is loaded on its first
// use, held while some lease on it is open (a WebSocket connection, an MCP session or stream, a
// request in flight), and unloaded once it has gone MCP_REPLICA_IDLE_SECONDS without one. So an
// instance's memory follows the tenants it serves, not every tenant in the shared store.
//
// The bookkeeping only: loading and unloading are the backend's (redis-store.ts), given here as
// two functions. Concurrent first uses of one tenant share one load; a failed load is forgotten,
// so the next use tries again.

/** A hold on one tenant's replica; `release` is idempotent. */
export interface TenantLease {
  readonly tenant: string
  release (): void
}

export interface ReplicaLeaseOptions {
  /** How long a tenant stays loaded after its last lease is released (MCP_REPLICA_IDLE_SECONDS). */
  idleMs: number
  /** Loads the tenant and starts keeping it current; rejects when it cannot (Redis away). */
  load (tenant: string): Promise<void>
  /** Stops keeping the tenant and frees it (called once per successful load). */
  unload (tenant: string): void
}

/** Counts for /metrics. */
export interface ReplicaStats {
  /** Tenants loaded here. */
  loaded: number
  /** Of those, tenants with at least one open lease. */
  inUse: number
  /** Loads completed and replicas dropped since start. */
  loads: number
  unloads: number
}

interface Holding {
  holders: number
  /** Settles when the first load does; undefined once loaded. */
  loading: Promise<void> | undefined
  idle: NodeJS.Timeout | undefined
}

export class ReplicaLeases {
  private readonly holdings = new Map<string, Holding>()
  private loads = 0
  private unloads = 0
  private closed = false

  constructor (private readonly options: ReplicaLeaseOptions) {}

  /** A lease on the tenant, once it is loaded (shares a load already in flight). */
  async use (tenant: string): Promise<TenantLease> {
    const now = this.useLoaded(tenant)
    if (now !== undefined) return now
    let holding = this.holdings.get(tenant)
    if (holding === undefined) {
      const fresh: Holding = { holders: 0, loading: undefined, idle: undefined }
      fresh.loading = this.options.load(tenant).then(() => {
        fresh.loading = undefined
        this.loads++
        // Closed meanwhile: nobody will release the lease of a store that is gone.
        if (this.closed) this.options.unload(tenant)
      }, (error: unknown) => {
        if (this.holdings.get(tenant) === fresh) this.holdings.delete(tenant)
        throw error
      })
      this.holdings.set(tenant, holding = fresh)
    }
    // Counted before the load settles, so no idle timer can start while anyone waits for it.
    holding.holders++
    await holding.loading
    return this.lease(tenant, holding)
  }

  /**
   * A lease at once when the tenant is loaded, else undefined: a caller that must stay in one
   * synchronous step (a WebSocket authentication, an operation's turn) keeps it when it can.
   */
  useLoaded (tenant: string): TenantLease | undefined {
    const holding = this.holdings.get(tenant)
    if (holding === undefined || holding.loading !== undefined) return undefined
    clearTimeout(holding.idle)
    holding.idle = undefined
    holding.holders++
    return this.lease(tenant, holding)
  }

  /** Whether the tenant is loaded (reads of a tenant that is not are a caller's bug). */
  isLoaded (tenant: string): boolean {
    const holding = this.holdings.get(tenant)
    return holding !== undefined && holding.loading === undefined
  }

  stats (): ReplicaStats {
    let loaded = 0
    let inUse = 0
    for (const holding of this.holdings.values()) {
      if (holding.loading !== undefined) continue
      loaded++
      if (holding.holders > 0) inUse++
    }
    return { loaded, inUse, loads: this.loads, unloads: this.unloads }
  }

  /** Stops every idle timer (the store is closing and frees everything itself). */
  close (): void {
    this.closed = true
    for (const holding of this.holdings.values()) clearTimeout(holding.idle)
    this.holdings.clear()
  }

  private lease (tenant: string, holding: Holding): TenantLease {
    let released = false
    return {
      tenant,
      release: () => {
        if (released) return
        released = true
        holding.holders--
        if (holding.holders === 0 && this.holdings.get(tenant) === holding) this.startIdle(tenant, holding)
      }
    }
  }

  private startIdle (tenant: string, holding: Holding): void {
    holding.idle = setTimeout(() => {
      holding.idle = undefined
      if (holding.holders > 0 || this.holdings.get(tenant) !== holding) return
      this.holdings.delete(tenant)
      this.unloads++
      this.options.unload(tenant)
    }, this.options.idleMs)
    // An idle timer must not keep the process alive.
    holding.idle.unref()
  }
}

/** The lease of a backend that holds every tenant anyway (memory): nothing to release. */
export function noLease (tenant: string): TenantLease {
  return { tenant, release () {} }
}
