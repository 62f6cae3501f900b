// The orchestrator's questions to a server process over the fork IPC channel: a garbage-collected
// memory reading (the process runs with --expose-gc), and exit.

export interface MemoryReading { rss: number, heapUsed: number, external: number, arrayBuffers: number }

export function answerMemoryRequests (onExit?: () => Promise<void>): void {
  process.on('message', (message: { kind: string }) => {
    if (message.kind === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc
      // Twice: the first pass may only finalize what the second frees.
      gc?.()
      gc?.()
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage()
      process.send?.({ kind: 'memory', reading: { rss, heapUsed, external, arrayBuffers } satisfies MemoryReading })
    } else if (message.kind === 'exit') {
      (onExit?.() ?? Promise.resolve()).catch(() => {}).finally(() => process.exit(0))
    }
  })
  process.on('disconnect', () => process.exit(0))
}
