// Audit info lines written straight to the stream (src/security/audit-line-sink.ts) are the lines
// pino writes for the same details, byte for byte, with the server's own logger options; and a
// logger that does more per line (a mixin, a redaction of an audit key, a nested key) gets them
// through pino.
import { Writable } from 'node:stream'
import pino from 'pino'
import { test } from 'tap'
import { auditSinkOn } from '../../src/security/audit-line-sink.js'
import { loggerOptions } from '../../src/logger.js'
import { testConfig } from '../helpers/config.js'

function capture () {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  return { lines, stream }
}

// Fixed time, so the two lines can be compared whole.
const timestamp = () => ',"time":1796000000000'

const DETAILS: Array<[object, string]> = [
  [{ audit: true, event: 'change', tenant: 't', seq: 7, reason: 'created', actor: { sub: 'alice', surface: 'ws', client_id: 'c1' }, upserted: ['k1'], removed: [] }, 'audit: created by ws:alice'],
  [{ audit: true, event: 'change', tenant: 'tenant "quoted" \\ back', seq: 8, reason: 'evicted', actor: { sub: 'système', surface: 'system' }, upserted: [], removed: ['ключ', '\u0000\u001f\u2028', '🎉'], upserted_count: 150, removed_count: 3 }, 'audit: evicted by system:système'],
  [{ audit: true, event: 'revocation_created', tenant: 't', revocation: { id: 'r1', sub: 'bob', expires_at: '2026-12-03T00:00:00.000Z' }, by: { sub: 'root', surface: 'rest' } }, 'audit: revocation_created r1'],
  [{ audit: true, event: 'change', tenant: 't', seq: Number.NaN, skipped: undefined, reason: 'cleared', actor: { sub: '', surface: 'mcp' }, upserted: [], removed: [] }, 'line\nbreak "and" quotes']
]

test('the same lines as pino, with the server\'s logger options', async (t) => {
  const options = loggerOptions(testConfig({ LOG_LEVEL: 'info' }), capture().stream) as pino.LoggerOptions
  const direct = capture()
  const through = capture()
  const base = { level: options.level, redact: options.redact, serializers: options.serializers, timestamp }
  const child = (stream: Writable) => pino(base, stream).child({}, { level: 'info' })
  const sink = auditSinkOn(child(direct.stream))
  const logger = child(through.stream)
  t.not(sink, logger, 'the direct sink is used for these options')
  for (const [details, message] of DETAILS) {
    sink.info(details, message)
    logger.info(details, message)
  }
  t.equal(direct.lines.length, DETAILS.length)
  t.same(direct.lines, through.lines, 'byte for byte')
  for (const line of direct.lines) t.ok(JSON.parse(line), 'each line is JSON')
})

test('bindings, a message prefix and a quieter level are honoured as pino does', async (t) => {
  const direct = capture()
  const through = capture()
  const child = (stream: Writable) => pino({ timestamp, base: { pid: 1, hostname: 'h' } }, stream).child({ component: 'audit' }, { msgPrefix: '[a] ' })
  const sink = auditSinkOn(child(direct.stream))
  sink.info(DETAILS[0][0], DETAILS[0][1])
  child(through.stream).info(DETAILS[0][0], DETAILS[0][1])
  t.same(direct.lines, through.lines)
  const quiet = capture()
  const warnOnly = pino({ level: 'warn' }, quiet.stream)
  auditSinkOn(warnOnly).info(DETAILS[0][0], DETAILS[0][1])
  t.same(quiet.lines, [], 'no info line when info is off')
  auditSinkOn(warnOnly).warn({ audit: true, event: 'auth_refused' }, 'audit: refused')
  t.equal(quiet.lines.length, 1, 'warn lines go through pino')
})

test('a logger that does more per line gets its audit lines through pino', async (t) => {
  const cases: Array<[string, pino.LoggerOptions]> = [
    ['a mixin', { mixin: () => ({ extra: 1 }) }],
    ['a redacted audit key', { redact: ['actor.sub'] }],
    ['a nested key', { nestedKey: 'payload' }],
    ['a log formatter', { formatters: { log: (object) => ({ ...object, formatted: true }) } }],
    ['a serializer of an audit key', { serializers: { tenant: () => 'hidden' } }]
  ]
  for (const [name, options] of cases) {
    const { stream } = capture()
    const logger = pino({ ...options, timestamp }, stream)
    t.equal(auditSinkOn(logger), logger, name)
  }
})
