// docs/operations.md's metrics reference is the registry: every family the server registers has a
// row with its type and labels, and every row names a registered family.
import { readFileSync } from 'node:fs'
import { test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'

const DOC = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8')

interface Row { type: string, labels: string[] }

/** The reference table's rows: `| `name` | type | `label`, ... | what |`. */
function documentedFamilies (): Map<string, Row> {
  const rows = new Map<string, Row>()
  for (const line of DOC.split('\n')) {
    const cells = /^\| `([a-z_]+)` \| (counter|gauge|histogram|summary) \|([^|]*)\|/.exec(line)
    if (cells === null) continue
    rows.set(cells[1], { type: cells[2], labels: [...cells[3].matchAll(/`([a-z_]+)`/g)].map((m) => m[1]) })
  }
  return rows
}

test('every mcp_* family is documented with its type and labels, and nothing else is', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  await app.ready()
  const registered = new Map<string, Row>()
  for (const metric of await app.metrics.registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith('mcp_')) continue
    const labelNames = (app.metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames
    registered.set(metric.name, { type: String(metric.type), labels: [...labelNames].sort() })
  }
  const documented = documentedFamilies()
  t.same([...documented.keys()].sort(), [...registered.keys()].sort(), 'the same families')
  for (const [name, row] of registered) {
    t.same({ ...documented.get(name), labels: [...(documented.get(name)?.labels ?? [])].sort() }, row, `${name}: type and labels`)
  }
})

test('the left-out default gauges are named, and really are left out', async (t) => {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    t.ok(DOC.includes(`\`${name}\``), `${name} is explained`)
    t.equal(app.metrics.registry.getSingleMetric(name), undefined, `${name} is not registered`)
  }
})
