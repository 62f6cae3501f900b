// Log lines: readable (pino-pretty) for a person at a terminal outside production and CI, JSON
// everywhere else. The choice as a plain function, and both outcomes from a real server process:
// one under a pseudo-terminal (util-linux `script`), one with stdout on a pipe.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test, type Test } from 'tap'
import { prettyLogs } from '../src/log-format.js'
import { loggerOptions, READABLE_LINES } from '../src/logger.js'
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

test('loggerOptions writes readable lines only when chosen, never into a given stream', async (t) => {
  const readable = (options: unknown) => (options as { stream?: Record<symbol, unknown> }).stream?.[READABLE_LINES] === true
  t.equal(readable(loggerOptions(testConfig({ NODE_ENV: 'development' }), undefined, true)), true)
  t.equal(readable(loggerOptions(testConfig({ NODE_ENV: 'development' }), undefined, false)), false)
  t.equal(readable(loggerOptions(testConfig({ NODE_ENV: 'production', MCP_LOG_FORMAT: 'auto' }), undefined, true)), false)
  t.equal(readable(loggerOptions(testConfig({ NODE_ENV: 'development', CI: 'true' }), undefined, true)), false)
  t.equal(readable(loggerOptions(testConfig({ NODE_ENV: 'development', CI: 'false' }), undefined, true)), true)
  const given = loggerOptions(testConfig({ MCP_LOG_FORMAT: 'pretty' }), process.stdout, true) as { stream?: unknown }
  t.equal(given.stream, process.stdout, 'a given stream stays JSON')
  t.throws(() => testConfig({ MCP_LOG_FORMAT: 'xml' }), /MCP_LOG_FORMAT must be auto, json or pretty/)
})

/**
 * A server started on a pseudo-terminal (util-linux `script`), once it says it listens. `script`
 * runs it in a session of its own, led by script's child: `session` lists what is left of it, and
 * `stop` kills that session, not only script's process group (which would leave the server running).
 */
async function serverOnTerminal (t: Test, env: Record<string, string> = {}) {
  const command = `${JSON.stringify(process.execPath)} --import tsx src/server.ts`
  const terminal = spawn('script', ['-qfec', command, '/dev/null'], {
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
      TERM: 'dumb',
      ...env
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  terminal.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const leader = () => Number(spawnSync('pgrep', ['-P', String(terminal.pid)], { encoding: 'utf8' }).stdout.split('\n')[0])
  let sessionId = 0
  const session = () => sessionId > 0 ? spawnSync('pgrep', ['-s', String(sessionId)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean) : []
  const stop = () => {
    for (const pid of session()) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
    try { process.kill(-(terminal.pid as number), 'SIGKILL') } catch {}
  }
  t.teardown(stop)
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "Server listening" line within 30 s:\n${output}`)), 30_000)
    terminal.stdout.on('data', () => { if (output.includes('Server listening at')) { clearTimeout(timer); resolve() } })
    terminal.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited (${code}):\n${output}`)) })
  })
  sessionId = leader()
  return { terminal, output: () => output, sessionId, session, stop }
}

test('a real server on a pseudo-terminal writes readable lines', async (t) => {
  const server = await serverOnTerminal(t)
  server.stop()
  // eslint-disable-next-line no-control-regex
  const line = server.output().replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/).find((l) => l.includes('Server listening at')) as string
  t.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Server listening at http:\/\/127\.0\.0\.1:\d+/, 'time, level and message, not JSON')
})

// The terminal a server runs on closes (an SSH session ends, the window is shut): the server gets
// SIGHUP and every write to stdout fails with EIO. It must shut down and exit, not retry its log
// line forever (it did: pino's synchronous flush retries on any error) nor catch the fault it
// meets while exiting (close-with-grace listened for SIGSEGV: the fault then repeated forever).
for (const format of ['pretty', 'json']) {
  test(`a server whose terminal closes shuts down and exits (${format} logs)`, async (t) => {
    const server = await serverOnTerminal(t, { MCP_LOG_FORMAT: format })
    t.ok(server.sessionId > 0, 'the server runs in a session of its own')
    server.terminal.kill('SIGKILL') // the terminal goes away: the kernel hangs up the session
    const deadline = Date.now() + 20_000
    while (server.session().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
    t.same(server.session(), [], 'no process of the server is left (the shutdown grace is 10 s)')
  })
}

test('the same server with stdout on a pipe writes one JSON object per line', async (t) => {
  const server = await spawnServer(t, { NODE_ENV: 'development' })
  const line = server.output().stdout.split('\n').find((l) => l.includes('Server listening at')) as string
  t.match(JSON.parse(line), { level: 30, msg: /^Server listening at http:\/\/127\.0\.0\.1:\d+$/ })
  await server.stop('SIGTERM')
})
