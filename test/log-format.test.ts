// Log lines: readable (pino-pretty) for a person at a terminal outside production and CI, JSON
// everywhere else. The choice as a plain function, and both outcomes from a real server process:
// one under a pseudo-terminal (util-linux `script`), one with stdout on a pipe.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { prettyLogs } from '../src/log-format.js'
import { loggerOptions } from '../src/logger.js'
import { TEST_SECRET, testConfig } from './helpers/config.js'
import { spawnServer } from './helpers/spawn-server.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

test('auto: readable only on a terminal, outside production and CI; json and pretty force it', async (t) => {
  const base = { format: 'auto' as const, production: false, isTTY: true, ci: false }
  t.equal(prettyLogs(base), true, 'a developer at a terminal')
  t.equal(prettyLogs({ ...base, isTTY: false }), false, 'a pipe, a file, a container log')
  t.equal(prettyLogs({ ...base, production: true }), false, 'production')
  t.equal(prettyLogs({ ...base, ci: true }), false, 'CI')
  t.equal(prettyLogs({ ...base, format: 'json' }), false, 'json forces JSON')
  t.equal(prettyLogs({ ...base, format: 'pretty', production: true, isTTY: false }), true, 'pretty forces readable lines')
})

test('loggerOptions adds the pino-pretty transport only when chosen, never with a stream', async (t) => {
  const transportOf = (options: unknown) => (options as { transport?: { target: string } }).transport?.target
  t.equal(transportOf(loggerOptions(testConfig({ NODE_ENV: 'development' }), undefined, true)), 'pino-pretty')
  t.equal(transportOf(loggerOptions(testConfig({ NODE_ENV: 'development' }), undefined, false)), undefined)
  t.equal(transportOf(loggerOptions(testConfig({ NODE_ENV: 'production', MCP_LOG_FORMAT: 'auto' }), undefined, true)), undefined)
  t.equal(transportOf(loggerOptions(testConfig({ NODE_ENV: 'development', CI: 'true' }), undefined, true)), undefined)
  t.equal(transportOf(loggerOptions(testConfig({ NODE_ENV: 'development', CI: 'false' }), undefined, true)), 'pino-pretty')
  t.equal(transportOf(loggerOptions(testConfig({ MCP_LOG_FORMAT: 'pretty' }), process.stdout, true)), undefined, 'a given stream stays JSON')
  t.throws(() => testConfig({ MCP_LOG_FORMAT: 'xml' }), /MCP_LOG_FORMAT must be auto, json or pretty/)
})

test('a real server on a pseudo-terminal writes readable lines', async (t) => {
  const command = `${JSON.stringify(process.execPath)} --import tsx src/server.ts`
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd: ROOT,
    detached: true,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      MCP_HOST: '127.0.0.1',
      MCP_PORT: '0',
      MCP_DATA_DIR: '',
      MCP_JWT_SECRET_KEY: TEST_SECRET,
      TERM: 'dumb'
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  // `script` runs the server in a session of its own: killing script's process group alone would
  // leave the server running (and, its terminal gone, spinning on a core). The server's group is
  // that of script's child, the session leader; it goes first.
  const stop = () => {
    const inner = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)
    for (const pid of inner) { try { process.kill(-Number(pid), 'SIGKILL') } catch {} try { process.kill(Number(pid), 'SIGKILL') } catch {} }
    try { process.kill(-(child.pid as number), 'SIGKILL') } catch {}
  }
  t.teardown(stop)
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Server listening" line within 30 s:\n${output}`)), 30_000)
    child.stdout.on('data', () => { if (output.includes('Server listening at')) { clearTimeout(timer); resolve() } })
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}):\n${output}`)) })
  })
  stop()
  // eslint-disable-next-line no-control-regex
  const line = output.replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/).find((l) => l.includes('Server listening at')) as string
  t.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+/, 'time, level and message, not JSON')
})

test('the same server with stdout on a pipe writes one JSON object per line', async (t) => {
  const server = await spawnServer(t, { NODE_ENV: 'development' })
  const line = server.output().stdout.split('\n').find((l) => l.includes('Server listening at')) as string
  t.match(JSON.parse(line), { level: 30, msg: /^Server listening at http:\/\/127\.0\.0\.1:\d+$/ })
  await server.stop('SIGTERM')
})
