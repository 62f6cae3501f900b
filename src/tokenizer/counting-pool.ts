// Counts the tokens of large texts on worker threads (piscina), so one client writing entries of
// hundreds of kilobytes does not hold the event loop that serves everyone else (contract §9).
// Small texts are counted inline: below the threshold a thread hop costs more than it saves.
import { Piscina } from 'piscina'
import { ContextError } from '../errors.js'
import { countTokens } from './count-tokens.js'
import type { CountTask } from './count-worker.js'
import { rankTable, type TokenEncoding } from './rank-table.js'

export interface CountingPoolOptions {
  encoding: TokenEncoding
  /** Worker threads (MCP_TOKENIZER_THREADS); 0 counts everything inline. */
  threads: number
  /** Texts shorter than this many characters are counted inline (MCP_TOKENIZER_INLINE_BELOW). */
  inlineBelow: number
  /**
   * Texts that may wait for a thread, beyond one running on each (MCP_TOKENIZER_QUEUE). Each
   * holds its text (up to MCP_MAX_MESSAGE_BYTES); past the bound a count is refused.
   */
  maxQueue: number
  /** How long a thread with nothing to count lives on (default 5 minutes). */
  idleTimeoutMs?: number
}

/** Told of each count: where it ran and how long it took, in seconds (the metrics record it). */
export type CountObserver = (where: 'worker' | 'inline', seconds: number) => void

/** What a refused count asks the client to wait before retrying. */
const RETRY_AFTER_MS = 250

// The worker is a sibling module: .ts when running from source (tsx, tests), .js once built.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './count-worker.ts' : './count-worker.js', import.meta.url).href

export class TokenCountingPool {
  private readonly pool: Piscina<CountTask, number> | undefined
  private inFlight = 0
  private observer: CountObserver | undefined

  constructor (private readonly options: CountingPoolOptions) {
    if (options.threads > 0) {
      this.pool = new Piscina<CountTask, number>({
        filename: WORKER,
        // Threads start with the first large text, so a server (or a test) that never sees one
        // never pays for them (each loads the encoding's table: ~0.2 s, ~25 MB).
        minThreads: 0,
        maxThreads: options.threads,
        maxQueue: options.maxQueue,
        idleTimeout: options.idleTimeoutMs ?? 300_000
      })
    }
  }

  /** Sets the one observer of counts (the metrics plugin). */
  observe (observer: CountObserver | undefined): void {
    this.observer = observer
  }

  /** Counts waiting for a thread (beyond one running on each), and the threads running now. */
  get queueDepth (): number {
    return this.pool?.queueSize ?? 0
  }

  get workers (): number {
    return this.pool?.threads.length ?? 0
  }

  /** Whether large texts go to worker threads. */
  get threaded (): boolean {
    return this.pool !== undefined
  }

  /**
   * The text's token count: a number when counted inline, a promise when a thread counts it.
   * Rejects with `rate_limited` (nothing else happens) when the queue is full.
   */
  count (text: string): number | Promise<number> {
    if (this.pool === undefined || text.length < this.options.inlineBelow) return this.countInline(text)
    if (this.inFlight >= this.options.threads + this.options.maxQueue) {
      return Promise.reject(new ContextError('rate_limited',
        'The server is busy counting the tokens of other large writes; retry shortly', { retry_after_ms: RETRY_AFTER_MS }))
    }
    this.inFlight++
    const started = this.observer !== undefined ? performance.now() : 0
    return this.pool.run({ text, encoding: this.options.encoding }).finally(() => {
      this.inFlight--
      this.observer?.('worker', (performance.now() - started) / 1000)
    })
  }

  private countInline (text: string): number {
    const observer = this.observer
    if (observer === undefined) return countTokens(rankTable(this.options.encoding), text)
    const started = performance.now()
    const count = countTokens(rankTable(this.options.encoding), text)
    observer('inline', (performance.now() - started) / 1000)
    return count
  }

  /** Stops the threads; counts still running are abandoned (their writes fail). */
  async close (): Promise<void> {
    await this.pool?.destroy()
  }
}
