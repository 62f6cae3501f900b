// JWT_ALGORITHM end to end: RS256 and ES256 verify with MCP_JWT_PUBLIC_KEY; the pinned algorithm
// refuses everything else, including the classic confusion attack (an HS256 token whose HMAC key
// is the server's public key). Also MCP_TOKEN_ENCODING=cl100k_base counts like js-tiktoken.
import { test } from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createSigner } from 'fast-jwt'
import { getEncoding } from 'js-tiktoken'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'

const newKeyPair = (algorithm: 'RS256' | 'ES256') => algorithm === 'RS256'
  ? generateKeyPairSync('rsa', { modulusLength: 2048 })
  : generateKeyPairSync('ec', { namedCurve: 'P-256' })

const keyPairs = { RS256: newKeyPair('RS256'), ES256: newKeyPair('ES256') }

for (const algorithm of ['RS256', 'ES256'] as const) {
  test(`${algorithm}: tokens signed with the private key are accepted, nothing else is`, async (t) => {
    const { publicKey, privateKey } = keyPairs[algorithm]
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
    const app = await buildApp(testConfig({ JWT_ALGORITHM: algorithm, MCP_JWT_PUBLIC_KEY: publicPem, MCP_JWT_SECRET_KEY: '' }))
    t.teardown(() => app.close())
    const read = (token: string) => app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })

    const good = createSigner({ algorithm, key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), expiresIn: 60_000 })({ sub: 'alice' })
    t.equal((await read(good)).statusCode, 200, 'signed with the private key')

    const confused = createSigner({ algorithm: 'HS256', key: publicPem, expiresIn: 60_000 })({ sub: 'mallory', roles: ['admin'] })
    t.equal((await read(confused)).statusCode, 401, 'HS256 keyed with the public key is refused')
    t.equal((await read(signTestToken({ sub: 'mallory' }))).statusCode, 401, 'an HS256 token with some secret is refused')

    const other = newKeyPair(algorithm)
    const forged = createSigner({ algorithm, key: other.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), expiresIn: 60_000 })({ sub: 'mallory' })
    t.equal((await read(forged)).statusCode, 401, 'another key pair is refused')
    t.equal((await read(signTestToken({ sub: 'mallory' }, { algorithm: 'none' }))).statusCode, 401, 'alg none is refused')
    if (algorithm === 'RS256') {
      // The same RSA key signs these too: only the pin refuses them.
      const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
      for (const other of ['RS384', 'RS512', 'PS256'] as const) {
        const token = createSigner({ algorithm: other, key: pem, expiresIn: 60_000 })({ sub: 'alice' })
        t.equal((await read(token)).statusCode, 401, `${other} with the server's own key pair is refused`)
      }
    }
  })
}

test('HS256 (the default): the same secret under HS384 or HS512 is refused, the pinned algorithm accepted', async (t) => {
  const app = await buildApp(testConfig())
  t.teardown(() => app.close())
  const read = (token: string) => app.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })
  t.equal((await read(signTestToken({ sub: 'alice' }))).statusCode, 200, 'HS256')
  for (const other of ['HS384', 'HS512'] as const) {
    t.equal((await read(signTestToken({ sub: 'alice' }, { algorithm: other }))).statusCode, 401, `${other} with the right secret`)
  }
  const pinned = await buildApp(testConfig({ JWT_ALGORITHM: 'HS512' }))
  t.teardown(() => pinned.close())
  const token = signTestToken({ sub: 'alice' }, { algorithm: 'HS512' })
  t.equal((await pinned.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${token}` } })).statusCode, 200, 'JWT_ALGORITHM=HS512 accepts HS512')
  t.equal((await pinned.inject({ method: 'GET', url: '/context', headers: { authorization: `Bearer ${signTestToken({ sub: 'alice' })}` } })).statusCode, 401, 'and refuses HS256')
})

test('MCP_TOKEN_ENCODING=cl100k_base: entries are counted with that encoding', async (t) => {
  const app = await buildApp(testConfig({ MCP_TOKEN_ENCODING: 'cl100k_base' }))
  t.teardown(() => app.close())
  const context = { lesson: 'Fractions: ½ + ¼ = ¾ — ünïcödé', steps: ['add', 'simplify'], emoji: '🧮' }
  const res = await app.inject({ method: 'POST', url: '/context', headers: { authorization: `Bearer ${signTestToken()}` }, payload: { context } })
  t.equal(res.statusCode, 201)
  const cl100k = getEncoding('cl100k_base').encode(JSON.stringify(context), [], []).length
  const o200k = getEncoding('o200k_base').encode(JSON.stringify(context), [], []).length
  t.equal(res.json().tokens, cl100k)
  t.not(cl100k, o200k, 'the sample tells the two encodings apart')
})
