// The write path's timestamps (src/store/iso-time.ts) are exactly Date.prototype.toISOString's,
// whatever order times come in: within one second (the cached prefix), across seconds, minutes and
// years, before 1970, past year 9999, and at the edges of what a Date holds.
import fc from 'fast-check'
import { test } from 'tap'
import { isoTimestamp } from '../../src/store/iso-time.js'

const MAX_TIME = 8.64e15
const reference = (ms: number) => new Date(ms).toISOString()

test('any sequence of integer times gives toISOString\'s text for each', async (t) => {
  const near = Date.UTC(2026, 11, 3, 23, 59, 59, 990)
  const time = fc.oneof(
    fc.integer({ min: -MAX_TIME, max: MAX_TIME }),
    // Runs within a few seconds of one moment: mostly the cache's hits, and its seconds' edges.
    fc.integer({ min: near - 3_000, max: near + 3_000 }),
    fc.integer({ min: -3_000, max: 3_000 })
  )
  fc.assert(fc.property(fc.array(time, { minLength: 1, maxLength: 50 }), (times) => {
    for (const ms of times) if (isoTimestamp(ms) !== reference(ms)) return false
    return true
  }), { numRuns: 2_000 })
  t.pass('2,000 sequences matched')
})

test('the milliseconds are padded and a second\'s text is not kept into the next one', async (t) => {
  const second = Date.UTC(2026, 0, 1, 0, 0, 0)
  for (const ms of [second, second + 7, second + 42, second + 999, second + 1000, second - 1, second + 60_000, second - 86_400_000]) {
    t.equal(isoTimestamp(ms), reference(ms), reference(ms))
  }
})

test('fractions, the edges of a Date and times past them behave as toISOString does', async (t) => {
  for (const ms of [1.5, -1.5, MAX_TIME, -MAX_TIME, 253402300800000, -62198755200001]) t.equal(isoTimestamp(ms), reference(ms), reference(ms))
  for (const ms of [MAX_TIME + 1, -MAX_TIME - 1, Number.NaN, Infinity]) t.throws(() => isoTimestamp(ms), RangeError, `${ms} is refused`)
  const now = Date.UTC(2026, 11, 3, 12, 0, 0, 5)
  t.equal(isoTimestamp(now), reference(now), 'a refusal leaves the cache usable')
})
