// The embedded default, as a real server process: writes acknowledged over REST survive SIGKILL
// (MCP_FSYNC=batch and always) and a graceful SIGTERM (exit code 0), every one of them present
// with its version after a restart on the same MCP_DATA_DIR; and so does the resume history, so
// a client resuming from before the kill gets every change since, in the same epoch.
import { test, type Test } from 'tap'
import { spawnServer, type ServerProcess } from '../helpers/spawn-server.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated } from '../helpers/ws-client.js'

const token = signTestToken({ sub: 'alice', roles: ['writer'], tenant: 'durable' })
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }

/** Writes with 8 concurrent writers until `stop()` resolves true; returns the acknowledged versions. */
function keepWriting (server: ServerProcess) {
  const acked = new Map<string, number>()
  /** The seq and epoch of the first acknowledged write: a point to resume from after the restart. */
  const first: { seq?: number, epoch?: string } = {}
  const state = { stopped: false }
  let n = 0
  const writers = Array.from({ length: 8 }, async () => {
    while (!state.stopped) {
      const key = `k${n++}`
      try {
        const response = await fetch(`${server.base}/context`, {
          method: 'POST', headers, body: JSON.stringify({ key, context: { key, text: 'kept '.repeat(30) } })
        })
        if (response.status === 201) {
          const reply = await response.json() as { version: number, seq: number, epoch: string }
          acked.set(key, reply.version)
          if (first.seq === undefined) Object.assign(first, { seq: reply.seq, epoch: reply.epoch })
        }
      } catch {
        return // the server is gone: the write was not acknowledged
      }
    }
  })
  return { acked, first, stop: async () => { state.stopped = true; await Promise.all(writers) } }
}

async function until (check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function assertAllPresent (t: Test, server: ServerProcess, acked: Map<string, number>): Promise<void> {
  const response = await fetch(`${server.base}/context`, { headers })
  const body = await response.json() as { data: Record<string, { version: number }> }
  const missing = [...acked].filter(([key, version]) => body.data[key]?.version !== version)
  t.same(missing, [], `all ${acked.size} acknowledged writes are present after the restart`)
}

for (const fsync of ['batch', 'always']) {
  test(`SIGKILL mid-write (MCP_FSYNC=${fsync}): every acknowledged write survives the restart`, async (t) => {
    const env = { MCP_DATA_DIR: t.testdir(), MCP_FSYNC: fsync }
    const first = await spawnServer(t, env)
    const writing = keepWriting(first)
    await until(() => writing.acked.size >= 300, '300 acknowledged writes')
    const exit = await first.stop('SIGKILL')
    await writing.stop()
    t.equal(exit.signal, 'SIGKILL', 'killed while writes were in flight')

    const second = await spawnServer(t, env)
    t.comment(`${writing.acked.size} writes acknowledged before SIGKILL`)
    await assertAllPresent(t, second, writing.acked)

    // The history survived too: a resume from the first write replays every change since.
    const { seq, epoch } = writing.first as { seq: number, epoch: string }
    const back = await connectAuthenticated(`${second.ws}`, token, { mode: 'delta', since_seq: seq, epoch })
    const current = (await back.request({ type: 'get_context' })).seq as number
    t.strictSame(back.frames.filter((f) => f.type === 'context' && f.resync === true), [], 'a resume, not a resync')
    t.strictSame(back.frames.filter((f) => f.type === 'context_delta').map((f) => f.seq),
      Array.from({ length: current - seq }, (_, i) => seq + 1 + i), 'every change after the resume point, across the kill')
    back.close()
    await second.stop('SIGTERM')
  })
}

test('SIGTERM: exit code 0, and every acknowledged write survives the restart', async (t) => {
  const env = { MCP_DATA_DIR: t.testdir() }
  const first = await spawnServer(t, env)
  const writing = keepWriting(first)
  await until(() => writing.acked.size >= 300, '300 acknowledged writes')
  const exit = await first.stop('SIGTERM')
  await writing.stop()
  t.same(exit, { code: 0, signal: null }, 'a graceful exit')
  t.match(first.output().stdout, /persisted to MCP_DATA_DIR/, 'it said where it persists')

  const second = await spawnServer(t, env)
  t.match(second.output().stdout, /"restoredTenants":1/, 'the restart restored the tenant')
  await assertAllPresent(t, second, writing.acked)
  const more = await fetch(`${second.base}/context`, { method: 'POST', headers, body: JSON.stringify({ key: 'after', context: { after: true } }) })
  t.equal(more.status, 201, 'and keeps going')
})

test('MCP_DATA_DIR empty: memory only, with a warning at start', async (t) => {
  const server = await spawnServer(t, { MCP_DATA_DIR: '' })
  t.match(server.output().stdout, /"level":40,[^\n]*"msg":"store: memory only \(MCP_DATA_DIR is empty\): nothing survives a restart"/,
    'a warning says nothing survives a restart')
  await server.stop('SIGTERM')
})
