// A large write's content crosses back from its worker thread as its JSON alone
// (src/store/content-from-json.ts): the store keeps it unparsed, yet every reader of the content
// gets the value sent, the entry keeps its field order, a new version carries the JSON over
// unparsed, and the idempotency fingerprint is the one the parsed content gives.
import { test } from 'tap'
import { FROM_JSON, PARSE_CONTENTS_BELOW, contentJsonOfInput, contentOfEntry, entryFromJson, inputWithContentJson } from '../../src/store/content-from-json.js'
import { buildStoredEntry } from '../../src/store/tenant-store.js'
import { fingerprintOf } from '../../src/store/idempotency.js'
import { TenantStore } from '../../src/store/tenant-store.js'
import { countTokens } from '../../src/tokenizer/count-tokens.js'
import { rankTable } from '../../src/tokenizer/rank-table.js'
import type { Actor } from '../../src/store/types.js'

const actor: Actor = { userId: 'alice', roles: ['writer'], tenant: 't' }
const count = (text: string) => countTokens(rankTable('o200k_base'), text)
const content = { note: 'The quiz for lesson 3', rows: [{ id: 1, ok: false, none: null }], n: -1.5e-7, ünï: 'cödé 🎉' }
const contentJson = JSON.stringify(content)

/** How many times JSON.parse runs during `fn` (the real JSON.parse, counted). */
function parsesDuring<T> (fn: () => T): { value: T, parses: number } {
  const parse = JSON.parse
  let parses = 0
  JSON.parse = (text: string, reviver?: Parameters<typeof parse>[1]) => { parses++; return parse(text, reviver) }
  try {
    return { value: fn(), parses }
  } finally {
    JSON.parse = parse
  }
}

test('the input: its content is the value, parsed once on first read; its JSON is there unparsed', async (t) => {
  const input = inputWithContentJson({ key: 'k', priority: 3 }, contentJson)
  t.equal(parsesDuring(() => contentJsonOfInput(input)).value, contentJson, 'the JSON, as given')
  const first = parsesDuring(() => input.content)
  t.same(first.value, content, 'the content read is the value')
  t.equal(first.parses, 1, 'parsed at the first read')
  const again = parsesDuring(() => input.content)
  t.equal(again.value, first.value, 'one value, kept for the operation')
  t.equal(again.parses, 0, 'not parsed again')
  t.same(Object.keys(input), ['key', 'priority', 'content'], 'content is an ordinary enumerable field')
  t.equal(contentJsonOfInput({ content }), undefined, 'an ordinary input has no JSON attached')
})

test('the fingerprint of an input with its JSON equals that of the parsed content (and differs for another)', async (t) => {
  const fields = { key: 'k', source: 's', priority: 4, ttl_seconds: 60 }
  const lazy = inputWithContentJson(fields, contentJson)
  t.equal(fingerprintOf({ op: 'write', input: lazy }), fingerprintOf({ op: 'write', input: { ...fields, content } }), 'the same request')
  const other = inputWithContentJson(fields, JSON.stringify({ ...content, note: 'another quiz' }))
  t.not(fingerprintOf({ op: 'write', input: other }), fingerprintOf({ op: 'write', input: lazy }), 'another content is another request')
  t.not(fingerprintOf({ op: 'write', input: inputWithContentJson({ ...fields, priority: 5 }, contentJson) }), fingerprintOf({ op: 'write', input: lazy }),
    'another option is another request')
})

test('a stored entry keeps the content as JSON: served as sent, in field order, carried over unparsed', async (t) => {
  const store = new TenantStore('t', { maxTokens: 100_000, maxEntryTokens: 100_000, countTokens: count, historySize: 10 })
  const input = inputWithContentJson({ key: 'big', source: 'agent', priority: 2 }, contentJson)
  const tokens = count(contentJson)
  const written = parsesDuring(() => store.write(actor, input, Date.now(), { contentJson, tokens }))
  t.equal(written.parses, 0, 'the write parses nothing')
  const { result } = written.value
  const stored = store.get('big')
  if (stored === undefined) throw new Error('not stored')
  t.equal(result.tokens, tokens)
  t.same(stored.entry.content, content, 'the content read is the value sent')
  t.not(stored.entry.content, stored.entry.content, 'parsed at each read, not kept beside the JSON')
  t.equal(JSON.stringify(stored.entry), stored.json, 'the entry serializes to its JSON: same fields, same order')
  t.same(JSON.parse(stored.json).content, content, 'the JSON holds the content')

  // A new version (priority) carries the content over without reading it.
  t.equal(parsesDuring(() => store.setPriority(actor, 'big', 9)).parses, 0, 'a priority change parses nothing')
  const raised = store.get('big')
  t.equal(raised?.entry.priority, 9)
  t.same(raised?.entry.content, content, 'and keeps the content')
  t.equal(JSON.stringify(raised?.entry), raised?.json, 'its entry still serializes to its JSON')

  // An ordinary write keeps its value as it is.
  store.write(actor, { key: 'small', content: { n: 1 } })
  const small = store.get('small')
  t.equal(small?.entry.content, small?.entry.content, 'an inline write keeps its parsed content')
})

test('an entry read from its JSON (a change record): large contents stay JSON, every entry reads as JSON.parse gives it', async (t) => {
  const fields = { timestamp: '2026-12-02T07:00:00.000Z', tokens: 42, source: 'agent "7"', priority: 3, owner: 'alice', version: 2 }
  // A content quoting the entry's own field names, so cutting it out must find the real ones.
  const large = { note: 'lesson ,"tokens":1, "content": '.repeat(80), rows: [{ ok: true }] }
  const small = { note: 'short ,"tokens":1' }
  for (const [name, content, expiresAt] of [['large', large, undefined], ['large with a TTL', large, Date.parse('2026-12-03T00:00:00.000Z')], ['small', small, undefined]] as const) {
    const contentJson = JSON.stringify(content)
    const { json } = buildStoredEntry('k', 7, contentJson, content, { ...fields, expiresAt })
    const read = parsesDuring(() => entryFromJson(json))
    t.same(read.value, JSON.parse(json), `${name}: the entry JSON.parse gives`)
    t.equal(JSON.stringify(read.value), json, `${name}: serializes back to its JSON`)
    const kept = contentJson.length >= PARSE_CONTENTS_BELOW
    t.equal(kept, name !== 'small', `${name}: ${contentJson.length} characters of content`)
    t.equal(contentOfEntry(read.value) === FROM_JSON, kept, kept ? `${name}: content left as JSON` : `${name}: parsed whole`)
    t.same(read.value.content, content)
  }
})
