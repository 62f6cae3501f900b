// A child process for the kill -9 test: opens the persistent store in the given directory and
// writes without end, 8 at a time, printing "ack <key>" for each write once it is acknowledged.
import { openPersistentStore } from '../../src/store/sqlite-journal.js'
import { tokenCounter } from '../../src/token-counter.js'

const [dataDir, fsync] = process.argv.slice(2)
if (dataDir === undefined) {
  // Run by a test runner rather than by sqlite-journal.test.ts: nothing to test here.
  process.stdout.write('TAP version 14\n1..0 # SKIP a child-process fixture of sqlite-journal.test.ts, not a test\n')
  process.exit(0)
}
const { store } = openPersistentStore({
  dataDir,
  fsync: fsync === 'always' ? 'always' : 'batch',
  maxTokens: 1_000_000,
  maxEntryTokens: 1_000_000,
  countTokens: tokenCounter('o200k_base'),
  historySize: 100
})
const writer = { userId: 'writer', roles: ['writer'] as const, tenant: process.pid % 2 === 0 ? 'even' : 'odd' }
process.stdout.write(`ready ${writer.tenant}\n`)
for (let round = 0; ; round++) {
  const keys = Array.from({ length: 8 }, (_, i) => `k${round}-${i}`)
  await Promise.all(keys.map(async (key) => {
    await store.write(writer, { content: { key, round, text: 'durable '.repeat(20) }, key })
    process.stdout.write(`ack ${key}\n`)
  }))
}
