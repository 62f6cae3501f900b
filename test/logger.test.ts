import { test } from 'tap'
import { Writable } from 'node:stream'
import { buildApp } from '../src/app.js'
import { loggerOptions, redactUrl } from '../src/logger.js'
import { testConfig } from './helpers/config.js'
import { signTestToken } from './helpers/tokens.js'
import { openClient, wsUrl } from './helpers/ws-client.js'

test('redactUrl masks token query parameters only', async (t) => {
  t.equal(redactUrl('/ws?token=abc.def.ghi&mode=delta'), '/ws?token=[redacted]&mode=delta')
  t.equal(redactUrl('/?mode=delta&token=abc'), '/?mode=delta&token=[redacted]')
  t.equal(redactUrl('/health'), '/health')
  t.equal(redactUrl('/x?notoken=1'), '/x?notoken=1')
  t.equal(redactUrl('/ws?%74oken=abc&tok%65n=def&TOKEN=ghi&access%5Ftoken=jkl'), '/ws?%74oken=[redacted]&tok%65n=[redacted]&TOKEN=[redacted]&access%5Ftoken=[redacted]',
    'names are compared decoded, in any case')
  t.equal(redactUrl('/ws?token&mode=delta'), '/ws?token=[redacted]&mode=delta', 'a bare name too')
  t.equal(redactUrl('/ws?tok%zzen=abc'), '/ws?tok%zzen=abc', 'a malformed escape is no credential name (the parser keeps it undecoded)')
})

test('a token under an encoded parameter name authenticates and is still redacted from the request log', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const config = testConfig({ LOG_LEVEL: 'info' })
  const app = await buildApp(config, { logger: loggerOptions(config, stream) })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const tokens: string[] = []
  for (const name of ['%74oken', 'tok%65n', '%74%6F%6B%65%6E']) {
    const token = signTestToken({ sub: `user-${tokens.length}` })
    tokens.push(token)
    const client = await openClient(`${wsUrl(app)}?${name}=${token}&mode=none`)
    t.equal((await client.nextOfType('auth_success')).user_id, `user-${tokens.length - 1}`, `${name}= authenticates`)
    client.close()
    await client.waitClosed()
  }
  const log = lines.join('')
  t.match(log, /%74oken=\[redacted\]/, 'the upgrade request was logged, its credential masked')
  for (const token of tokens) t.notOk(log.includes(token), 'the token is not in the log')
})

test('request logs never contain the token or the Authorization header', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const config = testConfig({ LOG_LEVEL: 'info' })
  const app = await buildApp(config, { logger: loggerOptions(config, stream) })
  t.teardown(() => app.close())
  await app.inject({ method: 'GET', url: '/health?token=SECRET-TOKEN-VALUE', headers: { authorization: 'Bearer SECRET-HEADER-VALUE' } })
  const log = lines.join('')
  t.match(log, /\/health/, 'the request was logged')
  t.notMatch(log, /SECRET-TOKEN-VALUE/)
  t.notMatch(log, /SECRET-HEADER-VALUE/)
})
