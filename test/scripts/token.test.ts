// `npm run token`: run as a child process, exactly as an operator would, and its token checked by
// the server's own verifier.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { TEST_SECRET, testConfig } from '../helpers/config.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

interface Run { code: number, stdout: string, stderr: string }

/** Runs scripts/token.ts with only the given environment (never the developer's own secrets). */
function runTokenTool (args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/token.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env }
    }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
    })
  })
}

test('prints a token the server accepts, with the requested user, roles, tenant and lifetime', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  const before = Date.now()
  const run = await runTokenTool(['--sub', 'alice', '--roles', 'writer', '--tenant', 'acme', '--ttl', '1h'], { MCP_JWT_SECRET_KEY: TEST_SECRET })
  // The tool signs at some moment between before and after (it may take seconds to start on a
  // loaded machine); exp is in whole seconds.
  const after = Date.now()
  t.equal(run.code, 0, run.stderr)
  const token = run.stdout.trim()
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'stdout holds the token alone')
  const identity = app.verifyToken(token)
  t.equal(identity.userId, 'alice')
  t.same(identity.roles, ['writer'])
  t.equal(identity.tenant, 'acme')
  t.ok(identity.expiresAt >= before + 3599_000 && identity.expiresAt <= after + 3601_000,
    `expires an hour after it was signed (${identity.expiresAt - before} ms after the tool started)`)
  t.match(run.stderr, /alice \(writer\) in tenant acme/)

  const adminBefore = Date.now()
  const admin = await runTokenTool(['--sub', 'root', '--roles', 'admin,reader', '--ttl', '30s'], { JWT_SECRET_KEY: TEST_SECRET })
  const adminAfter = Date.now()
  t.equal(admin.code, 0, admin.stderr)
  const adminIdentity = app.verifyToken(admin.stdout.trim())
  t.same(adminIdentity.roles, ['admin', 'reader'])
  t.equal(adminIdentity.tenant, 'default')
  t.ok(adminIdentity.expiresAt >= adminBefore + 29_000 && adminIdentity.expiresAt <= adminAfter + 31_000, 'expires 30 s after it was signed')

  const status = await app.inject({ method: 'GET', url: '/status', headers: { authorization: `Bearer ${admin.stdout.trim()}` } })
  t.equal(status.statusCode, 200, 'the token works against the REST API')
})

test('refuses in production without a secret, and whenever the secret would be random', async (t) => {
  const production = await runTokenTool(['--sub', 'alice'], { NODE_ENV: 'production' })
  t.equal(production.code, 1)
  t.equal(production.stdout, '')
  t.match(production.stderr, /Refusing to issue a token: MCP_JWT_SECRET_KEY must be set in production/)

  const weak = await runTokenTool(['--sub', 'alice'], { NODE_ENV: 'production', MCP_JWT_SECRET_KEY: 'short' })
  t.equal(weak.code, 1)
  t.match(weak.stderr, /at least 32 bytes/)

  const development = await runTokenTool(['--sub', 'alice'], { NODE_ENV: 'development' })
  t.equal(development.code, 1)
  t.equal(development.stdout, '')
  t.match(development.stderr, /MCP_JWT_SECRET_KEY is not set.*random secret would be useless/)
})

test('bad arguments: a usage error naming the argument, and no token', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /--sub is required/],
    [['--sub', 'alice', '--ttl', '10x'], /--ttl must be a whole number followed by s, m, h or d/],
    [['--sub', 'alice', '--ttl', '400d'], /--ttl must be at most 365d/],
    [['--sub', 'alice', '--roles', 'owner'], /--roles each must be reader, writer or admin/],
    [['--sub', 'alice', '--tenant', 'a/b'], /--tenant tenant must be/],
    [['--sub', 'alice', '--colour', 'red'], /Unknown option '--colour'/]
  ]
  const runs = await Promise.all(cases.map(([args]) => runTokenTool(args, { MCP_JWT_SECRET_KEY: TEST_SECRET })))
  for (const [index, [args, message]] of cases.entries()) {
    const run = runs[index]
    t.equal(run.code, 2, args.join(' '))
    t.equal(run.stdout, '')
    t.match(run.stderr, message)
    t.match(run.stderr, /Usage: npm run token/)
  }
})
