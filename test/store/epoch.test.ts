// History epochs (src/store/epoch.ts, contract §7): a fresh epoch never repeats one made before,
// in this process (even within one millisecond: the Redis store offers one with every write) or
// in another (two servers, or one restarted, starting in the same millisecond), and stays within
// the length a client may send back.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'tap'
import { MAX_EPOCH_LENGTH, newEpoch } from '../../src/store/epoch.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const run = promisify(execFile)

test('epochs made in one millisecond by one process are all different, and start with the time', async (t) => {
  const now = Date.UTC(2026, 11, 3)
  const epochs = Array.from({ length: 10_000 }, () => newEpoch(now))
  t.equal(new Set(epochs).size, epochs.length, 'no epoch repeats')
  t.ok(epochs.every((epoch) => epoch.startsWith(`${now.toString(36)}-`)), 'each names its time first (logs sort old from new)')
  t.ok(epochs.every((epoch) => epoch.length <= MAX_EPOCH_LENGTH), `each at most ${MAX_EPOCH_LENGTH} characters`)
})

test('two processes making epochs in the same millisecond make different ones', async (t) => {
  const script = "import { newEpoch } from './src/store/epoch.ts'\nconsole.log(newEpoch(1796290000000))"
  const epochOfAProcess = async () =>
    (await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 60_000 })).stdout.trim()
  const [first, second] = await Promise.all([epochOfAProcess(), epochOfAProcess()])
  t.match(first, /^[0-9a-z]+-/, 'an epoch was printed')
  t.not(first, second, 'their random parts differ')
})
