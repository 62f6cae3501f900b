// The WebSocket core as plain functions, without sockets: frame parsing, the pure message
// handlers (against a real memory store and a real JWT verifier), the rate limiter's bound, and
// what a filtered subscriber sees of a change.
import { createVerifier } from 'fast-jwt'
import fc from 'fast-check'
import { test, type Test } from 'tap'
import { identityFromPayload, type Identity } from '../../src/auth/identity.js'
import { ContextError } from '../../src/errors.js'
import { SessionRegistry } from '../../src/sessions/session-registry.js'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import { ClientSession } from '../../src/ws/client-session.js'
import { parseFrame } from '../../src/ws/frame-parser.js'
import { handleMessage, type HandlerDeps, type Outcome } from '../../src/ws/handlers.js'
import { RateLimiter } from '../../src/ws/rate-limiter.js'
import { entriesObject } from '../../src/ws/serialization.js'
import { subscriptionOf, viewOf } from '../../src/ws/subscription.js'
import type { ClientMessage } from '../../src/protocol/messages.js'
import { TEST_SECRET, testConfig } from '../helpers/config.js'
import { signTestToken } from '../helpers/tokens.js'

function depsFor (t: { teardown: (fn: () => unknown) => void }): HandlerDeps {
  const store = new MemoryContextStore({ maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 100 })
  t.teardown(() => store.close())
  const verify = createVerifier({ key: TEST_SECRET, algorithms: ['HS256'], requiredClaims: ['exp'] })
  return {
    store,
    config: testConfig(),
    sessions: new SessionRegistry(),
    verifyToken: (token: string) => {
      const identity = identityFromPayload(verify(token))
      if (identity === undefined) throw new ContextError('unauthorized', 'Invalid authentication token')
      return identity
    },
    now: () => Date.parse('2026-11-24T10:00:00.000Z')
  }
}

const identity = (userId: string, roles: Identity['roles'] = ['writer']): Identity =>
  ({ userId, roles, tenant: 'default', expiresAt: Date.now() + 3600_000 })
const sessionOf = (who: Identity) => new ClientSession('c1', who, subscriptionOf('snapshot', undefined), Date.now())
const message = (text: string): ClientMessage => {
  const parsed = parseFrame(text)
  if (!parsed.ok) throw new Error(parsed.message)
  return parsed.message
}
const frames = (outcome: Outcome) => outcome.replies.map((r) => JSON.parse(r))
/** The one reply of an outcome (tap's match would take a longer array whose first item matches). */
function onlyFrame (t: Test, outcome: Outcome): Record<string, any> {
  const replies = frames(outcome)
  t.equal(replies.length, 1, 'exactly one reply')
  return replies[0] ?? {}
}

test('parseFrame: JSON, object, type, schema, in that order, with the id echoed when valid', async (t) => {
  t.match(parseFrame('{'), { ok: false, code: 'invalid_json' })
  t.match(parseFrame('[]'), { ok: false, code: 'validation_error' })
  t.match(parseFrame('{"id":3}'), { ok: false, code: 'validation_error', id: 3 })
  t.same((parseFrame('{"id":3}') as { details?: unknown }).details, [{ path: 'type', message: 'expected a string' }])
  t.match(parseFrame('{"type":"shout","id":"a"}'), { ok: false, code: 'unknown_type', id: 'a' })
  t.match(parseFrame('{"type":"set_priority","key":"k","priority":0,"id":{"x":1}}'), { ok: false, code: 'validation_error', id: undefined })
  t.match(parseFrame('{"type":"ping","id":"p","__proto__":{"x":1}}'), { ok: false, code: 'validation_error', id: 'p' })
  t.match(parseFrame('{"type":"context_update","data":{"a":1},"priority":4}'), { ok: true, message: { type: 'context_update', data: { a: 1 }, priority: 4 } })
  t.match(parseFrame('{"type":"query_context"}'), { ok: true, message: { query: {} } }, 'query defaults to everything')
  t.match(parseFrame('{"type":"subscribe"}'), { ok: true, message: { mode: 'snapshot' } }, 'mode defaults to snapshot')
})

test('parseFrame never throws and never touches Object.prototype, whatever the JSON', async () => {
  const hostileKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'type', 'id', 'context', 'toString')
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.jsonValue(), tie('object')),
    object: fc.dictionary(fc.oneof(hostileKeys, fc.string()), tie('value'), { maxKeys: 4 })
  })).value
  fc.assert(fc.property(json, fc.constantFrom('update_context', 'ping', 'query_context', 'subscribe', 'nope'), (value, type) => {
    const text = JSON.stringify({ type, ...(typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { context: value }) })
    const parsed = parseFrame(text)
    if (!parsed.ok && !['validation_error', 'unknown_type'].includes(parsed.code)) return false
    return ({} as Record<string, unknown>).polluted === undefined && Object.keys(Object.prototype).length === 0
  }), { numRuns: 500 })
  fc.assert(fc.property(fc.string(), (text) => { parseFrame(text); return true }), { numRuns: 500 })
})

test('handlers: reads and subscribe answer in the same tick; writes resolve to an ack', async (t) => {
  const deps = depsFor(t)
  const alice = sessionOf(identity('alice'))
  const write = handleMessage(message('{"type":"update_context","id":1,"key":"k","context":{"a":1},"priority":3}'), alice, deps)
  t.ok(write instanceof Promise, 'a write awaits the store')
  const ack = onlyFrame(t, await write)
  t.match(ack, { type: 'update_ack', id: 1, status: 'success', key: 'k', version: 1, seq: 1, stored: true })
  t.same(ack.evicted, [], 'nothing evicted')

  for (const text of ['{"type":"get_context"}', '{"type":"query_context","query":{"keys":["k"]}}', '{"type":"ping"}', '{"type":"subscribe","mode":"delta","since_seq":0}']) {
    t.notOk(handleMessage(message(text), alice, deps) instanceof Promise, `${text} is synchronous`)
  }
  const context = handleMessage(message('{"type":"get_context","id":"g"}'), alice, deps) as Outcome
  t.match(onlyFrame(t, context), { type: 'context', id: 'g', seq: 1, data: { k: { content: { a: 1 }, priority: 3, owner: 'alice' } } })
  const subscribe = handleMessage(message('{"type":"subscribe","mode":"delta","filter":{"source":"a"},"since_seq":4,"id":9}'), alice, deps) as Outcome
  t.same(subscribe.replies, [], 'the connection answers once the subscription is in place')
  t.same(subscribe.effect, { kind: 'subscribe', id: 9, subscription: { mode: 'delta', filter: { source: 'a', min_priority: undefined } }, sinceSeq: 4 })
})

test('handlers: store refusals become error replies with the contract code and no effect', async (t) => {
  const deps = depsFor(t)
  const reader = sessionOf(identity('rita', ['reader']))
  const refused = await handleMessage(message('{"type":"update_context","id":"w","context":{"a":1}}'), reader, deps)
  t.match(onlyFrame(t, refused), { type: 'error', id: 'w', code: 'forbidden' })
  t.equal(refused.error, 'forbidden')
  t.equal(refused.effect, undefined)
  const status = handleMessage(message('{"type":"get_status"}'), reader, deps) as Outcome
  t.match(onlyFrame(t, status), { type: 'error', code: 'forbidden' })
  t.equal(deps.store.seq('default'), 0)
})

test('handlers: refresh_token for the same user, tenant and roles extends; anything else closes 4001', async (t) => {
  const deps = depsFor(t)
  const alice = sessionOf(identity('alice', ['writer']))
  const same = handleMessage(message(`{"type":"refresh_token","id":1,"token":"${signTestToken({ sub: 'alice', roles: ['writer'] }, { ttlSeconds: 7200 })}"}`), alice, deps) as Outcome
  t.equal(same.effect?.kind, 'refresh')
  t.match(onlyFrame(t, same), { type: 'token_refreshed', id: 1, success: true, timestamp: '2026-11-24T10:00:00.000Z' })
  for (const claims of [{ sub: 'bob', roles: ['writer'] }, { sub: 'alice', roles: ['writer', 'admin'] }, { sub: 'alice', roles: ['writer'], tenant: 'other' }]) {
    const other = handleMessage(message(`{"type":"refresh_token","token":"${signTestToken(claims)}"}`), alice, deps) as Outcome
    t.same(other.effect, { kind: 'close', code: 4001, reason: 'Invalid authentication token' }, JSON.stringify(claims))
    t.match(onlyFrame(t, other), { type: 'error', code: 'forbidden' })
  }
})

test('the rate limiter never lets more through than the burst plus the rate over the elapsed time', async (t) => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }),
    fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 300 }),
    (rate, burst, gaps) => {
      const limiter = new RateLimiter(rate, burst, 0)
      let now = 0
      let allowed = 0
      for (const gap of gaps) {
        now += gap
        if (limiter.take(now).allowed) allowed++
        if (allowed > burst + (rate * now) / 1000 + 1e-9) return false
      }
      return true
    }), { numRuns: 300 })
  const steady = new RateLimiter(10, 1, 0)
  t.ok(Array.from({ length: 100 }, (_, i) => steady.take((i + 1) * 100).allowed).every(Boolean), 'a client at exactly the rate is never limited')
  const limiter = new RateLimiter(10, 2, 0)
  limiter.take(0)
  limiter.take(0)
  t.match(limiter.take(0), { allowed: false, retryAfterMs: 100, exhausted: false })
  limiter.take(0)
  t.match(limiter.take(0), { allowed: false, exhausted: true }, 'a further burst while limited exhausts it')

  // A flooder at 25 times the rate gets one message through per refill; that does not forgive it.
  const flooded = new RateLimiter(20, 40, 0)
  const decisions = Array.from({ length: 500 }, (_, i) => flooded.take(i * 2))
  t.ok(decisions.some((d) => d.allowed) && decisions.some((d) => !d.allowed && d.exhausted), 'exhausted although refills let some through')
  // One that stays under the rate after being limited is forgiven once its bucket is full again.
  const calmed = new RateLimiter(20, 40, 0)
  for (let i = 0; i < 70; i++) calmed.take(0)
  t.notOk(Array.from({ length: 100 }, (_, i) => calmed.take(100 * (i + 1))).some((d) => !d.allowed), 'served at half the rate')
  // A cost above the bucket's depth passes when the bucket is full, then the bucket is in debt.
  const bytes = new RateLimiter(1000, 2000, 0)
  t.same(bytes.take(0, 5000), { allowed: true })
  t.same(bytes.take(1000, 10), { allowed: false, retryAfterMs: 2010, exhausted: false })
})

test('a filtered client sees matching upserts, every removal, and entries that stopped matching as removed', async (t) => {
  const deps = depsFor(t)
  const alice = sessionOf(identity('alice'))
  const changes: Parameters<typeof viewOf>[0][] = []
  deps.store.onChange((change) => changes.push(change))
  await handleMessage(message('{"type":"update_context","key":"a","source":"agent_x","priority":6,"context":{"n":1}}'), alice, deps)
  await handleMessage(message('{"type":"update_context","key":"b","source":"other","priority":6,"context":{"n":2}}'), alice, deps)
  await handleMessage(message('{"type":"set_priority","key":"a","priority":2}'), alice, deps)
  await handleMessage(message('{"type":"clear_context","keys":["b"]}'), alice, deps)
  const filter = { source: 'agent', min_priority: 5 }
  t.same(viewOf(changes[0], filter)?.upserted.map((s) => s.key), ['a'])
  t.equal(viewOf(changes[1], filter), undefined, 'a new entry that does not match is not news')
  t.same(viewOf(changes[2], filter), { upserted: [], removed: ['a'] })
  t.same(viewOf(changes[3], filter), { upserted: [], removed: ['b'] })
  t.same(viewOf(changes[1], undefined)?.upserted.map((s) => s.key), ['b'], 'no filter: everything')
})

test('entries are serialized by concatenation; a key named __proto__ stays data', async (t) => {
  const deps = depsFor(t)
  await handleMessage(message('{"type":"update_context","key":"__proto__","context":{"x":1}}'), sessionOf(identity('alice')), deps)
  const data = JSON.parse(entriesObject(deps.store.snapshot('default').entries))
  t.ok(Object.hasOwn(data, '__proto__'))
  t.same(data.__proto__.content, { x: 1 }) // eslint-disable-line no-proto
  t.equal(({} as Record<string, unknown>).x, undefined)
})
