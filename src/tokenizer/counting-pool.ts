// Counts the tokens of large texts on worker threads (piscina), so one client writing entries of
// hundreds of kilobytes does not hold the event loop that serves everyone else (contract §9).
// Small texts are counted inline: below the threshold a thread hop costs more than it saves.
import { Piscina } from 'piscina'
import { ContextError } from '../errors.js'
import { countTokens } from './count-tokens.js'
import type { CountTask } from './count-worker.js'
import { prepareFrame as prepareFrameHere, type FramePreparation, type FrameTask } from '../ws/frame-preparation.js'
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
  /**
   * The threads' nice increment (MCP_TOKENIZER_NICE, default 0 here): how much lower than the
   * event loop they run when the cores are contended, so the event loop, which answers every
   * client, is not made to wait behind the one writing large entries; with a core to spare they
   * run as fast. Piscina applies it in each thread through @napi-rs/nice (Linux nice values are
   * per thread); where that is missing the threads run at the process's priority.
   */
  nice?: number
}

/** Told of each count: where it ran and how long it took, in seconds (the metrics record it). */
export type CountObserver = (where: 'worker' | 'inline', seconds: number) => void

/** What a refused count asks the client to wait before retrying. */
const RETRY_AFTER_MS = 250

const busy = () => new ContextError('rate_limited',
  'The server is busy counting the tokens of other large writes; retry shortly', { retry_after_ms: RETRY_AFTER_MS })

// The worker is a sibling module: .ts when running from source (tsx, tests), .js once built.
const WORKER = new URL(import.meta.url.endsWith('.ts') ? './count-worker.ts' : './count-worker.js', import.meta.url).href
const FRAME_WORKER = new URL(import.meta.url.endsWith('.ts') ? '../ws/frame-worker.ts' : '../ws/frame-worker.js', import.meta.url).href

export class TokenCountingPool {
  private readonly pool: Piscina<CountTask | FrameTask, number | FramePreparation> | undefined
  private inFlight = 0
  private observer: CountObserver | undefined
  private closing = false
  /** Restarting tasks in flight: close() waits for them, as for the warm-up. */
  private readonly restarts = new Set<Promise<void>>()
  /** Tasks a thread failed (it was terminated or ran out of memory) and the event loop redid. */
  threadFailures = 0
  /** Thread errors that belonged to no task (see the constructor). */
  orphanErrors = 0

  constructor (private readonly options: CountingPoolOptions) {
    if (options.threads > 0) {
      this.pool = new Piscina<CountTask | FrameTask, number | FramePreparation>({
        filename: WORKER,
        // Threads start with the first large text, so a server (or a test) that never sees one
        // never pays for them (each loads the encoding's table: ~0.2 s, ~25 MB).
        minThreads: 0,
        maxThreads: options.threads,
        // One place more than counts and frames may take: the frame code's warm-up (warmFrames).
        maxQueue: options.maxQueue + 1,
        idleTimeout: options.idleTimeoutMs ?? 300_000,
        niceIncrement: options.nice ?? 0
      })
      const pool = this.pool
      // Piscina starts a thread only when a task is submitted (minThreads 0), so tasks queued
      // when a thread dies (killed, out of memory) would wait for the next submission, and a
      // tenant's writes behind them for ever. A task of nothing starts the replacement, which
      // takes the queue in order. Submitted on the next turn: piscina tells of the destroyed
      // thread before it stops counting it, and would not start one beyond maxThreads.
      pool.on('workerDestroy', () => {
        setImmediate(() => {
          if (this.closing || pool.queueSize === 0) return
          const restart: Promise<void> = pool.run({ text: '', encoding: options.encoding })
            .then(() => {}, () => {})
            .then(() => { this.restarts.delete(restart) })
          this.restarts.add(restart)
        })
      })
      // Piscina reports here what belongs to no task: a thread failing while idle, or a thread's
      // answer to a task it dropped. Tasks' own failures reach their promises (and are redone,
      // above); with no listener, these would be an uncaught exception, and the process's end.
      pool.on('error', () => { this.orphanErrors++ })
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
   * Rejects with `rate_limited` (nothing else happens) when the queue is full. A count whose
   * thread fails is done here instead: a write is never lost to a thread.
   */
  count (text: string): number | Promise<number> {
    if (this.pool === undefined || text.length < this.options.inlineBelow) return this.countInline(text)
    if (this.full) return Promise.reject(busy())
    this.inFlight++
    const started = this.observer !== undefined ? performance.now() : 0
    return (this.pool.run({ text, encoding: this.options.encoding }) as Promise<number>).then((count) => {
      this.warmFrames()
      return count
    }, () => {
      this.threadFailures++
      return this.countInline(text)
    }).finally(() => {
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

  /**
   * Whether a frame of this many bytes is prepared on a thread (prepareFrame): threads are on, it
   * is as large as the contents counted there, and the queue has room (else the frame takes the
   * ordinary path, where a write gets the queue's `rate_limited` refusal with its id).
   */
  takes (byteLength: number): boolean {
    return this.pool !== undefined && byteLength >= this.options.inlineBelow && !this.full && this.framesReady
  }

  /**
   * Whether a thread has run a frame task. Until then large frames take the ordinary path (parsed
   * here, counted on a thread); the first count to finish starts a frame task that loads the frame
   * code, so the first large writes never wait for a thread to start up and load it (fast in
   * production, seconds under a test runner's TypeScript loader).
   */
  framesReady = false
  private warming = false
  private warmUp: Promise<void> | undefined

  private warmFrames (): void {
    if (this.warming || this.pool === undefined) return
    this.warming = true
    // Outside inFlight: piscina's own queue has one place more for it (see the constructor).
    this.warmUp = this.pool.run({ bytes: Buffer.from('{"type":"ping"}'), maxDepth: 1, encoding: this.options.encoding }, { filename: FRAME_WORKER })
      .then(() => { this.framesReady = true }, () => { this.warming = false })
  }

  /**
   * Prepares a large frame on a thread (src/ws/frame-preparation.ts): parse, validation, depth
   * check, the content's JSON and its count, all off the event loop. Call after takes(). The
   * observer hears of it as a count on a worker (it is one, with the parse around it). If the
   * thread fails, the event loop prepares the frame with the same code, so the client still
   * gets its reply, with its id (and a write is applied).
   */
  prepareFrame (bytes: Uint8Array, maxDepth: number): Promise<FramePreparation> {
    if (this.pool === undefined || this.full) return Promise.reject(busy())
    this.inFlight++
    const started = this.observer !== undefined ? performance.now() : 0
    // A copy of the frame's bytes, moved to the thread rather than cloned: ws may hand over a view
    // of a larger buffer, which a clone would copy whole.
    const copy = new Uint8Array(bytes)
    const task: FrameTask = { bytes: copy, maxDepth, encoding: this.options.encoding }
    return (this.pool.run(task, { filename: FRAME_WORKER, transferList: [copy.buffer] }) as Promise<FramePreparation>).catch(() => {
      this.threadFailures++
      return prepareFrameHere({ bytes, maxDepth, encoding: this.options.encoding }, (text) => this.countInline(text))
    }).finally(() => {
      this.inFlight--
      this.observer?.('worker', (performance.now() - started) / 1000)
    })
  }

  private get full (): boolean {
    return this.inFlight >= this.options.threads + this.options.maxQueue
  }

  /** Stops the threads; counts still running are abandoned (their writes fail). */
  async close (): Promise<void> {
    // A warm-up still running is let finish (it is tiny): its answer after destroy() would be a
    // task piscina no longer knows.
    this.closing = true
    await this.warmUp
    await Promise.all(this.restarts)
    await this.pool?.destroy()
  }
}
