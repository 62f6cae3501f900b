// The REST serializer compiler (src/rest/response-serializer.ts): fast-json-stringify writes each
// reply from the route's zod schema, and the JSON is what zod's encode + JSON.stringify gave (the
// type provider's serializer before it), undeclared fields left out just as zod strips them. Only
// the order of an object's fields may differ: fast-json-stringify writes the required ones first.
import { test } from 'tap'
import { z } from 'zod'
import { serializerCompiler } from '../../src/rest/response-serializer.js'
import { contextListSchema, healthSchema, keyedEntrySchema, writeResultSchema } from '../../src/rest/response-schemas.js'
import { revocationSchema } from '../../src/security/security-schemas.js'

const compile = (schema: unknown) => serializerCompiler({ schema, method: 'GET', url: '/test' })
const zodBytes = (schema: z.ZodType, data: unknown) => JSON.stringify(z.encode(schema, data))

const entry = { timestamp: '2026-12-01T12:00:00.000Z', content: { note: 'a "quoted" line\n', nested: { list: [1, null, true] } }, tokens: 12, source: 'agent_1', priority: 5, owner: 'alice', version: 2 }

test('replies are the JSON zod encoded, in the order of the schema where required fields come first', async (t) => {
  const samples: Array<[z.ZodType, unknown]> = [
    [writeResultSchema, { key: 'agent_1_1', tokens: 42, version: 1, seq: 7, epoch: 'e1', evicted: ['old_1', 'old_2'], stored: true }],
    [writeResultSchema, { key: 'k', tokens: 1, version: 3, seq: 8, epoch: 'e1', evicted: [], stored: false, replayed: true }],
    [keyedEntrySchema, { ...entry, key: 'k', expires_at: '2026-12-02T12:00:00.000Z' }],
    [contextListSchema, {
      data: { b: entry, a: { ...entry, content: {} } },
      metadata: { total_tokens: 24, max_tokens: 1000, entry_count: 2, matched: 2, returned: 2, returned_tokens: 24, truncated: false, scores: { b: 1.5, a: 0 } },
      seq: 9,
      epoch: 'e1'
    }],
    [healthSchema, { status: 'healthy', timestamp: 't', version: '1', connections: 0, memory_usage: { rss_mb: 1.5, heap_used_mb: 1, heap_total_mb: 2, external_mb: 0.25 }, extra: 'kept: the schema is loose' }]
  ]
  for (const [schema, data] of samples) t.strictSame(JSON.parse(compile(schema)(data)), JSON.parse(zodBytes(schema, data)))
  // A schema listing its required fields first gives the same bytes too.
  const [written, data] = samples[1] as [z.ZodType, unknown]
  t.equal(compile(written)(data), zodBytes(written, data))
})

test('fields the schema does not declare are left out, optional ones left out when undefined', async (t) => {
  const written = { key: 'k', tokens: 1, version: 1, seq: 1, epoch: 'e', evicted: [], stored: true, replayed: undefined, entry: { secret: 'not in the reply' } }
  t.same(JSON.parse(compile(writeResultSchema)(written)), { key: 'k', tokens: 1, version: 1, seq: 1, epoch: 'e', evicted: [], stored: true })
  const revocation = { id: 'r1', tenant: 't', sub: 'bob', created_at: 'c', expires_at: 'e', created_by: 'admin' }
  const written2 = compile(revocationSchema)({ ...revocation, jti: undefined, internal: 1 })
  t.strictSame(JSON.parse(written2), JSON.parse(zodBytes(revocationSchema, revocation)))
  t.match(written2, /"created_by":"admin","sub":"bob"\}$/, 'the optional sub after the required fields')
})

test('a schema JSON cannot describe is encoded by zod; a schema that is not zod is refused at startup', async (t) => {
  // A 204's z.undefined(): compiled at startup like every response schema.
  t.equal(compile(z.undefined())(undefined), undefined)
  t.throws(() => compile(z.undefined())('a body'), 'encoded by zod, which refuses a body')
  t.throws(() => compile({ type: 'object' }), /not a zod schema/)
})
