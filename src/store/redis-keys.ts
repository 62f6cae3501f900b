// Redis key names of the shared store. Every key of one tenant carries the same hash tag
// `{prefix:tenant}`, so all of them live in one slot and a script may touch them together on a
// Redis Cluster. The tenant name is URI-encoded so a `}` in it cannot end the tag early.

export interface TenantKeys {
  readonly state: string
  readonly meta: string
  readonly content: string
  readonly rank: string
  readonly ttl: string
  readonly stream: string
  /** Kept replies of idempotent writes (hash) and their expiry order (zset): src/store/idempotency.ts. */
  readonly idempotency: string
  readonly idempotencyOrder: string
  /**
   * Sharded pub/sub channel (SPUBLISH/SSUBSCRIBE, in the tenant's slot): every script publishes
   * the seq of the change it wrote, so instances following the tenant read its stream.
   */
  readonly wake: string
  /** The tenant's eight keys. */
  readonly all: readonly string[]
  /** The keys and then the wake channel: the nine names in the order every script takes them. */
  readonly script: readonly string[]
}

/** The keys of one tenant under `prefix`. */
export function tenantKeys (prefix: string, tenant: string): TenantKeys {
  const tag = `{${prefix}:${encodeURIComponent(tenant)}}`
  const keys = {
    state: `${tag}:state`,
    meta: `${tag}:meta`,
    content: `${tag}:content`,
    rank: `${tag}:rank`,
    ttl: `${tag}:ttl`,
    stream: `${tag}:changes`,
    idempotency: `${tag}:idempotency`,
    idempotencyOrder: `${tag}:idempotency-order`,
    wake: `${tag}:wake`
  }
  const all = [keys.state, keys.meta, keys.content, keys.rank, keys.ttl, keys.stream, keys.idempotency, keys.idempotencyOrder]
  return {
    ...keys,
    all,
    script: [...all, keys.wake]
  }
}

/** The set of every tenant name that has been written under `prefix` (for operators: instances load tenants on use). */
export const tenantSetKey = (prefix: string) => `${prefix}:tenants`
