// The identities of verified tokens (src/auth/verified-tokens.ts): a hit never outlives the
// token's exp nor fast-jwt's trust window, the capacity holds, and tokens are told apart by their
// whole text, not a prefix or their claims.
import { test } from 'tap'
import { VERIFIED_TOKEN_TTL_MS, VerifiedTokens } from '../../src/auth/verified-tokens.js'
import type { Identity } from '../../src/auth/identity.js'

const NOW = 1_800_000_000_000
const identity = (userId: string, expiresAt = NOW + 3_600_000): Identity => ({ userId, roles: ['writer'], tenant: 't', expiresAt })

test('a remembered token is found until its exp, then forgotten', async (t) => {
  const tokens = new VerifiedTokens(10)
  tokens.remember('token-a', identity('alice', NOW + 5000), NOW)
  t.equal(tokens.get('token-a', NOW)?.userId, 'alice')
  t.equal(tokens.get('token-a', NOW + 4999)?.userId, 'alice', 'still valid a moment before exp')
  t.equal(tokens.get('token-a', NOW + 5000), undefined, 'not at exp: the caller verifies again and fast-jwt refuses it')
  t.equal(tokens.size, 0, 'the expired verification is dropped')
})

test('a long-lived token is verified again after the trust window', async (t) => {
  const tokens = new VerifiedTokens(10)
  tokens.remember('token-a', identity('alice', NOW + 10 * VERIFIED_TOKEN_TTL_MS), NOW)
  t.equal(tokens.get('token-a', NOW + VERIFIED_TOKEN_TTL_MS - 1)?.userId, 'alice')
  t.equal(tokens.get('token-a', NOW + VERIFIED_TOKEN_TTL_MS), undefined)
})

test('tokens are told apart by their whole text', async (t) => {
  const tokens = new VerifiedTokens(10)
  const token = 'header.payload.signature'
  tokens.remember(token, identity('alice'), NOW)
  t.equal(tokens.get(token, NOW)?.userId, 'alice')
  t.equal(tokens.get(`${token}x`, NOW), undefined, 'a longer token')
  t.equal(tokens.get(token.slice(0, -1), NOW), undefined, 'a truncated signature')
  t.equal(tokens.get('header.payload.signaturf', NOW), undefined, 'one character of the signature changed')
})

test('at capacity the oldest verification gives way', async (t) => {
  const tokens = new VerifiedTokens(3)
  for (const name of ['a', 'b', 'c', 'd']) tokens.remember(`token-${name}`, identity(name), NOW)
  t.equal(tokens.size, 3)
  t.equal(tokens.get('token-a', NOW), undefined, 'the oldest left')
  t.same(['b', 'c', 'd'].map((name) => tokens.get(`token-${name}`, NOW)?.userId), ['b', 'c', 'd'])
  // Remembering a token again makes it the newest.
  tokens.remember('token-b', identity('b'), NOW)
  tokens.remember('token-e', identity('e'), NOW)
  t.equal(tokens.get('token-c', NOW), undefined)
  t.equal(tokens.get('token-b', NOW)?.userId, 'b')
  const none = new VerifiedTokens(0)
  none.remember('token-a', identity('a'), NOW)
  t.equal(none.get('token-a', NOW), undefined, 'capacity 0 remembers nothing')
})
