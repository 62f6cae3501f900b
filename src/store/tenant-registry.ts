// The working set of every tenant: TenantStores created on first use with the shared options.
import { TenantStore, type TenantStoreOptions } from './tenant-store.js'

export class TenantRegistry {
  private readonly stores = new Map<string, TenantStore>()

  constructor (readonly options: TenantStoreOptions) {}

  /** The tenant's store, created empty on first use. */
  of (tenant: string): TenantStore {
    let store = this.stores.get(tenant)
    if (store === undefined) {
      store = new TenantStore(tenant, this.options)
      this.stores.set(tenant, store)
    }
    return store
  }

  /** A new, empty store with the registry's options, not yet registered (see `replace`). */
  create (tenant: string): TenantStore {
    return new TenantStore(tenant, this.options)
  }

  /** Puts a store in place of the tenant's current one (a replica reloaded from its backend). */
  replace (store: TenantStore): void {
    this.stores.set(store.tenant, store)
  }

  /** Forgets the tenant's store (a replica dropped: its memory goes with it). */
  remove (tenant: string): void {
    this.stores.delete(tenant)
  }

  peek (tenant: string): TenantStore | undefined {
    return this.stores.get(tenant)
  }

  names (): string[] {
    return [...this.stores.keys()]
  }

  all (): IterableIterator<TenantStore> {
    return this.stores.values()
  }
}
