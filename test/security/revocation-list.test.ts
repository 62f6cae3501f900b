// The revocation list on its own: which tokens a revocation matches (jti; sub with iat before the
// cutoff, no iat counting as before), per tenant, until it expires or is lifted.
import { test } from 'tap'
import { RevocationList, newRevocation } from '../../src/security/revocation-list.js'

const NOW = Date.parse('2026-12-01T10:00:00.000Z')
const token = (userId: string, issuedAt?: number, jti?: string, tenant = 'default') => ({ tenant, userId, issuedAt, jti })

test('sub: tokens issued before the cutoff; a token without iat counts as before', async (t) => {
  const list = new RevocationList()
  list.put(newRevocation('default', 'root', { sub: 'alice', issued_before: new Date(NOW).toISOString() }, NOW))
  t.ok(list.revokes(token('alice', NOW - 1), NOW), 'issued a millisecond before')
  t.notOk(list.revokes(token('alice', NOW), NOW), 'issued at the cutoff is not before it')
  t.notOk(list.revokes(token('alice', NOW + 1000), NOW), 'issued after')
  t.ok(list.revokes(token('alice', undefined), NOW), 'no iat')
  t.notOk(list.revokes(token('bob', NOW - 1), NOW), 'another user')
  t.notOk(list.revokes(token('alice', NOW - 1, undefined, 'other'), NOW), 'another tenant')
})

test('jti: that token only; expiry and lifting end a revocation', async (t) => {
  const list = new RevocationList()
  const revocation = newRevocation('default', 'root', { jti: 't1', expires_at: new Date(NOW + 1000).toISOString() }, NOW)
  list.put(revocation)
  t.ok(list.revokes(token('alice', NOW, 't1'), NOW))
  t.notOk(list.revokes(token('alice', NOW, 't2'), NOW))
  t.notOk(list.revokes(token('alice', NOW, 't1'), NOW + 1000), 'expired')
  t.same(list.list('default', NOW), [revocation])
  t.same(list.list('default', NOW + 1000), [], 'an expired revocation is not listed')
  list.purge(NOW + 1000)
  t.equal(list.count('default'), 0, 'and is purged')
  list.put(revocation)
  t.ok(list.delete('default', revocation.id))
  t.notOk(list.revokes(token('alice', NOW, 't1'), NOW), 'lifted')
  t.notOk(list.delete('default', revocation.id), 'lifting twice finds nothing')
})

test('replaceTenant takes another instance\'s view of a tenant', async (t) => {
  const list = new RevocationList()
  list.put(newRevocation('default', 'root', { sub: 'alice' }, NOW))
  const bobs = newRevocation('default', 'root', { sub: 'bob' }, NOW)
  list.replaceTenant('default', [bobs])
  t.notOk(list.revokes(token('alice', NOW - 1), NOW))
  t.ok(list.revokes(token('bob', NOW - 1), NOW))
  t.throws(() => newRevocation('default', 'root', { sub: 'x', expires_at: new Date(NOW).toISOString() }, NOW), /expires_at/)
})
