// Exactly once across a crash (contract §8): a write is committed, the process is SIGKILLed before
// it acknowledges, and the client retries with the same idempotency key against a server on the
// same store. The retry gets the first reply (replayed) and the write is applied once, because the
// kept reply was committed with the change (one journal transaction, one Redis script).
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { test, type Test } from 'tap'
import { REDIS_URL, redisTest, uniquePrefix } from '../helpers/redis.js'
import { spawnServer } from '../helpers/spawn-server.js'
import { signTestToken } from '../helpers/tokens.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const token = signTestToken({ sub: 'alice', roles: ['writer'], tenant: 'crash' })
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

/** Runs the fixture to its SIGKILL; returns what it printed. */
async function crashAfterCommit (t: Test, args: string[]): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/store/idempotent-writer.fixture.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const [, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  t.equal(signal, 'SIGKILL', 'the writer was killed')
  t.equal(output, 'ready\n', 'after the commit and before any acknowledgement')
  return output
}

async function retryOnce (t: Test, env: Record<string, string>): Promise<void> {
  const server = await spawnServer(t, env)
  const retry = await fetch(`${server.base}/context`, {
    method: 'POST', headers: { ...headers, 'idempotency-key': 'crash-1' }, body: JSON.stringify({ key: 'once', context: { payment: 42 } })
  })
  t.equal(retry.status, 201)
  const body = await retry.json() as Record<string, unknown>
  t.match(body, { key: 'once', version: 1, seq: 1, replayed: true }, 'the retry gets the first reply')
  t.equal(retry.headers.get('idempotent-replayed'), 'true')
  const entry = await (await fetch(`${server.base}/context/once`, { headers })).json() as { version: number }
  t.equal(entry.version, 1, 'the write was applied once')
  const different = await fetch(`${server.base}/context`, {
    method: 'POST', headers: { ...headers, 'idempotency-key': 'crash-1' }, body: JSON.stringify({ key: 'once', context: { payment: 43 } })
  })
  t.equal(different.status, 422, 'and the key still refuses a different request')
  await server.stop('SIGTERM')
}

test('embedded journal: SIGKILL between commit and ack, then a retry with the same key', async (t) => {
  const dataDir = t.testdir()
  await crashAfterCommit(t, ['journal', dataDir])
  await retryOnce(t, { MCP_DATA_DIR: dataDir })
})

redisTest('Redis: SIGKILL between commit and ack, then a retry with the same key', async (t) => {
  const prefix = uniquePrefix(t)
  await crashAfterCommit(t, ['redis', REDIS_URL, prefix])
  await retryOnce(t, { MCP_STORE: 'redis', REDIS_URL, MCP_REDIS_PREFIX: prefix })
})
