// Swagger UI in a real browser: Debian's chromium, driven by playwright-core, loads /docs from a
// listening server and renders the operations list from the OpenAPI document.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { chromium } from 'playwright-core'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
// A safety net so a broken page fails the test instead of hanging it; not a speed requirement.
const SAFETY_TIMEOUT_MS = 30_000

const missingBrowser = !existsSync(CHROMIUM)
if (missingBrowser && process.env.CI === undefined) {
  process.stderr.write(`\n*** SKIPPING the Swagger UI browser test: ${CHROMIUM} is not installed. ` +
    'Install it with `apt-get install -y chromium` (CI always runs this test). ***\n\n')
}

test('Swagger UI renders the operations of the REST API', { skip: missingBrowser && process.env.CI === undefined ? `${CHROMIUM} is not installed` : false }, async (t) => {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} exists (CI must install it)`)
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }

  // A fresh, empty profile per run: nothing from an earlier run or another test leaks in.
  const profile = await mkdtemp(join(tmpdir(), 'docs-browser-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: SAFETY_TIMEOUT_MS
  })
  t.teardown(() => context.close())

  const page = await context.newPage()
  const failedRequests: string[] = []
  page.on('requestfailed', (request) => failedRequests.push(request.url()))
  const response = await page.goto(`http://127.0.0.1:${port}/docs`, { timeout: SAFETY_TIMEOUT_MS })
  t.equal(response?.status(), 200)

  await page.waitForSelector('.opblock', { timeout: SAFETY_TIMEOUT_MS })
  t.equal(await page.locator('.info .title').first().innerText().then((text) => text.split('\n')[0].trim()), 'Context server REST admin API')
  const tags = await page.locator('.opblock-tag').allInnerTexts()
  for (const tag of ['context', 'admin', 'metrics', 'health']) {
    t.ok(tags.some((text) => text.startsWith(tag)), `the ${tag} section is listed`)
  }
  const operations = (await page.locator('.opblock-summary').allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim())
  for (const [method, path] of [['GET', '/context'], ['POST', '/context'], ['DELETE', '/context'], ['GET', '/context/{key}'],
    ['PUT', '/context/{key}'], ['PATCH', '/context/{key}'], ['DELETE', '/context/{key}'], ['GET', '/status'], ['GET', '/metrics']]) {
    t.ok(operations.some((text) => text.startsWith(`${method} ${path} `) || text === `${method} ${path}`), `${method} ${path} is listed`)
  }
  t.ok(await page.locator('.btn.authorize').count() > 0, 'the Authorize button for the bearer JWT is there')
  t.same(failedRequests, [], 'every asset of the page loaded')
})
