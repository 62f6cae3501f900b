// Runs the Python client's pytest suite (clients/python/tests) against the real server, so the
// README's `npm test` covers it. Debian's python3 with websockets, pytest and pytest-asyncio is
// required in CI (.ci/run installs them); elsewhere a missing Python skips loudly.
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'

const root = fileURLToPath(new URL('../..', import.meta.url))
const python = process.env.PYTHON ?? '/usr/bin/python3'
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

const probe = spawnSync(python, ['-c', 'import websockets, pytest, pytest_asyncio'], { encoding: 'utf8' })
const missing = probe.status !== 0
  ? `${python} with websockets, pytest and pytest-asyncio is not available: Python client tests SKIPPED`
  : false
if (missing !== false && !inCi) process.stderr.write(`\n*** ${missing} ***\n\n`)

test('the Python client passes its pytest suite against the real server', { skip: inCi ? false : missing, timeout: 600_000 }, async (t) => {
  t.equal(missing, false, 'python3 with websockets, pytest and pytest-asyncio is installed')
  const run = spawnSync(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
    cwd: join(root, 'clients/python'), encoding: 'utf8', timeout: 540_000, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }
  })
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`
  t.comment(output.trim().split('\n').slice(-15).join('\n'))
  t.equal(run.status, 0, `pytest exits 0 (signal ${run.signal ?? 'none'})`)
  t.match(output, /\d+ passed/, 'pytest ran tests')
  t.notMatch(output, /\d+ (failed|error)/, 'no test failed')
})
