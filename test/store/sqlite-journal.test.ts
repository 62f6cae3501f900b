// Embedded persistence: what was acknowledged is exactly what a reopened store holds, writes of
// one turn share one commit, a second process cannot open the same directory, and a process
// killed with SIGKILL loses no acknowledged write.
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { DATABASE_FILE, openPersistentStore } from '../../src/store/sqlite-journal.js'
import { tokenCounter } from '../../src/token-counter.js'
import type { MemoryContextStore } from '../../src/store/memory-store.js'
import type { ChangeEvent } from '../../src/store/types.js'
import { actor, admin, alice, bob } from '../helpers/actors.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const options = (dataDir: string) => ({
  dataDir, fsync: 'batch' as const, maxTokens: 120, maxEntryTokens: 120, countTokens: tokenCounter('o200k_base'), historySize: 50
})

const everything = (store: MemoryContextStore) => Object.fromEntries(store.tenants().sort().map((tenant) => [tenant, {
  json: store.snapshot(tenant).entries.map((e) => [e.key, e.seq, e.json]),
  metadata: store.metadata(tenant),
  seq: store.seq(tenant)
}]))

/** A change as a client could tell it apart (every field, entries by their JSON). */
const comparable = (change: ChangeEvent) => ({ ...change, upserted: change.upserted.map((e) => [e.key, e.seq, e.expiresAt, e.json]) })

test('a reopened store holds exactly what was acknowledged, in the same rank order', async (t) => {
  const dir = t.testdir()
  const first = openPersistentStore(options(dir))
  const acme = actor('carol', ['writer'], 'acme')
  await first.store.write(alice, { content: { text: 'one two three' }, key: 'a', priority: 3 })
  await first.store.write(bob, { content: { text: 'bob '.repeat(30) }, key: 'b', priority: 2 })
  await first.store.write(alice, { content: { text: 'low '.repeat(40) }, key: 'low', priority: 1 })
  const evicting = await first.store.write(alice, { content: { text: 'more '.repeat(40) }, key: 'c', priority: 2 })
  t.ok(evicting.evicted.length > 0, 'the scenario evicts')
  await first.store.write(alice, { content: { text: 'replaced' }, key: 'a', priority: 3 })
  await first.store.setPriority(admin, 'b', 7)
  await first.store.write(alice, { content: { soon: true }, key: 'ttl', ttl_seconds: 3600 })
  await first.store.write(acme, { content: { ['__proto__']: { polluted: true }, unicode: 'δέλτα 🎉' }, key: 'constructor' })
  await first.store.write(acme, { content: { gone: true }, key: 'gone' })
  await first.store.remove(acme, 'gone')
  await first.store.clear(bob, { keys: ['b'] })
  const before = everything(first.store)
  const historyBefore = first.store.changesSince('default', 0)?.map(comparable)
  const epochBefore = first.store.epoch('default')
  await first.store.close()

  const second = openPersistentStore(options(dir))
  t.teardown(() => second.store.close())
  t.equal(second.restoredTenants, 2)
  t.same(everything(second.store), before, 'entries, seq, JSON and order survive')
  t.equal(second.store.epoch('default'), epochBefore, 'the epoch survives')
  t.same(second.store.changesSince('default', 0)?.map(comparable), historyBefore, 'the resume history survives, change for change')
  t.same(second.store.get('default', 'ttl')?.entry.expires_at, first.store.get('default', 'ttl')?.entry.expires_at, 'the TTL survives')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution from restored content')
  const next = await second.store.write(alice, { content: { text: 'again' }, key: 'a', priority: 3 })
  t.equal(next.seq, before.default.seq + 1, 'seq continues')
  t.equal(next.version, 3, 'versions continue')
  t.same(second.store.changesSince('default', before.default.seq - 2)?.map((c) => c.seq),
    [before.default.seq - 1, before.default.seq, next.seq], 'a resume from before the restart gets exactly what it missed')
  t.same(second.store.changesSince('default', before.default.seq)?.map((c) => c.seq), [next.seq], 'history after it works')
})

test('writes that arrive together share one commit', async (t) => {
  const { store, journal } = openPersistentStore({ ...options(t.testdir()), maxTokens: 100000, maxEntryTokens: 100000 })
  t.teardown(() => store.close())
  await Promise.all(Array.from({ length: 50 }, (_, i) => store.write(alice, { content: { i }, key: `k${i}` })))
  t.same(journal.stats, { commits: 1, changes: 50 })
  await store.write(alice, { content: { alone: true } })
  t.same(journal.stats, { commits: 2, changes: 51 })
})

test('a second server on the same data directory is refused at start', async (t) => {
  const dir = t.testdir()
  const { store } = openPersistentStore(options(dir))
  t.teardown(() => store.close())
  t.throws(() => openPersistentStore(options(dir)), { message: `MCP_DATA_DIR ${dir} is in use by another server process` })
})

for (const fsync of ['batch', 'always'] as const) {
  test(`SIGKILL loses no acknowledged write (MCP_FSYNC=${fsync})`, async (t) => {
    const dir = t.testdir()
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/store/persist-writer.fixture.ts', dir, fsync], {
      cwd: root, stdio: ['ignore', 'pipe', 'inherit']
    })
    t.teardown(() => { child.kill('SIGKILL') })
    const acked: string[] = []
    let tenant = ''
    let buffered = ''
    const enough = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() as string
        for (const line of lines) {
          if (line.startsWith('ready ')) tenant = line.slice(6)
          if (line.startsWith('ack ')) acked.push(line.slice(4))
        }
        if (acked.length >= 400) resolve()
      })
    })
    await enough
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    const [code, signal] = await exited
    t.equal(signal, 'SIGKILL', 'the writer was killed mid-stream')
    t.equal(code, null)

    const { store } = openPersistentStore({ ...options(dir), maxTokens: 1_000_000, maxEntryTokens: 1_000_000 })
    t.teardown(() => store.close())
    const missing = acked.filter((key) => store.get(tenant, key) === undefined)
    t.same(missing, [], `all ${acked.length} acknowledged writes are present`)
    t.ok(store.seq(tenant) >= acked.length, 'the seq covers them')
  })
}

test('the journal keeps the same history window as memory, bounded in changes and bytes', async (t) => {
  const dir = t.testdir()
  const bounded = { ...options(dir), maxTokens: 100_000, maxEntryTokens: 100_000, historySize: 50, historyBytes: 64 * 1024 }
  const first = openPersistentStore(bounded)
  for (let i = 0; i < 40; i++) await first.store.write(alice, { content: { text: 'word '.repeat(2000), i }, key: 'same' })
  for (let i = 0; i < 80; i++) await first.store.write(alice, { content: { i }, key: `small${i % 5}` })
  const oldest = (first.store.changesSince('default', 0) === undefined)
  t.ok(oldest, 'the history no longer reaches the start')
  const window = (store: MemoryContextStore) => {
    for (let seq = 0; seq <= store.seq('default'); seq++) {
      const changes = store.changesSince('default', seq)
      if (changes !== undefined) return { from: seq, changes: changes.map(comparable) }
    }
  }
  const before = window(first.store)
  t.equal(before?.changes.length, 50, 'memory holds MCP_HISTORY_SIZE changes')
  await first.store.close()
  const db = new Database(join(dir, DATABASE_FILE), { readonly: true })
  const rows = db.prepare("SELECT count(*) AS n, min(seq) AS oldest FROM changes WHERE tenant = 'default'").get() as { n: number, oldest: number }
  db.close()
  t.strictSame(rows, { n: 50, oldest: (before?.from ?? 0) + 1 }, 'the journal holds the same window, no more')

  const second = openPersistentStore(bounded)
  t.teardown(() => second.store.close())
  t.strictSame(window(second.store), before, 'after a reopen, the same window of the same changes')

  // Big rewrites: the byte bound decides.
  for (let i = 0; i < 20; i++) await second.store.write(alice, { content: { text: 'word '.repeat(4000), i }, key: 'same' })
  const big = window(second.store)
  t.ok((big?.changes.length ?? 0) <= 4, `${big?.changes.length} changes of 20 KB fit 64 KB`)
})
