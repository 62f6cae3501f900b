// Debian's Chromium driven by playwright-core, for the tests of pages: a fresh, empty profile per
// launch, the flags this sandbox needs, closed at teardown. CI installs /usr/bin/chromium; outside
// CI a machine without it skips the browser tests loudly.
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]
// A safety net so a broken page fails the test instead of hanging it; not a speed requirement.
export const SAFETY_TIMEOUT_MS = 30_000

const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false'

/** The tap `skip` option for a browser test: false in CI (a missing browser fails there). */
export function browserSkip (what: string): string | false {
  if (existsSync(CHROMIUM) || inCi) return false
  process.stderr.write(`\n*** SKIPPING ${what}: ${CHROMIUM} is not installed (apt-get install -y chromium; CI always runs it) ***\n\n`)
  return `${CHROMIUM} is not installed`
}

/** Launches Chromium with a new empty profile; both are gone at the test's teardown. */
export async function launchBrowser (t: Test, viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  t.ok(existsSync(CHROMIUM), `${CHROMIUM} exists (CI must install it)`)
  const profile = await mkdtemp(join(tmpdir(), 'browser-test-'))
  t.teardown(() => rm(profile, { recursive: true, force: true }))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: SAFETY_TIMEOUT_MS, viewport
  })
  t.teardown(() => context.close())
  return context
}
