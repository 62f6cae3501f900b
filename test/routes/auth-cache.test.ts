// Verified tokens are cached (plugins/auth.ts), but never past their exp: a token accepted a
// moment ago is refused once it has expired.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'

test('a cached token is refused once it expires', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  // Ready first: on a loaded machine the plugins' boot alone can outlast the 2 s token.
  await app.ready()
  const token = signTestToken({ sub: 'alice' }, { ttlSeconds: 2 })
  const read = () => app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })
  t.equal((await read()).statusCode, 200, 'accepted while valid')
  t.equal((await read()).statusCode, 200, 'accepted again (from the cache)')
  t.equal(app.verifyToken(token).userId, 'alice')
  await new Promise((resolve) => setTimeout(resolve, 2300))
  const late = await read()
  t.equal(late.statusCode, 401, 'refused after exp')
  t.match(late.json(), { code: 'forbidden', details: { reason: 'unauthorized' } }, 'a listed code, the precise reason in details')
  t.throws(() => app.verifyToken(token), 'verifyToken refuses it too')
})

test('a cached token lets no other token through: a forged signature or other claims are verified on their own', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const token = signTestToken({ sub: 'alice', tenant: 'acme' })
  const read = (bearer: string) => app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${bearer}` } })
  t.equal((await read(token)).statusCode, 200)
  t.equal((await read(token)).statusCode, 200, 'from the cache')
  const signature = token.slice(token.lastIndexOf('.') + 1)
  const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`
  t.equal((await read(`${token.slice(0, token.lastIndexOf('.') + 1)}${flipped}`)).statusCode, 401, 'the same claims with a forged signature')
  const [header, , sig] = token.split('.')
  const otherClaims = Buffer.from(JSON.stringify({ sub: 'mallory', tenant: 'acme', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 3600 })).toString('base64url')
  t.equal((await read(`${header}.${otherClaims}.${sig}`)).statusCode, 401, "other claims under the cached token's signature")
  t.equal(app.verifyToken(token).userId, 'alice', 'the real token still verifies')
})
