// The hot-path metrics (src/metrics/hot-path-metrics.ts) expose exactly what prom-client's own
// Counter and Histogram expose for the same observations: the same text on /metrics, the same JSON,
// before and after a scrape, after a reset; values on the bucket bounds included.
import { Counter, Histogram, Registry } from 'prom-client'
import { test } from 'tap'
import { HotCounter, HotHistogram } from '../../src/metrics/hot-path-metrics.js'

const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

function pair () {
  const hot = new Registry()
  const reference = new Registry()
  const definition = { name: 'x_seconds', help: 'Time of x, by kind', buckets: BUCKETS }
  const counted = { name: 'x_total', help: 'Xs, by kind' }
  return {
    hot,
    reference,
    hotHistogram: new HotHistogram({ ...definition, labelName: 'kind', registers: [hot] }),
    histogram: new Histogram({ ...definition, labelNames: ['kind'], registers: [reference] }),
    hotCounter: new HotCounter({ ...counted, labelName: 'kind', registers: [hot] }),
    counter: new Counter({ ...counted, labelNames: ['kind'], registers: [reference] })
  }
}

// Every bound itself, just above and below it, zero, and beyond the last bound.
const VALUES = [0, ...BUCKETS.flatMap((bound) => [bound, bound * 0.999, bound * 1.001]), 2, 30]

test('the same exposition as prom-client for the same observations', async (t) => {
  const { hot, reference, hotHistogram, histogram, hotCounter, counter } = pair()
  t.equal(await hot.metrics(), await reference.metrics(), 'nothing observed yet')
  VALUES.forEach((value, i) => {
    const kind = i % 3 === 0 ? 'inline' : 'worker'
    hotHistogram.labels(kind).observe(value)
    histogram.labels(kind).observe(value)
    hotCounter.labels(kind).inc()
    counter.labels(kind).inc()
  })
  hotCounter.labels('inline').inc(5)
  counter.labels('inline').inc(5)
  t.equal(await hot.metrics(), await reference.metrics(), 'text format')
  t.same(await hot.getMetricsAsJSON(), await reference.getMetricsAsJSON(), 'JSON')
  // A second scrape with more observed in between: the counter's folded part is not counted twice.
  hotHistogram.labels('worker').observe(0.003)
  histogram.labels('worker').observe(0.003)
  hotCounter.labels('worker').inc()
  counter.labels('worker').inc()
  t.equal(await hot.metrics(), await reference.metrics(), 'the next scrape')
  t.equal(await hot.metrics(), await reference.metrics(), 'a scrape with nothing new')
  const workers = VALUES.filter((_, i) => i % 3 !== 0).length + 1
  t.ok((await hot.metrics()).includes(`x_total{kind="worker"} ${workers}\n`), 'the counter holds every increment once')
})

test('a reset forgets what was observed, as prom-client does', async (t) => {
  const { hot, reference, hotHistogram, histogram, hotCounter, counter } = pair()
  hotHistogram.labels('a').observe(0.2)
  histogram.labels('a').observe(0.2)
  hotCounter.labels('a').inc()
  counter.labels('a').inc()
  await hot.metrics()
  hot.resetMetrics()
  reference.resetMetrics()
  t.equal(await hot.metrics(), await reference.metrics())
  hotHistogram.labels('a').observe(0.7)
  histogram.labels('a').observe(0.7)
  t.equal(await hot.metrics(), await reference.metrics(), 'and counts again from there')
  // A reset with increments not yet read by a scrape forgets them too.
  hotCounter.labels('a').inc(4)
  counter.labels('a').inc(4)
  hot.resetMetrics()
  reference.resetMetrics()
  hotCounter.labels('a').inc()
  counter.labels('a').inc()
  t.equal(await hot.metrics(), await reference.metrics(), 'increments before a reset are gone after it')
})

test('a value that is not finite is not observed (a duration always is)', async (t) => {
  const { hot, hotHistogram } = pair()
  hotHistogram.labels('a').observe(Number.NaN)
  hotHistogram.labels('a').observe(Infinity)
  hotHistogram.labels('a').observe(0.5)
  t.match(await hot.metrics(), /x_seconds_count\{kind="a"\} 1\n/)
  t.match(await hot.metrics(), /x_seconds_sum\{kind="a"\} 0.5\n/)
})
