// The real entry point as a process: it starts, answers, and exits 0 on SIGTERM; a bad variable
// stops it with one line naming the variable.
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { TEST_SECRET } from './helpers/config.js'

const root = fileURLToPath(new URL('..', import.meta.url))

function startServer (env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH, MCP_PORT: '0', MCP_DATA_DIR: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => { stdout += chunk })
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', () => {
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)
      if (match !== null) resolve(match[1])
    })
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)))
  })
  return { child, listening, output: () => ({ stdout, stderr }) }
}

test('SIGTERM: the server drains and exits 0', async (t) => {
  const server = startServer({ MCP_JWT_SECRET_KEY: TEST_SECRET })
  t.teardown(() => { server.child.kill('SIGKILL') })
  const base = await server.listening
  t.equal((await fetch(`${base}/ready`)).status, 200)
  const exited = once(server.child, 'exit')
  server.child.kill('SIGTERM')
  const [code] = await exited
  t.equal(code, 0)
  t.match(server.output().stdout, /shutting down/)
})

test('without a secret outside production it prints a working admin token and the WebSocket URL', async (t) => {
  const server = startServer({})
  t.teardown(() => { server.child.kill('SIGKILL') })
  const base = await server.listening
  await new Promise((resolve) => setTimeout(resolve, 200))
  const { stdout } = server.output()
  const token = /Admin token \(24h\): (\S+)/.exec(stdout)?.[1]
  t.ok(token, 'a token is printed')
  t.match(stdout, /ws:\/\/127\.0\.0\.1:\d+\/ws\?token=/)
  t.equal((await fetch(`${base}/ready`)).status, 200)
  server.child.kill('SIGTERM')
  await once(server.child, 'exit')
})

test('a bad variable stops the process with one line naming it', async (t) => {
  const server = startServer({ MCP_PORT: 'not-a-port' })
  const [code] = await once(server.child, 'exit')
  t.equal(code, 1)
  const { stderr } = server.output()
  t.equal(stderr.trim(), 'Invalid configuration: MCP_PORT must be an integer from 0 to 65535')
  server.listening.catch(() => {})
})

test('production without a secret refuses to start', async (t) => {
  const server = startServer({ NODE_ENV: 'production' })
  const [code] = await once(server.child, 'exit')
  t.equal(code, 1)
  t.match(server.output().stderr.trim(), /^Invalid configuration: MCP_JWT_SECRET_KEY must be set in production/)
  server.listening.catch(() => {})
})

test('a backend that cannot start stops the process with one line, no stack trace', async (t) => {
  const server = startServer({ MCP_JWT_SECRET_KEY: TEST_SECRET, MCP_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1' })
  const [code] = await once(server.child, 'exit')
  t.equal(code, 1)
  const { stderr } = server.output()
  t.match(stderr, /^Could not start: .*REDIS_URL.*\n$/, 'one line naming the variable')
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  server.listening.catch(() => {})
})
