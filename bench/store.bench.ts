// npm run bench:store — the cost of a write with the store full and evicting, at 1,000, 10,000 and
// 100,000 entries, next to the naive reference (a full sort per write, as the original design's
// _prune_context); tokenizer throughput, the shipped counter against js-tiktoken (oracle) and
// gpt-tokenizer (the previous counter); and the counter's cost per KB on adversarial shapes
// (long runs of one character, repeated patterns, random mixes) beside prose.
//
// `-- --only tokenizer` (or `store`, `relevance`) runs one part.
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { countTokens as gptCountTokens } from 'gpt-tokenizer/encoding/o200k_base'
import { getEncoding } from 'js-tiktoken'
import { TenantStore } from '../src/store/tenant-store.js'
import { tokenCounter } from '../src/token-counter.js'
import { rankTable } from '../src/tokenizer/rank-table.js'
import { ReferenceStore } from '../test/helpers/reference-store.js'
import { runRelevanceBench } from './relevance.bench.js'
import type { Actor } from '../src/store/types.js'
import { prose } from './prose.js'

const { values: options } = parseArgs({ options: { only: { type: 'string', default: 'store,tokenizer,relevance' } } })
const only = new Set(options.only.split(','))

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
  const previous = time(() => gptCountTokens(sample))
  if (fast.tokens !== tiktoken.tokens || previous.tokens !== tiktoken.tokens) throw new Error(`token counts differ: ${fast.tokens} / ${previous.tokens} vs ${tiktoken.tokens}`)
  return { bytes, fast, tiktoken, previous }
}

/** CPU time of this thread in ms: steadier than the wall clock on a machine shared with other work. */
function cpuMs (): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const SHAPE_BYTES = 256 * 1024
/** The counter's cost per KB on shapes that broke the old quadratic merge, beside prose. */
function adversarialShapes () {
  let state = 11
  const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648
  const n = SHAPE_BYTES
  const shapes: Array<[string, string]> = [
    ['prose (reference)', JSON.stringify({ note: prose(n) })],
    ['run of "a"', JSON.stringify({ a: 'a'.repeat(n) })],
    ['run of "="', '='.repeat(n)],
    ['run of spaces', ' '.repeat(n)],
    ['run of newlines', '\n'.repeat(n)],
    ['run of digits', '7'.repeat(n)],
    ['"ab" repeated', 'ab'.repeat(n / 2)],
    ['"abcdefghij" repeated', 'abcdefghij'.repeat(n / 10)],
    ['"=-" repeated', '=-'.repeat(n / 2)],
    ['run of "中"', '中'.repeat(n / 3)],
    ['run of emoji', '🎉'.repeat(n / 4)],
    ['random mix of " a=\\n1Aé"', Array.from({ length: n }, () => ' a=\n1Aé'[Math.floor(random() * 7)]).join('')],
    ['random base64', Buffer.from(Array.from({ length: n * 0.75 }, () => Math.floor(random() * 256))).toString('base64')],
    ['JSON records', JSON.stringify(Array.from({ length: n / 24 }, (_, i) => ({ id: i, v: `x${i}` })))]
  ]
  const table = rankTable('o200k_base')
  const rows = shapes.map(([name, text]) => ({ name, text, kb: Buffer.byteLength(text) / 1024, count: [] as number[], split: [] as number[] }))
  for (const row of rows) count(row.text) // warm up (and load the table)
  // Rounds interleave the shapes, and each figure is the median of its rounds.
  for (let round = 0; round < 5; round++) {
    for (const row of rows) {
      let start = cpuMs()
      count(row.text)
      row.count.push((cpuMs() - start) * 1000 / row.kb)
      start = cpuMs()
      // The split alone (the pattern), to show it is not where the cost of a run goes.
      for (const match of row.text.matchAll(table.pattern)) if (match[0] === '') break
      row.split.push((cpuMs() - start) * 1000 / row.kb)
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]
  return rows.map((row) => ({ name: row.name, kb: row.kb, usPerKb: median(row.count), splitUsPerKb: median(row.split) }))
}

const fmt = (n: number, digits = 1) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

if (only.has('store')) {
  const rows: Array<{ entries: number, ranked: Timing, naive: number }> = []
  await measureRanked(1_000, 10_000) // warm up the JIT so the first size is not charged for compilation
  for (const size of SIZES) {
    const ranked = await measureRanked(size, 10_000)
    const naive = measureNaive(size, size >= 100_000 ? 20 : size >= 10_000 ? 100 : 1000)
    rows.push({ entries: size, ranked, naive })
  }

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
}

if (only.has('tokenizer')) {
  const tk = tokenizerThroughput()
  console.log(`\nTokenizer throughput on ${fmt(tk.bytes / 1e6, 2)} MB of JSON (identical counts: ${tk.fast.tokens} tokens)\n`)
  console.log('| tokenizer | MB/s | ratio |')
  console.log('| --- | ---: | ---: |')
  console.log(`| js-tiktoken (reference, test oracle) | ${fmt(tk.tiktoken.mbPerSec, 2)} | 1.00x |`)
  console.log(`| gpt-tokenizer (previous counter) | ${fmt(tk.previous.mbPerSec, 2)} | ${fmt(tk.previous.mbPerSec / tk.tiktoken.mbPerSec, 2)}x |`)
  console.log(`| src/tokenizer (shipped) | ${fmt(tk.fast.mbPerSec, 2)} | ${fmt(tk.fast.mbPerSec / tk.tiktoken.mbPerSec, 2)}x |`)

  const shapes = adversarialShapes()
  const reference = shapes[0].usPerKb
  console.log(`\nToken counting cost by shape (o200k_base, ${SHAPE_BYTES / 1024} KB each, CPU µs per KB, median of 5 interleaved rounds)\n`)
  console.log('| shape | µs/KB | of which the split | vs prose |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const shape of shapes) console.log(`| ${shape.name} | ${fmt(shape.usPerKb, 1)} | ${fmt(shape.splitUsPerKb, 1)} | ${fmt(shape.usPerKb / reference, 2)}x |`)
  const worst = shapes.slice(1).reduce((a, b) => (b.usPerKb > a.usPerKb ? b : a))
  const ratio = worst.usPerKb / reference
  console.log(`\nworst shape (${worst.name}) vs prose: ${fmt(ratio, 2)}x (target <= 3x) ${ratio <= 3 ? 'PASS' : 'MISS'}`)
}

if (only.has('relevance')) runRelevanceBench()
