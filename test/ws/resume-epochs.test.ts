// Epochs (contract §7) through real sockets: every frame that carries seq carries the epoch of its
// history; a resume that names another epoch gets a resync, never deltas of another history; with
// the embedded store the history itself survives a restart, so the same resume gets exactly the
// deltas it missed. The reproduction: write 10, restart, write 20, resume since_seq 5.
import { test, type Test } from 'tap'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, openClient, startServer, type Frame, type TestClient } from '../helpers/ws-client.js'

const as = (sub: string, roles: string[] = ['writer'], tenant = 'default') => signTestToken({ sub, roles, tenant })
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Writes `count` new keys; returns the acks. */
async function writeMany (writer: TestClient, count: number, prefix: string): Promise<Frame[]> {
  const acks: Frame[] = []
  for (let i = 0; i < count; i++) acks.push(await writer.request({ type: 'update_context', key: `${prefix}${i}`, context: { i } }))
  return acks
}

/** Every frame up to a pong: what the server sent before it answered (a replay included). */
async function framesUntilPong (client: TestClient): Promise<Frame[]> {
  const pong = await client.request({ type: 'ping' })
  return client.frames.slice(0, client.frames.indexOf(pong))
}

const authEpoch = (client: TestClient) => client.frames.find((f) => f.type === 'auth_success')?.epoch as string

/** Runs the first life of a server: 10 writes; returns the epoch and seq a client saw. */
async function firstLife (t: Test, env: Record<string, string>) {
  const { app, url } = await startServer(t, env)
  const writer = await connectAuthenticated(url, as('alice'))
  const acks = await writeMany(writer, 10, 'before')
  const epoch = authEpoch(writer)
  writer.close()
  await app.close()
  return { epoch, acks }
}

test('epoch appears beside seq in auth_success, context, update_ack, context_update, context_delta, subscribed', async (t) => {
  const { app, url } = await startServer(t)
  const epoch = app.store.epoch('default')
  t.match(epoch, /^[\x21-\x7e]{1,64}$/, 'an opaque printable string of at most 64 characters')
  const snapshotClient = await connectAuthenticated(url, as('snap', ['reader']))
  const deltaClient = await connectAuthenticated(url, as('delta', ['reader']), { mode: 'delta' })
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  t.match(writer.frames[0], { type: 'context', seq: 0, epoch })
  t.match(writer.frames[1], { type: 'auth_success', seq: 0, epoch })
  const [ack] = await writeMany(writer, 1, 'k')
  t.match(ack, { type: 'update_ack', seq: 1, epoch })
  t.match(await snapshotClient.nextOfType('context_update'), { seq: 1, epoch })
  t.match(await deltaClient.nextOfType('context_delta'), { seq: 1, epoch })
  t.match(await writer.request({ type: 'get_context' }), { type: 'context', seq: 1, epoch })
  t.match(await writer.request({ type: 'subscribe', mode: 'delta' }), { type: 'subscribed', seq: 1, epoch })
  for (const c of [snapshotClient, deltaClient, writer]) c.close()
})

test('memory only: write 10, restart, write 20, resume since_seq 5 with the old epoch: a resync, no deltas', async (t) => {
  const env = { MCP_DATA_DIR: '' }
  const before = await firstLife(t, env)
  const { app, url } = await startServer(t, env)
  t.not(app.store.epoch('default'), before.epoch, 'a memory-only start is a new history')
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 20, 'after')

  const back = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: 5, epoch: before.epoch })
  const frames = await framesUntilPong(back)
  t.strictSame(frames.filter((f) => f.type === 'context_delta'), [], 'no delta of another history')
  const resync = frames.filter((f) => f.type === 'context' && f.resync === true)
  t.equal(resync.length, 1, 'one resync snapshot')
  t.match(resync[0], { seq: 20, epoch: app.store.epoch('default') })
  t.strictSame(Object.keys(resync[0].data).sort(), range(0, 19).map((i) => `after${i}`).sort(), 'the new history\'s store')

  // The same through subscribe, mid-session.
  const mid = await connectAuthenticated(url, as('dash2', ['reader']), { mode: 'none' })
  const subscribed = await mid.request({ type: 'subscribe', mode: 'delta', since_seq: 5, epoch: before.epoch })
  t.match(subscribed, { type: 'subscribed', seq: 20, epoch: app.store.epoch('default') })
  const after = (await framesUntilPong(mid)).slice(mid.frames.indexOf(subscribed))
  t.strictSame(after.filter((f) => f.type === 'context_delta'), [])
  t.equal(after.filter((f) => f.type === 'context' && f.resync === true).length, 1)

  // Without an epoch, since_seq works as before (older clients, at their own risk).
  const old = await connectAuthenticated(url, as('dash3', ['reader']), { mode: 'delta', since_seq: 15 })
  t.strictSame((await framesUntilPong(old)).filter((f) => f.type === 'context_delta').map((f) => f.seq), range(16, 20))
  for (const c of [writer, back, mid, old]) c.close()
})

test('embedded store: write 10, restart, write 20, resume since_seq 5 with the epoch: exactly deltas 6..30', async (t) => {
  const env = { MCP_DATA_DIR: t.testdir() }
  const before = await firstLife(t, env)
  t.strictSame(before.acks.map((a) => a.seq), range(1, 10))
  const { app, url } = await startServer(t, env)
  t.equal(app.store.epoch('default'), before.epoch, 'the history goes on: same epoch')
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  const acks = await writeMany(writer, 20, 'after')
  t.strictSame(acks.map((a) => a.seq), range(11, 30))

  const back = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: 5, epoch: before.epoch })
  const frames = await framesUntilPong(back)
  t.strictSame(frames.filter((f) => f.type === 'context' && f.resync === true), [], 'no resync')
  const deltas = frames.filter((f) => f.type === 'context_delta')
  t.strictSame(deltas.map((f) => f.seq), range(6, 30), 'exactly the missed deltas, across the restart')
  t.ok(deltas.every((f) => f.epoch === before.epoch))
  t.strictSame(deltas.map((f) => Object.keys(f.upserted)[0]),
    [...range(5, 9).map((i) => `before${i}`), ...range(0, 19).map((i) => `after${i}`)], 'each delta is its own change')
  writer.close()
  back.close()
})

test('embedded store: a data directory that is replaced starts a new epoch, and the resume resyncs', async (t) => {
  const before = await firstLife(t, { MCP_DATA_DIR: t.testdir() })
  const { app, url } = await startServer(t, { MCP_DATA_DIR: `${t.testdirName}-replaced` })
  t.teardown(async () => { const { rmSync } = await import('node:fs'); rmSync(`${t.testdirName}-replaced`, { recursive: true, force: true }) })
  t.not(app.store.epoch('default'), before.epoch)
  const writer = await connectAuthenticated(url, as('alice'), { mode: 'none' })
  await writeMany(writer, 12, 'other')
  const back = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'delta', since_seq: 5, epoch: before.epoch })
  const frames = await framesUntilPong(back)
  t.strictSame(frames.filter((f) => f.type === 'context_delta'), [])
  t.equal(frames.filter((f) => f.type === 'context' && f.resync === true).length, 1)
  writer.close()
  back.close()
})

test('an epoch that is not a string of 1-64 characters is a validation_error and changes nothing', async (t) => {
  const { url } = await startServer(t)
  const client = await connectAuthenticated(url, as('dash', ['reader']), { mode: 'none' })
  for (const epoch of ['x'.repeat(65), '', 42, null]) {
    const reply = await client.request({ type: 'subscribe', mode: 'delta', since_seq: 0, epoch })
    t.match(reply, { type: 'error', code: 'validation_error' }, `epoch ${JSON.stringify(epoch)}`)
    t.match(reply.details, [{ path: 'epoch' }])
  }
  const frames = await framesUntilPong(client)
  t.strictSame(frames.filter((f) => f.type === 'subscribed'), [], 'no subscription was made')

  const refused = await openClient(url, { query: { token: as('dash2', ['reader']), since_seq: 0, epoch: 'y'.repeat(65) } })
  const error = await refused.nextOfType('error')
  t.match(error, { code: 'validation_error' })
  t.match((await refused.waitClosed()).code, 1008)
  client.close()
})
