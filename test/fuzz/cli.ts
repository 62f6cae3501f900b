// npm run fuzz [FUZZ_RUNS=100000] [FUZZ_SEED=n]: the full fuzz run (test/fuzz/fuzz-run.ts), with
// the counts printed: frames sent by kind, replies by type, errors by code, closes by code, and REST
// requests by status and code. Exits 1 at the first broken invariant, with the seed to replay it.
import { runFuzz } from './fuzz-run.js'

const frames = Number(process.env.FUZZ_RUNS ?? 100_000)
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)
const startedAt = Date.now()
try {
  const report = await runFuzz({ frames, restRequests: Math.ceil(frames / 5), seed, progress: (line) => process.stdout.write(`  ${line}\n`) })
  process.stdout.write(`\nfuzz: ${report.framesSent} WebSocket frames and ${report.restSent} REST requests in ${((Date.now() - startedAt) / 1000).toFixed(0)} s (seed ${report.seed}); every invariant held\n`)
  for (const group of ['kind', 'reply', 'error', 'close', 'rest']) {
    const rows = [...report.counts].filter(([name]) => name.startsWith(`${group} `)).sort(([a], [b]) => a.localeCompare(b))
    process.stdout.write(`\n${group}:\n${rows.map(([name, n]) => `  ${name.slice(group.length + 1).padEnd(40)} ${n}`).join('\n')}\n`)
  }
} catch (error) {
  process.stdout.write(`\nfuzz FAILED after ${((Date.now() - startedAt) / 1000).toFixed(0)} s:\n${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
}
