// Signs JWTs with the configured secret: for the development admin token printed at start and the
// `npm run token` tool. Verification lives in the auth plugin.
import { createSigner } from 'fast-jwt'
import type { Config } from '../config.js'
import type { Role } from '../store/types.js'

export interface TokenClaims {
  sub: string
  roles: Role[]
  tenant?: string
  ttlSeconds: number
}

/** Signs a token the server will accept; throws when the algorithm needs a private key. */
export function signToken (jwt: Config['jwt'], claims: TokenClaims): string {
  if (jwt.secret === undefined) throw new Error(`Signing with ${jwt.algorithm} needs a private key; issue tokens from your identity provider`)
  const sign = createSigner({
    key: jwt.secret,
    algorithm: jwt.algorithm,
    expiresIn: claims.ttlSeconds * 1000,
    ...(jwt.issuer !== undefined ? { iss: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { aud: jwt.audience } : {})
  })
  return sign({ sub: claims.sub, roles: claims.roles, tenant: claims.tenant ?? 'default' })
}
