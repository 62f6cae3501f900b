// `npm run test:coverage`: the test suite with coverage, reported per file for the test processes
// only, with tap's ts-node loader (scripts/coverage.taprc): `npm test` runs the files through tsx,
// whose modules' V8 coverage does not map back to the TypeScript (every file reads 100%). Child
// processes the tests start (servers via `node --import tsx`, scripts) are left out for the same
// reason: merging their figures garbles every per-file figure (files listed twice, files at 100%
// that no test reaches). Code only children run (src/server.ts's startup, scripts/*.ts) therefore
// shows as uncovered here; the tests that spawn it still check it.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const TAP_DIR = join(ROOT, '.tap')
const COVERAGE = join(TAP_DIR, 'coverage')
const PROCESS_INFO = join(TAP_DIR, 'processinfo')
// Kept for whoever wants to look at them; `tap report` reads only .tap/coverage.
const CHILDREN = join(TAP_DIR, 'coverage-children')

function tap (args: string[]): number {
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'tap', 'dist', 'esm', 'run.mjs'), ...args], {
    cwd: ROOT, stdio: 'inherit', env: { ...process.env, TAP_RCFILE: join(ROOT, 'scripts', 'coverage.taprc'), TS_NODE_PROJECT: join(ROOT, 'tsconfig.check.json') }
  })
  return run.status ?? 1
}

/** Moves the coverage of every process that is not a test file's own process out of the report. */
export function setChildrenAside (): { kept: number, setAside: number } {
  rmSync(CHILDREN, { recursive: true, force: true })
  mkdirSync(CHILDREN, { recursive: true })
  let kept = 0
  let setAside = 0
  for (const file of readdirSync(COVERAGE)) {
    const info = join(PROCESS_INFO, file)
    // A test file's process has no parent (tap's runner is outside the tree); its children do.
    const parent = existsSync(info) ? (JSON.parse(readFileSync(info, 'utf8')) as { parent?: string | null }).parent : undefined
    if (parent === null) {
      kept++
    } else {
      renameSync(join(COVERAGE, file), join(CHILDREN, file))
      setAside++
    }
  }
  return { kept, setAside }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const status = tap(['--no-disable-coverage', '--allow-incomplete-coverage', '--coverage-report=none', ...process.argv.slice(2)])
  const { kept, setAside } = setChildrenAside()
  process.stdout.write(`\ncoverage: ${kept} test processes reported; ${setAside} child processes (spawned servers and scripts) left out, see scripts/coverage.ts\n`)
  const reported = tap(['report', 'text'])
  process.exit(status !== 0 ? status : reported)
}
