// The audit log (contract §8): one `audit: true` line per change (with its actor), per revocation
// made or lifted, and per refused authentication, on every surface; written even when LOG_LEVEL is
// quieter than info; and never a token, valid or not.
import { Writable } from 'node:stream'
import { test, type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { loggerOptions } from '../../src/logger.js'
import { testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'
import { openClient, wsUrl } from '../helpers/ws-client.js'

async function loggedApp (t: Test, env: Record<string, string> = {}) {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const config = testConfig({ LOG_LEVEL: 'info', ...env })
  const app = await buildApp(config, { logger: loggerOptions(config, stream) })
  t.teardown(() => app.close())
  const audit = () => lines.flatMap((line) => line.split('\n')).filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, any>)
    .filter((entry) => entry.audit === true)
  return { app, lines, audit }
}

test('one audit line per change, revocation and refused authentication; no token in any line', async (t) => {
  const { app, lines, audit } = await loggedApp(t, { MCP_MAX_TOKENS: '40' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const alice = signTestToken({ sub: 'alice', jti: 'alice-token' })
  const admin = signTestToken({ sub: 'root', roles: ['admin'] })
  const headers = { authorization: `Bearer ${alice}` }

  await app.inject({ method: 'PUT', url: '/context/one', headers, payload: { context: { text: 'word '.repeat(25) }, priority: 1 } })
  await app.inject({ method: 'PUT', url: '/context/two', headers, payload: { context: { text: 'word '.repeat(25) }, priority: 2 } })
  const created = (await app.inject({ method: 'POST', url: '/revocations', headers: { authorization: `Bearer ${admin}` }, payload: { jti: 'alice-token' } })).json()
  await app.inject({ method: 'GET', url: '/context', headers })
  await app.inject({ method: 'GET', url: '/context', headers: { authorization: 'Bearer not-a-jwt' } })
  await app.inject({ method: 'GET', url: '/context' })
  await app.inject({ method: 'DELETE', url: `/revocations/${created.id as string}`, headers: { authorization: `Bearer ${admin}` } })
  await app.inject({ method: 'POST', url: '/mcp', headers: { authorization: 'Bearer not-a-jwt-either', accept: 'application/json, text/event-stream' }, payload: {} })
  const ws = await openClient(wsUrl(app), { query: { token: 'bad-ws-token' } })
  await ws.waitClosed()

  const entries = audit().map(({ level: _l, time: _t, pid: _p, hostname: _h, msg: _m, ...rest }) => rest)
  t.same(entries.filter((e) => e.event === 'change'), [
    { audit: true, event: 'change', tenant: 'default', seq: 1, reason: 'created', actor: { sub: 'alice', surface: 'rest' }, upserted: ['one'], removed: [] },
    { audit: true, event: 'change', tenant: 'default', seq: 2, reason: 'created', actor: { sub: 'alice', surface: 'rest' }, upserted: ['two'], removed: [] },
    { audit: true, event: 'change', tenant: 'default', seq: 2, reason: 'evicted', actor: { sub: 'system', surface: 'system' }, upserted: [], removed: ['one'] }
  ], 'each change, with its actor; the eviction is the system\'s')
  t.same(entries.filter((e) => e.event.startsWith('revocation')).map((e) => [e.event, e.revocation.id, e.by]), [
    ['revocation_created', created.id, { sub: 'root', surface: 'rest' }],
    ['revocation_lifted', created.id, { sub: 'root', surface: 'rest' }]
  ], 'the revocation made and lifted, by whom')
  t.same(entries.filter((e) => e.event === 'auth_refused').map((e) => [e.surface, e.reason, e.sub, e.jti]), [
    ['rest', 'revoked', 'alice', 'alice-token'],
    ['rest', 'invalid', undefined, undefined],
    ['rest', 'missing', undefined, undefined],
    ['mcp', 'invalid', undefined, undefined],
    ['ws', 'invalid', undefined, undefined]
  ], 'every refused authentication, with the surface and the reason')
  const text = lines.join('')
  for (const secret of [alice, admin, 'not-a-jwt', 'not-a-jwt-either', 'bad-ws-token']) t.notOk(text.includes(secret), 'no token in the log')
})

test('audit lines are written when LOG_LEVEL is warn; other info lines are not', async (t) => {
  const { app, audit, lines } = await loggedApp(t, { LOG_LEVEL: 'warn' })
  await app.inject({ method: 'PUT', url: '/context/k', headers: { authorization: `Bearer ${signTestToken()}` }, payload: { context: {} } })
  t.same(audit().map((e) => [e.event, e.reason]), [['change', 'created']], 'the change is in the audit trail')
  t.notOk(lines.some((line) => line.includes('"msg":"incoming request"')), 'while ordinary request logging stays off')
})
