import { test } from 'tap'
import { MemoryContextStore } from '../../src/store/memory-store.js'
import { tokenCounter } from '../../src/token-counter.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { actor, alice } from '../helpers/actors.js'

const newStore = () => new MemoryContextStore({ maxTokens: 10000, maxEntryTokens: 10000, countTokens: tokenCounter('o200k_base'), historySize: 100 })

test('every change reaches listeners once, in seq order, with its tenant', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  const seen: ChangeEvent[] = []
  const stop = store.onChange((change) => seen.push(change))
  await store.write(alice, { content: { a: 1 }, key: 'a' })
  await store.setPriority(alice, 'a', 4)
  await store.write(alice, { content: { b: 1 }, key: 'b' })
  await store.remove(alice, 'b')
  await store.clear(alice, {})
  t.same(seen.map((c) => [c.seq, c.reason]), [[1, 'created'], [2, 'priority'], [3, 'created'], [4, 'deleted'], [5, 'cleared']])
  t.ok(seen.every((c) => c.tenant === 'default'))
  stop()
  await store.write(alice, { content: {}, key: 'c' })
  t.equal(seen.length, 5, 'an unsubscribed listener hears nothing more')
})

test('tenants have separate stores, budgets and sequences', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  const acme = actor('alice', ['writer'], 'acme')
  await store.write(alice, { content: { tenant: 'default' }, key: 'same-key' })
  await store.write(acme, { content: { tenant: 'acme' }, key: 'same-key' })
  await store.write(acme, { content: { more: true } })
  t.same(store.get('default', 'same-key')?.entry.content, { tenant: 'default' })
  t.same(store.get('acme', 'same-key')?.entry.content, { tenant: 'acme' })
  t.equal(store.seq('default'), 1)
  t.equal(store.seq('acme'), 2)
  t.same(store.tenants().sort(), ['acme', 'default'])
})

test('an expired entry is never read, and its removal is broadcast', async (t) => {
  const store = newStore()
  t.teardown(() => store.close())
  const seen: ChangeEvent[] = []
  store.onChange((change) => seen.push(change))
  await store.write(alice, { content: { soon: 'gone' }, key: 'ttl', ttl_seconds: 1 })
  t.ok(store.get('default', 'ttl'))
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal(store.get('default', 'ttl'), undefined)
  t.same(seen.at(-1)?.removed, [{ key: 'ttl', reason: 'expired' }])
})

test('a throwing listener does not fail the write or starve other listeners', async (t) => {
  const errors: unknown[] = []
  const store = new MemoryContextStore({ maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 10, onError: (e) => errors.push(e) })
  t.teardown(() => store.close())
  let heard = 0
  store.onChange(() => { throw new Error('broken subscriber') })
  store.onChange(() => { heard++ })
  const result = await store.write(alice, { content: { ok: true } })
  t.equal(result.version, 1)
  t.equal(heard, 1)
  t.equal(errors.length, 1)
})

test('a change produced while listeners run is delivered after the current one, never inside it', async (t) => {
  // No sweeper during the test: the due TTL is expired by a read, from inside a listener.
  const store = new MemoryContextStore({ maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 10, expirySweepMs: 60_000 })
  t.teardown(() => store.close())
  const acme = actor('alice', ['writer'], 'acme')
  await store.write(acme, { content: { soon: 'gone' }, key: 'ttl', ttl_seconds: 1 })
  await new Promise((resolve) => setTimeout(resolve, 1050))
  const heard: string[][] = [[], []]
  store.onChange((change) => {
    heard[0].push(`${change.tenant}:${change.reason}`)
    store.metadata('acme') // a read that expires acme's due entry: a change produced mid-delivery
  })
  store.onChange((change) => { heard[1].push(`${change.tenant}:${change.reason}`) })
  await store.write(alice, { content: { next: true }, key: 'other' })
  t.same(heard[1], ['default:created', 'acme:expired'], 'the second listener hears the changes in the order they were made')
  t.same(heard[0], heard[1], 'every listener hears the same sequence')
})

test('a change whose journal commit fails is still delivered (it is in the working set)', async (t) => {
  let fail = false
  const journal = {
    append: async () => { if (fail) throw new Error('disk full') },
    isHealthy: () => !fail,
    close: async () => {}
  }
  const store = new MemoryContextStore({ maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 10, journal })
  t.teardown(() => store.close())
  const seqs: number[] = []
  store.onChange((change) => seqs.push(change.seq))
  await store.write(alice, { content: { a: 1 }, key: 'a' })
  fail = true
  await t.rejects(store.write(alice, { content: { b: 1 }, key: 'b' }), /disk full/)
  t.equal(await store.isReady(), false, 'not ready while the journal fails')
  fail = false
  await store.write(alice, { content: { c: 1 }, key: 'c' })
  t.same(seqs, [1, 2, 3], 'no hole in the seq stream')
})
