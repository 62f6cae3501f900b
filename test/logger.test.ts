import { test } from 'tap'
import { Writable } from 'node:stream'
import { buildApp } from '../src/app.js'
import { loggerOptions, redactUrl } from '../src/logger.js'
import { testConfig } from './helpers/config.js'

test('redactUrl masks token query parameters only', async (t) => {
  t.equal(redactUrl('/ws?token=abc.def.ghi&mode=delta'), '/ws?token=[redacted]&mode=delta')
  t.equal(redactUrl('/?mode=delta&token=abc'), '/?mode=delta&token=[redacted]')
  t.equal(redactUrl('/health'), '/health')
  t.equal(redactUrl('/x?notoken=1'), '/x?notoken=1')
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
