// The orchestrator's questions to a server process over the fork IPC channel: a garbage-collected
// memory reading (the process runs with --expose-gc), the CPU time the process has used, how many
// entries it stores, the time its token counter takes on the content scenario's values (the app
// server only), and exit.

export interface MemoryReading { rss: number, heapUsed: number, external: number, arrayBuffers: number }

export interface ServerAnswers {
  /** Entries held (the evicting scenario checks the store stays at its size). */
  stats?: () => { entries: number }
  /** µs per count of the token counter on `realisticContents(bytes)` (the app server only). */
  countMicros?: (bytes: number) => number
  onExit?: () => Promise<void>
}

export function answerOrchestrator (answers: ServerAnswers): void {
  process.on('message', (message: { kind: string, bytes?: number }) => {
    if (message.kind === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc
      // Twice: the first pass may only finalize what the second frees.
      gc?.()
      gc?.()
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
      process.send?.({ kind: 'memory', reading: { rss, heapUsed, external, arrayBuffers } satisfies MemoryReading })
    } else if (message.kind === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send?.({ kind: 'cpu', micros: user + system })
    } else if (message.kind === 'stats') {
      process.send?.({ kind: 'stats', stats: answers.stats?.() ?? { entries: NaN } })
    } else if (message.kind === 'count') {
      process.send?.({ kind: 'count', micros: answers.countMicros?.(message.bytes as number) ?? NaN })
    } else if (message.kind === 'exit') {
      (answers.onExit?.() ?? Promise.resolve()).catch(() => {}).finally(() => process.exit(0))
    }
  })
  process.on('disconnect', () => process.exit(0))
}
