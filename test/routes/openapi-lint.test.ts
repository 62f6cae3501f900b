// The committed openapi.yaml passes `redocly lint` with the recommended rules (redocly.yaml): no
// error and no warning, so client generators and API catalogues take it as it is. The drift test
// (docs.test.ts) keeps the file equal to what the route schemas generate.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { OPENAPI_PATH } from '../../scripts/generate-openapi.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
// The pinned @redocly/cli from devDependencies, run with this Node, never a global one.
const REDOCLY_CLI = join(dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')), 'bin', 'cli.js')

interface LintReport {
  totals: { errors: number, warnings: number, ignored: number }
  problems: Array<{ ruleId: string, severity: string, message: string, location: Array<{ pointer: string }> }>
}

test('redocly lint (recommended rules) finds no error and no warning in openapi.yaml', async (t) => {
  const run = spawnSync(process.execPath, [REDOCLY_CLI, 'lint', '--config', join(ROOT, 'redocly.yaml'), '--format=json', OPENAPI_PATH], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    // No telemetry and no update check: the only network this test may use is none.
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' }
  })
  t.equal(run.error, undefined, 'redocly ran (within 60 s)')
  const report = JSON.parse(run.stdout) as LintReport
  const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location[0]?.pointer ?? '?'}: ${p.message}`)
  t.same(problems, [], 'no problem reported')
  t.same(report.totals, { errors: 0, warnings: 0, ignored: 0 })
  t.equal(run.status, 0, 'redocly exits 0')
})
