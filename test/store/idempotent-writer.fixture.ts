// A child process for the crash test of idempotent writes: opens the store (the embedded journal
// in a directory, or Redis under a prefix), makes one write with an idempotency key, and SIGKILLs
// itself the moment the store has committed it, before it can acknowledge ("ack") anything: the
// crash between the commit and the ack that a client retries after.
import { openPersistentStore } from '../../src/store/sqlite-journal.js'
import { RedisContextStore } from '../../src/store/redis-store.js'
import { tokenCounter } from '../../src/token-counter.js'

const [backend, where, prefix] = process.argv.slice(2)
if (backend === undefined) {
  // Run by a test runner rather than by idempotent-crash.test.ts: nothing to test here.
  process.stdout.write('TAP version 14\n1..0 # SKIP a child-process fixture of idempotent-crash.test.ts, not a test\n')
  process.exit(0)
}
const options = { maxTokens: 128000, maxEntryTokens: 128000, countTokens: tokenCounter('o200k_base'), historySize: 100 }
const store = backend === 'journal'
  ? openPersistentStore({ ...options, dataDir: where, fsync: 'batch' }).store
  : await RedisContextStore.connect({ ...options, url: where, prefix })
const writer = { userId: 'alice', roles: ['writer'] as const, tenant: 'crash' }
process.stdout.write('ready\n')
await store.write(writer, { key: 'once', content: { payment: 42 } }, { idempotencyKey: 'crash-1' })
// Committed: die before the acknowledgement leaves.
process.kill(process.pid, 'SIGKILL')
process.stdout.write('ack\n')
