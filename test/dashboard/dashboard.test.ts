// The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
// server: sign-in, live updates from WebSocket writes, evictions in the feed, a priority change
// reaching a WebSocket subscriber, deletes with confirmation, reader and bad-token views, the
// token kept out of the address, a strict CSP with no violation, and a 10,000-entry store.
import { test, type Test } from 'tap'
import type { Page } from 'playwright-core'
import { buildDashboard } from '../../dashboard/build.js'
import { DASHBOARD_CSP } from '../../routes/dashboard.js'
import { browserSkip, launchBrowser, SAFETY_TIMEOUT_MS } from '../helpers/browser.js'
import { signTestToken } from '../helpers/tokens.js'
import { connectAuthenticated, startServer } from '../helpers/ws-client.js'

// Deadlines for what a person would see "at once"; generous, because a shared 2-core machine
// can stall for a second: they catch a page that never updates, not one that is slow.
const LIVE_MS = 5_000
/** How often the page asks GET /status (dashboard/src/app.ts). */
const STATUS_EVERY_MS = 5_000

const skip = browserSkip('the dashboard browser tests')
await buildDashboard()

interface Harness {
  page: Page
  base: string
  ws: string
  problems: string[]
}

async function openDashboard (t: Test, overrides: Record<string, string> = {}, viewport?: { width: number, height: number }): Promise<Harness> {
  const { url } = await startServer(t, overrides)
  const base = url.replace('ws://', 'http://').replace(/\/ws$/, '')
  const context = await launchBrowser(t, viewport)
  const page = await context.newPage()
  page.setDefaultTimeout(SAFETY_TIMEOUT_MS)
  // CSP violations and script errors are console errors: any of them fails the test.
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error') problems.push(message.text()) })
  page.on('pageerror', (error) => problems.push(error.message))
  return { page, base, ws: url, problems }
}

async function signIn (page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/dashboard`)
  await page.fill('#token-input', token)
  await page.click('#sign-in-submit')
}

const row = (page: Page, key: string) => page.locator(`#entries tr[data-key="${key}"]`)

test('an admin signs in and sees writes, evictions and the budget live', { skip }, async (t) => {
  const { page, base, ws, problems } = await openDashboard(t, { MCP_MAX_TOKENS: '60' })
  const response = await page.goto(`${base}/dashboard`)
  t.equal(response?.headers()['content-security-policy'], DASHBOARD_CSP, 'the page is served under the strict CSP')
  await signIn(page, base, signTestToken({ sub: 'root', roles: ['admin'], tenant: 'acme' }))
  await page.locator('#connection.connected').waitFor({ timeout: LIVE_MS })
  t.match(await page.locator('#who').innerText(), /root · admin · tenant acme/)
  t.equal(await page.locator('[data-testid=budget-used]').innerText(), '0')

  const agent = await connectAuthenticated(ws, signTestToken({ sub: 'agent', tenant: 'acme' }), { mode: 'none' })
  t.teardown(() => agent.socket.close())
  const first = await agent.request({ type: 'update_context', key: 'lesson-plan', source: 'content_agent', priority: 5, context: { task: 'Generate math lesson', progress: 'outline' } })
  await row(page, 'lesson-plan').waitFor({ timeout: LIVE_MS })
  t.equal(await page.locator('[data-testid=budget-used]').innerText(), String(first.tokens), 'the budget counts the new entry')
  t.match(await row(page, 'lesson-plan').innerText(), /content_agent\s+5\s+\d+\s+1\s+agent/)
  await page.locator('#feed-list li[data-reason=written]', { hasText: 'lesson-plan' }).waitFor({ timeout: LIVE_MS })

  // Low-priority filler until the budget (60 tokens) forces an eviction.
  let evicted: string[] = []
  for (let i = 0; evicted.length === 0 && i < 20; i++) {
    const ack = await agent.request({ type: 'update_context', key: `note-${i}`, source: 'notes', priority: 1, context: { note: `filler number ${i} for the budget` } })
    evicted = ack.evicted
  }
  t.ok(evicted.length > 0, 'a write evicted an entry')
  await page.locator('#feed-list li[data-reason=evicted]', { hasText: evicted[0] }).waitFor({ timeout: LIVE_MS })
  t.match(await page.locator('#feed-list li[data-reason=evicted]').first().innerText(), /by system/)
  await row(page, evicted[0]).waitFor({ state: 'detached', timeout: LIVE_MS })
  t.match(await page.locator('.bar-group').first().innerText(), /notes/, 'the budget bar is stacked by source')

  // The clients table comes from GET /status, which the page asks every 5 s (dashboard/src/app.ts,
  // STATUS_EVERY_MS): the agent's row may need a whole period and the request. A wait of one
  // period failed once on a loaded CI machine with nothing wrong.
  await page.locator('#clients tbody tr', { hasText: 'agent' }).waitFor({ timeout: STATUS_EVERY_MS + LIVE_MS })
  t.same(problems, [], 'no script error and no CSP violation')
})

test('a priority change and a delete from the page reach a WebSocket subscriber', { skip }, async (t) => {
  const { page, base, ws, problems } = await openDashboard(t)
  const writer = signTestToken({ sub: 'alice', tenant: 't2' })
  const watcher = await connectAuthenticated(ws, signTestToken({ sub: 'watcher', roles: ['reader'], tenant: 't2' }), { mode: 'delta' })
  t.teardown(() => watcher.socket.close())
  const agent = await connectAuthenticated(ws, writer, { mode: 'none' })
  t.teardown(() => agent.socket.close())
  await agent.request({ type: 'update_context', key: 'quiz', source: 'quiz_agent', priority: 3, context: { quiz: 'ten questions' } })

  await signIn(page, base, writer)
  await row(page, 'quiz').locator('button.key').click()
  t.equal(await page.locator('#detail-key').innerText(), 'quiz')
  t.match(await page.locator('#detail-content').innerText(), /ten questions/, 'the content shows on click')
  await page.selectOption('#detail-priority', '9')
  const from = watcher.frames.length
  await page.click('#detail-set-priority')
  const delta = await watcher.next((frame) => frame.type === 'context_delta' && frame.upserted?.quiz?.priority === 9, from)
  t.equal(delta.reason, 'priority', 'the subscriber got the priority change')
  await page.locator('#feed-list li[data-reason=priority]').waitFor({ timeout: LIVE_MS })

  await page.click('#detail-delete')
  t.equal(watcher.frames.filter((frame) => frame.type === 'context_delta' && frame.removed?.includes('quiz')).length, 0, 'nothing is deleted before the confirmation')
  await page.click('#detail-confirm-delete')
  await watcher.next((frame) => frame.type === 'context_delta' && frame.removed?.includes('quiz'), from)
  await row(page, 'quiz').waitFor({ state: 'detached', timeout: LIVE_MS })
  t.same(problems, [])
})

test('a reader sees no write controls, and no admin panel', { skip }, async (t) => {
  const { page, base, ws } = await openDashboard(t)
  const agent = await connectAuthenticated(ws, signTestToken({ sub: 'alice', tenant: 't3' }), { mode: 'none' })
  t.teardown(() => agent.socket.close())
  await agent.request({ type: 'update_context', key: 'finding', context: { finding: 'users prefer short lessons' } })
  await signIn(page, base, signTestToken({ sub: 'dana', roles: ['reader'], tenant: 't3' }))
  await row(page, 'finding').locator('button.key').click()
  await page.locator('#detail-content').waitFor()
  t.equal(await page.locator('#detail-set-priority').count(), 0, 'no priority control')
  t.equal(await page.locator('#detail-delete').count(), 0, 'no delete button')
  t.ok(await page.locator('#admin-card').isHidden(), 'no admin panel')
})

test('a bad token shows an error, not a blank page', { skip }, async (t) => {
  const { page, base } = await openDashboard(t)
  await signIn(page, base, 'not-a-token')
  await page.locator('#sign-in-error').waitFor({ state: 'visible', timeout: LIVE_MS })
  t.match(await page.locator('#sign-in-error').innerText(), /Sign-in failed/)
  t.ok(await page.locator('#sign-in-form').isVisible(), 'the form is there to try again')
  t.equal(await page.evaluate(() => sessionStorage.getItem('context-server.token')), null, 'a refused token is not kept')
})

test('a link with the token signs in and leaves the token out of the address', { skip }, async (t) => {
  const { page, base } = await openDashboard(t)
  const token = signTestToken({ sub: 'root', roles: ['admin'] })
  await page.goto(`${base}/dashboard#token=${token}`)
  await page.locator('#connection.connected').waitFor({ timeout: LIVE_MS })
  t.notMatch(page.url(), /token/, 'the fragment is gone from the address')
  t.equal(await page.evaluate(() => sessionStorage.getItem('context-server.token')), token, 'kept in sessionStorage')
  await page.reload()
  await page.locator('#connection.connected').waitFor({ timeout: LIVE_MS })
  t.pass('a reload signs in again from sessionStorage')
})

test('10,000 entries: paged, sortable and filterable, at phone width too', { skip }, async (t) => {
  const { page, base, ws, problems } = await openDashboard(t, { MCP_MAX_TOKENS: '1000000', MCP_WS_RATE_LIMIT: '100000' }, { width: 390, height: 844 })
  const token = signTestToken({ sub: 'bulk', tenant: 'big' })
  const agent = await connectAuthenticated(ws, token, { mode: 'none' })
  t.teardown(() => agent.socket.close())
  for (let batch = 0; batch < 100; batch++) {
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => {
      const n = batch * 100 + i
      return agent.request({ type: 'update_context', key: `k${String(n).padStart(5, '0')}`, source: `agent_${n % 7}`, priority: 1 + (n % 10), context: { n } })
    }))
    if (acks.some((ack) => ack.type !== 'update_ack')) t.fail(`a bulk write was refused: ${JSON.stringify(acks.find((ack) => ack.type !== 'update_ack'))}`)
  }
  await signIn(page, base, token)
  await page.locator('#page-info', { hasText: '10,000 of 10,000 entries' }).waitFor({ timeout: SAFETY_TIMEOUT_MS })
  t.equal(await page.locator('#entries tbody tr').count(), 50, 'one page of rows is in the document')
  await page.fill('#filter-source', 'agent_3')
  await page.locator('#page-info', { hasText: /^1,42\d of 10,000/ }).waitFor({ timeout: LIVE_MS })
  const firstKey = async () => await page.locator('#entries tbody tr').first().getAttribute('data-key')
  await page.click('th button[data-column=key]')
  await page.locator('#entries tbody tr[data-key=k00003]').waitFor({ timeout: LIVE_MS })
  t.equal(await firstKey(), 'k00003', 'sorted by key, ascending')
  await page.click('th button[data-column=key]')
  await page.locator('#entries tbody tr[data-key=k09999]').waitFor({ timeout: LIVE_MS })
  t.equal(await firstKey(), 'k09999', 'a second click sorts descending')
  await page.click('#page-next')
  await page.locator('#page-info', { hasText: 'page 2 of 29' }).waitFor({ timeout: LIVE_MS })
  await page.keyboard.press('Tab')
  t.ok(await page.evaluate(() => document.activeElement !== document.body), 'keyboard focus moves through the controls')
  t.same(problems, [])
})

test('an admin revokes a user from the page, and the best-context box ranks by the task', { skip }, async (t) => {
  const { page, base, ws, problems } = await openDashboard(t)
  const agentToken = signTestToken({ sub: 'agent', tenant: 't5' })
  const agent = await connectAuthenticated(ws, agentToken, { mode: 'none' })
  t.teardown(() => agent.socket.close())
  await agent.request({ type: 'update_context', key: 'quiz-notes', priority: 2, context: { note: 'the quiz for lesson 3 covers fractions' } })
  await agent.request({ type: 'update_context', key: 'weather', priority: 9, context: { note: 'sunny tomorrow' } })

  await signIn(page, base, signTestToken({ sub: 'root', roles: ['admin'], tenant: 't5' }))
  await page.fill('#relevant-to', 'write the quiz for lesson 3')
  await page.fill('#relevant-budget', '1000')
  await page.click('#relevant-submit')
  await page.locator('#relevant-list li').first().waitFor({ timeout: LIVE_MS })
  t.match(await page.locator('#relevant-list li').first().innerText(), /^quiz-notes score/, 'the entry that shares the task terms comes first')

  await page.fill('#revoke-sub', 'agent')
  await page.click('#revoke-submit')
  const closed = await agent.waitClosed()
  t.strictSame(closed, { code: 4001, reason: 'Token revoked' }, "the user's connection is closed")
  await page.locator('#notice', { hasText: 'revoked' }).waitFor({ timeout: LIVE_MS })
  t.same(problems, [])
})
