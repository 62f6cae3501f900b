// `npm run screenshots`: renders the dashboard over a small, realistic store in Debian's
// Chromium and saves docs/dashboard.png (1280x800) and docs/dashboard-phone.png (390x844), the
// pictures the README shows.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'
import WebSocket from 'ws'
import { buildDashboard } from '../dashboard/build.js'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { signToken } from '../src/auth/token-signer.js'

const docs = fileURLToPath(new URL('../docs/', import.meta.url))
const SECRET = 'screenshot-secret-0123456789abcdef0123456789'

const entries: Array<{ key: string, source: string, priority: number, context: Record<string, unknown> }> = [
  { key: 'lesson-3-plan', source: 'content_agent_001', priority: 9, context: { task: 'Generate math lesson 3: fractions', progress: 'outline approved', sections: ['equivalent fractions', 'adding with unlike denominators', 'word problems'] } },
  { key: 'student-profile', source: 'profile_agent', priority: 8, context: { grade: 5, prefers: 'visual examples', struggles_with: 'common denominators' } },
  { key: 'quiz-draft', source: 'quiz_agent', priority: 6, context: { questions: 10, status: 'draft', topics: ['fractions', 'decimals'] } },
  { key: 'review-notes', source: 'review_agent', priority: 5, context: { reviewer: 'teacher_ana', notes: 'Add one more worked example before the quiz; keep language simple.' } },
  { key: 'search-results', source: 'tool_web_search', priority: 3, context: { query: 'fraction games for grade 5', results: ['Fraction Frenzy', 'Pizza Party Fractions', 'Number Line Jump'] } },
  { key: 'style-guide', source: 'content_agent_002', priority: 4, context: { tone: 'friendly', max_sentence_words: 18, reading_level: 'grade 5' } },
  { key: 'session-state', source: 'orchestrator', priority: 7, context: { step: 4, of: 7, next: 'quiz_agent', deadline: '2026-12-01T15:00:00Z' } }
]

async function main (): Promise<void> {
  await buildDashboard()
  const config = loadConfig({ NODE_ENV: 'development', LOG_LEVEL: 'silent', MCP_PORT: '0', MCP_DATA_DIR: '', MCP_JWT_SECRET_KEY: SECRET, MCP_MAX_TOKENS: '600' })
  const app = await buildApp(config)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const admin = signToken(config.jwt, { sub: 'admin', roles: ['admin'], ttlSeconds: 3600 })
  const agent = new WebSocket(`ws://127.0.0.1:${port}/ws?mode=none&token=${signToken(config.jwt, { sub: 'content_agent', roles: ['writer'], ttlSeconds: 3600 })}`)
  await new Promise((resolve) => agent.once('open', resolve))
  const profile = await mkdtemp(join(tmpdir(), 'screenshots-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 }
  })
  try {
    const page = await context.newPage()
    await page.goto(`http://127.0.0.1:${port}/dashboard#token=${admin}`)
    await page.locator('#connection.connected').waitFor()
    for (const entry of entries) agent.send(JSON.stringify({ type: 'update_context', ...entry }))
    // Two low-priority tool outputs that the 600-token budget cannot keep: evictions in the feed.
    for (let i = 0; i < 4; i++) agent.send(JSON.stringify({ type: 'update_context', source: 'tool_calculator', priority: 1, context: { call: i, output: 'step by step: '.repeat(30) } }))
    await page.locator('#feed-list li[data-reason=evicted]').first().waitFor()
    await page.locator('#clients tbody tr').first().waitFor()
    await page.locator('#entries tr[data-key=lesson-3-plan] button.key').click()
    await page.screenshot({ path: `${docs}dashboard.png` })
    await page.setViewportSize({ width: 390, height: 844 })
    await page.screenshot({ path: `${docs}dashboard-phone.png` })
    process.stdout.write(`saved ${docs}dashboard.png and ${docs}dashboard-phone.png\n`)
  } finally {
    await context.close()
    await rm(profile, { recursive: true, force: true })
    agent.close()
    await app.close()
  }
}

await main()
