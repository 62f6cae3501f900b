// Verified tokens are cached (plugins/auth.ts), but never past their exp: a token accepted a
// moment ago is refused once it has expired.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'

test('a cached token is refused once it expires', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
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
