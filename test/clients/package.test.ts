// The built package, as users get it: the workspace build makes dist/ (ES modules, declarations
// and the browser bundle); `import { ContextClient } from '@context-server/client'` works from the
// repository root; `npm pack` gives a tarball that works on its own; and the browser bundle, loaded
// in Debian's Chromium (playwright-core), connects with the platform WebSocket and mirrors the store.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { test } from 'tap'
import { chromium } from 'playwright-core'
import { sortedEntries, testClient, until } from '../helpers/context-client.js'
import { signTestToken } from '../helpers/tokens.js'
import { startServer } from '../helpers/ws-client.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../..', import.meta.url))
const packageDir = join(root, 'clients/typescript')
const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
// Safety nets so a broken build or page fails the test instead of hanging it; not speed requirements.
const BUILD_TIMEOUT_MS = 120_000
const SAFETY_TIMEOUT_MS = 30_000

// A Node program that uses the package the way its README says, against a live server.
const USAGE = `
import { ContextClient, ContextError } from '@context-server/client'
import { WebSocket } from ${JSON.stringify(join(root, 'node_modules/ws/wrapper.mjs'))}
const client = new ContextClient({ url: process.env.URL, token: async () => process.env.TOKEN, mode: 'delta', WebSocket })
await client.ready
const ack = await client.update({ context: { from: 'package' }, key: process.env.KEY })
let conflict
try { await client.update({ context: {}, key: process.env.KEY, expected_version: 9 }) } catch (error) { conflict = error instanceof ContextError ? error.code : String(error) }
while (client.entries.get(process.env.KEY) === undefined) await new Promise((resolve) => setTimeout(resolve, 10))
await client.close()
console.log(JSON.stringify({ version: ack.version, conflict, mirrored: client.entries.get(process.env.KEY).content, state: client.state }))
`

const missingBrowser = !existsSync(CHROMIUM)
const skipBrowser = missingBrowser && process.env.CI === undefined ? `${CHROMIUM} is not installed` : false
if (skipBrowser !== false) {
  process.stderr.write(`\n*** SKIPPING the client's browser test: ${CHROMIUM} is not installed. ` +
    'Install it with `apt-get install -y chromium` (CI always runs this test). ***\n\n')
}

test('the workspace build, the import from the root, npm pack, and the bundle in Chromium', async (t) => {
  await run('npm', ['run', 'build', '--workspace', '@context-server/client', '--silent'], { cwd: root, timeout: BUILD_TIMEOUT_MS })
  for (const file of ['index.js', 'index.d.ts', 'context-client.js', 'context-client.d.ts', 'context-client.browser.js']) {
    t.ok(existsSync(join(packageDir, 'dist', file)), `dist/${file} is built`)
  }
  const bundle = await readFile(join(packageDir, 'dist/context-client.browser.js'), 'utf8')
  // No import statement or dynamic import anywhere in the minified bundle: no runtime dependency.
  t.notMatch(bundle, /(^|[;}\n])\s*import\s*[{*"'\w]|\bimport\s*\(/, 'the browser bundle imports nothing')
  t.match(bundle, /export\s*\{[^}]*\bContextClient\b/, 'and exports ContextClient')

  const { url } = await startServer(t)

  await t.test('import { ContextClient } from \'@context-server/client\' works from the repository root', async (t) => {
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', USAGE], {
      cwd: root, timeout: SAFETY_TIMEOUT_MS, env: { ...process.env, URL: url, TOKEN: signTestToken(), KEY: 'from-root' }
    })
    t.same(JSON.parse(stdout), { version: 1, conflict: 'version_conflict', mirrored: { from: 'package' }, state: 'closed' })
  })

  await t.test('npm pack gives a tarball that works on its own', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'client-pack-'))
    t.teardown(() => rm(dir, { recursive: true, force: true }))
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: packageDir, timeout: BUILD_TIMEOUT_MS })
    const [packed] = JSON.parse(stdout) as Array<{ filename: string, files: Array<{ path: string }> }>
    const files = packed.files.map((file) => file.path).sort()
    for (const expected of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/context-client.browser.js']) {
      t.ok(files.includes(expected), `the tarball has ${expected}`)
    }
    t.same(files.filter((file) => !file.startsWith('dist/') && file !== 'package.json' && file !== 'README.md'), [], 'and nothing but dist/, README.md and package.json')
    // Installed as a project would have it: node_modules/@context-server/client, nothing else.
    await run('tar', ['-xzf', join(dir, packed.filename), '-C', dir], { timeout: SAFETY_TIMEOUT_MS })
    const installed = join(dir, 'project/node_modules/@context-server')
    await mkdir(installed, { recursive: true })
    await rename(join(dir, 'package'), join(installed, 'client'))
    await writeFile(join(dir, 'project/usage.mjs'), USAGE)
    const result = await run(process.execPath, ['usage.mjs'], {
      cwd: join(dir, 'project'), timeout: SAFETY_TIMEOUT_MS, env: { ...process.env, URL: url, TOKEN: signTestToken(), KEY: 'from-tarball' }
    })
    t.same(JSON.parse(result.stdout), { version: 1, conflict: 'version_conflict', mirrored: { from: 'package' }, state: 'closed' })
  })

  await t.test('the browser bundle in Chromium connects and mirrors the store', { skip: skipBrowser }, async (t) => {
    t.ok(existsSync(CHROMIUM), `${CHROMIUM} exists (CI must install it)`)
    // The page and the bundle from a local origin, as a dashboard would serve them.
    const page = `<!doctype html><meta charset="utf-8"><title>client</title>
<script type="module">
  import { ContextClient } from '/context-client.browser.js'
  window.startMirror = async (url, token) => {
    const client = new ContextClient({ url, token: async () => token, mode: 'delta' })
    window.client = client
    window.changes = 0
    client.on('change', () => { window.changes++ })
    await client.ready
    return client.state
  }
  window.mirror = () => ({ seq: window.client.seq, state: window.client.state, entries: [...window.client.entries] })
  window.ready = true
</script>`
    const http = createServer((request, response) => {
      if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(page)
      else if (request.url === '/context-client.browser.js') response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
      else response.writeHead(404).end()
    })
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    t.teardown(() => new Promise<void>((resolve) => http.close(() => resolve())))
    const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`

    const profile = await mkdtemp(join(tmpdir(), 'client-browser-'))
    t.teardown(() => rm(profile, { recursive: true, force: true }))
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: SAFETY_TIMEOUT_MS
    })
    t.teardown(() => context.close())
    const tab = await context.newPage()
    const pageErrors: string[] = []
    tab.on('pageerror', (error) => pageErrors.push(error.message))
    await tab.goto(origin, { timeout: SAFETY_TIMEOUT_MS })
    await tab.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true, undefined, { timeout: SAFETY_TIMEOUT_MS })
    // An http:// URL is taken as the WebSocket at that address (as `/ws` is, relative to the page).
    const httpUrl = url.replace('ws://', 'http://')
    const state = await tab.evaluate(async ([url, token]) => await (window as any).startMirror(url, token), [httpUrl, signTestToken({ sub: 'viewer', roles: ['reader'] })])
    t.equal(state, 'connected')

    const writer = testClient(t, { url, token: signTestToken({ sub: 'agent' }), mode: 'none' })
    let last = 0
    for (let i = 0; i < 20; i++) last = (await writer.update({ key: `b${i % 7}`, context: { i }, priority: 1 + (i % 10) })).seq
    await writer.clear({ keys: ['b3'] })
    const expected = await writer.get()
    t.ok(expected.seq > last, 'the clear is a change too')
    let mirror: { seq: number, state: string, entries: Array<[string, unknown]> } = { seq: 0, state: '', entries: [] }
    await until(async () => {
      mirror = await tab.evaluate(() => (window as any).mirror())
      return mirror.seq === expected.seq
    }, `the browser's mirror to reach seq ${expected.seq}`)
    t.same(sortedEntries(new Map(mirror.entries as Array<[string, never]>)), sortedEntries(expected.entries), 'the browser mirror equals the store')
    t.equal(mirror.state, 'connected')
    t.same(pageErrors, [], 'no error on the page')
  })
})
