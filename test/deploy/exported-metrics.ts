// What the deploy/ files may refer to: the metric names a real server exports (histograms with
// their _bucket/_sum/_count series), and the names a PromQL expression uses.
import type { Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/config.js'
import { parsePrometheusText } from '../routes/prometheus-text.js'

const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] }

/** Every series name in /metrics of a freshly built app. */
export async function exportedMetricNames (t: Test): Promise<Set<string>> {
  const app = await buildApp(testConfig(), { logger: false })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  const names = new Set<string>()
  for (const [family, type] of parsePrometheusText(res.body).types) {
    names.add(family)
    for (const suffix of SUFFIXES[type] ?? []) names.add(family + suffix)
  }
  return names
}

// The server's own prefixes and prom-client's; `up` and the like are Prometheus's own.
const METRIC_NAME = /\b(?:mcp|nodejs|process)_[a-z0-9_]+\b/g

/** The server metric names a PromQL expression refers to. */
export function metricNamesIn (expression: string): string[] {
  return [...new Set(expression.match(METRIC_NAME) ?? [])]
}
