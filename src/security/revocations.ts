// Revocation as a service: the in-memory list every verification consults, kept in step with its
// backend (and, through it, with every other instance), and the enforcement hook that lets each
// surface end the live connections and streams of a token as soon as it is revoked.
import { ContextError } from '../errors.js'
import type { RevocationBackend } from './revocation-backends.js'
import { tooManyRevocations } from './revocation-backends.js'
import { RevocationList, newRevocation, type Revocation, type RevocationRequest, type TokenIdentity } from './revocation-list.js'

/** Told about a tenant whose revocations changed: end whatever `revokes` matches. */
export type Enforcer = (tenant: string, revokes: (token: TokenIdentity) => boolean) => void

export interface RevocationsOptions {
  /** Revocations in force per tenant (MCP_MAX_REVOCATIONS). */
  maxPerTenant: number
  onError?: (error: unknown) => void
}

const PURGE_MS = 60_000

export class Revocations {
  private readonly list = new RevocationList()
  private readonly enforcers = new Set<Enforcer>()
  private readonly purger: NodeJS.Timeout

  private constructor (private readonly backend: RevocationBackend, private readonly options: RevocationsOptions) {
    this.purger = setInterval(() => this.list.purge(), PURGE_MS)
    this.purger.unref()
  }

  /** Loads what the backend holds and follows its changes. */
  static async open (backend: RevocationBackend, options: RevocationsOptions): Promise<Revocations> {
    const service = new Revocations(backend, options)
    for (const revocation of await backend.load(Date.now())) service.list.put(revocation)
    backend.follow((tenant, revocations) => {
      service.list.replaceTenant(tenant, revocations)
      service.enforce(tenant)
    })
    return service
  }

  /** Whether this token is revoked (on the hot path of every verification: map look-ups only). */
  revokes (token: TokenIdentity): boolean {
    return this.list.revokes(token)
  }

  /** Makes a revocation in the admin's tenant, and ends what it matches here at once. */
  async create (tenant: string, admin: string, request: RevocationRequest): Promise<Revocation> {
    const now = Date.now()
    const revocation = newRevocation(tenant, admin, request, now)
    this.list.purge(now)
    if (this.list.count(tenant) >= this.options.maxPerTenant) throw tooManyRevocations(this.options.maxPerTenant)
    await this.backend.add(revocation, this.options.maxPerTenant, now)
    this.list.put(revocation)
    this.enforce(tenant)
    return revocation
  }

  /** Lifts a revocation of the tenant; not_found when there is none with that id. */
  async lift (tenant: string, id: string): Promise<Revocation> {
    const revocation = this.list.get(tenant, id)
    if (revocation === undefined) throw new ContextError('not_found', `No revocation with id "${id}" in force`)
    await this.backend.remove(tenant, id)
    this.list.delete(tenant, id)
    return revocation
  }

  /** How many revocations are in force here, across tenants (read at scrape time). */
  get activeCount (): number {
    return this.list.inForceCount()
  }

  /** The tenant's revocations in force, oldest first. */
  inForce (tenant: string): Revocation[] {
    return this.list.list(tenant)
  }

  /** Registers a surface's enforcer; returns its removal. */
  onEnforce (enforcer: Enforcer): () => void {
    this.enforcers.add(enforcer)
    return () => { this.enforcers.delete(enforcer) }
  }

  async close (): Promise<void> {
    clearInterval(this.purger)
    await this.backend.close()
  }

  private enforce (tenant: string): void {
    const revokes = (token: TokenIdentity) => this.list.revokes(token)
    for (const enforcer of this.enforcers) {
      try { enforcer(tenant, revokes) } catch (error) { this.options.onError?.(error) }
    }
  }
}
