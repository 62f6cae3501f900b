// A fixed-memory latency histogram: log-spaced buckets from 1 µs to 100 s (about 1% wide), so
// millions of samples cost a few kilobytes and percentiles are exact to the bucket.
const MIN_MS = 0.001
const MAX_MS = 100_000
const BUCKETS = 2000
const SCALE = BUCKETS / Math.log(MAX_MS / MIN_MS)

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS + 1)
  count = 0

  record (ms: number): void {
    const index = ms <= MIN_MS ? 0 : Math.min(BUCKETS, Math.floor(Math.log(ms / MIN_MS) * SCALE))
    this.counts[index]++
    this.count++
  }

  /** The upper edge of the bucket holding the p-th percentile (p in 0..100), in milliseconds. */
  percentile (p: number): number {
    if (this.count === 0) return NaN
    const rank = Math.ceil((p / 100) * this.count)
    let seen = 0
    for (let i = 0; i <= BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) return MIN_MS * Math.exp((i + 1) / SCALE)
    }
    return MAX_MS
  }

  toJSON () {
    return { count: this.count, p50: this.percentile(50), p99: this.percentile(99) }
  }
}
