// Swagger UI in a real browser: Debian's chromium, driven by playwright-core, loads /docs from a
// listening server and renders the operations list from the OpenAPI document.
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { browserSkip, launchBrowser, SAFETY_TIMEOUT_MS } from '../helpers/browser.js'
import { testConfig } from '../helpers/config.js'

test('Swagger UI renders the operations of the REST API', { skip: browserSkip('the Swagger UI browser test') }, async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const context = await launchBrowser(t)

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
