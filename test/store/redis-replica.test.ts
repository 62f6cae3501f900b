// The replica that keeps one tenant of the Redis backend in step (no Redis needed): changes that
// arrive out of order or twice are applied once each, in seq order; a gap is reported; a reload
// tells listeners the difference and lets held changes follow it.
import { test } from 'tap'
import { TenantRegistry } from '../../src/store/tenant-registry.js'
import { TenantReplica } from '../../src/store/redis-replica.js'
import { tenantKeys } from '../../src/store/redis-keys.js'
import { tokenCounter } from '../../src/token-counter.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { alice } from '../helpers/actors.js'

const options = { maxTokens: 1000, maxEntryTokens: 1000, countTokens: tokenCounter('o200k_base'), historySize: 50 }

/** Real changes, made by a TenantStore acting as "Redis". */
async function changesFrom (count: number): Promise<{ source: TenantRegistry, changes: ChangeEvent[] }> {
  const source = new TenantRegistry(options)
  const changes: ChangeEvent[] = []
  for (let i = 0; i < count; i++) changes.push(source.of('t').write(alice, { content: { i }, key: `k${i % 4}` }).change)
  return { source, changes }
}

function replicaWith (registry: TenantRegistry) {
  const emitted: ChangeEvent[] = []
  const gaps: number[] = []
  const replica = new TenantReplica('t', tenantKeys('p', 't'), registry, {
    emit: (change) => emitted.push(change),
    onGap: (r) => gaps.push(r.gap()?.from ?? -1)
  })
  // Its first load: the tenant was empty in "Redis" (a first load announces nothing).
  replica.replace(registry.create('t'))
  return { replica, emitted, gaps }
}

test('changes out of order and twice are applied once each, in seq order', async (t) => {
  const { source, changes } = await changesFrom(6)
  const registry = new TenantRegistry(options)
  const { replica, emitted, gaps } = replicaWith(registry)
  const applied = replica.whenApplied(5, 10_000)
  for (const i of [1, 0, 1, 3, 2, 0, 5, 4, 5]) replica.deliver(changes[i])
  await applied
  t.same(emitted.map((c) => c.seq), [1, 2, 3, 4, 5, 6])
  t.same(gaps, [1, 3, 5], 'each time a change waited behind a missing one, the gap was reported')
  t.equal(replica.gap(), undefined)
  t.same(registry.of('t').snapshot().entries.map((e) => e.json), source.of('t').snapshot().entries.map((e) => e.json))
  t.same(registry.of('t').changesSince(2)?.map((c) => c.seq), [3, 4, 5, 6], 'resume history follows')
})

test('a reload installs the fresh store, emits the difference once, then applies what was held', async (t) => {
  // "Redis": k0..k3 written (seq 1-4), k3 deleted (5), k0, k1, k2 rewritten (6, 7, 8).
  const source = new TenantRegistry(options)
  const store = source.of('t')
  const changes: ChangeEvent[] = []
  for (const key of ['k0', 'k1', 'k2', 'k3']) changes.push(store.write(alice, { content: { key }, key }).change)
  changes.push(store.remove(alice, 'k3').change)
  for (const key of ['k0', 'k1']) changes.push(store.write(alice, { content: { key, again: true }, key }).change)
  const atSeven = new TenantRegistry(options)
  for (const change of changes) atSeven.of('t').apply(change)
  changes.push(store.write(alice, { content: { key: 'k2', again: true }, key: 'k2' }).change)

  const registry = new TenantRegistry(options)
  const { replica, emitted } = replicaWith(registry)
  for (const change of changes.slice(0, 4)) replica.deliver(change)
  replica.hold()
  replica.deliver(changes[7]) // held while the reload is in flight
  t.equal(replica.seq, 4)
  const fresh = registry.create('t')
  // The same history, reloaded (Redis kept its epoch).
  fresh.restore(atSeven.of('t').snapshot().entries, 7, [], registry.of('t').epoch)
  replica.replace(fresh)

  t.same(emitted.map((c) => c.seq), [1, 2, 3, 4, 7, 8], 'the difference carries the reloaded seq, then the held change follows')
  const diff = emitted[4]
  t.equal(diff.reason, 'replaced')
  t.same(diff.upserted.map((e) => e.key), ['k0', 'k1'], 'only entries that changed, oldest write first')
  t.same(diff.removed, [{ key: 'k3', reason: 'cleared' }], 'and what is gone')
  t.same(registry.of('t').snapshot().entries.map((e) => e.json), store.snapshot().entries.map((e) => e.json), 'the same store as the source')
  t.equal(registry.of('t').changesSince(4), undefined, 'resuming from before the reload needs a resync')
  t.same(registry.of('t').changesSince(7)?.map((c) => c.seq), [8], 'resuming after it works')
})

test('changes that arrive before the first load are held, then applied after it in order', async (t) => {
  const { changes } = await changesFrom(3)
  const registry = new TenantRegistry(options)
  const emitted: ChangeEvent[] = []
  const replica = new TenantReplica('t', tenantKeys('p', 't'), registry, { emit: (change) => emitted.push(change), onGap: () => {} })
  replica.deliver(changes[2])
  t.equal(replica.loaded, false)
  t.equal(registry.peek('t'), undefined, 'nothing is registered before the first load')
  const fresh = registry.create('t')
  fresh.restore([...changes[1].upserted, ...changes[0].upserted], 2, changes.slice(0, 2), changes[0].epoch)
  replica.replace(fresh)
  t.same(emitted.map((c) => c.seq), [3], 'no difference is announced for the first load, the held change follows')
  t.equal(replica.seq, 3)
  replica.drop()
  replica.deliver({ ...changes[2], seq: 4 })
  t.equal(registry.peek('t'), undefined, 'a dropped replica frees its store')
  t.equal(replica.loaded, false)
})

test('a waiter is released after its timeout even if its change never arrives', async (t) => {
  const registry = new TenantRegistry(options)
  const { replica } = replicaWith(registry)
  await replica.whenApplied(3, 50)
  t.equal(replica.seq, 0)
})

test('a reload into another epoch announces every entry of the new history, even when they look the same', async (t) => {
  const registry = new TenantRegistry(options)
  const { replica, emitted } = replicaWith(registry)
  const before = new TenantRegistry(options).of('t')
  const written = before.write(alice, { content: { same: true }, key: 'k' }).change
  replica.deliver(written)
  const fresh = registry.create('t')
  // Another history that happens to hold an entry with the same key and seq.
  fresh.restore(before.snapshot().entries, 1, [], 'another-epoch')
  replica.replace(fresh)
  t.equal(emitted.length, 2)
  t.match(emitted[1], { epoch: 'another-epoch', seq: 1 })
  t.strictSame(emitted[1].upserted.map((e) => e.key), ['k'], 'seqs of two histories are not compared')
  t.equal(registry.of('t').epoch, 'another-epoch')
})
