// Log lines on stdout (src/log-destination.ts): the lines of one turn of the event loop leave in
// one write, within that turn; a turn's lines are written early past TURN_LINES_MAX_CHARS; what is
// pending is written when the process exits, by process.exit or an uncaught exception; and a real
// server's audit lines all reach its stdout, one JSON object per line.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pino from 'pino'
import { test } from 'tap'
import { TURN_LINES_MAX_CHARS, TurnBatchedLines } from '../src/log-destination.js'
import { spawnServer } from './helpers/spawn-server.js'
import { signTestToken } from './helpers/tokens.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Lines batched over a real synchronous destination on a file, and the writes it was given. */
function fileLines (t: { teardown: (f: () => void) => void }) {
  const dir = mkdtempSync(join(tmpdir(), 'log-destination-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'out.log')
  const destination = pino.destination({ dest: path, sync: true })
  const writes: string[] = []
  const write = destination.write.bind(destination)
  destination.write = (data: string) => { writes.push(data); return write(data) }
  return { lines: new TurnBatchedLines(destination), writes, read: () => readFileSync(path, 'utf8') }
}

const nextTurn = async () => await new Promise((resolve) => setImmediate(resolve))

test('the lines of one turn leave in one write, in order, before the next turn', async (t) => {
  const { lines, writes, read } = fileLines(t)
  lines.write('one\n')
  lines.write('two\n')
  lines.write('three\n')
  t.same(writes, [], 'nothing is written while the turn runs')
  await nextTurn()
  t.same(writes, ['one\ntwo\nthree\n'], 'one write for the three lines')
  lines.write('four\n')
  await nextTurn()
  t.same(writes, ['one\ntwo\nthree\n', 'four\n'], 'a later turn has its own write')
  t.equal(read(), 'one\ntwo\nthree\nfour\n')
})

test(`a turn's lines are written early once they reach ${TURN_LINES_MAX_CHARS} characters`, async (t) => {
  const { lines, writes } = fileLines(t)
  const half = 'x'.repeat(TURN_LINES_MAX_CHARS / 2 - 1) + '\n'
  lines.write(half)
  t.equal(writes.length, 0)
  lines.write(half)
  t.equal(writes.length, 1, 'written within the turn, at the bound')
  t.equal(writes[0].length, TURN_LINES_MAX_CHARS)
  lines.write('after\n')
  await nextTurn()
  t.same(writes.slice(1), ['after\n'])
})

/** Runs a script that logs through stdoutLines and ends in the same turn; its stdout and exit code. */
async function runScript (body: string): Promise<{ stdout: string, code: number | null }> {
  const script = `import { stdoutLines } from './src/log-destination.ts'\nconst lines = stdoutLines()\n${body}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { stdout, code }
}

test('pending lines are written when the process exits in the same turn', async (t) => {
  const exited = await runScript('lines.write(\'before exit\\n\'); process.exit(3)')
  t.equal(exited.code, 3)
  t.equal(exited.stdout, 'before exit\n', 'process.exit')
  const thrown = await runScript('lines.write(\'before the throw\\n\'); throw new Error(\'boom\')')
  t.equal(thrown.code, 1)
  t.equal(thrown.stdout, 'before the throw\n', 'an uncaught exception')
})

test('a real server writes an audit line per change to stdout, one JSON object per line', async (t) => {
  const server = await spawnServer(t, { LOG_LEVEL: 'info' })
  const token = signTestToken({ sub: 'auditor', roles: ['writer'] })
  // Concurrent writes, so several changes fall in one turn.
  const replies = await Promise.all(Array.from({ length: 20 }, async (_, i) => await fetch(`${server.base}/context`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ key: `k${i}`, context: { n: i }, source: 'test', priority: 5 })
  })))
  t.same(replies.map((reply) => reply.status), Array(20).fill(201))
  await new Promise((resolve) => setTimeout(resolve, 200))
  const audit = server.output().stdout.split('\n').filter((line) => line.includes('"audit":true'))
    .map((line) => JSON.parse(line) as { event: string, upserted: string[], seq: number })
  t.same(audit.map((line) => line.event), Array(20).fill('change'))
  t.same(audit.flatMap((line) => line.upserted).sort(), Array.from({ length: 20 }, (_, i) => `k${i}`).sort())
  t.same(audit.map((line) => line.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'in seq order')
  await server.stop('SIGTERM')
})
