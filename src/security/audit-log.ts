// The audit log (contract §8): one structured line, marked `audit: true`, per change, per
// revocation made or lifted, and per refused authentication. Lines name who and what, never a
// token: a refused token is described by the claims it carried when it verified (sub, jti), or not
// at all.
import { auditItems } from '../store/change-actor.js'
import type { ChangeActor, ChangeEvent, Surface } from '../store/types.js'
import type { Revocation, TokenIdentity } from './revocation-list.js'

/** Keys listed per line; a mass clear or eviction lists this many and counts the rest. */
export const AUDIT_LISTED_KEYS = 100

export interface AuditSink {
  info: (details: object, message: string) => void
  warn: (details: object, message: string) => void
}

/** Why an authentication was refused: no token, a bad one, a revoked one, none in time. */
export type RefusalReason = 'missing' | 'invalid' | 'revoked' | 'timeout' | 'refresh_refused'

export interface RefusedAuthentication {
  surface: Exclude<Surface, 'system'>
  reason: RefusalReason
  /** The client address, where the surface knows it. */
  ip?: string
  /** The claims of a revoked token (they verified; only the revocation refused them). */
  token?: TokenIdentity
}

const listed = (keys: readonly string[]) => (keys.length > AUDIT_LISTED_KEYS ? keys.slice(0, AUDIT_LISTED_KEYS) : keys)

/** Told of each revocation made and each refused authentication (the metrics count them). */
export interface AuditObserver {
  revocationCreated?: (revocation: Revocation) => void
  refused?: (refusal: RefusedAuthentication) => void
}

/** Writes the audit lines. */
export class AuditLog {
  private readonly observers = new Set<AuditObserver>()

  constructor (private readonly sink: AuditSink) {}

  /** Adds an observer of the security events this log records; returns its removal. */
  observe (observer: AuditObserver): () => void {
    this.observers.add(observer)
    return () => { this.observers.delete(observer) }
  }

  change (change: ChangeEvent): void {
    for (const item of auditItems(change)) {
      this.sink.info({
        audit: true,
        event: 'change',
        tenant: change.tenant,
        seq: item.seq,
        reason: item.reason,
        actor: item.actor,
        upserted: listed(item.upserted),
        removed: listed(item.removed),
        ...(item.upserted.length > AUDIT_LISTED_KEYS || item.removed.length > AUDIT_LISTED_KEYS
          ? { upserted_count: item.upserted.length, removed_count: item.removed.length }
          : {})
      }, `audit: ${item.reason} by ${item.actor.surface}:${item.actor.sub}`)
    }
  }

  revocation (event: 'revocation_created' | 'revocation_lifted', revocation: Revocation, by: ChangeActor): void {
    this.sink.info({ audit: true, event, tenant: revocation.tenant, revocation, by }, `audit: ${event} ${revocation.id}`)
    if (event === 'revocation_created') for (const observer of this.observers) observer.revocationCreated?.(revocation)
  }

  refused (refusal: RefusedAuthentication): void {
    const token = refusal.token
    this.sink.warn({
      audit: true,
      event: 'auth_refused',
      surface: refusal.surface,
      reason: refusal.reason,
      ...(refusal.ip !== undefined ? { ip: refusal.ip } : {}),
      ...(token !== undefined ? { tenant: token.tenant, sub: token.userId, ...(token.jti !== undefined ? { jti: token.jti } : {}) } : {})
    }, `audit: authentication refused (${refusal.reason}) on ${refusal.surface}`)
    for (const observer of this.observers) observer.refused?.(refusal)
  }
}
