// The hand-written write check (src/protocol/write-precheck.ts) against the zod schemas it
// stands in for: whatever it accepts, zod accepts with the same result, on boundary values of
// every field and on the fuzz run's frames; and the writes clients send are accepted by it (so the
// hot path really skips zod).
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { test } from 'tap'
import { clientMessageSchema } from '../../src/protocol/messages.js'
import { parseUntrustedJson } from '../../src/protocol/untrusted-json.js'
import { precheckedWrite } from '../../src/protocol/write-precheck.js'
import { frameCase } from '../fuzz/arbitraries.js'

const near = (limit: number) => [limit - 1, limit, limit + 1]
const text = (lengths: number[]) => lengths.flatMap((n) => (n < 0 ? [] : ['a'.repeat(n), '\u4e2d'.repeat(n)]))
const LONE = ['\ud800', 'a\udfffb', '\ud83d']
const numbers = (limits: number[]) => [...limits.flatMap(near), 1.5, -0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, -Number.MAX_SAFE_INTEGER - 1, 1e21, NaN, Infinity]
const other = [null, true, [], {}, '1', 1]

/** A value for each field: often valid, often right at or past a bound, sometimes of another type. */
const fieldValues: Record<string, unknown[]> = {
  id: [...text([0, 1, 63, 64, 65]), ...numbers([0]), ...LONE, null, {}, []],
  idempotency_key: [...text([0, 1, 127, 128, 129]), ...other],
  source: [...text([0, 1, 255, 256, 257]), ...LONE, ...other],
  key: [...text([0, 1, 511, 512, 513]), ...LONE, ...other],
  priority: [...numbers([1, 10]), ...other],
  expected_version: [...numbers([0]), ...other],
  ttl_seconds: [...numbers([1, 365 * 24 * 3600]), ...other],
  extra: ['ignored', 1]
}
const contents: unknown[] = [{}, { a: 1 }, { nested: { deep: [1, { x: 'y' }] } }, { constructor: 1 }, [], null, 'text', 1, [{ a: 1 }]]

const message = fc.record({
  type: fc.constantFrom('update_context', 'context_update'),
  contentField: fc.constantFrom('context', 'data', 'both'),
  content: fc.constantFrom(...contents),
  fields: fc.record(Object.fromEntries(Object.entries(fieldValues).map(([name, values]) => [name, fc.option(fc.constantFrom(...values), { nil: undefined })])))
}).map(({ type, contentField, content, fields }) => {
  const raw: Record<string, unknown> = { type }
  if (contentField !== 'data') raw.context = content
  if (contentField !== 'context') raw.data = content
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) raw[name] = value
  return raw
})

function sameAsZod (raw: Record<string, unknown>): boolean {
  const fast = precheckedWrite(raw)
  if (fast === undefined) return true
  const parsed = clientMessageSchema.safeParse(raw)
  // Deep equality ignores key order (zod's follows its shape), not which keys are present.
  return parsed.success && isDeepStrictEqual({ ...parsed.data }, { ...fast })
}

test('what the precheck accepts, zod accepts with the same message (boundary values of every field)', async (t) => {
  fc.assert(fc.property(message, sameAsZod), { numRuns: 20_000 })
  t.pass('20,000 messages')
})

test('the fuzz run\'s frames: the precheck is never looser than zod', async (t) => {
  let accepted = 0
  fc.assert(fc.property(frameCase, (frame) => {
    if (frame.text === undefined) return true
    // Parsed as frames are (prototype keys are refused before any schema sees them).
    const parsed = parseUntrustedJson(frame.text)
    if (!parsed.ok) return true
    const raw = parsed.value
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return true
    if (precheckedWrite(raw as Record<string, unknown>) !== undefined) accepted++
    return sameAsZod(raw as Record<string, unknown>)
  }), { numRuns: 3000 })
  t.ok(accepted > 100, `the precheck accepted ${accepted} of the frames`)
})

test('ordinary writes take the precheck, and refusals are left to zod', async (t) => {
  const write = { type: 'update_context', id: 7, key: 'k', source: 'agent', priority: 5, expected_version: 0, ttl_seconds: 60, idempotency_key: 'i', context: { a: 1 }, extra: true }
  t.same(precheckedWrite(write), { type: 'update_context', id: 7, key: 'k', source: 'agent', priority: 5, expected_version: 0, ttl_seconds: 60, idempotency_key: 'i', context: { a: 1 } })
  t.same(precheckedWrite({ type: 'context_update', data: { a: 1 } }), { type: 'context_update', data: { a: 1 } })
  t.equal(precheckedWrite({ type: 'update_context', context: [] }), undefined, 'an array is not a content')
  t.equal(precheckedWrite({ type: 'update_context', key: '\ud800', context: {} }), undefined, 'a lone surrogate goes to zod')
  t.equal(precheckedWrite({ type: 'update_context', priority: 11, context: {} }), undefined)
  t.equal(precheckedWrite({ type: 'get_context' }), undefined, 'other types are zod\'s')
})
