// Turns a verified JWT payload into who the caller is: user (sub or user_id), roles (roles array
// or role string; writer when neither is given) and tenant (default "default").
import { z } from 'zod'
import type { Actor, Role } from '../store/types.js'
import { isWellFormed, wellFormedMessage } from '../protocol/well-formed.js'

const ROLES = ['reader', 'writer', 'admin'] as const

// Tenants name Redis keys and metric labels, so they are kept to a safe alphabet.
export const tenantSchema = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, { error: 'tenant must be 1-128 of A-Z a-z 0-9 . _ -' })

// The latest time a JavaScript Date can hold (ECMA-262 time values), in seconds. A later `exp`
// (1e13, say) would turn into an Invalid Date wherever the expiry is shown or compared, so such a
// token is refused like any other malformed claim, on every surface that verifies tokens.
const MAX_EXP_SECONDS = 8.64e12

// The user names every change's actor, the per-user connection caps and revocations (by sub), so a
// lone surrogate in it would let two different tokens meet as one user once stored: refused.
const userSchema = z.string().min(1).max(256).refine(isWellFormed, wellFormedMessage)

const payloadSchema = z.object({
  sub: userSchema.optional(),
  user_id: userSchema.optional(),
  roles: z.array(z.string()).optional(),
  role: z.string().optional(),
  tenant: tenantSchema.optional(),
  exp: z.number().min(0).max(MAX_EXP_SECONDS),
  iat: z.number().optional(),
  // Only a string jti names a token that can be revoked by itself; any other value is ignored.
  jti: z.unknown().optional().refine((jti) => typeof jti !== 'string' || isWellFormed(jti), wellFormedMessage)
}).refine((p) => p.sub !== undefined || p.user_id !== undefined, { error: 'sub or user_id is required' })

export interface Identity extends Actor {
  /** Token expiry, milliseconds since the epoch. */
  readonly expiresAt: number
  /** Token issue time (`iat`), milliseconds since the epoch, when the token has one. */
  readonly issuedAt?: number
  /** The token's own id (`jti`), when it has one: what a revocation of one token names. */
  readonly jti?: string
}

/** The identity a payload carries, or undefined when the payload does not describe one. */
export function identityFromPayload (payload: unknown): Identity | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined
  const parsed = payloadSchema.safeParse(payload)
  if (!parsed.success) return undefined
  const claims = parsed.data
  const named = claims.roles ?? (claims.role !== undefined ? [claims.role] : ['writer'])
  const roles = named.filter((r): r is Role => (ROLES as readonly string[]).includes(r))
  return {
    userId: (claims.sub ?? claims.user_id) as string,
    roles,
    tenant: claims.tenant ?? 'default',
    expiresAt: claims.exp * 1000,
    ...(claims.iat !== undefined ? { issuedAt: claims.iat * 1000 } : {}),
    ...(typeof claims.jti === 'string' && claims.jti !== '' ? { jti: claims.jti } : {})
  }
}
