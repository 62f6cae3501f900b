// deploy/prometheus/alerts.yml: valid for `promtool check rules`, its unit tests
// (alerts.test.yml) pass under `promtool test rules`, and every metric it names is one the server
// exports.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { parse } from 'yaml'
import { exportedMetricNames, metricNamesIn } from './exported-metrics.js'

const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url))

function promtool (...args: string[]) {
  const run = spawnSync('promtool', args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 })
  if (run.error !== undefined) throw new Error(`promtool did not run (installed by .ci/run, Debian package prometheus): ${run.error.message}`)
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

interface RuleFile { groups: Array<{ rules: Array<{ alert?: string, expr: string }> }> }

test('promtool check rules accepts alerts.yml', async (t) => {
  const check = promtool('check', 'rules', 'alerts.yml')
  t.equal(check.status, 0, check.output)
  t.match(check.output, /SUCCESS: 9 rules found/)
})

test('promtool test rules: every alert fires when it should and not otherwise', async (t) => {
  const run = promtool('test', 'rules', 'alerts.test.yml')
  t.equal(run.status, 0, run.output)
  t.match(run.output, /SUCCESS/)
})

test('the alerts cover what operators watch, and name only exported metrics', async (t) => {
  const rules = (parse(readFileSync(`${DIR}alerts.yml`, 'utf8')) as RuleFile).groups.flatMap((group) => group.rules)
  t.same(rules.map((rule) => rule.alert), [
    'ContextServerDown', 'ContextServerNotReady', 'ContextRedisDown', 'ContextRedisSlow', 'ContextBudgetNearFull',
    'ContextEvictionStorm', 'ContextSlowConsumerCloses', 'ContextAuthFailureSpike', 'ContextEventLoopLag'
  ])
  const tested = readFileSync(`${DIR}alerts.test.yml`, 'utf8')
  const exported = await exportedMetricNames(t)
  for (const rule of rules) {
    t.ok(tested.includes(`alertname: ${rule.alert as string}`), `${rule.alert as string} has a unit test`)
    for (const name of metricNamesIn(rule.expr)) t.ok(exported.has(name), `${rule.alert as string}: ${name} is exported`)
  }
})
