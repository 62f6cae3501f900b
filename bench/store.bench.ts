// npm run bench:store — the cost of a write with the store full and evicting, at 1,000, 10,000 and
// 100,000 entries, next to the naive reference (a full sort per write, as the original design's
// _prune_context); and tokenizer throughput, gpt-tokenizer (shipped) against js-tiktoken (oracle).
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { getEncoding } from 'js-tiktoken'
import { TenantStore } from '../src/store/tenant-store.js'
import { tokenCounter } from '../src/token-counter.js'
import { ReferenceStore } from '../test/helpers/reference-store.js'
import { runRelevanceBench } from './relevance.bench.js'
import type { Actor } from '../src/store/types.js'

// Garbage-collection pauses are tracked apart: their cost grows with the live heap (the number of
// entries held), not with the store's algorithm, and the report shows both.
let gcMs = 0
new PerformanceObserver((list) => { for (const entry of list.getEntries()) gcMs += entry.duration }).observe({ entryTypes: ['gc'] })

const writer: Actor = { userId: 'bench', roles: ['admin'], tenant: 'bench' }
const SIZES = [1_000, 10_000, 100_000]
const count = tokenCounter('o200k_base')

// A deterministic pseudo-random sequence so every run writes the same workload.
function lcg (seed: number) {
  let state = seed
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
}

function contentFor (i: number) {
  return { agent: 'agent_07', step: String(i).padStart(7, '0'), note: 'progress update' }
}

interface Timing { total: number, gc: number }

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

/** Fills a store to its budget with `size` entries, then times `writes` evicting writes (ms/write). */
async function measureRanked (size: number, writes: number): Promise<Timing> {
  const perEntry = count(JSON.stringify(contentFor(size)))
  const store = new TenantStore('bench', { maxTokens: perEntry * size, maxEntryTokens: perEntry * size, countTokens: count, historySize: 1000 })
  const random = lcg(size)
  for (let i = 0; i < size; i++) store.write(writer, { content: contentFor(i), key: `k${i}`, priority: 1 + Math.floor(random() * 10) })
  // The median of several rounds, so one garbage collection or a noisy neighbour does not decide.
  const rounds: Timing[] = []
  let next = size
  for (let round = 0; round < 5; round++) {
    await settle()
    gcMs = 0
    const start = performance.now()
    for (const end = next + writes; next < end; next++) store.write(writer, { content: contentFor(next), key: `k${next}`, priority: 1 + Math.floor(random() * 10) })
    const total = (performance.now() - start) / writes
    await settle() // GC entries are delivered asynchronously
    rounds.push({ total, gc: gcMs / writes })
  }
  if (store.size > size + 10) throw new Error('store did not evict')
  return rounds.sort((a, b) => a.total - b.total)[2]
}

function measureNaive (size: number, writes: number): number {
  const perEntry = count(JSON.stringify(contentFor(size)))
  const store = new ReferenceStore(perEntry * size)
  const random = lcg(size)
  for (let i = 0; i < size; i++) store.entries.set(`k${i}`, { key: `k${i}`, tokens: perEntry, priority: 1 + Math.floor(random() * 10), order: i })
  const start = performance.now()
  for (let i = size; i < size + writes; i++) {
    const tokens = count(JSON.stringify(contentFor(i))) // the naive store counts tokens too
    store.write(`k${i}`, tokens, 1 + Math.floor(random() * 10))
  }
  return (performance.now() - start) / writes
}

function tokenizerThroughput () {
  const sample = JSON.stringify(Array.from({ length: 4000 }, (_, i) => ({ id: i, agent: `content_agent_${i % 17}`, text: `Lesson ${i}: fractions, decimals and percentages — ünïcödé ✓` })))
  const bytes = Buffer.byteLength(sample)
  const oracle = getEncoding('o200k_base')
  const time = (fn: () => number) => {
    fn() // warm up
    const start = performance.now()
    let tokens = 0
    for (let i = 0; i < 3; i++) tokens = fn()
    return { mbPerSec: (3 * bytes / 1e6) / ((performance.now() - start) / 1000), tokens }
  }
  const fast = time(() => count(sample))
  const tiktoken = time(() => oracle.encode(sample, [], []).length)
  if (fast.tokens !== tiktoken.tokens) throw new Error(`token counts differ: ${fast.tokens} vs ${tiktoken.tokens}`)
  return { bytes, fast, tiktoken }
}

const rows: Array<{ entries: number, ranked: Timing, naive: number }> = []
await measureRanked(1_000, 10_000) // warm up the JIT so the first size is not charged for compilation
for (const size of SIZES) {
  const ranked = await measureRanked(size, 10_000)
  const naive = measureNaive(size, size >= 100_000 ? 20 : size >= 10_000 ? 100 : 1000)
  rows.push({ entries: size, ranked, naive })
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
console.log('\nWrites with the store full and evicting (o200k_base token counting included)\n')
console.log('| entries | ranked µs/write | of which GC | ranked writes/s | naive µs/write | naive writes/s | naive / ranked |')
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const r of rows) {
  console.log(`| ${r.entries.toLocaleString('en-US')} | ${fmt(r.ranked.total * 1000, 2)} | ${fmt(r.ranked.gc * 1000, 2)} | ${fmt(1000 / r.ranked.total, 0)} | ${fmt(r.naive * 1000, 0)} | ${fmt(1000 / r.naive, 0)} | ${fmt(r.naive / r.ranked.total, 0)}x |`)
}
const growth = rows[2].ranked.total / rows[0].ranked.total
const growthWithoutGc = (rows[2].ranked.total - rows[2].ranked.gc) / (rows[0].ranked.total - rows[0].ranked.gc)
console.log(`\nranked per-write cost at 100,000 vs 1,000 entries: ${fmt(growth, 2)}x (target <= 1.5x) ${growth <= 1.5 ? 'PASS' : 'MISS'}`)
console.log(`  the same without GC pauses:                       ${fmt(growthWithoutGc, 2)}x`)
console.log(`naive per-write cost at 100,000 vs 1,000 entries:  ${fmt(rows[2].naive / rows[0].naive, 0)}x`)

const tk = tokenizerThroughput()
console.log(`\nTokenizer throughput on ${fmt(tk.bytes / 1e6, 2)} MB of JSON (identical counts: ${tk.fast.tokens} tokens)\n`)
console.log('| tokenizer | MB/s | ratio |')
console.log('| --- | ---: | ---: |')
console.log(`| js-tiktoken (reference, test oracle) | ${fmt(tk.tiktoken.mbPerSec, 2)} | 1.00x |`)
console.log(`| gpt-tokenizer (shipped) | ${fmt(tk.fast.mbPerSec, 2)} | ${fmt(tk.fast.mbPerSec / tk.tiktoken.mbPerSec, 2)}x |`)

runRelevanceBench()
