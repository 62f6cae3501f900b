// Test JWTs: signed with fast-jwt's createSigner and TEST_SECRET (the secret testConfig() uses), plus
// hand-built tokens for the refusals a signer will not produce (a payload that is not an object).
import { createHmac } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { TEST_SECRET } from './config.js'

export interface TestClaims {
  sub?: string
  roles?: string[]
  role?: string
  tenant?: string
  [claim: string]: unknown
}

export interface SignOptions {
  /** Seconds until expiry; `null` leaves out `exp` entirely. Default one hour. */
  ttlSeconds?: number | null
  algorithm?: 'HS256' | 'HS384' | 'HS512' | 'none'
  secret?: string
  /** Leave out `iat` (fast-jwt adds it by default). */
  withoutIat?: boolean
}

/** A token the test server accepts unless the options say otherwise. Default: alice, writer. */
export function signTestToken (claims: TestClaims = {}, options: SignOptions = {}): string {
  const algorithm = options.algorithm ?? 'HS256'
  const ttl = options.ttlSeconds === undefined ? 3600 : options.ttlSeconds
  const sign = createSigner({
    algorithm,
    ...(algorithm === 'none' ? {} : { key: options.secret ?? TEST_SECRET }),
    ...(ttl === null ? {} : { expiresIn: ttl * 1000 }),
    ...(options.withoutIat === true ? { noTimestamp: true } : {})
  })
  // Default role only when the claims name none, so `role` (a string claim) can be tested alone.
  const roles = claims.roles === undefined && claims.role === undefined ? { roles: ['writer'] } : {}
  return sign({ sub: 'alice', ...roles, ...claims })
}

/** A token whose exp is already in the past (fast-jwt refuses negative expiresIn, so exp is set). */
export function signExpiredToken (claims: TestClaims = {}): string {
  return signTestToken({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 }, { ttlSeconds: null })
}

/** An HS256 token over an arbitrary payload text (e.g. a JSON string or array), correctly signed. */
export function signRawPayload (payloadJson: string, secret = TEST_SECRET): string {
  const encode = (text: string) => Buffer.from(text).toString('base64url')
  const head = `${encode('{"alg":"HS256","typ":"JWT"}')}.${encode(payloadJson)}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}
