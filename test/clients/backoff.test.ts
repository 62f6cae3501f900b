// The reconnect delays and the close-code table as plain functions: full jitter under a capped
// exponential, and which closes reconnect.
import { test } from 'tap'
import { Backoff } from '../../clients/typescript/src/backoff.js'
import { closeDecision } from '../../clients/typescript/src/close-policy.js'

test('delays are random below a capped exponential, and reset', async (t) => {
  const highest = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2 }, () => 0.999999)
  t.same(Array.from({ length: 7 }, () => highest.next()), [99, 199, 399, 799, 999, 999, 999], 'the ceiling doubles up to the cap')
  highest.reset()
  t.equal(highest.next(), 99, 'a reset starts again from the first delay')
  const lowest = new Backoff({ initialDelayMs: 100 }, () => 0)
  t.equal(lowest.next(), 0, 'full jitter: a delay can be anything down to 0')
  const spread = new Backoff({ initialDelayMs: 1000, maxDelayMs: 1000 })
  const delays = Array.from({ length: 200 }, () => spread.next())
  t.ok(delays.every((delay) => delay >= 0 && delay < 1000), 'always below the cap')
  t.ok(new Set(delays).size > 100, 'and spread out, not the same for every client')
  const huge = new Backoff({ initialDelayMs: 1000, maxDelayMs: 1e15 }, () => 0.999999)
  for (let i = 0; i < 40; i++) huge.next()
  t.ok(huge.next() < 2 ** 31, 'never longer than a timer can wait')
})

test('which closes reconnect', async (t) => {
  const provider = { canRenewToken: true, rateLimitedDelayMs: 5000 }
  const fixed = { canRenewToken: false, rateLimitedDelayMs: 5000 }
  for (const code of [1000, 1001, 1006, 1011, 1013, 4000, 4002, 4008]) t.equal(closeDecision(code, fixed).reconnect, true, `${code} reconnects`)
  t.equal(closeDecision(4001, provider).reconnect, true, '4001 with a provider reconnects')
  t.equal(closeDecision(4001, fixed).reconnect, false, '4001 with a fixed token does not')
  t.same([closeDecision(4029, fixed).reconnect, closeDecision(4029, fixed).minDelayMs], [true, 5000], '4029 reconnects after a pause')
  for (const code of [1003, 1008, 1009]) t.equal(closeDecision(code, provider).reconnect, false, `${code} does not reconnect`)
})
