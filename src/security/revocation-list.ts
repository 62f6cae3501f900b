// Revoked tokens (contract §8), as every instance holds them in memory: by token id (`jti`), or by
// user (`sub`) for every token issued before a time. Checked on every verification, after the
// signature cache, so a cached token is refused as soon as its revocation is known here. Framework-
// free: the backends (revocation-backends.ts) persist and share it, the surfaces enforce it.
import { randomBytes } from 'node:crypto'
import { ContextError } from '../errors.js'

/** A revocation as clients see it (POST/GET /revocations). */
export interface Revocation {
  readonly id: string
  readonly tenant: string
  /** Every token of this user issued before `issued_before`... */
  readonly sub?: string
  readonly issued_before?: string
  /** ... or the one token with this id. */
  readonly jti?: string
  readonly created_at: string
  /** The revocation is lifted by itself at this time (default: 24 hours after it was made). */
  readonly expires_at: string
  /** The admin who made it. */
  readonly created_by: string
}

/** What a token is checked by: who it is and which token it is. */
export interface TokenIdentity {
  readonly tenant: string
  readonly userId: string
  readonly issuedAt?: number
  readonly jti?: string
}

/** How long a revocation is kept when it names no expires_at, and the longest one may ask for. */
export const DEFAULT_REVOCATION_MS = 24 * 3600 * 1000
export const MAX_REVOCATION_MS = 366 * 24 * 3600 * 1000

/** The refusal of a revoked token: an invalid token like any other, told apart only in the audit log. */
export class TokenRevokedError extends ContextError {
  /** Who the revoked token named (never the token itself), for the audit line. */
  readonly token: TokenIdentity
  constructor (token: TokenIdentity) {
    super('unauthorized', 'Invalid authentication token')
    this.token = { tenant: token.tenant, userId: token.userId, ...(token.jti !== undefined ? { jti: token.jti } : {}) }
  }
}

interface Held { readonly revocation: Revocation, readonly expiresAt: number, readonly issuedBefore: number }

class TenantRevocations {
  readonly byId = new Map<string, Held>()
  readonly byJti = new Map<string, Set<string>>()
  readonly bySub = new Map<string, Set<string>>()

  add (held: Held): void {
    const { revocation } = held
    this.byId.set(revocation.id, held)
    if (revocation.jti !== undefined) index(this.byJti, revocation.jti, revocation.id)
    if (revocation.sub !== undefined) index(this.bySub, revocation.sub, revocation.id)
  }

  delete (id: string): Held | undefined {
    const held = this.byId.get(id)
    if (held === undefined) return undefined
    this.byId.delete(id)
    const { jti, sub } = held.revocation
    if (jti !== undefined) unindex(this.byJti, jti, id)
    if (sub !== undefined) unindex(this.bySub, sub, id)
    return held
  }
}

function index (map: Map<string, Set<string>>, name: string, id: string): void {
  let ids = map.get(name)
  if (ids === undefined) map.set(name, (ids = new Set()))
  ids.add(id)
}

function unindex (map: Map<string, Set<string>>, name: string, id: string): void {
  const ids = map.get(name)
  ids?.delete(id)
  if (ids?.size === 0) map.delete(name)
}

export class RevocationList {
  private readonly tenants = new Map<string, TenantRevocations>()

  /**
   * Whether a token is revoked: its jti is, or its user's tokens issued before a time are and this
   * one was issued before it. A token without `iat` counts as issued before. Two map look-ups for
   * a token nobody revoked.
   */
  revokes (token: TokenIdentity, now = Date.now()): boolean {
    const tenant = this.tenants.get(token.tenant)
    if (tenant === undefined) return false
    if (token.jti !== undefined && this.anyLive(tenant, tenant.byJti.get(token.jti), now, () => true)) return true
    const issuedAt = token.issuedAt ?? -Infinity
    return this.anyLive(tenant, tenant.bySub.get(token.userId), now, (held) => issuedAt < held.issuedBefore)
  }

  /** The tenant's revocations in force, oldest first. */
  list (tenant: string, now = Date.now()): Revocation[] {
    const held = this.tenants.get(tenant)
    if (held === undefined) return []
    return [...held.byId.values()].filter((h) => h.expiresAt > now).map((h) => h.revocation)
  }

  /** Revocations in force across every tenant (the mcp_revocations_active gauge). */
  inForceCount (now = Date.now()): number {
    let count = 0
    for (const tenant of this.tenants.values()) for (const held of tenant.byId.values()) if (held.expiresAt > now) count++
    return count
  }

  /** How many revocations the tenant holds (expired ones included until they are purged). */
  count (tenant: string): number {
    return this.tenants.get(tenant)?.byId.size ?? 0
  }

  get (tenant: string, id: string, now = Date.now()): Revocation | undefined {
    const held = this.tenants.get(tenant)?.byId.get(id)
    return held !== undefined && held.expiresAt > now ? held.revocation : undefined
  }

  /** Adds (or replaces) a revocation. */
  put (revocation: Revocation): void {
    let tenant = this.tenants.get(revocation.tenant)
    if (tenant === undefined) this.tenants.set(revocation.tenant, (tenant = new TenantRevocations()))
    tenant.delete(revocation.id)
    tenant.add({
      revocation,
      expiresAt: Date.parse(revocation.expires_at),
      issuedBefore: revocation.issued_before !== undefined ? Date.parse(revocation.issued_before) : -Infinity
    })
  }

  delete (tenant: string, id: string): boolean {
    const held = this.tenants.get(tenant)
    if (held?.delete(id) === undefined) return false
    if (held.byId.size === 0) this.tenants.delete(tenant)
    return true
  }

  /** Replaces a tenant's revocations with those a backend holds (another instance changed them). */
  replaceTenant (tenant: string, revocations: readonly Revocation[]): void {
    this.tenants.delete(tenant)
    for (const revocation of revocations) this.put(revocation)
  }

  /** Drops expired revocations (they are already ignored by `revokes`); bounds memory. */
  purge (now = Date.now()): void {
    for (const [name, tenant] of this.tenants) {
      for (const [id, held] of tenant.byId) if (held.expiresAt <= now) tenant.delete(id)
      if (tenant.byId.size === 0) this.tenants.delete(name)
    }
  }

  private anyLive (tenant: TenantRevocations, ids: Set<string> | undefined, now: number, matches: (held: Held) => boolean): boolean {
    if (ids === undefined) return false
    for (const id of ids) {
      const held = tenant.byId.get(id) as Held
      if (held.expiresAt > now && matches(held)) return true
    }
    return false
  }
}

/** What an admin asks for: a user's tokens (sub, optionally issued_before) or one token (jti). */
export interface RevocationRequest {
  sub?: string
  jti?: string
  issued_before?: string
  expires_at?: string
}

/** A new revocation from a validated request, made by `admin` in `tenant`. */
export function newRevocation (tenant: string, admin: string, request: RevocationRequest, now = Date.now()): Revocation {
  const expiresAt = request.expires_at !== undefined ? Date.parse(request.expires_at) : now + DEFAULT_REVOCATION_MS
  if (!(expiresAt > now) || expiresAt > now + MAX_REVOCATION_MS) {
    throw new ContextError('validation_error', 'expires_at must be in the future, and at most 366 days away',
      [{ path: 'body.expires_at', message: 'must be in the future, at most 366 days away' }])
  }
  return {
    id: `rev_${randomBytes(12).toString('base64url')}`,
    tenant,
    ...(request.sub !== undefined
      ? { sub: request.sub, issued_before: new Date(request.issued_before !== undefined ? Date.parse(request.issued_before) : now).toISOString() }
      : { jti: request.jti as string }),
    created_at: new Date(now).toISOString(),
    expires_at: new Date(expiresAt).toISOString(),
    created_by: admin
  }
}
