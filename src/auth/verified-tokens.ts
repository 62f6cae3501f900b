// The identities of tokens that verified, by a digest of the token, so that a token an agent sends
// with every request costs one SHA-256 and a lookup: @fastify/jwt's verify on a token fast-jwt has
// cached still merges its options and hashes the token the slow way (createHash after decoding its
// header), and the payload then goes through zod again (~8 µs in all against ~1 µs; issue 16).
// A hit never outlives the token's exp nor the time fast-jwt would itself trust a cached
// verification; past either, the caller verifies again and fast-jwt decides. Revocation is not
// cached: the caller checks it on every use.
import { createHash, hash } from 'node:crypto'
import type { Identity } from './identity.js'

/** fast-jwt's own cacheTTL: how long a verification is trusted before the signature is checked again. */
export const VERIFIED_TOKEN_TTL_MS = 600_000

// crypto.hash is the one-shot form (Node 20.12+); engines allow 20.6, which has only createHash.
const digest: (token: string) => string = typeof hash === 'function'
  ? (token) => hash('sha256', token, 'base64')
  : (token) => createHash('sha256').update(token).digest('base64')

interface Verified { readonly identity: Identity, readonly until: number }

export class VerifiedTokens {
  /** Insertion order is age: when full, the oldest verification gives way. */
  private readonly byDigest = new Map<string, Verified>()

  /** @param capacity tokens remembered at most (the same 10,000 as fast-jwt's cache). */
  constructor (private readonly capacity: number) {}

  get size (): number { return this.byDigest.size }

  /** The identity of `token` if it verified and is still within its exp and the trust window. */
  get (token: string, now = Date.now()): Identity | undefined {
    const key = digest(token)
    const verified = this.byDigest.get(key)
    if (verified === undefined) return undefined
    if (now < verified.until) return verified.identity
    this.byDigest.delete(key)
    return undefined
  }

  /** Remembers a token that has just verified as `identity`. */
  remember (token: string, identity: Identity, now = Date.now()): void {
    if (this.capacity <= 0) return
    const key = digest(token)
    this.byDigest.delete(key)
    if (this.byDigest.size >= this.capacity) this.byDigest.delete(this.byDigest.keys().next().value as string)
    this.byDigest.set(key, { identity, until: Math.min(identity.expiresAt, now + VERIFIED_TOKEN_TTL_MS) })
  }
}
