// Metrics recorded once or more per message: a counter and a histogram by one label whose hot path
// is a plain increment, read by prom-client at scrape time.
//
// Why: prom-client's bound children still validate the labels, build a hash string and (for a
// histogram) a closure on every call: ~110 ns per counter increment and ~280 ns per observation,
// and a WebSocket write records two of each (its message and the count of its tokens), ~0.8 µs of
// each acknowledged write at ingest rates (issue 16). Here a child is an object with a number (or a
// bucket array) that the call adds to; the exposition is prom-client's own, from its registry.
import { Counter, type Registry } from 'prom-client'

interface Definition {
  name: string
  help: string
  labelName: string
  registers: Registry[]
}

/** A counter by one label: `labels(value).inc()` adds to a number, folded into prom-client's counter at scrape. */
export class HotCounter {
  private readonly children = new Map<string, { unfolded: number, inc: (by?: number) => void }>()
  private readonly counter: Counter

  constructor ({ name, help, labelName, registers }: Definition) {
    const children = this.children
    this.counter = new Counter({
      name,
      help,
      labelNames: [labelName],
      registers,
      collect () {
        for (const [value, child] of children) {
          if (child.unfolded === 0) continue
          this.inc({ [labelName]: value }, child.unfolded)
          child.unfolded = 0
        }
      }
    })
    // The registry's resetMetrics clears the counter; increments not yet folded go with it, as
    // they would have with prom-client's own children.
    const { counter } = this
    const reset = counter.reset.bind(counter)
    counter.reset = () => {
      reset()
      for (const child of children.values()) child.unfolded = 0
    }
  }

  /** The child of one label value, made on first use and kept (for bounded label sets only). */
  labels (value: string): { inc: (by?: number) => void } {
    let child = this.children.get(value)
    if (child === undefined) {
      const made = { unfolded: 0, inc: (by = 1) => { made.unfolded += by } }
      this.children.set(value, child = made)
    }
    return child
  }
}

/** One label value's observations: a count per bucket (the last one past every bound), sum, count. */
class HistogramChild {
  readonly buckets: Float64Array
  sum = 0
  count = 0

  constructor (private readonly upperBounds: readonly number[]) {
    this.buckets = new Float64Array(upperBounds.length + 1)
  }

  observe (value: number): void {
    if (!Number.isFinite(value)) return // a duration always is; prom-client would throw
    const { upperBounds } = this
    let bucket = 0
    while (bucket < upperBounds.length && value > upperBounds[bucket]) bucket++
    this.buckets[bucket]++
    this.sum += value
    this.count++
  }
}

interface HistogramDefinition extends Definition {
  buckets: readonly number[]
}

interface Value { labels: Record<string, string | number>, value: number, metricName: string, exemplar: null | undefined }
interface SharedValue extends Value { sharedLabels: Record<string, string> }
interface Exposition<V> { name: string, help: string, type: string, values: V[], aggregator: string }

/**
 * A histogram by one label, registered with prom-client's registry as a metric of its own: it
 * answers `get()` and `getForPromString()` in the shapes prom-client's Histogram does (cumulative
 * `_bucket` series with `le`, `+Inf`, `_sum`, `_count`), so the registry writes the same exposition.
 */
export class HotHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  /** As prom-client's metrics have it (the docs test reads it). */
  readonly labelNames: readonly string[]
  private readonly labelName: string
  private readonly upperBounds: readonly number[]
  private children = new Map<string, HistogramChild>()

  constructor ({ name, help, labelName, registers, buckets }: HistogramDefinition) {
    this.name = name
    this.help = help
    this.labelName = labelName
    this.labelNames = [labelName]
    this.upperBounds = [...buckets].sort((a, b) => a - b)
    for (const registry of registers) registry.registerMetric(this as never)
  }

  /** The child of one label value, made on first use and kept (for bounded label sets only). */
  labels (value: string): { observe: (value: number) => void } {
    let child = this.children.get(value)
    if (child === undefined) this.children.set(value, child = new HistogramChild(this.upperBounds))
    return child
  }

  /** Forgets every observation (the registry's resetMetrics). */
  reset (): void {
    this.children = new Map()
  }

  /** The series for the text exposition: each label value's labels apart (as prom-client's, `le` first). */
  async getForPromString (): Promise<Exposition<SharedValue>> {
    const values: SharedValue[] = []
    const { name, labelName } = this
    for (const [label, child] of this.children) {
      const sharedLabels = { [labelName]: label }
      let cumulative = 0
      this.upperBounds.forEach((bound, i) => {
        cumulative += child.buckets[i]
        values.push({ labels: { le: bound }, sharedLabels, value: cumulative, metricName: `${name}_bucket`, exemplar: null })
      })
      values.push(
        { labels: { le: '+Inf' }, sharedLabels, value: child.count, metricName: `${name}_bucket`, exemplar: null },
        { labels: {}, sharedLabels, value: child.sum, metricName: `${name}_sum`, exemplar: undefined },
        { labels: {}, sharedLabels, value: child.count, metricName: `${name}_count`, exemplar: undefined }
      )
    }
    return { name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** The series with their labels together (the registry's JSON, a cluster's aggregation). */
  async get (): Promise<Exposition<Value>> {
    const data = await this.getForPromString()
    const values = data.values.map(({ labels, sharedLabels, ...rest }): Value => ({ ...rest, labels: { ...labels, ...sharedLabels } }))
    return { ...data, values }
  }
}
