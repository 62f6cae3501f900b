// deploy/grafana/context-server.json: a dashboard whose every query parses as PromQL (promtool
// checks them as recording rules) and names only metrics the server exports.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { stringify } from 'yaml'
import { exportedMetricNames, metricNamesIn } from './exported-metrics.js'

const DASHBOARD = new URL('../../deploy/grafana/context-server.json', import.meta.url)

interface Panel { type: string, title: string, targets?: Array<{ expr: string }>, panels?: Panel[] }
interface Dashboard { uid: string, title: string, panels: Panel[], templating: { list: Array<{ name: string, definition?: string }> } }

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard
const queryPanels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== 'row')

/** A query as Prometheus sees it once Grafana has filled in its variables. */
function withVariables (expression: string): string {
  return expression.replaceAll('$__rate_interval', '5m').replaceAll('$instance', '.*')
}

test('every panel has queries, and every query names only metrics the server exports', async (t) => {
  t.equal(dashboard.uid, 'context-server')
  t.ok(queryPanels.length >= 20, `${queryPanels.length} panels`)
  const exported = await exportedMetricNames(t)
  const variables = dashboard.templating.list.map((variable) => variable.definition ?? '').join(' ')
  for (const panel of queryPanels) {
    const expressions = (panel.targets ?? []).map((target) => target.expr)
    t.ok(expressions.length > 0, `${panel.title} has a query`)
    for (const expression of expressions) {
      const names = metricNamesIn(expression)
      t.ok(names.length > 0, `${panel.title}: its query names a server metric`)
      for (const name of names) t.ok(exported.has(name), `${panel.title}: ${name} is exported`)
    }
  }
  for (const name of metricNamesIn(variables)) t.ok(exported.has(name), `variable query: ${name} is exported`)
})

test('every query parses as PromQL (promtool check rules over them as recording rules)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'grafana-queries-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const rules = queryPanels.flatMap((panel, p) => (panel.targets ?? []).map((target, q) => ({
    record: `dashboard:panel_${p}_${q}`, expr: withVariables(target.expr)
  })))
  writeFileSync(join(dir, 'queries.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }))
  const run = spawnSync('promtool', ['check', 'rules', 'queries.yml'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  t.equal(run.error, undefined, 'promtool ran (installed by .ci/run, Debian package prometheus)')
  t.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  t.match(run.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`))
})
