// The real server for bench:ws: the same buildApp as src/server.ts, configured from the
// environment the orchestrator passes (MCP_STORE, MCP_DATA_DIR, MCP_MAX_TOKENS, ...), listening on
// 127.0.0.1 on a free port. Runs as a forked child and answers the orchestrator over IPC (ready,
// memory, cpu, stats, count, exit).
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { tokenCounter } from '../../src/token-counter.js'
import { realisticContents } from './contents.js'
import { answerOrchestrator } from './server-ipc.js'

const config = loadConfig(process.env)
const app = await buildApp(config)
await app.listen({ host: '127.0.0.1', port: 0 })
const { port } = app.server.address() as { port: number }
const count = tokenCounter(config.tokenEncoding)

/**
 * The token counter's own time per count on the content scenario's values, as the write path
 * counts them (the JSON of the content), inline on this thread: CPU time, as the writes are
 * measured (wall time on a loaded machine counts others' work too), best of a few rounds.
 */
function countMicros (bytes: number): number {
  const texts = realisticContents(bytes).map((content) => JSON.stringify(content))
  let best = Infinity
  for (let round = 0; round < 5; round++) {
    const started = process.cpuUsage()
    let total = 0
    for (const text of texts) total += count(text)
    if (total <= 0) throw new Error('no tokens counted')
    const used = process.cpuUsage(started)
    best = Math.min(best, (used.user + used.system) / texts.length)
  }
  return best
}

answerOrchestrator({
  onExit: async () => { await app.close() },
  stats: () => ({ entries: app.store.metadata('default').entry_count }),
  countMicros
})
process.send?.({ kind: 'ready', port, path: '/ws' })
